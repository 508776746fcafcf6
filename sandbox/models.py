"""The sandbox's state, in the project's database (development and tests only).

No full card number or security code is ever stored: a token keeps the card's public face
(brand, last digits, expiry, name), a keyed fingerprint, and the test-card behaviour decided
when it was created.
"""

import time

from django.db import models


class Token(models.Model):
    id = models.CharField(primary_key=True, max_length=40)
    card = models.JSONField()  # Omise's card object, without number or security code
    behaviour = models.CharField(max_length=40)  # see sandbox/cards.py
    used = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.id


class Source(models.Model):
    """A payment source made with the public key (`POST /sources`): PromptPay, a bank…

    Like a token it is single use; unlike a token it fixes the amount and currency that the
    charge made from it must carry.
    """

    id = models.CharField(primary_key=True, max_length=40)
    type = models.CharField(max_length=40)  # promptpay, mobile_banking_kbank… (sandbox/sources.py)
    flow = models.CharField(max_length=20)  # offline (QR code), redirect, app_redirect
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    installment_term = models.PositiveSmallIntegerField(null=True)  # installment_* only
    phone_number = models.CharField(max_length=20, blank=True, default="")  # truemoney only
    used = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.id


class Charge(models.Model):
    class Status(models.TextChoices):
        SUCCESSFUL = "successful"
        FAILED = "failed"
        PENDING = "pending"
        EXPIRED = "expired"
        REVERSED = "reversed"

    id = models.CharField(primary_key=True, max_length=40)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)  # lower case, as Omise answers
    status = models.CharField(max_length=12, choices=Status.choices)
    authorized = models.BooleanField(default=False)
    paid = models.BooleanField(default=False)
    capture = models.BooleanField(default=True)
    reversed = models.BooleanField(default=False)
    expired = models.BooleanField(default=False)
    card = models.JSONField(null=True)
    token_behaviour = models.CharField(max_length=40, blank=True)
    source = models.JSONField(null=True)  # Omise's source object, with its QR code if offline
    expires_at = models.DateTimeField(null=True)  # when a charge awaiting the shopper expires
    description = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict)
    return_uri = models.TextField(blank=True, default="")
    authorize_uri = models.TextField(blank=True, default="")
    ip = models.CharField(max_length=64, blank=True, default="")
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_message = models.TextField(blank=True, default="")
    refunded_amount = models.PositiveBigIntegerField(default=0)
    # Manual capture: what was captured (a partial capture takes less than `amount`).
    captured_amount = models.PositiveBigIntegerField(null=True)
    transaction = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True)
    reversed_at = models.DateTimeField(null=True)
    expired_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.id


class Dispute(models.Model):
    """A chargeback opened from the sandbox's dashboard on a paid charge."""

    class Status(models.TextChoices):
        OPEN = "open"
        PENDING = "pending"
        WON = "won"
        LOST = "lost"
        CLOSED = "closed"

    id = models.CharField(primary_key=True, max_length=40)
    charge = models.ForeignKey("Charge", on_delete=models.CASCADE, related_name="disputes")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    amount = models.PositiveBigIntegerField()
    reason_code = models.CharField(max_length=64)
    reason_message = models.CharField(max_length=255)
    message = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict)
    respond_by = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.id


class Switches(models.Model):
    """The sandbox's switches, one row: `drop_webhooks` records events but delivers none (the
    shop's event catch-up then has to find them)."""

    drop_webhooks = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "switches"

    def __str__(self) -> str:
        return f"drop_webhooks={self.drop_webhooks}"

    @classmethod
    def current(cls) -> "Switches":
        return cls.objects.get_or_create(pk=1)[0]


class Refund(models.Model):
    id = models.CharField(primary_key=True, max_length=40)
    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="refunds")
    amount = models.PositiveBigIntegerField()
    metadata = models.JSONField(default=dict)
    transaction = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.id


class Event(models.Model):
    id = models.CharField(primary_key=True, max_length=40)
    key = models.CharField(max_length=40)  # charge.create, charge.complete, …
    data = models.JSONField()  # the object as it was when the event happened
    delivered = models.BooleanField(default=False)  # at least one delivery attempted
    created_at = models.DateTimeField(auto_now_add=True)
    seq = models.BigIntegerField(default=time.time_ns, db_index=True)  # creation order

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"{self.id} {self.key}"


class Delivery(models.Model):
    """One webhook POST attempt, whatever its outcome."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    url = models.TextField()
    status_code = models.PositiveSmallIntegerField(null=True)  # None: no HTTP answer
    error = models.TextField(blank=True)
    attempted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.status_code or self.error}"


class ReceivedRequest(models.Model):
    """What reached "Omise": endpoint, parameters (never card fields), caller's IP."""

    endpoint = models.CharField(max_length=40)
    method = models.CharField(max_length=8)
    path = models.TextField()
    params = models.JSONField(default=dict)
    headers = models.JSONField(default=dict)  # Omise-Version, User-Agent (no Authorization)
    ip = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


class Fault(models.Model):
    """An injected misbehaviour for the next `remaining` calls of an endpoint (tests)."""

    class Kind(models.TextChoices):
        STALL_BEFORE = "stall_before"  # sleep, then process normally
        STALL_AFTER = "stall_after"  # process (the charge exists), then sleep
        STATUS = "status"  # answer an error status (500, 429…) without processing

    endpoint = models.CharField(max_length=40)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    seconds = models.FloatField(default=0)
    status = models.PositiveSmallIntegerField(default=500)
    remaining = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.endpoint} {self.kind}"


class KeyUse(models.Model):
    """Each (secret key, IP) pair seen, as Omise tracks to e-mail "used from a new IP"."""

    key_hint = models.CharField(max_length=40)  # a keyed hash, never the key
    ip = models.CharField(max_length=64)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key_hint", "ip"], name="one_use_per_ip")]

    def __str__(self) -> str:
        return self.ip


class Notice(models.Model):
    """A message Omise would e-mail the merchant, shown on the sandbox dashboard."""

    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.subject
