"""System checks for the outbox.

Threat: a slow or unreachable mail server slowing every checkout. A mail is sent by a task
after the payment commits; with Django's immediate task backend that task runs inside the
request, so in production the shopper's checkout waits for the SMTP server (up to
`MAIL_TIMEOUT`). `manage.py check --deploy` warns until a queue with a worker sends the mails.
"""

from django.conf import settings
from django.core.checks import Tags, Warning, register

IMMEDIATE = "django.tasks.backends.immediate.ImmediateBackend"


@register(Tags.compatibility, deploy=True)
def check_mail_is_queued(app_configs=None, **kwargs):
    backend = settings.TASKS.get("default", {}).get("BACKEND", "")
    if backend != IMMEDIATE:
        return []
    return [
        Warning(
            "Mails are sent inside the request (the immediate task backend): a slow mail "
            "server slows every checkout that sends a receipt.",
            hint="Set TASKS_BACKEND=django_tasks_db.DatabaseBackend and run "
            "`manage.py db_worker` beside gunicorn (docs/mails.md).",
            id="mails.W001",
        )
    ]
