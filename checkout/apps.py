from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    name = "checkout"
    verbose_name = "Checkout and payments"

    def ready(self):
        # Connects the refund of a cart's second payment to `signals.duplicate_payment`.
        from checkout import refunds  # noqa: F401
