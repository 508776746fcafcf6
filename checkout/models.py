"""Orders, payment attempts and webhook records.

An `Order` is one checkout of a cart: what was bought at which price, who bought it, and where
the payment stands. Each charge created for it is a `PaymentAttempt`. Webhook deliveries are
stored raw (`WebhookDelivery`) before anything else happens, and each Omise event is applied at
most once (`WebhookEvent`, unique on the event id).
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
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
        # Manual capture (OMISE_CAPTURE=manual): the card is authorized, the money not taken yet.
        AUTHORIZED = "authorized", _("Authorized, awaiting capture")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Payment failed")
        EXPIRED = "expired", _("Expired")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")
        # An authorization released (reversed) before capture: the shopper was never charged.
        CANCELLED = "cancelled", _("Cancelled, authorization released")

    # The whole state machine. A payment that really happened always wins: an order marked
    # failed or expired locally can still become paid when Omise says the charge succeeded.
    TRANSITIONS: dict[str, set[str]] = {
        Status.PENDING: {Status.AUTHORIZED, Status.PAID, Status.FAILED, Status.EXPIRED},
        Status.FAILED: {Status.AUTHORIZED, Status.PAID},
        Status.EXPIRED: {Status.PAID},
        # Captured (in full or in part), released, or left to expire at the bank.
        Status.AUTHORIZED: {Status.PAID, Status.CANCELLED, Status.EXPIRED},
        Status.CANCELLED: set(),
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
    # Set by a partial capture: what was taken of `amount` (the rest was released). None when
    # the whole amount was charged, as every automatic capture is.
    captured_amount = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Captured, when less than the amount (minor units)."
    )

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
    authorized_at = models.DateTimeField(null=True, blank=True)  # manual capture only

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(refunded_amount__lte=models.F("amount")),
                name="order_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=models.Q(captured_amount__isnull=True)
                | models.Q(captured_amount__lte=models.F("amount")),
                name="order_capture_within_amount",
            ),
        ]
        indexes = [
            # The admin's search (checkout/admin.py): an e-mail address whole, in any case,
            # and the start of a name, through these rather than a scan of every order.
            models.Index(Upper("email"), name="order_email_upper"),
            models.Index(
                fields=["name"], opclasses=["varchar_pattern_ops"], name="order_name_prefix"
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse(
            "checkout:order_detail",
            kwargs={"reference": self.reference, "token": self.access_token},
        )

    @property
    def charged_amount(self) -> int:
        """What the shopper was charged: the amount, or what a partial capture took of it."""
        return self.amount if self.captured_amount is None else self.captured_amount

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
        # Approved with capture=false: money held on the card until captured or reversed.
        AUTHORIZED = "authorized", "Authorized (not captured)"
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
    # Omise's advice to the merchant on a failed charge (whether and when to retry), and the
    # 3-D Secure fields the issuer missed: shown to staff, never to the shopper.
    merchant_advice = models.CharField(max_length=255, blank=True)
    merchant_advice_code = models.CharField(max_length=64, blank=True)
    missing_3ds_fields = models.JSONField(default=list, blank=True)
    authorize_uri = models.URLField(max_length=1000, blank=True)
    card_brand = models.CharField(max_length=40, blank=True)
    card_last_digits = models.CharField(max_length=4, blank=True)
    card_fingerprint = models.CharField(max_length=128, blank=True)
    # "card", or the Omise source type ("promptpay", "internet_banking_bbl"…), or "source"
    # until the charge tells which: see checkout/payment_methods.py.
    payment_method = models.CharField(max_length=40, blank=True, db_index=True)
    # PromptPay: the QR code image Omise serves, shown while the charge waits, and its expiry.
    qr_code_uri = models.URLField(max_length=1000, blank=True)
    # The charge's `expires_at`: a QR code's, or an authorization's (capture before it).
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The monitoring dashboard counts attempts by status over a window of time.
            models.Index(fields=["status", "created_at"], name="attempt_status_created"),
            # Reconcile looks for the few unsettled attempts among a year of settled ones.
            models.Index(
                fields=["created_at"],
                condition=~models.Q(status__in=["successful", "failed", "expired", "reversed"]),
                name="attempt_unsettled_created",
            ),
        ]

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
        indexes = [
            # The dashboard's "webhook failures": the few failed deliveries among many.
            models.Index(
                fields=["received_at"],
                condition=models.Q(response_status__gte=400),
                name="delivery_failed_received",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id or 'unparsed'} → {self.response_status}"


class WebhookEvent(models.Model):
    """An Omise event as fetched back from the API by id; applied at most once."""

    event_id = models.CharField(max_length=64, unique=True)
    key = models.CharField(max_length=64, db_index=True)
    livemode = models.BooleanField(default=False)
    data = models.JSONField(default=dict, help_text="The event as returned by GET /events/{id}.")
    processed_at = models.DateTimeField(null=True, blank=True)
    # How the event first reached us: a webhook delivery, or the catch-up that lists Omise's
    # events (checkout/catchup.py). Many of the latter mean the webhook endpoint is failing.
    arrival = models.CharField(
        max_length=10,
        choices=[("webhook", "Webhook"), ("catch_up", "Catch-up")],
        default="webhook",
        db_index=True,
    )
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


class AuthorizationAction(models.Model):
    """A capture or a reversal of an order's authorization, asked for by staff (manual capture).

    One row per form submitted (`request_token` is unique): a double click or a resubmitted form
    finds the first row and asks Omise nothing more. `outcome` stays "unknown" when Omise's answer
    never came; the charge, retrieved later, tells what happened.
    """

    class Kind(models.TextChoices):
        CAPTURE = "capture", "Capture"
        REVERSE = "reverse", "Reverse (release)"

    class Outcome(models.TextChoices):
        DONE = "done", "Done"
        UNKNOWN = "unknown", "Outcome unknown"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="authorization_actions")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.PositiveBigIntegerField(help_text="In minor units (satang).")
    currency = models.CharField(max_length=3)
    request_token = models.CharField(max_length=64, unique=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.order.reference}: {self.get_kind_display()} ({self.outcome})"


class Dispute(models.Model):
    """A chargeback on one of our charges, as Omise last reported it (`dispute.*` events).

    Omise's object is the truth: every event re-fetches the dispute and overwrites these
    fields. `respond_by` is the deadline to answer (Omise's field name is unconfirmed: see
    docs/omise-api.md). The staff e-mails of `checkout.disputes` are sent once each.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending (answered, awaiting the bank)"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        CLOSED = "closed", "Closed"

    dispute_id = models.CharField(max_length=64, unique=True)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, related_name="disputes", null=True, blank=True
    )
    charge_id = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, db_index=True)
    amount = models.PositiveBigIntegerField(help_text="In minor units (satang).")
    currency = models.CharField(max_length=3)
    reason_code = models.CharField(max_length=64, blank=True)
    reason_message = models.CharField(max_length=255, blank=True)
    message = models.TextField(blank=True, help_text="The shop's answer, as sent to Omise.")
    respond_by = models.DateTimeField(null=True, blank=True, db_index=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, help_text="The dispute as Omise last returned it.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    OPEN_STATUSES = (Status.OPEN, Status.PENDING)

    class Meta:
        ordering = ["respond_by", "-created_at"]

    def __str__(self) -> str:
        return self.dispute_id

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class EventCursor(models.Model):
    """Where the event catch-up stands: the newest Omise event it has seen (one row)."""

    name = models.CharField(max_length=20, unique=True, default="omise")
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_event_at}"
