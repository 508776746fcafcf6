from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Storefront"

    def ready(self):
        from shop import catalog  # noqa: F401  (its signals keep the catalog cache fresh)
