"""Sources (public key): `POST /sources`, the source object, a PromptPay charge's QR code."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from sandbox import sources
from sandbox.models import Source
from sandbox.services.amounts import validate_amount
from sandbox.services.common import SandboxError, iso, new_id, sandbox_url


def create_source(*, params: dict) -> dict:
    """`POST /sources`: a single-use source of one type for one amount and currency."""
    source_type = str(params.get("type") or "")
    if source_type not in sources.FLOWS:
        raise SandboxError(
            "bad_request", f"type must be one of {', '.join(sources.FLOWS)} in this sandbox"
        )
    amount, currency = validate_amount(params.get("amount"), params.get("currency"))
    source = Source.objects.create(
        id=new_id("src"),
        type=source_type,
        flow=sources.FLOWS[source_type],
        amount=amount,
        currency=currency,
    )
    return source_json(source)


def source_json(source: Source, *, scannable_code: dict | None = None) -> dict:
    return {
        "object": "source",
        "id": source.id,
        "livemode": False,
        "location": f"/sources/{source.id}",
        "type": source.type,
        "flow": source.flow,
        "amount": source.amount,
        "currency": source.currency,
        "scannable_code": scannable_code,
        "references": None,
        "charge_status": "unknown",
        "created_at": iso(source.created_at),
    }


def scannable_code(charge_id: str) -> dict:
    """The QR code of a PromptPay charge: an image document the shop can show as is."""
    return {
        "object": "barcode",
        "type": "qr",
        "image": {
            "object": "document",
            "livemode": False,
            "id": new_id("docu"),
            "filename": "qrcode.svg",
            "kind": "qr",
            "location": None,
            "download_uri": sandbox_url(reverse("sandbox:qr_code", args=[charge_id])),
            "created_at": iso(timezone.now()),
        },
    }
