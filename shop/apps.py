from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Storefront"

    def ready(self):
        from shop import catalog, checks  # noqa: F401  (signals; Omise key and 2FA checks)
        from shop.logscrub import install_record_scrubbing

        install_record_scrubbing()  # no card number on any log record, from any logger
