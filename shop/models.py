from django.db import models
from django.urls import reverse

from shop.money import CURRENCIES


class ProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Product(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    price = models.PositiveIntegerField(
        help_text="In the currency's smallest unit (satang for THB)."
    )
    currency = models.CharField(
        max_length=3, choices=[(code, code) for code in CURRENCIES], default="THB"
    )
    image = models.CharField(
        max_length=200, blank=True, help_text="Path under static/, e.g. img/products/mug.svg."
    )
    active = models.BooleanField(default=True, help_text="Inactive products are hidden.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__in=list(CURRENCIES)), name="product_known_currency"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:product_detail", kwargs={"slug": self.slug})


class SecurityEvent(models.Model):
    """One thing a merchant should know happened: a refused request, a block, a violation.

    Every security control records here (card guard, velocity limits, admin login throttling,
    CSP reports, key notices), so the admin has one place to monitor, as Omise's guide asks.
    Never store card numbers or secrets in `detail`: at most a card's last four digits.
    """

    class Kind(models.TextChoices):
        CARD_DATA_REFUSED = "card_data_refused", "Card data refused"
        VELOCITY_BLOCK = "velocity_block", "Payment velocity block"
        LOGIN_FAILURE = "login_failure", "Admin login failure"
        LOGIN_LOCKOUT = "login_lockout", "Admin login lockout"
        OTP_FAILURE = "otp_failure", "Two-factor code failure"
        CSP_VIOLATION = "csp_violation", "Content-Security-Policy violation"
        WEBHOOK_REJECTED = "webhook_rejected", "Webhook delivery rejected"
        DUPLICATE_PAYMENT = "duplicate_payment", "Cart paid twice (later payment refunded)"

    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    path = models.CharField(max_length=500, blank=True)
    field_name = models.CharField(max_length=200, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    user_agent = models.CharField(max_length=500, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.path or '-'}"
