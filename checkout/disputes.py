"""Disputes (chargebacks): what Omise says about them, what staff may answer, and the alerts.

Threats it stops: a chargeback lost by default because nobody saw it before its deadline, or
because staff, flooded with the same alert (an event applied again, a retried webhook, a job
run every five minutes), stopped reading them; a forged dispute event (only Omise's copy,
fetched by id, is believed); an answer sent for a dispute already decided.

A `dispute.*` event (the keys are unconfirmed: every one is applied by re-fetching the dispute
from Omise) goes through `dispute_apply`, the one function that writes a `Dispute`, under the
dispute's row lock; Omise's copy overwrites ours, so events arriving late or twice change
nothing. Staff answer from the admin (`dispute_message`, `dispute_accept`): Omise's answer is
applied the same way. Evidence files are uploaded in Omise's dashboard.

Omise's dispute object has no deadline field: `respond_by` is the dispute's creation plus
DISPUTE_RESPOND_WITHIN_DAYS (docs/operations.md).

Staff are e-mailed (STAFF_NOTIFY_EMAILS, else ADMINS) once when a dispute opens and once when
its deadline is DISPUTE_WARN_DAYS away, through the outbox (mails.outbox, docs/mails.md): each
mail is decided inside the transaction that holds the dispute's row lock, with a key naming
the fact (`dispute:<id>:opened`, `dispute:<id>:deadline`), so an event applied twice or
racing, or a job run every five minutes, decides it once; the outbox sends it and retries.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from checkout.models import Dispute, PaymentAttempt
from checkout.omise import OmiseAPIError, OmiseError, get_client
from mails.outbox import mail_queue, mails_queued

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000


class DisputeError(Exception):
    """Omise did not take the answer; the message is for staff."""


def dispute_apply(*, dispute: dict) -> Dispute | None:
    """Bring our record of a dispute in line with Omise's copy (`GET /disputes/{id}`).

    Creates the record on first sight (linked to the order whose charge is disputed) and
    decides the "dispute opened" mail, in the same transaction. Returns None for a malformed
    object."""
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
            _staff_mail_queue(record, "opened")
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
    """Decide the "deadline near" mail of each open dispute due within DISPUTE_WARN_DAYS, once
    per dispute (for cron: reconcile_payments). Returns how many were decided now."""
    now = now or timezone.now()
    due = dict(
        Dispute.objects.filter(
            status=Dispute.Status.OPEN,
            respond_by__lte=now + timedelta(days=settings.DISPUTE_WARN_DAYS),
        ).values_list("pk", "dispute_id")
    )
    warned = mails_queued(keys=[_key(dispute_id, "deadline") for dispute_id in due.values()])
    queued = 0
    for pk, dispute_id in due.items():
        if _key(dispute_id, "deadline") in warned:
            continue
        with transaction.atomic():
            # Under the dispute's lock: one decider at a time, and not for a dispute that was
            # answered or closed since the query above.
            record = (
                Dispute.objects.select_for_update(of=("self",))
                .select_related("order")
                .filter(pk=pk, status=Dispute.Status.OPEN)
                .first()
            )
            if record is None or mails_queued(keys=[_key(dispute_id, "deadline")]):
                continue
            queued += _staff_mail_queue(record, "deadline", now=now)
    return queued


def omise_dashboard_url(record: Dispute) -> str:
    """Where staff upload evidence: the dispute in Omise's dashboard (the URL's shape is
    unconfirmed; the dashboard's search by id works either way)."""
    mode = "live" if record.data.get("livemode") else "test"
    return f"https://dashboard.omise.co/{mode}/disputes/{record.dispute_id}"


# --- helpers ---------------------------------------------------------------------------------


def staff_recipients() -> list[str]:
    """STAFF_NOTIFY_EMAILS, or else the ADMINS' addresses."""
    if settings.STAFF_NOTIFY_EMAILS:
        return list(settings.STAFF_NOTIFY_EMAILS)
    return [admin[1] if isinstance(admin, (list, tuple)) else admin for admin in settings.ADMINS]


def _key(dispute_id: str, fact: str) -> str:
    return f"dispute:{dispute_id}:{fact}"


def _staff_mail_queue(record: Dispute, fact: str, *, now: datetime | None = None) -> bool:
    """Decide the staff's mail `dispute_<fact>` about `record` (at most once per dispute and
    fact: the outbox's key). False when nobody is there to tell."""
    recipients = staff_recipients()
    if not recipients:
        logger.warning(
            "Dispute %s (%s): no staff e-mail, set STAFF_NOTIFY_EMAILS or ADMINS",
            record.dispute_id,
            fact,
        )
        return False
    left = record.respond_by - (now or timezone.now()) if record.respond_by else timedelta(0)
    mail_queue(
        key=_key(record.dispute_id, fact),
        kind=f"dispute_{fact}",
        to=recipients,
        language="en",  # staff read English, like the admin
        context={
            "dispute_id": record.dispute_id,
            "charge_id": record.charge_id,
            "reference": record.order.reference if record.order else "",
            "amount": record.amount,
            "currency": record.currency or "THB",
            "reason": record.reason_message or record.reason_code,
            "respond_by": record.respond_by.isoformat() if record.respond_by else "",
            "time_left": _humanize(left) if left > timedelta(0) else "",
            "admin_path": reverse("admin:checkout_dispute_change", args=[record.pk]),
            "dashboard_url": omise_dashboard_url(record),
        },
    )
    return True


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
