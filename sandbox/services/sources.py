"""Sources (public key): `POST /sources`, `GET /sources/{id}` (secret key), the source object,
a PromptPay charge's QR code, and `GET /capability`."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from sandbox import sources
from sandbox.models import Source
from sandbox.services.amounts import THB_MAX, THB_MIN, validate_amount
from sandbox.services.common import SandboxError, iso, new_id, sandbox_url


def create_source(*, params: dict) -> dict:
    """`POST /sources`: a single-use source of one type for one amount and currency. The type
    must be one this account has; an installment needs a term the issuer offers for this
    amount, TrueMoney a Thai mobile number."""
    source_type = str(params.get("type") or "")
    if source_type.startswith("internet_banking_"):
        raise SandboxError(
            "bad_request", "internet banking was discontinued on 2025-09-30: use mobile banking"
        )
    if source_type not in sources.FLOWS:
        raise SandboxError(
            "bad_request", f"type must be one of {', '.join(sources.FLOWS)} in this sandbox"
        )
    if source_type not in sources.enabled_methods():
        raise SandboxError("bad_request", f"{source_type} is not enabled for this account")
    amount, currency = validate_amount(params.get("amount"), params.get("currency"))
    term, phone = None, ""
    if source_type in sources.INSTALLMENTS:
        term = _installment_term(source_type, params.get("installment_term"), amount)
    if source_type == "truemoney":
        phone = str(params.get("phone_number") or "").replace(" ", "").replace("-", "")
        if not sources.THAI_MOBILE.match(phone):
            raise SandboxError("invalid_phone_number", "phone_number is not a Thai mobile number")
    source = Source.objects.create(
        id=new_id("src"),
        type=source_type,
        flow=sources.FLOWS[source_type],
        amount=amount,
        currency=currency,
        installment_term=term,
        phone_number=phone,
    )
    return source_json(source)


def _installment_term(source_type: str, value, amount: int) -> int:
    try:
        term = int(value)
    except (TypeError, ValueError):
        raise SandboxError("bad_request", "installment_term must be an integer") from None
    if term not in sources.INSTALLMENTS[source_type][1]:
        raise SandboxError("bad_request", f"installment_term {term} is not offered by this bank")
    if term not in sources.installment_terms_for(source_type, amount):
        raise SandboxError(
            "invalid_amount",
            f"each monthly payment must be at least {sources.installment_min_amount()} satangs",
        )
    return term


def get_source(source_id: str) -> dict:
    """`GET /sources/{id}` with the secret key: what the shopper's browser created."""
    source = Source.objects.filter(id=source_id).first()
    if source is None:
        raise SandboxError("not_found", f"source {source_id[:40]} was not found", 404)
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
        "installment_term": source.installment_term,
        "zero_interest_installments": (
            sources.zero_interest_installments() if source.installment_term else None
        ),
        "phone_number": source.phone_number or None,
        "scannable_code": scannable_code,
        "references": None,
        "charge_status": "unknown",
        "created_at": iso(source.created_at),
    }


def capability_json() -> dict:
    """`GET /capability`: the methods, currencies, installment terms and limits of this
    sandbox account (SANDBOX_PAYMENT_METHODS, SANDBOX_INSTALLMENT_MIN_AMOUNT,
    SANDBOX_ZERO_INTEREST_INSTALLMENTS)."""
    methods = []
    for name in sources.enabled_methods():
        installment = sources.INSTALLMENTS.get(name)
        methods.append(
            {
                "object": "payment_method",
                "name": name,
                "currencies": ["THB"],
                "card_brands": ["JCB", "Visa", "MasterCard"] if name == "card" else [],
                "installment_terms": list(installment[1]) if installment else None,
                "banks": [],
                "provider": None,
            }
        )
    return {
        "object": "capability",
        "location": "/capability",
        "country": "TH",
        "banks": ["bay", "bbl", "kbank", "ktb", "scb", "ttb", "uob"],
        "limits": {
            "charge_amount": {"min": THB_MIN, "max": THB_MAX},
            "transfer_amount": {"min": 3000, "max": 5_000_000_000},
            "installment_amount": {"min": sources.installment_min_amount()},
        },
        "payment_methods": methods,
        "tokenization_methods": [],
        "zero_interest_installments": sources.zero_interest_installments(),
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
