"""Charges: the charge object and its life (create from a token or a source, 3-D Secure,
capture, reverse, expire, mark as paid or failed, refund), each change recorded as an event.

A refund is made here (it changes the charge's refunded amount, like capture or reverse);
the refund object is `refunds`.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from sandbox import cards, sources
from sandbox.models import Charge, Refund, Source, Token
from sandbox.services.amounts import validate_amount
from sandbox.services.common import (
    SandboxError,
    as_bool,
    iso,
    new_id,
    paginate,
    parse_time,
    sandbox_url,
)
from sandbox.services.disputes import dispute_json
from sandbox.services.events import record_event
from sandbox.services.refunds import refund_json
from sandbox.services.sources import scannable_code, source_json

logger = logging.getLogger(__name__)

# How long an authorization (capture=false) holds before it expires. Omise's default hold is
# unpublished (banks hold for about seven days); docs/omise-api.md.
AUTHORIZATION_HOLD = timedelta(days=7)


def charge_json(charge: Charge) -> dict:
    pending = charge.status == Charge.Status.PENDING
    refunds = list(charge.refunds.all()) if charge.pk else []
    return {
        "object": "charge",
        "id": charge.id,
        "location": f"/charges/{charge.id}",
        "livemode": False,
        "amount": charge.amount,
        # Manual capture: what was authorized and what was taken of it (a partial capture).
        "authorized_amount": charge.amount if charge.authorized or charge.paid else 0,
        "captured_amount": _captured(charge),
        "net": _captured(charge) - charge.refunded_amount if charge.paid else 0,
        "fee": 0,
        "fee_vat": 0,
        "interest": 0,
        "interest_vat": 0,
        "funding_amount": charge.amount,
        "refunded_amount": charge.refunded_amount,
        "currency": charge.currency,
        "funding_currency": charge.currency,
        "description": charge.description or None,
        "metadata": charge.metadata,
        "card": charge.card,
        "source": charge.source,
        "customer": None,
        "schedule": None,
        "dispute": _dispute(charge),
        "link": None,
        "ip": charge.ip or None,
        "transaction": charge.transaction or None,
        "status": charge.status,
        "authorized": charge.authorized,
        "paid": charge.paid,
        "capture": charge.capture,
        "capturable": pending and charge.authorized and not charge.capture,
        "reversible": pending and charge.authorized,
        "refundable": charge.paid and charge.refunded_amount < _captured(charge),
        "disputable": charge.paid,
        "voided": charge.reversed,
        "reversed": charge.reversed,
        "expired": charge.expired,
        "authorize_uri": charge.authorize_uri or None,
        "return_uri": charge.return_uri or None,
        "failure_code": charge.failure_code or None,
        "failure_message": charge.failure_message or None,
        **_advice(charge),
        "refunds": {
            "object": "list",
            "data": [refund_json(r) for r in refunds],
            "limit": 20,
            "offset": 0,
            "total": len(refunds),
            "location": f"/charges/{charge.id}/refunds",
        },
        "created_at": iso(charge.created_at),
        "paid_at": iso(charge.paid_at),
        "expires_at": iso(charge.expires_at),
        "reversed_at": iso(charge.reversed_at),
        "expired_at": iso(charge.expired_at),
    }


def _dispute(charge: Charge) -> dict | None:
    dispute = charge.disputes.first() if charge.pk else None
    return dispute_json(dispute) if dispute else None


def _advice(charge: Charge) -> dict:
    """Omise's advice to the merchant on a failed charge, and the 3-D Secure fields missed."""
    code, advice = cards.MERCHANT_ADVICE.get(charge.failure_code, (None, None))
    enrollment = charge.token_behaviour == cards.THREE_DS_ENROLLMENT_FAILS
    return {
        "merchant_advice_code": code if charge.status == Charge.Status.FAILED else None,
        "merchant_advice": advice if charge.status == Charge.Status.FAILED else None,
        "missing_3ds_fields": cards.MISSING_3DS_FIELDS if enrollment else [],
    }


def _captured(charge: Charge) -> int:
    if not charge.paid:
        return 0
    return charge.amount if charge.captured_amount is None else charge.captured_amount


def _needs_3ds(behaviour: str) -> bool:
    if behaviour in {cards.THREE_DS, cards.THREE_DS_VALIDATION_FAILS}:
        return True
    # An account with 3-D Secure enforced puts every approvable card through it.
    return behaviour == cards.SUCCESS and getattr(settings, "SANDBOX_3DS", "cards") == "all"


def _fail(charge: Charge, code: str, message: str) -> None:
    charge.status = Charge.Status.FAILED
    charge.authorized = charge.paid = False
    charge.failure_code, charge.failure_message = code, message


def _approve(charge: Charge) -> None:
    charge.authorized = True
    if charge.capture:
        charge.status = Charge.Status.SUCCESSFUL
        charge.paid = True
        charge.paid_at = timezone.now()
        charge.transaction = new_id("trxn")
    else:
        charge.status = Charge.Status.PENDING
        # Until when the authorization can be captured; then it expires (charge.expire).
        charge.expires_at = timezone.now() + AUTHORIZATION_HOLD


def create_charge(*, params: dict, ip_seen: str = "") -> dict:
    """`POST /charges` from a token or a source. A decline is a failed charge (200), not an
    error."""
    amount, currency = validate_amount(params.get("amount"), params.get("currency"))
    token_id, source = params.get("card"), params.get("source")
    if params.get("customer"):
        raise SandboxError("bad_request", "customers are not simulated by this sandbox")
    if bool(token_id) == bool(source):
        raise SandboxError("invalid_charge", "exactly one of card or source must be present")
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise SandboxError("bad_request", "metadata must be an object")
    return_uri = params.get("return_uri") or None
    if return_uri and not str(return_uri).startswith(("http://", "https://")):
        raise SandboxError("invalid_charge", "return_uri is not a valid URI")
    if source:
        return _create_source_charge(
            source_id=str(source),
            amount=amount,
            currency=currency,
            params=params,
            metadata=metadata,
            return_uri=return_uri or "",
        )
    token = Token.objects.filter(id=str(token_id)).first()
    if token is None:
        raise SandboxError("not_found", f"token {str(token_id)[:40]} was not found", 404)
    if _needs_3ds(token.behaviour) and not return_uri:
        raise SandboxError("invalid_charge", "return_uri is required for 3-D Secure charges")
    # One UPDATE decides single use, even under concurrent requests.
    if not Token.objects.filter(id=token.id, used=False).update(used=True):
        raise SandboxError("used_token", "token was already used")

    charge = Charge(
        id=new_id("chrg"),
        amount=amount,
        currency=currency,
        status=Charge.Status.PENDING,
        capture=as_bool(params.get("capture"), default=True),
        card=token.card,
        token_behaviour=token.behaviour,
        description=str(params.get("description") or ""),
        metadata=metadata,
        return_uri=return_uri or "",
        ip=str(params.get("ip") or ""),
    )
    behaviour = token.behaviour
    if behaviour.startswith(cards.DECLINE_PREFIX):
        code = behaviour.removeprefix(cards.DECLINE_PREFIX)
        _fail(charge, code, cards.FAILURE_MESSAGES[code])
    elif behaviour == cards.THREE_DS_ENROLLMENT_FAILS:
        _fail(charge, "failed_processing", "3-D Secure enrollment failed")
    elif _needs_3ds(behaviour):
        charge.authorize_uri = sandbox_url(reverse("sandbox:three_d_secure", args=[charge.id]))
    else:
        _approve(charge)
    charge.save()
    logger.info("sandbox charge %s %s (%s %s)", charge.id, charge.status, amount, currency)
    data = charge_json(charge)
    record_event(key="charge.create", data=data)
    return data


def _create_source_charge(
    *, source_id: str, amount: int, currency: str, params: dict, metadata: dict, return_uri: str
) -> dict:
    """A charge from a source: pending until the shopper pays (QR code) or comes back from the
    bank (`authorize_uri`). The source fixes the amount: a charge for another is refused."""
    source = Source.objects.filter(id=source_id).first()
    if source is None:
        raise SandboxError("not_found", f"source {source_id[:40]} was not found", 404)
    if (source.amount, source.currency) != (amount, currency):
        raise SandboxError("invalid_charge", "amount and currency must match the source's")
    if source.flow != sources.OFFLINE and not return_uri:
        raise SandboxError("invalid_charge", "return_uri is required for redirect sources")
    expires_at = parse_time(params.get("expires_at"), "expires_at")
    if expires_at is not None and expires_at <= timezone.now():
        raise SandboxError("invalid_charge", "expires_at must be in the future")
    if not Source.objects.filter(id=source.id, used=False).update(used=True):
        raise SandboxError("invalid_charge", "source was already used for a charge")

    charge = Charge(
        id=new_id("chrg"),
        amount=amount,
        currency=currency,
        status=Charge.Status.PENDING,
        description=str(params.get("description") or ""),
        metadata=metadata,
        return_uri=return_uri,
        ip=str(params.get("ip") or ""),
    )
    if source.flow == sources.OFFLINE:
        charge.source = source_json(source, scannable_code=scannable_code(charge.id))
        charge.expires_at = expires_at or timezone.now() + sources.DEFAULT_OFFLINE_EXPIRY
    else:
        # The bank's app (a deep link on a phone), the wallet's or the issuer's page.
        charge.source = source_json(source)
        charge.authorize_uri = sandbox_url(reverse("sandbox:app_handoff", args=[charge.id]))
        charge.expires_at = expires_at or timezone.now() + sources.DEFAULT_OFFSITE_EXPIRY
    charge.save()
    logger.info("sandbox charge %s pending (%s, %s %s)", charge.id, source.type, amount, currency)
    data = charge_json(charge)
    record_event(key="charge.create", data=data)
    return data


def get_charge(charge_id: str) -> Charge:
    _expire_due()
    charge = Charge.objects.filter(id=charge_id).first()
    if charge is None:
        raise SandboxError("not_found", f"charge {charge_id} was not found", 404)
    return charge


def _expire_due() -> None:
    """Time passes for charges awaiting the shopper: one past its `expires_at` expires (and
    records `charge.expire`) the next time anyone looks, as if Omise had expired it then."""
    due = Charge.objects.filter(status=Charge.Status.PENDING, expires_at__lte=timezone.now())
    for charge_id in due.values_list("id", flat=True):
        with contextlib.suppress(SandboxError):  # settled meanwhile by another request
            expire_charge(charge_id=charge_id)


def capture_charge(*, charge_id: str, params: dict | None = None) -> dict:
    """`POST /charges/{id}/capture`, optionally `capture_amount` (a partial capture: the rest
    of the authorization is released). An expired authorization is refused."""
    charge = get_charge(charge_id)  # expires it first if its hold has passed
    if charge.status == Charge.Status.EXPIRED:
        raise SandboxError("expired_charge", "charge has expired and can no longer be captured")
    if not (charge.status == Charge.Status.PENDING and charge.authorized and not charge.capture):
        raise SandboxError("failed_capture", "charge is not capturable")
    amount = (params or {}).get("capture_amount")
    if amount is not None:
        if isinstance(amount, bool) or not str(amount).isdigit() or int(amount) <= 0:
            raise SandboxError("invalid_amount", "capture_amount must be a positive integer")
        if int(amount) > charge.amount:
            raise SandboxError("failed_capture", "capture_amount exceeds the authorized amount")
        charge.captured_amount = int(amount) if int(amount) < charge.amount else None
    # One conditional UPDATE claims the capture: a concurrent capture or reversal loses.
    if not Charge.objects.filter(id=charge.id, status=Charge.Status.PENDING, capture=False).update(
        capture=True
    ):
        raise SandboxError("failed_capture", "charge is not capturable")
    charge.capture = True
    _approve(charge)
    charge.save()
    data = charge_json(charge)
    record_event(key="charge.capture", data=data)
    return data


def reverse_charge(*, charge_id: str) -> dict:
    charge = get_charge(charge_id)
    if not (charge.status == Charge.Status.PENDING and charge.authorized):
        raise SandboxError(
            "invalid_charge", "charge cannot be reversed: it is not authorized and uncaptured"
        )
    if not Charge.objects.filter(id=charge.id, status=Charge.Status.PENDING).update(
        status=Charge.Status.REVERSED
    ):
        raise SandboxError("invalid_charge", "charge cannot be reversed: it changed meanwhile")
    charge.status, charge.reversed, charge.reversed_at = (
        Charge.Status.REVERSED,
        True,
        timezone.now(),
    )
    charge.save()
    data = charge_json(charge)
    record_event(key="charge.reverse", data=data)
    return data


def expire_charge(*, charge_id: str) -> dict:
    """`POST /charges/{id}/expire`: a pending charge that never completes."""
    charge = Charge.objects.filter(id=charge_id).first()
    if charge is None:
        raise SandboxError("not_found", f"charge {charge_id} was not found", 404)
    # One conditional UPDATE claims the change: a concurrent expiry or payment loses cleanly.
    if not Charge.objects.filter(id=charge.id, status=Charge.Status.PENDING).update(
        status=Charge.Status.EXPIRED
    ):
        raise SandboxError("invalid_charge", "only a pending charge can expire")
    charge.status, charge.expired, charge.expired_at = (Charge.Status.EXPIRED, True, timezone.now())
    charge.authorized = False
    charge.save()
    data = charge_json(charge)
    record_event(key="charge.expire", data=data)
    return data


def complete_3ds(*, charge_id: str, passed: bool) -> Charge:
    """The shopper's choice on the 3-D Secure page settles the charge (`charge.complete`)."""
    charge = get_charge(charge_id)
    if charge.status != Charge.Status.PENDING or charge.authorized:
        raise SandboxError("invalid_charge", "charge is not awaiting 3-D Secure")
    if passed and charge.token_behaviour != cards.THREE_DS_VALIDATION_FAILS:
        _approve(charge)
    elif charge.source:  # a redirect method: the shopper cancelled at the bank
        _fail(charge, "payment_rejected", "the payment was not authorized at the bank")
    else:
        _fail(charge, "failed_processing", "3-D Secure authentication failed")
    charge.save()
    record_event(key="charge.complete", data=charge_json(charge))
    return charge


# The hand-off page's choices: what the shopper did in the bank's app or the wallet.
OFFSITE_OUTCOMES = ("pay", "cancel", "timeout")


def complete_offsite(*, charge_id: str, outcome: str) -> Charge:
    """The shopper in the bank's app, the wallet or the issuer's page: pays (`charge.complete`,
    successful), cancels (`charge.complete`, failed `payment_cancelled`), or does nothing until
    the charge times out (expired, `charge.expire`)."""
    if outcome not in OFFSITE_OUTCOMES:
        raise SandboxError("bad_request", f"outcome must be one of {', '.join(OFFSITE_OUTCOMES)}")
    charge = get_charge(charge_id)
    if not charge.source or charge.source.get("flow") == sources.OFFLINE:
        raise SandboxError("invalid_charge", "charge is not paid in an app or on a page")
    if outcome == "timeout":
        expire_charge(charge_id=charge.id)
        return get_charge(charge.id)
    if charge.status != Charge.Status.PENDING or charge.authorized:
        raise SandboxError("invalid_charge", "charge is not awaiting the shopper")
    if outcome == "pay":
        _approve(charge)
    else:
        _fail(charge, "payment_cancelled", "the shopper cancelled the payment")
    charge.save()
    record_event(key="charge.complete", data=charge_json(charge))
    return charge


def mark_charge(*, charge_id: str, paid: bool) -> dict:
    """Test mode's `mark_as_paid` / `mark_as_failed` for a charge awaiting the shopper."""
    charge = get_charge(charge_id)
    if charge.status != Charge.Status.PENDING or charge.authorized:
        raise SandboxError("invalid_charge", "charge is not awaiting the shopper")
    if paid:
        _approve(charge)
    else:
        _fail(charge, "payment_rejected", "the payment was rejected")
    charge.save()
    data = charge_json(charge)
    record_event(key="charge.complete", data=data)
    return data


def list_charges(*, params: dict) -> dict:
    _expire_due()
    return paginate(Charge.objects.all(), params=params, serialize=charge_json)


def create_refund(*, charge_id: str, params: dict) -> dict:
    charge = get_charge(charge_id)
    amount = params.get("amount")
    if isinstance(amount, bool) or not str(amount).isdigit() or int(amount) <= 0:
        raise SandboxError("invalid_amount", "amount must be a positive integer")
    amount = int(amount)
    if not charge.paid or charge.status != Charge.Status.SUCCESSFUL:
        raise SandboxError("failed_refund", "charge is not paid: it cannot be refunded")
    # Conditional UPDATE: two concurrent refunds cannot exceed the charge together.
    updated = Charge.objects.filter(
        id=charge.id, refunded_amount__lte=_captured(charge) - amount
    ).update(refunded_amount=F("refunded_amount") + amount)
    if not updated:
        raise SandboxError("failed_refund", "amount exceeds the refundable amount of the charge")
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise SandboxError("bad_request", "metadata must be an object")
    refund = Refund.objects.create(
        id=new_id("rfnd"),
        charge=charge,
        amount=amount,
        metadata=metadata,
        transaction=new_id("trxn"),
    )
    data = refund_json(refund)
    record_event(key="refund.create", data=data)
    return data
