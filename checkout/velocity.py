"""Velocity limits on payment attempts: the shop's defence against card testing.

Threat: card testing (OWASP OAT-001 "Carding") and card cracking (OAT-010). A fraudster holding
a list of stolen card numbers uses a checkout to find out which ones work, or guesses a card's
expiry and security code, with many small attempts. Every attempt reaches Omise and the card
networks: the merchant pays fees, its decline ratio rises (which can end the merchant
account), and the fraudster leaves with validated cards.

So the checkout counts attempts per dimension — client IP, session, shopper email, card
fingerprint — in Django's cache (local memory in development; Redis via CACHE_URL in
production, so every worker and host shares the counts). An attempt costs 1 point; a declined
attempt costs `CHECKOUT_VELOCITY_DECLINE_POINTS` (3) in all, because a run of declines is what
card testing looks like and a paying shopper rarely declines twice. Every attempt is presumed
declined until it is paid: it pays the decline's points up front and gets all but one back once
its charge succeeds. Charging only after the outcome would let a bot's parallel requests all
pass at one point each before any decline was counted. When a dimension's points in
its window reach the limit, that dimension is blocked for a while: the checkout answers 429
*before* creating an order or a charge, and one `VELOCITY_BLOCK` security event records the
block's start.

The card fingerprint is known only once a charge reveals it (the token id says nothing about the
card, and the Omise API facts in docs/omise-api.md hold no token lookup). So the card dimension
counts from charges, and when a blocked card shows up again it also blocks the IP, session and
email that carried it: the attacker loses an identity with every further try. Limits and their
reasons: docs/velocity.md.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from checkout.failures import NOT_A_DECLINE
from checkout.models import PaymentAttempt
from security.clientip import client_bucket
from security.events import record_security_event
from security.models import SecurityEvent

# The order dimensions are checked in (the first blocked one is reported).
DIMENSIONS = ("ip", "session", "email", "card")
# How long to remember that an attempt's points were counted (a 3-D Secure decline arrives later).
COUNTED_FOR_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class Limit:
    """At most `points` in `window` seconds; reaching it blocks the dimension for `block`."""

    points: int
    window: int
    block: int


@dataclass(frozen=True)
class Block:
    """A refusal: which dimension, its points and window, and seconds until it lifts."""

    dimension: str
    points: int
    window: int
    retry_after: int


@dataclass(frozen=True)
class Identity:
    """What identifies who is paying, as far as the shop can tell. Empty values are not counted.

    `ip` is the client's rate-limit bucket (`security.clientip.rate_limit_bucket`), not its
    address: an IPv6 client counts by its /64, and a request whose address cannot be read
    counts in the one shared "unknown" bucket, so for a request it is never empty.
    """

    ip: str = ""
    session: str = ""
    email: str = ""
    card: str = ""
    # The request seen, for the security event a block records (path, address, user agent);
    # not part of who the payer is.
    request: HttpRequest | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, request: HttpRequest, *, email: str, card: str = "") -> Identity:
        return cls(
            ip=client_bucket(request),
            session=request.session.session_key or "",
            email=normalise_email(email),
            card=card,
            request=request,
        )


# Mail providers that ignore dots in the local part: `m.alee@gmail.com` is `malee@gmail.com`.
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def normalise_email(email: str) -> str:
    """Lower-case, trimmed, without a `+tag`, and without dots where the provider ignores them:
    `Malee+1@Example.com` and `malee@example.com`, or `m.a.lee@gmail.com` and
    `malee@gmail.com`, are one mailbox, so rotating tags or dots does not reset the count."""
    local, _, domain = (email or "").strip().lower().rpartition("@")
    if not local:
        return ""
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def limits() -> dict[str, Limit]:
    """The configured limits (`CHECKOUT_VELOCITY_LIMITS`: dimension → (points, window, block))."""
    return {name: Limit(*values) for name, values in settings.CHECKOUT_VELOCITY_LIMITS.items()}


def check(
    *, identity: Identity, attempt_key: str, request: HttpRequest | None = None
) -> Block | None:
    """The block this payer is under, if any; call before creating the order or charge.

    A dimension whose points reached its limit starts its block here, and the block's start is
    recorded once as a security event (later refusals in the same block add no rows). A payer
    who passes pays a decline's points at once, with an atomic increment: parallel requests
    (bots send many at a time) cannot all slip under the limit together, as they could if a
    decline were counted only once Omise had answered. `record` gives back what a charge that
    was not declined did not owe. An attempt key pays once: two POSTs of the same attempt
    racing each other (the view answers a later one with the first outcome) can never make a
    second charge, so the second costs nothing more.
    """
    request = request or identity.request
    configured = limits()
    counted: list[tuple[str, str, Limit]] = []
    for dimension in DIMENSIONS:
        value, limit = getattr(identity, dimension), configured.get(dimension)
        if value and limit is not None:
            counted.append((dimension, value, limit))
    # Every dimension's block and points in one read (one MGET on Redis).
    known = (
        cache.get_many(
            [
                _key(kind, dimension, value)
                for dimension, value, _ in counted
                for kind in ("block", "points")
            ]
        )
        if counted
        else {}
    )
    for dimension, value, limit in counted:
        if block := _blocked(
            dimension=dimension,
            value=value,
            limit=limit,
            request=request,
            until=known.get(_key("block", dimension, value)),
            points=known.get(_key("points", dimension, value), 0),
        ):
            return block
    charged = [_key("points", dimension, value) for dimension, value, _ in counted]
    # The marker names the counters charged, so that `record` gives back to them and no others.
    if not cache.add(_paid_marker(attempt_key), charged, COUNTED_FOR_SECONDS):
        return None
    totals = _add_points_many(
        [
            (key, decline_points(), limit.window)
            for key, (_, _, limit) in zip(charged, counted, strict=True)
        ]
    )
    for (dimension, value, limit), points in zip(counted, totals, strict=True):
        if points > limit.points:  # a parallel request took the last point first
            return _start_block(
                dimension=dimension, value=value, limit=limit, request=request, points=points
            )
    return None


def decline_points() -> int:
    return settings.CHECKOUT_VELOCITY_DECLINE_POINTS


def record(
    *, identity: Identity, attempt: PaymentAttempt, request: HttpRequest | None = None
) -> Block | None:
    """Settle the points `check` took for an attempt by its outcome so far, and count the card
    once a charge reveals it; returns the block its card is under, if the card came back while
    blocked.

    A paid attempt, or one the payment service failed (`failures.NOT_A_DECLINE`), gives back
    all but its one point, to the counters `check` charged for it (not to whoever asks now),
    and only while `check`'s marker lasts. One still pending (at the bank for 3-D Secure, a QR
    code not yet paid) keeps a decline's points until it is paid: a bot that never finishes
    3-D Secure pays for each probe in full. Safe to call again for the same attempt (after
    3-D Secure, when the order page sees it paid, on a refresh): each point is counted once.
    """
    request = request or identity.request
    card = attempt.card_fingerprint or identity.card
    configured = limits()
    card_limit = configured.get("card") if card else None
    marker = _paid_marker(attempt.key)
    card_block_key = _key("block", "card", card) if card_limit else ""
    known = cache.get_many([marker, card_block_key] if card_limit else [marker])
    charged = known.get(marker)
    if charged is None:
        return None  # never checked, or a day ago: its windows are long over, nothing to settle
    card_blocked_until = known.get(card_block_key)
    extra = decline_points() - 1
    declined = is_decline(attempt)
    cleared = attempt.status in {
        PaymentAttempt.Status.SUCCESSFUL,
        PaymentAttempt.Status.AUTHORIZED,  # manual capture: the card was approved
    } or (attempt.status == PaymentAttempt.Status.FAILED and not declined)
    given_back = (
        cleared
        and charged
        and cache.add(f"velocity:eased:{attempt.key}", True, COUNTED_FOR_SECONDS)
    )
    changes = [(key, -extra, 0) for key in charged] if given_back else []
    if card_limit is not None:
        first_decline = declined and cache.add(
            f"velocity:declined:{attempt.pk}", True, COUNTED_FOR_SECONDS
        )
        card_points = extra if first_decline else 0
        if cache.add(f"velocity:card-counted:{attempt.pk}", True, COUNTED_FOR_SECONDS):
            card_points += 1
        if card_points:
            changes.append((_key("points", "card", card), card_points, card_limit.window))
    _add_points_many(changes)
    if card_limit is None:
        return None
    if not declined:
        return None
    if card_blocked_until is None:
        # Reaching the card's limit starts its block (one event); this decline is shown as usual.
        _blocked(
            dimension="card",
            value=card,
            limit=card_limit,
            request=request,
            until=None,
            points=cache.get(_key("points", "card", card), 0),
        )
        return None
    # A blocked card came back under another identity. Its charge could not be avoided (the
    # card is known only from the charge), so burn the IP, session and email that carried it:
    # they cannot bring the next card.
    carried = [
        dimension
        for dimension in ("ip", "session", "email")
        if getattr(identity, dimension)
        and dimension in configured
        and _set_block(dimension, getattr(identity, dimension), configured[dimension])
    ]
    if carried:
        record_security_event(
            SecurityEvent.Kind.VELOCITY_BLOCK,
            request,
            dimension="card",
            count=cache.get(_key("points", "card", card), 0),
            limit=card_limit.points,
            window=card_limit.window,
            blocked=carried,
        )
    return _block("card", card, card_limit, card_blocked_until)


def is_decline(attempt: PaymentAttempt) -> bool:
    """Did the card or the bank refuse this attempt (not the payment service failing us)?"""
    return (
        attempt.status == PaymentAttempt.Status.FAILED and attempt.failure_code not in NOT_A_DECLINE
    )


def refusal(request: HttpRequest, block: Block) -> HttpResponse:
    """The polite 429 page. It says when to come back and nothing about what was counted."""
    minutes = max(1, math.ceil(block.retry_after / 60))
    response = render(request, "checkout/too_many_attempts.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(max(1, block.retry_after))
    return response


# --- helpers ---------------------------------------------------------------------------------


def _key(kind: str, dimension: str, value: str) -> str:
    # Hashed: cache keys then hold no e-mail address or IP, and fit any backend's key rules.
    digest = hashlib.sha256(f"{dimension}:{value}".encode()).hexdigest()[:32]
    return f"velocity:{kind}:{dimension}:{digest}"


def _paid_marker(attempt_key: str) -> str:
    return f"velocity:paid:{attempt_key}"


def _add_points(key: str, points: int, window: int) -> int:
    """Add to a fixed window that starts with its first point (add + incr: atomic in Redis and
    in local memory, so concurrent workers never lose a count). A negative `points` gives
    back, never below zero (the window may have started again since); a window that has ended
    is not started again by a give-back."""
    if points < 0:
        try:
            total = cache.decr(key, -points)
        except ValueError:
            return 0
        if total < 0:
            cache.incr(key, -total)
        return max(total, 0)
    cache.add(key, 0, window)
    try:
        return cache.incr(key, points)
    except ValueError:  # the window expired between add and incr: start a new one
        cache.add(key, points, window)
        return points


def _add_points_many(changes: list[tuple[str, int, int]]) -> list[int]:
    """`_add_points` for each (counter key, points, window): in one atomic round trip where the
    cache offers it (config.cache.RedisCache, production's), else one call each."""
    add_to_windows = getattr(cache, "add_to_windows", None)
    if add_to_windows is None or not changes:
        return [_add_points(*change) for change in changes]
    return add_to_windows(changes)


def _blocked(
    *,
    dimension: str,
    value: str,
    limit: Limit,
    request: HttpRequest | None,
    until: float | None,
    points: int,
) -> Block | None:
    """The running block of this value (`until`, as read from the cache), or a new one if its
    `points` reached the limit."""
    if until is not None:
        return _block(dimension, value, limit, until, points=points)
    if points >= limit.points:
        return _start_block(
            dimension=dimension, value=value, limit=limit, request=request, points=points
        )
    return None


def _set_block(dimension: str, value: str, limit: Limit) -> bool:
    """Start a block unless one is running; True if this call started it."""
    until = time.time() + limit.block
    return cache.add(_key("block", dimension, value), until, limit.block)


def _start_block(
    *, dimension: str, value: str, limit: Limit, request: HttpRequest | None, points: int
) -> Block:
    if _set_block(dimension, value, limit):
        record_security_event(
            SecurityEvent.Kind.VELOCITY_BLOCK,
            request,
            dimension=dimension,
            count=points,
            limit=limit.points,
            window=limit.window,
            block_seconds=limit.block,
        )
    until = cache.get(_key("block", dimension, value), time.time() + limit.block)
    return _block(dimension, value, limit, until, points=points)


def _block(
    dimension: str, value: str, limit: Limit, until: float, *, points: int | None = None
) -> Block:
    if points is None:  # not read yet
        points = cache.get(_key("points", dimension, value), 0)
    return Block(
        dimension=dimension,
        points=points,
        window=limit.window,
        retry_after=max(1, math.ceil(until - time.time())),
    )
