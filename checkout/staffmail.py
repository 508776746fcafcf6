"""E-mails to the shop's staff (a dispute opened, a dispute's deadline near), each sent once.

Threat it stops: staff flooded with the same alert (an event applied again by the admin, a
retried webhook, a job run every five minutes) until they stop reading them, or an alert lost
when the mail server is down. Each mail is a `StaffMail` row with a unique `key` written in
the transaction that decided to send it; the task queue sends it after the commit, and a row
still unsent is sent by the next `reconcile_payments`. Sending claims the row first (a
conditional UPDATE), so two workers never send one mail twice.

Kept small and separate from the shopper's mail on purpose: one table, one task.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.tasks import task
from django.utils import timezone

from checkout.models import StaffMail

logger = logging.getLogger(__name__)


def staff_recipients() -> list[str]:
    """STAFF_NOTIFY_EMAILS, or else the ADMINS' addresses."""
    if settings.STAFF_NOTIFY_EMAILS:
        return list(settings.STAFF_NOTIFY_EMAILS)
    return [admin[1] if isinstance(admin, (list, tuple)) else admin for admin in settings.ADMINS]


def staff_mail_queue(*, key: str, subject: str, body: str) -> StaffMail | None:
    """Write the mail `key` once and queue its sending after the commit. Returns None when a
    mail with this key was written before (it is not sent again)."""
    try:
        with transaction.atomic():
            mail = StaffMail.objects.create(key=key[:120], subject=subject[:200], body=body)
    except IntegrityError:
        return None
    transaction.on_commit(lambda: _enqueue(mail.pk))
    return mail


def _enqueue(mail_id: int) -> None:
    try:
        send_staff_mail.enqueue(mail_id=mail_id)
    except Exception:  # the queue is down: reconcile_payments sends unsent mail later
        logger.exception("Could not queue staff mail %s", mail_id)


def staff_mail_send(*, mail_id: int) -> bool:
    """Send one queued mail unless it was sent; True if this call sent it. A failure to send
    gives the claim back (the next run retries) and raises."""
    now = timezone.now()
    if not StaffMail.objects.filter(pk=mail_id, sent_at=None).update(sent_at=now):
        return False
    mail = StaffMail.objects.get(pk=mail_id)
    recipients = staff_recipients()
    if not recipients:
        logger.warning("Staff mail %s not sent: set STAFF_NOTIFY_EMAILS or ADMINS", mail.key)
        StaffMail.objects.filter(pk=mail_id).update(sent_at=None)
        return False
    try:
        send_mail(
            f"[{settings.SHOP_NAME}] {mail.subject}",
            mail.body,
            settings.SERVER_EMAIL,
            recipients,
        )
    except Exception:
        StaffMail.objects.filter(pk=mail_id, sent_at=now).update(sent_at=None)
        raise
    logger.info("Staff mail %s sent", mail.key)
    return True


def staff_mail_send_unsent(*, limit: int = 50) -> int:
    """Send mail left unsent (the queue or the mail server was down); how many were sent."""
    sent = 0
    for mail_id in (
        StaffMail.objects.filter(sent_at=None).order_by("pk").values_list("pk", flat=True)[:limit]
    ):
        try:
            sent += staff_mail_send(mail_id=mail_id)
        except Exception:
            logger.exception("Staff mail %s could not be sent; will retry", mail_id)
    return sent


@task()
def send_staff_mail(*, mail_id: int) -> bool:
    """The task queue's job: send one staff e-mail unless it was sent already."""
    return staff_mail_send(mail_id=mail_id)
