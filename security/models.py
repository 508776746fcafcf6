"""The security events every control records: one table, one admin list, one dashboard."""

from django.db import models


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
        # The table it had in the shop app: moved without a copy, a fork keeps its events.
        db_table = "shop_securityevent"
        ordering = ["-created_at"]
        indexes = [
            # The dashboard counts each kind over a window of time; the admin lists a kind.
            models.Index(fields=["kind", "created_at"], name="securityevent_kind_created"),
            # The admin's search by the start of a path (security/admin.py).
            models.Index(
                fields=["path"], opclasses=["varchar_pattern_ops"], name="securityevent_path"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.path or '-'}"
