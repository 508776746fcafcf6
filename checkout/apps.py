from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    name = "checkout"
    verbose_name = "Checkout and payments"

    def ready(self):
        # Connect to `signals.duplicate_payment`: a cart's second payment is refunded
        # (checkout.refunds), a second authorization released (checkout.capture).
        from checkout import capture, refunds  # noqa: F401
