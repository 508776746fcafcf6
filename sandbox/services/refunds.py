"""The refund object. Refunds are made by `charges.create_refund`, as they change the charge."""

from __future__ import annotations

from sandbox.models import Refund
from sandbox.services.common import iso


def refund_json(refund: Refund) -> dict:
    return {
        "object": "refund",
        "id": refund.id,
        "location": f"/charges/{refund.charge_id}/refunds/{refund.id}",
        "livemode": False,
        "amount": refund.amount,
        "currency": refund.charge.currency,
        "charge": refund.charge_id,
        "transaction": refund.transaction,
        "voided": False,
        "status": "closed",
        "metadata": refund.metadata,
        "created_at": iso(refund.created_at),
    }
