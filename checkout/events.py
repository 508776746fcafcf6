"""Applying Omise events: what a webhook, the task queue, reconciliation and the admin share.

An event is believed only as Omise returns it from `GET /events/{id}` (the receiver never
trusts a delivered body), and applied at most once per event id, under the event's row lock;
the charge it concerns is read from Omise as it is now, since events arrive late and out of
order, and handed to `checkout.services.charge_apply`, the one function that changes a
payment's state. A refund event is recorded once per refund id (`checkout.refunds`). A
`dispute.*` event (whatever its exact key) re-fetches the dispute for `checkout.disputes`.
"""

import logging

from django.db import connection, transaction
from django.utils import timezone

from checkout.disputes import dispute_apply
from checkout.models import WebhookEvent
from checkout.omise import OmiseAPIError, get_client
from checkout.refunds import refund_record
from checkout.services import charge_apply

logger = logging.getLogger(__name__)

CHARGE_EVENTS = {
    "charge.create",
    "charge.complete",
    "charge.capture",
    "charge.reverse",
    "charge.update",
    "charge.expire",
}


def event_state(event_id: str) -> bool | None:
    """None for an event never received, else whether it has been applied.

    One indexed read on the unique event id, written out: building it with the ORM cost more
    than the query itself, on the path every duplicate delivery takes.
    """
    with connection.cursor() as cursor:
        table = WebhookEvent._meta.db_table  # the model's, should a fork rename it
        cursor.execute(
            f"SELECT processed_at IS NOT NULL FROM {table} WHERE event_id = %s",  # noqa: S608
            [event_id],
        )
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


def event_apply(*, event: dict, again: bool = False, arrival: str = "webhook") -> bool:
    """Apply a fetched event once. Returns False if another delivery already applied it.

    `again=True` applies it even so (the admin's "re-fetch and re-apply"): harmless, since the
    charge's state is set from Omise's copy, never added to, and refunds are recorded once.

    The charge is read from Omise first, outside the transaction: no row stays locked while
    Omise answers. Then, under the event's row lock, the first delivery applies it.
    """
    charge = _charge_of(event)
    dispute = _dispute_of(event)
    with transaction.atomic():
        # The event's row, inserted unless it exists (ON CONFLICT DO NOTHING: no savepoint, no
        # read first), then locked: concurrent deliveries of one event queue up here.
        WebhookEvent.objects.bulk_create(
            [
                WebhookEvent(
                    event_id=event["id"],
                    key=str(event.get("key", ""))[:64],
                    livemode=bool(event.get("livemode")),
                    data=event,
                    arrival=arrival,
                )
            ],
            ignore_conflicts=True,
        )
        record = WebhookEvent.objects.select_for_update().get(event_id=event["id"])
        if record.processed_at is not None and not again:
            return False
        _apply(event, charge, dispute)
        # Key and data come from Omise's copy (a queued row was created knowing only the id).
        record.key, record.livemode = str(event.get("key", ""))[:64], bool(event.get("livemode"))
        record.data, record.processed_at = event, timezone.now()
        record.save(update_fields=["key", "livemode", "data", "processed_at"])
    return True


def _charge_of(event: dict) -> dict | None:
    """The charge an event is about, as it is now (events arrive late and out of order)."""
    key, data = event.get("key", ""), event.get("data") or {}
    if key in CHARGE_EVENTS and data.get("object") == "charge":
        return get_client().retrieve_charge(data["id"])
    if key == "refund.create" and data.get("object") == "refund" and data.get("charge"):
        return get_client().retrieve_charge(data["charge"])
    if not key.startswith("dispute."):
        logger.info("Webhook event %s (%s) stored; nothing to do", event.get("id"), key)
    return None


def _dispute_of(event: dict) -> dict | None:
    """The dispute a `dispute.*` event is about, as it is now (event keys are unconfirmed)."""
    data = event.get("data") or {}
    if str(event.get("key", "")).startswith("dispute.") and data.get("object") == "dispute":
        try:
            return get_client().retrieve_dispute(data["id"])
        except OmiseAPIError as error:
            if error.code != "not_found":
                raise  # Omise unavailable: the delivery is retried
            logger.warning("Dispute %s of event %s not found at Omise", data["id"], event["id"])
    return None


def _apply(event: dict, charge: dict | None, dispute: dict | None = None) -> None:
    if charge is not None:
        charge_apply(charge=charge)
    if dispute is not None:
        dispute_apply(dispute=dispute)
    if event.get("key") == "refund.create":
        refund_record(refund=event.get("data") or {})  # once per refund id, whoever asked
