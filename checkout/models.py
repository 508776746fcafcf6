"""Orders, payment attempts and webhook records.

An `Order` is one checkout of a cart: what was bought at which price, who bought it, and where
the payment stands. Each charge created for it is a `PaymentAttempt`. Webhook deliveries are
stored raw (`WebhookDelivery`) before anything else happens, and each Omise event is applied at
most once (`WebhookEvent`, unique on the event id).
"""

import secrets

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class InvalidTransition(Exception):
    """An order state change the state machine does not allow."""


def new_reference() -> str:
    """A short order reference a shopper can read out on the phone: LG-7K3Q9XF2."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: they get misread
    return "LG-" + "".join(secrets.choice(alphabet) for _ in range(8))


def new_secret() -> str:
    return secrets.token_urlsafe(24)


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting payment")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Payment failed")
        EXPIRED = "expired", _("Expired")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")

    # The whole state machine. A payment that really happened always wins: an order marked
    # failed or expired locally can still become paid when Omise says the charge succeeded.
    TRANSITIONS: dict[str, set[str]] = {
        Status.PENDING: {Status.PAID, Status.FAILED, Status.EXPIRED},
        Status.FAILED: {Status.PAID},
        Status.EXPIRED: {Status.PAID},
        Status.PAID: {Status.PARTIALLY_REFUNDED, Status.REFUNDED},
        Status.PARTIALLY_REFUNDED: {Status.PARTIALLY_REFUNDED, Status.REFUNDED},
        Status.REFUNDED: set(),
    }

    reference = models.CharField(max_length=20, unique=True, default=new_reference, editable=False)
    # The shopper's link to the order page is reference + this secret: references are short
    # enough to guess, so they alone must never reveal an order.
    access_token = models.CharField(max_length=64, default=new_secret, editable=False)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    amount = models.PositiveBigIntegerField(help_text="Total in minor units (satang).")
    currency = models.CharField(max_length=3)
    refunded_amount = models.PositiveBigIntegerField(default=0)

    email = models.EmailField()
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=40, blank=True)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    street1 = models.CharField(max_length=200, blank=True)
    street2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    # The language the shopper checked out in: their e-mails are written in it.
    language = models.CharField(max_length=8, blank=True)

    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # Every order made from one cart (one shopper's tries at paying it, until it is paid and
    # emptied) shares this id: at most one of them may keep its payment.
    cart_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Set when this order's payment arrived after another order of the same cart was already
    # paid: this one is then refunded in full (checkout.refunds.duplicate_refund).
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="duplicates",
        help_text="The order that had already paid for this cart.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(refunded_amount__lte=models.F("amount")),
                name="order_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse(
            "checkout:order_detail",
            kwargs={"reference": self.reference, "token": self.access_token},
        )

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]

    def transition_to(self, status: str) -> None:
        """Change state, or raise InvalidTransition. The caller saves (under its row lock)."""
        if not self.can_become(status):
            raise InvalidTransition(
                f"Order {self.reference}: {self.status} → {status} is not allowed"
            )
        self.status = status


class OrderItem(models.Model):
    """A line of the order, copied from the cart: later price changes don't rewrite history."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("shop.Product", on_delete=models.SET_NULL, null=True)
    name = models.CharField(max_length=120)
    sku = models.CharField(max_length=140)
    unit_price = models.PositiveIntegerField()
    quantity = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"

    @property
    def subtotal(self) -> int:
        return self.unit_price * self.quantity

    @property
    def display_name(self) -> str:
        """The product's name in the active language while it exists; else the name bought."""
        return self.product.display_name if self.product is not None else self.name


class PaymentAttempt(models.Model):
    """One charge (or one try at creating it) for an order."""

    class Status(models.TextChoices):
        CREATING = "creating", "Creating charge"  # row exists, POST /charges not answered yet
        UNKNOWN = "unknown", "Outcome unknown"  # network error: reconcile by retrieving
        PENDING = "pending", "Pending"  # e.g. waiting for 3-D Secure
        SUCCESSFUL = "successful", "Successful"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"
        REVERSED = "reversed", "Reversed"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="attempts")
    # The idempotency key of the checkout form that started this attempt: unique, so a double
    # click or a refreshed POST can never create a second charge.
    key = models.CharField(max_length=64, unique=True)
    # Put in return_uri so only the shopper coming back from 3-D Secure can trigger the return.
    return_token = models.CharField(max_length=64, default=new_secret, editable=False)
    charge_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATING)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    authorize_uri = models.URLField(max_length=1000, blank=True)
    card_brand = models.CharField(max_length=40, blank=True)
    card_last_digits = models.CharField(max_length=4, blank=True)
    card_fingerprint = models.CharField(max_length=128, blank=True)
    # "card", or the Omise source type ("promptpay", "internet_banking_bbl"…), or "source"
    # until the charge tells which: see checkout/payment_methods.py.
    payment_method = models.CharField(max_length=40, blank=True, db_index=True)
    # PromptPay: the QR code image Omise serves, shown while the charge waits, and its expiry.
    qr_code_uri = models.URLField(max_length=1000, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.order.reference}: {self.charge_id or self.get_status_display()}"


class WebhookDelivery(models.Model):
    """A webhook delivery whose signature held, stored (body masked) before it is processed."""

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField(blank=True)
    event_id = models.CharField(max_length=64, blank=True, db_index=True)
    signature_valid = models.BooleanField(null=True)
    # SHA-256 of what the signature covers (timestamp and body): the same delivery, however
    # often it is replayed, is stored once.
    signature_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True)
    outcome = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_id or 'unparsed'} → {self.response_status}"


class WebhookEvent(models.Model):
    """An Omise event as fetched back from the API by id; applied at most once."""

    event_id = models.CharField(max_length=64, unique=True)
    key = models.CharField(max_length=64, db_index=True)
    livemode = models.BooleanField(default=False)
    data = models.JSONField(default=dict, help_text="The event as returned by GET /events/{id}.")
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.key})"


class Refund(models.Model):
    """A refund of (part of) an order's charge, as Omise recorded it.

    One row per Omise refund (`refund_id` is unique), whether it was asked for from the admin or
    learned from a `refund.create` webhook, so the two never count twice. Rows asked for from
    the admin also carry the refund form's one-time `request_token` (unique): the same form
    submitted twice finds its row and refunds nothing more. The order's `refunded_amount` is
    not summed from these rows: it follows the charge's own `refunded_amount` at Omise.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    # Null while Omise's answer is unknown (a timeout); the webhook fills it in.
    refund_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    request_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    amount = models.PositiveBigIntegerField(help_text="In minor units (satang).")
    currency = models.CharField(max_length=3)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.order.reference}: {self.refund_id or 'outcome unknown'}"
