"""Disputes (chargebacks): what Omise says about them, what staff may answer, and the alerts.

Threats it stops: a chargeback lost by default because nobody saw it before its deadline; a
forged dispute event (only Omise's copy, fetched by id, is believed); an answer sent for a
dispute already decided.

A `dispute.*` event (the keys are unconfirmed: every one is applied by re-fetching the dispute
from Omise) goes through `dispute_apply`, the one function that writes a `Dispute`, under the
dispute's row lock; Omise's copy overwrites ours, so events arriving late or twice change
nothing. Staff answer from the admin (`dispute_message`, `dispute_accept`): Omise's answer is
applied the same way. Evidence files are uploaded in Omise's dashboard.

Omise's dispute object has no deadline field: `respond_by` is the dispute's creation plus
DISPUTE_RESPOND_WITHIN_DAYS (docs/operations.md). Staff are e-mailed once when a dispute opens
and once when its deadline is DISPUTE_WARN_DAYS away (checkout/staffmail.py).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from checkout.models import Dispute, PaymentAttempt
from checkout.omise import OmiseAPIError, OmiseError, get_client
from checkout.staffmail import staff_mail_queue
from shop.money import format_money

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000


class DisputeError(Exception):
    """Omise did not take the answer; the message is for staff."""


def dispute_apply(*, dispute: dict) -> Dispute | None:
    """Bring our record of a dispute in line with Omise's copy (`GET /disputes/{id}`).

    Creates the record on first sight (linked to the order whose charge is disputed) and
    queues the "dispute opened" mail once. Returns None for a malformed object."""
    dispute_id = dispute.get("id")
    if dispute.get("object") != "dispute" or not isinstance(dispute_id, str):
        return None
    charge_id = dispute.get("charge")
    if isinstance(charge_id, dict):  # an expanded charge
        charge_id = charge_id.get("id")
    charge_id = str(charge_id or "")[:64]
    status = str(dispute.get("status") or "")
    if status not in Dispute.Status.values:
        logger.warning("Dispute %s has unknown status %r", dispute_id, status)
        status = Dispute.Status.OPEN
    opened = _parse_time(dispute.get("created_at") or dispute.get("created")) or timezone.now()
    attempt = (
        PaymentAttempt.objects.filter(charge_id=charge_id).select_related("order").first()
        if charge_id
        else None
    )
    with transaction.atomic():
        Dispute.objects.bulk_create(
            [
                Dispute(
                    dispute_id=dispute_id[:64],
                    charge_id=charge_id,
                    status=status,
                    amount=0,
                    currency="",
                )
            ],
            ignore_conflicts=True,
        )
        record = Dispute.objects.select_for_update().get(dispute_id=dispute_id[:64])
        first_sight = record.opened_at is None
        record.order = attempt.order if attempt else record.order
        record.charge_id = charge_id
        record.status = status
        record.amount = _int(dispute.get("amount"))
        record.currency = str(dispute.get("currency") or "").upper()[:3]
        record.reason_code = str(dispute.get("reason_code") or "")[:64]
        record.reason_message = str(dispute.get("reason_message") or "")[:255]
        record.message = str(dispute.get("message") or "")
        record.opened_at = opened
        record.respond_by = opened + timedelta(days=settings.DISPUTE_RESPOND_WITHIN_DAYS)
        record.closed_at = _parse_time(dispute.get("closed_at"))
        record.data = dispute
        record.save()
        if first_sight:
            _mail_opened(record)
    return record


def dispute_refresh(*, dispute_id: str) -> Dispute | None:
    """Fetch a dispute from Omise and apply it (an event named it, or staff asked)."""
    return dispute_apply(dispute=get_client().retrieve_dispute(dispute_id))


def dispute_message(*, record: Dispute, message: str) -> Dispute:
    """Send the shop's answer (`PATCH /disputes/{id}` with `message`); Omise's copy is
    applied. Raises DisputeError with Omise's reason when it refuses."""
    message = (message or "").strip()
    if not message:
        raise DisputeError("Write the answer to send.")
    if len(message) > MAX_MESSAGE_CHARS:
        raise DisputeError(f"The answer is limited to {MAX_MESSAGE_CHARS} characters.")
    if not record.is_open:
        raise DisputeError(f"Dispute {record.dispute_id} is {record.status}: it takes no answer.")
    try:
        updated = get_client().update_dispute(record.dispute_id, message=message)
    except OmiseAPIError as error:
        raise DisputeError(f"Omise refused the answer ({error.code}): {error.message}") from None
    except OmiseError:
        raise DisputeError("Omise did not answer in time: reload the dispute.") from None
    return dispute_apply(dispute=updated) or record


def dispute_accept(*, record: Dispute) -> Dispute:
    """Accept the dispute (`POST /disputes/{id}/accept`): the amount stays with the shopper."""
    if record.status != Dispute.Status.OPEN:
        raise DisputeError(f"Dispute {record.dispute_id} is {record.status}: only an open one.")
    try:
        accepted = get_client().accept_dispute(record.dispute_id)
    except OmiseAPIError as error:
        raise DisputeError(f"Omise refused ({error.code}): {error.message}") from None
    except OmiseError:
        raise DisputeError("Omise did not answer in time: reload the dispute.") from None
    return dispute_apply(dispute=accepted) or record


def disputes_warn_due(*, now: datetime | None = None) -> int:
    """Queue the "deadline near" mail of each open dispute due within DISPUTE_WARN_DAYS, once
    per dispute (for cron: reconcile_payments). Returns how many were queued now."""
    now = now or timezone.now()
    due = Dispute.objects.filter(
        status=Dispute.Status.OPEN,
        respond_by__lte=now + timedelta(days=settings.DISPUTE_WARN_DAYS),
    )
    queued = 0
    for record in due.select_related("order"):
        left = record.respond_by - now if record.respond_by else timedelta(0)
        when = "is past" if left <= timedelta(0) else f"is in {_humanize(left)}"
        queued += (
            staff_mail_queue(
                key=f"dispute-due:{record.dispute_id}",
                subject=f"Dispute deadline near: {_about(record)}",
                body=_body(
                    record,
                    f"The deadline to answer {when} ({record.respond_by:%Y-%m-%d %H:%M} UTC).",
                ),
            )
            is not None
        )
    return queued


def omise_dashboard_url(record: Dispute) -> str:
    """Where staff upload evidence: the dispute in Omise's dashboard (the URL's shape is
    unconfirmed; the dashboard's search by id works either way)."""
    mode = "live" if record.data.get("livemode") else "test"
    return f"https://dashboard.omise.co/{mode}/disputes/{record.dispute_id}"


# --- helpers ---------------------------------------------------------------------------------


def _mail_opened(record: Dispute) -> None:
    staff_mail_queue(
        key=f"dispute-opened:{record.dispute_id}",
        subject=f"Dispute opened: {_about(record)}",
        body=_body(
            record,
            f"Answer by {record.respond_by:%Y-%m-%d %H:%M} UTC (DISPUTE_RESPOND_WITHIN_DAYS "
            "after it opened; Omise's e-mail has the exact date).",
        ),
    )


def _about(record: Dispute) -> str:
    order = record.order.reference if record.order else "an unknown order"
    return f"{format_money(record.amount, record.currency or 'THB')} on {order}"


def _body(record: Dispute, deadline: str) -> str:
    link = settings.SHOP_ORIGIN.rstrip("/") + reverse(
        "admin:checkout_dispute_change", args=[record.pk]
    )
    return "\n".join(
        [
            f"Dispute {record.dispute_id} on charge {record.charge_id}: {_about(record)}.",
            f"Reason: {record.reason_message or record.reason_code or 'not given'}.",
            deadline,
            "",
            f"Answer or accept it in the shop's admin: {link}",
            f"Upload evidence in Omise's dashboard: {omise_dashboard_url(record)}",
        ]
    )


def _humanize(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} days" if hours >= 48 else f"{hours} hours"


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _parse_time(value) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
