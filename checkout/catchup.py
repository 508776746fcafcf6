"""No event lost: list Omise's events since the newest one seen and apply any that never came
as a webhook (the endpoint was down, a proxy dropped them, the secret was wrong for an hour).

Threat it stops: an order left pending, a capture, refund or dispute never recorded, because a
webhook was lost and Omise stopped retrying. Each listed event goes through the same path as
a delivery (`checkout.events.event_apply`: re-fetched from Omise by id, applied once under the
event's row lock), so an event that arrives both ways is applied once. Events found here are
marked `arrival="catch_up"`; the dashboard counts them, since many of them mean the webhook
endpoint is failing.

The cursor (`EventCursor`) keeps the newest event time seen; each run starts a little before
it (`OVERLAP`: Omise's list is by creation time, and events created in the same second may
arrive out of order), so nothing at the edge is skipped; what was seen already costs one
indexed read.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from checkout.events import event_apply, event_state
from checkout.ids import is_omise_id
from checkout.models import EventCursor
from checkout.omise import get_client

logger = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
# The first run (no cursor yet) looks back this far.
FIRST_LOOK_BACK = timedelta(days=1)
PAGE = 100
# Pages per run: a backlog larger than this is worked off over several runs.
MAX_PAGES = 20
# Events younger than this are left to their webhook, which is probably on its way.
WEBHOOK_GRACE = timedelta(minutes=1)
# An event that still cannot be applied once this old stops holding the cursor back (it is
# logged as an error each run it is listed): one broken event must not keep the catch-up from
# every event after it, once more than a run's pages of them pile up.
GIVE_UP_AFTER = timedelta(days=1)


def events_catch_up(*, now: datetime | None = None) -> Counter:
    """List Omise's events since the cursor and apply those never applied. Counts: "listed",
    "applied" (arrived only now), "seen" (a webhook had applied them), "young" (left to
    their webhook), "failed" (could not be applied now; retried next run), "abandoned" (still
    failing after GIVE_UP_AFTER: logged, and the cursor moves past it). Raises OmiseError
    when Omise cannot list events (nothing changes)."""
    now = now or timezone.now()
    cursor, _ = EventCursor.objects.get_or_create(name="omise")
    since = (cursor.last_event_at - OVERLAP) if cursor.last_event_at else now - FIRST_LOOK_BACK
    client = get_client()
    outcome: Counter = Counter()
    newest = cursor.last_event_at
    stop_at = None  # the cursor may not pass an event that could not be applied
    for page in range(MAX_PAGES):
        listing = client.list_events(
            from_time=since, offset=page * PAGE, limit=PAGE, order="chronological"
        )
        data = listing.get("data") or []
        for listed in data:
            event_id = listed.get("id")
            created = _parse_time(listed.get("created_at"))
            if not is_omise_id("evnt", event_id) or created is None:
                continue
            outcome["listed"] += 1
            if created > now - WEBHOOK_GRACE:
                outcome["young"] += 1
                stop_at = min(stop_at or created, created)
                continue
            if event_state(event_id):
                outcome["seen"] += 1
            else:
                try:
                    # Believe Omise's copy fetched by id, never the list's (as for a delivery).
                    applied = event_apply(event=client.retrieve_event(event_id), arrival="catch_up")
                except Exception:
                    if created > now - GIVE_UP_AFTER:
                        logger.exception("Catch-up could not apply event %s; will retry", event_id)
                        outcome["failed"] += 1
                        stop_at = min(stop_at or created, created)
                        continue
                    logger.exception(
                        "Catch-up gives up on event %s (created %s): apply it by hand from the "
                        "webhook events admin once what breaks it is fixed",
                        event_id,
                        created,
                    )
                    outcome["abandoned"] += 1
                    newest = max(newest or created, created)
                    continue
                outcome["applied" if applied else "seen"] += 1
            newest = max(newest or created, created)
        if len(data) < PAGE:
            break
    if stop_at is not None and newest is not None:
        newest = min(newest, stop_at)
    with transaction.atomic():
        EventCursor.objects.filter(pk=cursor.pk).update(last_event_at=newest, last_run_at=now)
    if outcome["applied"]:
        logger.warning(
            "Event catch-up applied %d event(s) whose webhook never arrived", outcome["applied"]
        )
    return outcome


def describe_catch_up(outcome: Counter) -> str:
    """`12 events listed: 2 applied (webhook lost), 10 already seen`."""
    if not outcome["listed"]:
        return "no new Omise events"
    parts = [f"{outcome['applied']} applied (webhook lost)", f"{outcome['seen']} already seen"]
    parts += [f"{outcome[k]} {k}" for k in ("young", "failed", "abandoned") if outcome[k]]
    return f"{outcome['listed']} events listed: " + ", ".join(parts)


def _parse_time(value) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
