"""Settle payment attempts we are unsure about, in bulk: for cron and the admin action.

An attempt stays `creating`, `unknown` or `pending` when its answer never reached us: the
charge request timed out, the process died mid-request, the shopper left 3-D Secure, or the
webhook was lost. `services.attempt_reconcile` asks Omise about one attempt; this module picks
which attempts to ask about and counts the outcomes.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from checkout.events import event_apply
from checkout.models import PaymentAttempt, WebhookEvent
from checkout.omise import get_client
from checkout.services import SETTLED, attempt_needs_reconcile, attempt_reconcile


def attempts_to_reconcile(*, older_than: timedelta, limit: int):
    """Unsettled attempts created before `older_than` ago, oldest first, at most `limit`.

    Young attempts are skipped: their charge request may still be in flight, or their shopper
    still at the bank. Authorizations (manual capture) are asked about once their deadline has
    passed: until then a capture or release reaches us by webhook or by the event catch-up, and
    days-old authorizations must not crowd the attempts we know nothing about out of `limit`.
    """
    now = timezone.now()
    cutoff = now - older_than
    return (
        PaymentAttempt.objects.exclude(status__in=SETTLED)
        .exclude(status=PaymentAttempt.Status.AUTHORIZED, expires_at__gt=now)
        .filter(created_at__lt=cutoff)
        .select_related("order")
        .order_by("created_at")[:limit]
    )


def reconcile_attempts(attempts: Iterable[PaymentAttempt]) -> Counter:
    """Reconcile each attempt with Omise; count the resulting attempt statuses.

    Settled attempts are skipped (counted as "skipped"), so re-running is harmless. A failure
    to reach Omise leaves an attempt as it was: the next run tries again.
    """
    outcome: Counter = Counter()
    for attempt in attempts:
        if not attempt_needs_reconcile(attempt):
            outcome["skipped"] += 1
            continue
        outcome[attempt_reconcile(attempt=attempt).status] += 1
    return outcome


def describe(outcome: Counter) -> str:
    """`3 attempts: 2 successful, 1 unknown` (or `no attempts to reconcile`)."""
    total = sum(outcome.values())
    if not total:
        return "no attempts to reconcile"
    parts = ", ".join(f"{count} {status}" for status, count in sorted(outcome.items()))
    return f"{total} attempt{'s' if total != 1 else ''}: {parts}"


def event_reapply(*, record: WebhookEvent) -> WebhookEvent:
    """Fetch a stored webhook event from Omise again and apply what it is about, now.

    For staff who suspect an event was mis-applied or never processed. Idempotent: the charge
    is retrieved afresh and `charge_apply` sets state from it, never adds; refunds are recorded
    once per refund id. Raises `OmiseError` when Omise cannot be asked.
    """
    event_apply(event=get_client().retrieve_event(record.event_id), again=True)
    record.refresh_from_db()
    return record
