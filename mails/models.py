"""The e-mail outbox: one row per mail that must be sent, unique by its key.

A mail is *decided* by inserting its row in the same transaction that changes the state it
tells about (an order paid, a refund made, a dispute opened): the row commits with that change
or not at all, and its unique `key` (e.g. `order:LG-7K3Q9XF2:order_confirmation`,
`dispute:dspt_…:opened`) makes a second decision — a webhook racing the 3-D Secure return and
the reconcile job — insert nothing. There is no flag checked and then set. The row is sent
afterwards, by a task (mails.tasks), with retries. The outbox knows nothing of orders: the
shopper's mails go to one address, the staff's to every address of STAFF_NOTIFY_EMAILS.
"""

from django.db import models


class OutboxMail(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"  # waiting to be sent (first time, or retry at next_try_at)
        SENDING = "sending", "Sending"  # claimed by one sender
        SENT = "sent", "Sent"  # the mail server accepted it
        FAILED = "failed", "Failed"  # gave up after MAIL_MAX_ATTEMPTS

    key = models.CharField(max_length=200, unique=True, help_text="At most one mail per key.")
    # The templates mails/<kind>/subject.txt, body.txt and (optional) body.html.
    kind = models.CharField(max_length=40, db_index=True)
    # The recipients, one message to all of them: ["shopper@example.com"], or the staff's.
    to = models.JSONField(default=list)
    language = models.CharField(max_length=8, blank=True)
    # What the templates need, as it was when the mail was decided. Never card data beyond
    # the brand and the last four digits.
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_try_at = models.DateTimeField(auto_now_add=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "outbox mail"

    def __str__(self) -> str:
        return f"{self.kind} → {', '.join(self.to)} ({self.status})"
