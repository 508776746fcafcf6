"""What the sandbox does, apart from HTTP: Omise's test-mode rules on the sandbox's models.

Views parse requests and call these keyword-only functions; a rule broken raises
`SandboxError`, which the views turn into Omise's error object. Every state change records an
event (charge.create, charge.complete, …) that is delivered as a signed webhook.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from datetime import UTC, datetime

import requests
from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone

from sandbox import cards, sources
from sandbox.models import (
    Charge,
    Delivery,
    Event,
    Fault,
    KeyUse,
    Notice,
    Refund,
    Source,
    Token,
)

logger = logging.getLogger(__name__)

THB_MIN, THB_MAX = 2000, 15_000_000  # satang, from omise-api.md
SUPPORTED_CURRENCIES = {"thb"}


class SandboxError(Exception):
    """Becomes `{"object": "error", "code", "message", "location"}` with `status`."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def as_json(self) -> dict:
        return {
            "object": "error",
            "location": f"https://www.omise.co/api-errors#{self.code.replace('_', '-')}",
            "code": self.code,
            "message": self.message,
        }


# --- helpers ---------------------------------------------------------------------------------
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str) -> str:
    """`chrg_test_5x…`: Omise's prefix, the test-mode infix, 19 random base-36 characters."""
    return f"{prefix}_test_" + "".join(secrets.choice(_ALPHABET) for _ in range(19))


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def sandbox_url(path: str) -> str:
    """An absolute URL on the sandbox's origin (the one the browser sees as "Omise")."""
    return settings.SANDBOX_ORIGIN.rstrip("/") + path


def _as_bool(value, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in {"true", "1", "yes", "on"}


def _parse_time(value, name: str) -> datetime | None:
    """An ISO 8601 list bound (`2024-05-01T09:30:00Z`); a zone-less one is taken as UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise SandboxError("bad_request", f"{name} must be an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def paginate(queryset: QuerySet, *, params: dict, serialize) -> dict:
    """Omise's list object; `limit` at most 100, `order` chronological by default."""
    try:
        offset = max(0, int(params.get("offset", 0)))
        limit = min(100, max(1, int(params.get("limit", 20))))
    except (TypeError, ValueError):
        raise SandboxError("bad_request", "offset and limit must be integers") from None
    order = params.get("order") or "chronological"
    if order not in {"chronological", "reverse_chronological"}:
        raise SandboxError("bad_request", "order must be chronological or reverse_chronological")
    # `from`/`to` (ISO 8601) bound created_at, inclusive, as Omise's lists do.
    since, until = _parse_time(params.get("from"), "from"), _parse_time(params.get("to"), "to")
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lte=until)
    queryset = queryset.order_by("created_at" if order == "chronological" else "-created_at")
    total = queryset.count()
    return {
        "object": "list",
        "data": [serialize(item) for item in queryset[offset : offset + limit]],
        "limit": limit,
        "offset": offset,
        "total": total,
        "order": order,
        "from": iso(since) if since else "1970-01-01T00:00:00Z",
        "to": iso(until or timezone.now()),
        "location": None,
    }


# --- tokens (vault) --------------------------------------------------------------------------
def create_token(*, card: dict) -> dict:
    """Validate card fields as Omise does and keep only what a token may keep."""
    check = cards.check_card(card, today=timezone.localdate())
    if check.errors:
        raise SandboxError("invalid_card", " and ".join(check.errors))
    year = int(card["expiration_year"])
    token = Token.objects.create(
        id=new_id("tokn"),
        behaviour=cards.behaviour_of(check.number),
        card={
            "object": "card",
            "id": new_id("card"),
            "livemode": False,
            "location": None,
            "deleted": False,
            "street1": card.get("street1") or None,
            "street2": card.get("street2") or None,
            "city": card.get("city") or None,
            "state": card.get("state") or None,
            "phone_number": card.get("phone_number") or None,
            "postal_code": card.get("postal_code") or None,
            "country": (card.get("country") or "th").lower(),
            "financing": "credit",
            "bank": "Sandbox Bank",
            "brand": check.brand,
            "fingerprint": cards.fingerprint(check.number),
            "first_digits": None,
            "last_digits": check.number[-4:],
            "name": str(card["name"]).strip(),
            "expiration_month": int(card["expiration_month"]),
            "expiration_year": year + 2000 if year < 100 else year,
            "security_code_check": True,
            "tokenization_method": None,
            "created_at": iso(timezone.now()),
        },
    )
    logger.info("sandbox token %s created (%s •••• %s)", token.id, check.brand, check.number[-4:])
    return token_json(token)


def token_json(token: Token) -> dict:
    return {
        "object": "token",
        "id": token.id,
        "livemode": False,
        "location": f"https://vault.omise.co/tokens/{token.id}",
        "used": token.used,
        "charge_status": "unknown",
        "card": token.card,
        "created_at": iso(token.created_at),
    }


# --- sources (public key) --------------------------------------------------------------------
def create_source(*, params: dict) -> dict:
    """`POST /sources`: a single-use source of one type for one amount and currency."""
    source_type = str(params.get("type") or "")
    if source_type not in sources.FLOWS:
        raise SandboxError(
            "bad_request", f"type must be one of {', '.join(sources.FLOWS)} in this sandbox"
        )
    amount, currency = _validate_amount(params.get("amount"), params.get("currency"))
    source = Source.objects.create(
        id=new_id("src"), type=source_type, flow=sources.FLOWS[source_type], amount=amount,
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


def _scannable_code(charge_id: str) -> dict:
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


# --- charges ---------------------------------------------------------------------------------
def charge_json(charge: Charge) -> dict:
    pending = charge.status == Charge.Status.PENDING
    refunds = list(charge.refunds.all()) if charge.pk else []
    return {
        "object": "charge",
        "id": charge.id,
        "location": f"/charges/{charge.id}",
        "livemode": False,
        "amount": charge.amount,
        "net": charge.amount if charge.paid else 0,
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
        "dispute": None,
        "link": None,
        "ip": charge.ip or None,
        "transaction": charge.transaction or None,
        "status": charge.status,
        "authorized": charge.authorized,
        "paid": charge.paid,
        "capture": charge.capture,
        "capturable": pending and charge.authorized and not charge.capture,
        "reversible": pending and charge.authorized,
        "refundable": charge.paid and charge.refunded_amount < charge.amount,
        "disputable": charge.paid,
        "voided": charge.reversed,
        "reversed": charge.reversed,
        "expired": charge.expired,
        "authorize_uri": charge.authorize_uri or None,
        "return_uri": charge.return_uri or None,
        "failure_code": charge.failure_code or None,
        "failure_message": charge.failure_message or None,
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


def _validate_amount(amount, currency) -> tuple[int, str]:
    if isinstance(amount, bool) or not str(amount).lstrip("-").isdigit():
        raise SandboxError("invalid_charge", "amount must be an integer")
    amount = int(amount)
    currency = str(currency or "").lower()
    if currency not in SUPPORTED_CURRENCIES:
        raise SandboxError("invalid_charge", "currency is currently not supported")
    if amount < THB_MIN:
        raise SandboxError(
            "invalid_charge", f"amount must be greater than or equal to ฿20 ({THB_MIN} satangs)"
        )
    if amount > THB_MAX:
        raise SandboxError(
            "invalid_charge", f"amount must be less than or equal to ฿150,000 ({THB_MAX} satangs)"
        )
    return amount, currency


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


def create_charge(*, params: dict, ip_seen: str = "") -> dict:
    """`POST /charges` from a token or a source. A decline is a failed charge (200), not an
    error."""
    amount, currency = _validate_amount(params.get("amount"), params.get("currency"))
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
            source_id=str(source), amount=amount, currency=currency, params=params,
            metadata=metadata, return_uri=return_uri or "",
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
        capture=_as_bool(params.get("capture"), default=True),
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
    if source.flow == sources.REDIRECT and not return_uri:
        raise SandboxError("invalid_charge", "return_uri is required for redirect sources")
    expires_at = _parse_time(params.get("expires_at"), "expires_at")
    if expires_at is not None and expires_at <= timezone.now():
        raise SandboxError("invalid_charge", "expires_at must be in the future")
    if not Source.objects.filter(id=source.id, used=False).update(used=True):
        raise SandboxError("invalid_charge", "source was already used for a charge")

    charge = Charge(
        id=new_id("chrg"), amount=amount, currency=currency, status=Charge.Status.PENDING,
        description=str(params.get("description") or ""), metadata=metadata,
        return_uri=return_uri, ip=str(params.get("ip") or ""),
    )
    if source.flow == sources.OFFLINE:
        charge.source = source_json(source, scannable_code=_scannable_code(charge.id))
        charge.expires_at = expires_at or timezone.now() + sources.DEFAULT_OFFLINE_EXPIRY
    else:
        charge.source = source_json(source)
        charge.authorize_uri = sandbox_url(reverse("sandbox:three_d_secure", args=[charge.id]))
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


def capture_charge(*, charge_id: str) -> dict:
    charge = get_charge(charge_id)
    if not (charge.status == Charge.Status.PENDING and charge.authorized and not charge.capture):
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
        raise SandboxError("invalid_charge", "charge cannot be reversed: it is not authorized "
                           "and uncaptured")
    charge.status, charge.reversed, charge.reversed_at = (
        Charge.Status.REVERSED, True, timezone.now())
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
    charge.status, charge.expired, charge.expired_at = (
        Charge.Status.EXPIRED, True, timezone.now())
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


# --- refunds ---------------------------------------------------------------------------------
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
        id=charge.id, refunded_amount__lte=charge.amount - amount
    ).update(refunded_amount=F("refunded_amount") + amount)
    if not updated:
        raise SandboxError("failed_refund", "amount exceeds the refundable amount of the charge")
    metadata = params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise SandboxError("bad_request", "metadata must be an object")
    refund = Refund.objects.create(
        id=new_id("rfnd"), charge=charge, amount=amount, metadata=metadata,
        transaction=new_id("trxn"),
    )
    data = refund_json(refund)
    record_event(key="refund.create", data=data)
    return data


# --- account ---------------------------------------------------------------------------------
def account_json() -> dict:
    digest = hashlib.sha256(f"acct:{settings.OMISE_SECRET_KEY}".encode()).hexdigest()
    return {
        "object": "account",
        "id": "acct_test_" + digest[:19],
        "livemode": False,
        "location": "/account",
        "email": "sandbox@example.test",
        "currency": "thb",
        "supported_currencies": sorted(SUPPORTED_CURRENCIES),
        "country": "TH",
        "api_version": "2019-05-29",
        "webhook_uri": getattr(settings, "SANDBOX_WEBHOOK_URL", ""),
        "created_at": "2019-05-29T00:00:00Z",
    }


# --- events and webhooks ---------------------------------------------------------------------
def event_json(event: Event) -> dict:
    return {
        "object": "event",
        "id": event.id,
        "livemode": False,
        "location": f"/events/{event.id}",
        "key": event.key,
        "created_at": iso(event.created_at),
        "data": event.data,
        "webhook_deliveries": [
            {"object": "webhook_delivery", "uri": d.url, "status": d.status_code}
            for d in event.deliveries.all()
        ],
    }


def record_event(*, key: str, data: dict) -> Event:
    event = Event.objects.create(id=new_id("evnt"), key=key, data=data)
    if getattr(settings, "SANDBOX_WEBHOOK_DELIVERY", "async") == "async":
        # After the API response has gone out, like Omise; no extra process needed.
        threading.Thread(target=_deliver_soon, args=(event.id,), daemon=True).start()
    return event


def list_events(*, params: dict) -> dict:
    return paginate(Event.objects.all(), params=params, serialize=event_json)


def get_event(event_id: str) -> Event:
    event = Event.objects.filter(id=event_id).first()
    if event is None:
        raise SandboxError("not_found", f"event {event_id} was not found", 404)
    return event


def sign(*, body: bytes, timestamp: str) -> str:
    """Omise's scheme: hex HMAC-SHA256 of `timestamp.body`, key = base64-decoded secret."""
    key = base64.b64decode(settings.OMISE_WEBHOOK_SECRET)
    return hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def deliver(event: Event, *, url: str | None = None) -> Delivery:
    """POST one signed event to the shop and record the attempt, whatever happens."""
    url = url or settings.SANDBOX_WEBHOOK_URL
    body = json.dumps(event_json(event), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    status, error = None, ""
    session = requests.Session()
    session.trust_env = False  # straight to the shop, never through an environment proxy
    try:
        response = session.post(
            url,
            data=body,
            timeout=(3, 10),
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Omise-Sandbox-Webhooks/1.0",
                "Omise-Signature": sign(body=body, timestamp=timestamp),
                "Omise-Signature-Timestamp": timestamp,
            },
        )
        status = response.status_code
    except requests.RequestException as exc:
        error = type(exc).__name__
    finally:
        session.close()
    Event.objects.filter(id=event.id).update(delivered=True)
    logger.info("sandbox webhook %s %s -> %s", event.key, event.id, status or error)
    return Delivery.objects.create(event=event, url=url, status_code=status, error=error)


def deliver_pending(
    *, event_ids: list[str] | None = None, duplicate: int = 1, reverse_order: bool = False
) -> list[Delivery]:
    """Deliver events now: the undelivered ones, or exactly `event_ids` (redelivery allowed),
    each `duplicate` times, oldest first unless `reverse_order`."""
    if event_ids:
        by_id = {e.id: e for e in Event.objects.filter(id__in=event_ids)}
        missing = [i for i in event_ids if i not in by_id]
        if missing:
            raise SandboxError("not_found", f"event {missing[0]} was not found", 404)
        events = sorted(by_id.values(), key=lambda e: e.seq)
    else:
        events = list(Event.objects.filter(delivered=False).order_by("seq"))
    if reverse_order:
        events.reverse()
    duplicate = max(1, min(int(duplicate), 10))
    return [deliver(event) for event in events for _ in range(duplicate)]


def delivery_json(delivery: Delivery) -> dict:
    return {
        "event": delivery.event_id,
        "key": delivery.event.key,
        "url": delivery.url,
        "status_code": delivery.status_code,
        "error": delivery.error,
        "attempted_at": iso(delivery.attempted_at),
    }


def _deliver_soon(event_id: str) -> None:
    time.sleep(0.5)
    close_old_connections()
    try:
        event = Event.objects.filter(id=event_id, delivered=False).first()
        if event is not None:
            deliver(event)
    except Exception:  # a background thread has nobody to report to but the log
        logger.exception("sandbox webhook delivery of %s failed", event_id)
    finally:
        connection.close()


# --- faults (tests) --------------------------------------------------------------------------
def add_fault(*, endpoint: str, kind: str, seconds: float = 0, status: int = 500,
              count: int = 1) -> Fault:
    if kind not in Fault.Kind.values:
        raise SandboxError("bad_request", f"kind must be one of {', '.join(Fault.Kind.values)}")
    if not 0 <= float(seconds) <= 30 or not 1 <= int(count) <= 100:
        raise SandboxError("bad_request", "seconds must be 0..30 and count 1..100")
    if kind == Fault.Kind.STATUS and not 400 <= int(status) <= 599:
        raise SandboxError("bad_request", "status must be an HTTP error status")
    return Fault.objects.create(endpoint=endpoint, kind=kind, seconds=float(seconds),
                                status=int(status), remaining=int(count))


def take_fault(*, endpoint: str) -> Fault | None:
    """The oldest fault armed for this endpoint, consumed by one call (race-free)."""
    for fault in Fault.objects.filter(endpoint=endpoint, remaining__gt=0).order_by("id"):
        if Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(
            remaining=F("remaining") - 1
        ):
            return fault
    return None


# --- key use per IP --------------------------------------------------------------------------
def record_key_use(*, key: str, ip: str) -> bool:
    """Remember the IP a secret key was used from; True (and a notice) the first time."""
    hint = hmac.new(settings.SECRET_KEY.encode(), key.encode(), hashlib.sha256).hexdigest()[:32]
    use, created = KeyUse.objects.get_or_create(key_hint=hint, ip=ip)
    KeyUse.objects.filter(pk=use.pk).update(count=F("count") + 1)
    if created:
        Notice.objects.create(
            subject="Your secret key was used from a new IP",
            body=(
                f"Your test secret key was used for the first time from IP address {ip} on "
                f"{iso(use.first_seen)}. Omise e-mails this for live keys: if you do not "
                "recognise the address, roll your keys. A fixed outbound IP (OMISE_PROXY_URL) "
                "makes this notice rare and meaningful."
            ),
        )
    return created
