"""Background tasks (Django's tasks framework).

With WEBHOOK_PROCESSING=deferred the webhook receiver only verifies and records a delivery,
then queues `apply_webhook_event`; a worker runs it. The task does what the inline receiver
does: fetch the event back from Omise by id (never trusting the delivered body) and apply it
once. A failure is raised, so the worker records it; since Omise already got its 2xx and will
not retry, `reconcile_payments` (cron) settles any order the failure left pending.
"""

from django.tasks import task

from checkout.events import event_apply
from checkout.omise import get_client


@task()
def apply_webhook_event(*, event_id: str) -> bool:
    """Fetch `event_id` from Omise and apply it; False if it had been applied already."""
    return event_apply(event=get_client().retrieve_event(event_id))
