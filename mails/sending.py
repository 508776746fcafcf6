"""Sending one queued mail: claim it, render it in its language, hand it to the mail server,
and on failure put it back in the queue for later. Called by the outbox's task (mails.tasks)
and by `manage.py send_mails` (mails.outbox.mails_send_due)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation

from mails.models import OutboxMail

logger = logging.getLogger(__name__)

# Minutes to wait before each retry: the n-th failure waits RETRY_MINUTES[n - 1] (the last
# value repeats).
RETRY_MINUTES = (1, 5, 30, 120, 360)


@dataclass(frozen=True)
class Outcome:
    sent: bool = False  # this call handed the mail to the mail server
    retry_at: datetime | None = None  # it failed and is queued again for then


def mail_send(*, key: str) -> Outcome:
    """Send the mail of `key` if it is queued and due (claimed in one UPDATE, so two senders
    never both send it)."""
    now = timezone.now()
    claimed = OutboxMail.objects.filter(
        key=key, status=OutboxMail.Status.QUEUED, next_try_at__lte=now
    ).update(status=OutboxMail.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return Outcome()  # sent already, being sent, not due yet, or no such mail
    mail = OutboxMail.objects.get(key=key)
    try:
        mail_message(mail).send()
    except Exception as error:  # the mail server, a template: retried later either way
        return Outcome(retry_at=_retry_later(mail, error))
    OutboxMail.objects.filter(pk=mail.pk).update(
        status=OutboxMail.Status.SENT, sent_at=timezone.now(), last_error=""
    )
    logger.info("Mail %s sent (%s)", mail.key, mail.kind)
    return Outcome(sent=True)


def mail_message(mail: OutboxMail) -> EmailMultiAlternatives:
    """The mail as it goes out: subject, plain text and (if its kind has one) HTML, rendered
    in the mail's language with the shop's branding (settings.SHOP_NAME, MAIL_ACCENT_COLOR)."""
    context = {
        **mail.context,
        "SHOP_NAME": settings.SHOP_NAME,
        "shop_url": settings.SHOP_ORIGIN.rstrip("/"),
        "accent": settings.MAIL_ACCENT_COLOR,
    }
    with translation.override(mail.language or settings.LANGUAGE_CODE):
        context["LANGUAGE_CODE"] = translation.get_language()
        subject = render_to_string(f"mails/{mail.kind}/subject.txt", context)
        text = render_to_string(f"mails/{mail.kind}/body.txt", context)
        html: str
        try:
            html = render_to_string(f"mails/{mail.kind}/body.html", context)
        except TemplateDoesNotExist:
            html = ""
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),  # one line, whatever the template's whitespace
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(mail.to),
        headers={"Content-Language": context["LANGUAGE_CODE"]},
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message


# --- helpers ---------------------------------------------------------------------------------


def _retry_later(mail: OutboxMail, error: Exception) -> datetime | None:
    """Put the mail back in the queue for later (or give up); when it is to be tried again."""
    attempts = mail.attempts  # already counts this one (the claim added it)
    reason = f"{type(error).__name__}: {error}"[:300]
    if attempts >= settings.MAIL_MAX_ATTEMPTS:
        OutboxMail.objects.filter(pk=mail.pk).update(
            status=OutboxMail.Status.FAILED, last_error=reason
        )
        logger.error("Mail %s gave up after %d attempts: %s", mail.key, attempts, reason)
        return None
    wait = timedelta(minutes=RETRY_MINUTES[min(attempts, len(RETRY_MINUTES)) - 1])
    next_try_at = timezone.now() + wait
    OutboxMail.objects.filter(pk=mail.pk).update(
        status=OutboxMail.Status.QUEUED, next_try_at=next_try_at, last_error=reason
    )
    logger.warning("Mail %s not sent (%s); retrying in %s", mail.key, reason, wait)
    return next_try_at
