"""The Omise webhook receiver: verify, store, re-fetch, apply once.

Threats it stops: a forged event that would mark an unpaid order paid (signature check, then
the event is fetched back from Omise by id and only that copy is believed); a replayed old
delivery (timestamps older than five minutes are refused); a duplicate or retried delivery
applied twice (the event id is unique and processed under a row lock); strangers filling the
database or planting text the card guard cannot read (nothing is stored before the signature
holds; a refusal leaves a security event without the body, a few per client address a
minute); a body that two JSON parsers read differently (UTF-8 only, every key once, no NaN);
an oversized or malformed body used to exhaust the server (size and content-type limits
before parsing).

Omise retries deliveries that do not get a 2xx, so a processing error answers 500 and the
whole transaction rolls back: the retry starts clean.
"""

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest

from checkout.events import event_apply, event_state
from checkout.ids import is_omise_id
from checkout.models import WebhookDelivery, WebhookEvent
from checkout.omise import OmiseAPIError, OmiseError, get_client
from checkout.tasks import apply_webhook_event
from security.clientip import client_ip
from security.events import record_security_event_limited
from security.logscrub import scrub
from security.models import SecurityEvent

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # Omise events are a few KB; anything near this is not one
MAX_AGE_SECONDS = 5 * 60
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
SIGNATURE_HEADER = "Omise-Signature"
TIMESTAMP_HEADER = "Omise-Signature-Timestamp"
# Headers kept with the raw delivery: enough to debug, nothing that grants access.
STORED_HEADERS = {
    "Content-Type",
    "Content-Length",
    "User-Agent",
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    "X-Forwarded-For",
    "X-Forwarded-Proto",
}
MAX_HEADER_CHARS = 300
# Two hex signatures (during a secret rotation), a comma and some spaces.
MAX_SIGNATURE_CHARS = 2 * 64 + 8


@dataclass(frozen=True)
class Outcome:
    status: int
    message: str


class _Facts:
    """What this worker has learned that never turns false again, so Omise's retries and
    replays of what the shop already knows cost no query: a signed delivery once stored stays
    stored (rows are kept for days, a signature is accepted for five minutes), and an event
    once queued or applied is never new again (applied is remembered as such once read).
    Bounded: the oldest facts go first; forgetting one only costs a query."""

    def __init__(self, size: int):
        self._facts: dict[tuple[str, str], bool] = {}
        self._size = size
        self._lock = threading.Lock()

    def get(self, kind: str, key: str) -> bool | None:
        return self._facts.get((kind, key))

    def remember(self, kind: str, key: str, value: bool = True) -> None:
        with self._lock:
            if len(self._facts) >= self._size and (kind, key) not in self._facts:
                self._facts.pop(next(iter(self._facts)))
            self._facts[(kind, key)] = value

    def forget(self) -> None:
        """Tests (whose database is emptied between them) start with nothing known."""
        with self._lock:
            self._facts.clear()


KNOWN = _Facts(size=20_000)


def webhook_receive(*, request: HttpRequest) -> Outcome:
    """Handle one delivery end to end and say what to answer. Never raises for bad input.

    Verify first: a delivery that is not over HTTPS, not JSON in UTF-8, too large or not
    signed with our secret is answered and leaves only a security event (rate-limited per
    client address, without its body), so strangers cannot fill the table or store what the
    card guard cannot read. A verified delivery is stored (its body through the card-number
    mask) before any event is applied: one INSERT carrying the verdict of the parse, then
    (inline processing only) one UPDATE with the result of applying it.
    """
    if refusal := _refuse_unverified(request):
        record_security_event_limited(
            SecurityEvent.Kind.WEBHOOK_REJECTED,
            request,
            reason=refusal.message,
            status=refusal.status,
        )
        return refusal
    # One row per signed delivery: the same signature again (a replay within the five minutes
    # the timestamp allows) is answered as usual, idempotent by event id, but not stored twice.
    # What the signature covers is the delivery: however its header is written (case, spaces,
    # a second signature), the same timestamp and body are the same delivery.
    signed = f"{request.headers.get(TIMESTAMP_HEADER, '')}.".encode() + request.body
    digest = hashlib.sha256(signed).hexdigest()
    stored = bool(KNOWN.get("delivery", digest))  # else the insert below finds out
    delivery = WebhookDelivery(
        remote_ip=client_ip(request) or None,
        headers=_stored_headers(request),
        signature_valid=True,
        signature_digest=digest,
    )
    verdict = _event_id(request.body, delivery)
    event_id = verdict if isinstance(verdict, str) else ""  # applied only if no outcome yet
    outcome = verdict if isinstance(verdict, Outcome) else _accept(event_id)
    if stored:
        return outcome or _apply_now(event_id)
    delivery.response_status = outcome.status if outcome else None
    delivery.outcome = outcome.message[:255] if outcome else "received"
    if not _delivery_insert(delivery):  # the same delivery, stored before: a replay
        KNOWN.remember("delivery", digest)
        return outcome or _apply_now(event_id)
    KNOWN.remember("delivery", digest)  # committed
    if outcome is None:  # inline: fetch the event from Omise and apply it now
        outcome = _apply_now(event_id)
        delivery.response_status, delivery.outcome = outcome.status, outcome.message[:255]
        delivery.save(update_fields=["response_status", "outcome"])
    return outcome


def _delivery_insert(delivery: WebhookDelivery) -> bool:
    """Store a delivery unless one with its signed digest is stored: True if stored now.

    One INSERT, which the unique digest refuses for a replay: no read first (most deliveries
    are new: Omise signs each retry anew), and outside a transaction none of its own, so
    PostgreSQL commits the statement alone (one round trip, not BEGIN, INSERT, COMMIT).
    Within a caller's transaction a savepoint keeps a refusal from aborting it."""
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            delivery.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def _stored_headers(request: HttpRequest) -> dict[str, str]:
    """The headers kept with a delivery, masked and cut short: a signature covers the body,
    not the User-Agent or X-Forwarded-For a proxy passed on, which may carry anything."""
    return {
        name: scrub(value)[:MAX_HEADER_CHARS]
        for name, value in request.headers.items()
        if name in STORED_HEADERS
    }


def _refuse_unverified(request: HttpRequest) -> Outcome | None:
    """Why this is not a genuine Omise delivery, or None once its signature holds.

    The content type is checked before the body is touched: a multipart or form body has
    already been parsed by the card guard, and its raw bytes are not ours to read.
    """
    if settings.WEBHOOK_REQUIRE_HTTPS and not request.is_secure():
        return Outcome(403, "HTTPS required")
    charset = (request.content_params or {}).get("charset", "utf-8").lower()
    if request.content_type != "application/json" or charset not in {"utf-8", "utf8"}:
        return Outcome(415, "expected application/json in UTF-8")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES or len(request.body) > MAX_BODY_BYTES:
        return Outcome(413, "body too large")
    if not settings.OMISE_WEBHOOK_SECRET:
        logger.error("OMISE_WEBHOOK_SECRET is not set: no webhook can be verified")
        return Outcome(401, "no webhook secret configured")
    valid, reason = verify_signature(
        body=request.body,
        signature=request.headers.get(SIGNATURE_HEADER, ""),
        timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
        secret=settings.OMISE_WEBHOOK_SECRET,
    )
    return None if valid else Outcome(401, reason)


class _DuplicateKey(ValueError):
    """A JSON object names one key twice: parsers disagree on which value wins."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _DuplicateKey("duplicate key")
    return dict(pairs)


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def _event_id(body: bytes, delivery: WebhookDelivery) -> Outcome | str:
    """Read a verified body strictly (UTF-8, standard JSON, every key once) into the delivery
    row, and return its event id, or the Outcome that refuses it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        delivery.body = body.decode("utf-8", "replace")[:MAX_BODY_BYTES]
        return Outcome(400, "body is not UTF-8")
    # Stored masked: a signed body is Omise's, but no copy of a card number is kept anyway.
    delivery.body = scrub(text)
    try:
        payload = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except _DuplicateKey:
        return Outcome(400, "malformed JSON: a key appears twice")
    except (ValueError, RecursionError):
        return Outcome(400, "malformed JSON")
    event_id = payload.get("id") if isinstance(payload, dict) else None
    if not isinstance(event_id, str) or not is_omise_id("evnt", event_id):
        return Outcome(400, "no valid event id")
    delivery.event_id = event_id
    return event_id


def _accept(event_id: str) -> Outcome | None:
    """Queue the event, or answer a duplicate; None means: apply it inline."""
    if settings.WEBHOOK_PROCESSING == "deferred":
        return _enqueue(event_id)
    # Applied already? Remembered only once read so: a queued event may have been applied since.
    if KNOWN.get("event", event_id) or event_state(event_id):
        KNOWN.remember("event", event_id, True)
        return Outcome(200, "duplicate: already applied")
    return None


def _apply_now(event_id: str) -> Outcome:
    # Believe Omise, not the body: fetch the event back by id with our secret key.
    try:
        event = get_client().retrieve_event(event_id)
    except OmiseAPIError as error:
        if error.code == "not_found":
            return Outcome(400, "unknown event id")
        return Outcome(502, f"Omise refused the event lookup: {error.code}")
    except OmiseError:
        return Outcome(503, "Omise unreachable; retry later")

    try:
        applied = event_apply(event=event)
    except Exception:
        # Rolled back; a 5xx makes Omise deliver again, and the retry starts clean.
        logger.exception("Webhook event %s failed to apply", event_id)
        return Outcome(500, "processing failed; will be retried")
    return Outcome(200, "applied" if applied else "duplicate: already applied")


def _enqueue(event_id: str) -> Outcome:
    """Queue an event once: the unique WebhookEvent row is the guard against duplicates.

    Omise retries, so many deliveries are duplicates: one plain read answers them, with no
    transaction. A new event's row and its task are inserted in one transaction; of two first
    deliveries racing, the second's insert waits for the first to commit, fails on the unique
    event id, and is answered as the duplicate it is.
    """
    try:
        # Queued or applied, the answer to a duplicate is the same 200 and nothing is done: a
        # state this worker has read once is enough (its "queued" may be "applied" by now).
        applied = KNOWN.get("event", event_id)
        if applied is None:
            applied = event_state(event_id)
        if applied is None:
            try:
                # The row and the queued task commit together (the database queue shares the
                # transaction): a failed enqueue leaves no row claiming the event is queued.
                with transaction.atomic():
                    WebhookEvent.objects.create(event_id=event_id)
                    apply_webhook_event.enqueue(event_id=event_id)
                KNOWN.remember("event", event_id, False)
                return Outcome(202, "queued")
            except IntegrityError:
                applied = event_state(event_id)  # another delivery queued it first
                if applied is None:
                    raise
    except Exception:
        logger.exception("Webhook event %s could not be queued", event_id)
        return Outcome(503, "could not queue; retry later")
    KNOWN.remember("event", event_id, applied)
    return Outcome(200, f"duplicate: already {'applied' if applied else 'queued'}")


def verify_signature(
    *, body: bytes, signature: str, timestamp: str, secret: str
) -> tuple[bool, str]:
    """Check Omise's HMAC-SHA256 over `timestamp.body` with the base64-decoded secret.

    During a secret rotation the header carries two comma-separated signatures; either passes.
    """
    if not signature or not timestamp:
        return False, "missing signature headers"
    if len(signature) > MAX_SIGNATURE_CHARS:
        return False, "malformed signature"
    # Unix seconds in ASCII digits, bounded: int() would read other scripts' digits, and a
    # 400-digit number overflows the float arithmetic below.
    if not TIMESTAMP_RE.fullmatch(timestamp):
        return False, "malformed timestamp"
    sent_at = int(timestamp)
    if abs(time.time() - sent_at) > MAX_AGE_SECONDS:
        return False, "stale timestamp"
    try:
        key = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        logger.error("OMISE_WEBHOOK_SECRET is not valid base64")
        return False, "server misconfigured"
    expected = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    for candidate in signature.split(","):
        if hmac.compare_digest(candidate.strip().lower().encode(), expected.encode()):
            return True, "ok"
    return False, "signature mismatch"
