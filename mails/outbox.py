"""Queue a mail once, send it once: the outbox's two services.

- `mail_queue(...)` — call it inside the transaction that changes what the mail tells. It
  inserts the mail's row unless one with its key exists (ON CONFLICT DO NOTHING: no read
  first, no savepoint), and once that transaction commits, queues its sending task.
- `mails.sending.mail_send(key=...)` — what the task runs. It claims the row in one UPDATE
  (queued → sending), so two workers handed the same key never both send; renders the mail
  in its language; hands it to the mail server (settings.MAILERS, from EMAIL_URL). A failure
  puts the row back in the queue for later (1, 5, 30 minutes… up to MAIL_MAX_ATTEMPTS),
  never blocking the caller.
- `mails_send_due()` — what `manage.py send_mails` (cron) runs: every queued row whose time has
  come, and rows left "sending" by a worker that died (after MAIL_CLAIM_TIMEOUT).

A mail is sent exactly once per key unless the mail server accepts it and the process dies
before the row is marked sent; then it is sent again after MAIL_CLAIM_TIMEOUT (at least once
beats never for a receipt).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from mails.models import OutboxMail
from mails.sending import mail_send
from mails.tasks import send_mail

logger = logging.getLogger(__name__)

MAIL_CLAIM_TIMEOUT = timedelta(minutes=15)


def mail_queue(
    *, key: str, kind: str, to: str | Sequence[str], language: str, context: dict
) -> None:
    """Decide a mail: at most one row per `key`, sent after the current transaction commits.

    `to` is an address, or several that receive one message together (staff)."""
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients or not all(recipients):
        raise ValueError(f"Mail {key} has no recipient")
    OutboxMail.objects.bulk_create(
        [OutboxMail(key=key, kind=kind, to=recipients, language=language, context=context)],
        ignore_conflicts=True,
    )
    transaction.on_commit(lambda: _enqueue(key))


def mails_queued(*, keys: Iterable[str]) -> set[str]:
    """Which of `keys` were decided already (queued, sent or given up)."""
    return set(OutboxMail.objects.filter(key__in=list(keys)).values_list("key", flat=True))


def mails_send_due() -> int:
    """Send every queued mail whose time has come; revive claims left by a dead worker."""
    stale = timezone.now() - MAIL_CLAIM_TIMEOUT
    OutboxMail.objects.filter(status=OutboxMail.Status.SENDING, claimed_at__lt=stale).update(
        status=OutboxMail.Status.QUEUED
    )
    due = OutboxMail.objects.filter(
        status=OutboxMail.Status.QUEUED, next_try_at__lte=timezone.now()
    ).values_list("key", flat=True)
    return sum(mail_send(key=key).sent for key in list(due))


# --- helpers ---------------------------------------------------------------------------------


def _enqueue(key: str) -> None:
    """Hand the mail to the task queue; if the queue itself fails, cron's send_mails will."""
    try:
        send_mail.enqueue(key=key)
    except Exception:
        logger.exception("Mail %s not queued; `manage.py send_mails` will send it", key)
