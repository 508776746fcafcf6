"""Disputes: a chargeback opened on a paid charge (test mode's `POST /charges/{id}/disputes`,
or the dashboard's button), answered (`PATCH` with a message: pending), accepted (lost), or
decided by the "bank" from the dashboard (won or lost). Each change records an event:
`dispute.create`, `dispute.update`, `dispute.close` (Omise's exact keys are unconfirmed)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from sandbox.models import Charge, Dispute
from sandbox.services.common import SandboxError, iso, new_id, paginate
from sandbox.services.events import record_event

REASONS = {
    "goods_or_services_not_provided": "Services not provided or Merchandise not received",
    "fraudulent": "Cardholder does not recognise the transaction",
}
CLOSED = {Dispute.Status.WON, Dispute.Status.LOST, Dispute.Status.CLOSED}


def dispute_json(dispute: Dispute) -> dict:
    return {
        "object": "dispute",
        "id": dispute.id,
        "livemode": False,
        "location": f"/disputes/{dispute.id}",
        "amount": dispute.amount,
        "funding_amount": dispute.amount,
        "currency": dispute.charge.currency,
        "funding_currency": dispute.charge.currency,
        "status": dispute.status,
        "reason_code": dispute.reason_code,
        "reason_message": dispute.reason_message,
        "message": dispute.message or None,
        "admin_message": None,
        "charge": dispute.charge_id,
        "transaction": None,
        "metadata": dispute.metadata,
        "documents": {"object": "list", "data": [], "limit": 20, "offset": 0, "total": 0},
        "created_at": iso(dispute.created_at),
        "closed_at": iso(dispute.closed_at),
    }


def open_dispute(*, charge_id: str, reason_code: str = "goods_or_services_not_provided") -> dict:
    charge = Charge.objects.filter(id=charge_id).first()
    if charge is None:
        raise SandboxError("not_found", f"charge {charge_id} was not found", 404)
    if not charge.paid or charge.status != Charge.Status.SUCCESSFUL:
        raise SandboxError("bad_request", "only a paid charge can be disputed")
    if charge.disputes.exists():
        raise SandboxError("bad_request", "charge is already disputed")
    amount = charge.amount if charge.captured_amount is None else charge.captured_amount
    dispute = Dispute.objects.create(
        id=new_id("dspt"),
        charge=charge,
        amount=amount,
        reason_code=reason_code if reason_code in REASONS else "goods_or_services_not_provided",
        reason_message=REASONS.get(reason_code, REASONS["goods_or_services_not_provided"]),
        respond_by=timezone.now() + timedelta(days=7),  # shown on the dashboard only
    )
    data = dispute_json(dispute)
    record_event(key="dispute.create", data=data)
    return data


def get_dispute(dispute_id: str) -> Dispute:
    dispute = Dispute.objects.select_related("charge").filter(id=dispute_id).first()
    if dispute is None:
        raise SandboxError("not_found", f"dispute {dispute_id} was not found", 404)
    return dispute


def list_disputes(*, params: dict, status: str = "") -> dict:
    """`GET /disputes`, or `/disputes/open|pending|closed`."""
    disputes = Dispute.objects.select_related("charge")
    if status == "closed":
        disputes = disputes.filter(status__in=CLOSED)
    elif status:
        disputes = disputes.filter(status=status)
    return paginate(disputes, params=params, serialize=dispute_json)


def update_dispute(*, dispute_id: str, params: dict) -> dict:
    """`PATCH /disputes/{id}` with `message` (and `metadata`): answered, the dispute is pending."""
    dispute = get_dispute(dispute_id)
    if dispute.status in CLOSED:
        raise SandboxError("bad_request", "dispute is closed")
    message = params.get("message")
    if message is not None:
        if not isinstance(message, str) or len(message) > 10_000:
            raise SandboxError("bad_request", "message must be a string")
        dispute.message = message
        dispute.status = Dispute.Status.PENDING
    metadata = params.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise SandboxError("bad_request", "metadata must be an object")
        dispute.metadata = metadata
    dispute.save()
    data = dispute_json(dispute)
    record_event(key="dispute.update", data=data)
    return data


def accept_dispute(*, dispute_id: str) -> dict:
    dispute = get_dispute(dispute_id)
    if dispute.status != Dispute.Status.OPEN:
        raise SandboxError("bad_request", "only an open dispute can be accepted")
    return close_dispute(dispute_id=dispute_id, status=Dispute.Status.LOST)


def close_dispute(*, dispute_id: str, status: str) -> dict:
    """The bank decides (the dashboard's Won / Lost buttons)."""
    if status not in {Dispute.Status.WON, Dispute.Status.LOST}:
        raise SandboxError("bad_request", "status must be won or lost")
    dispute = get_dispute(dispute_id)
    if dispute.status in CLOSED:
        raise SandboxError("bad_request", "dispute is closed")
    dispute.status, dispute.closed_at = status, timezone.now()
    dispute.save()
    data = dispute_json(dispute)
    record_event(key="dispute.close", data=data)
    return data
