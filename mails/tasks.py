"""The outbox's task: only fetches and calls the service (mails.sending.mail_send), and queues
itself again for the retry the service scheduled, when the queue can defer (django-tasks-db);
otherwise `manage.py send_mails` (cron) sends the retry."""

import logging

from django.tasks import task

from mails.sending import mail_send

logger = logging.getLogger(__name__)


@task()
def send_mail(*, key: str) -> bool:
    """Send the queued mail of `key`; False if it was not due, sent already, or failed."""
    outcome = mail_send(key=key)
    if outcome.retry_at is not None and send_mail.get_backend().supports_defer:
        try:
            send_mail.using(run_after=outcome.retry_at).enqueue(key=key)
        except Exception:
            logger.exception("Retry of mail %s not queued; send_mails will send it", key)
    return outcome.sent
