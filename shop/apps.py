from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Storefront"

    def ready(self):
        from shop import checks  # noqa: F401  (registers the Omise key and 2FA system checks)
