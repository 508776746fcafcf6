"""Velocity limits on Redis, the production cache: the batched path (one MGET, one script
call per step: config.cache.RedisCache.add_to_windows) counts exactly as the one-call-per-
operation path does on local memory. The checkout's own tests run on local memory; these run
the same rules on Redis."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.core.cache import cache
from django.test import override_settings

from checkout import velocity
from checkout.models import PaymentAttempt
from tests.support import skip_or_fail

URL = "redis://127.0.0.1:6379/11"
LIMITS = {
    "ip": (15, 600, 3600),
    "session": (15, 3600, 3600),
    "email": (15, 3600, 3600),
    "card": (9, 86400, 86400),
}
PAYER = velocity.Identity(ip="203.0.113.70", session="s" * 32, email="malee@example.com")


@pytest.fixture(params=["redis", "locmem"])
def backend(request, monkeypatch):
    """Each test on Redis (batched) and on local memory (call by call): same answers."""
    if request.param == "redis":
        try:
            redis.Redis.from_url(URL, socket_connect_timeout=3).flushdb()
        except redis.ConnectionError as error:
            skip_or_fail(f"Redis is not reachable at 127.0.0.1:6379 ({error})")
        config = {"BACKEND": "config.cache.RedisCache", "LOCATION": URL}
    else:
        config = {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "velocity-redis-test",
        }
    monkeypatch.setattr(velocity, "record_security_event", lambda *args, **kwargs: None)
    with override_settings(
        CACHES={"default": config},
        CHECKOUT_VELOCITY_LIMITS=LIMITS,
        CHECKOUT_VELOCITY_DECLINE_POINTS=3,
    ):
        cache.clear()
        assert hasattr(cache, "add_to_windows") == (request.param == "redis")
        yield request.param
        cache.clear()


def points(dimension: str, value: str) -> int:
    return cache.get(velocity._key("points", dimension, value), 0)


def attempt(pk: int, *, status="successful", failure_code="", card="fp-1") -> PaymentAttempt:
    return PaymentAttempt(
        pk=pk, key=f"key-{pk}", status=status, failure_code=failure_code, card_fingerprint=card
    )


def test_adding_many_points_counts_as_adding_each(backend):
    """New windows start with their expiry; what an ended window is given back is dropped."""
    ip_a, email_b = velocity._key("points", "ip", "a"), velocity._key("points", "email", "b")
    gone = velocity._key("points", "email", "gone")
    totals = velocity._add_points_many([(ip_a, 3, 600), (email_b, 2, 60)])
    assert totals == [3, 2]
    assert velocity._add_points_many([(ip_a, -2, 600), (gone, -2, 60)]) == [1, 0]
    assert points("ip", "a") == 1 and points("email", "b") == 2
    assert cache.get(velocity._key("points", "email", "gone")) is None  # not created by a give-back
    if backend == "redis":
        ttl = redis.Redis.from_url(URL).ttl(cache.make_key(velocity._key("points", "ip", "a")))
        assert 0 < ttl <= 600


def test_a_paid_attempt_costs_one_point_per_dimension_once(backend):
    assert velocity.check(identity=PAYER, attempt_key="key-1", request=None) is None
    assert points("ip", PAYER.ip) == 3  # a decline's points, paid up front
    for _ in range(2):  # a refresh records again: counted once
        assert velocity.record(identity=PAYER, attempt=attempt(1), request=None) is None
    assert [points(d, getattr(PAYER, d)) for d in ("ip", "session", "email")] == [1, 1, 1]
    assert points("card", "fp-1") == 1
    # The same attempt posted again pays nothing more.
    assert velocity.check(identity=PAYER, attempt_key="key-1", request=None) is None
    assert points("ip", PAYER.ip) == 1


def test_a_paid_attempt_gives_back_to_the_counters_it_was_charged_once(backend):
    """The 2 points go back to the payer who was charged, not to whoever opens the order page
    later (another IP), only once, and not at all once the attempt's marker has lapsed (a day
    later: its windows are long over)."""
    assert velocity.check(identity=PAYER, attempt_key="key-40", request=None) is None
    elsewhere = velocity.Identity(ip="198.51.100.40", email="someone@example.com")
    velocity._add_points(velocity._key("points", "ip", elsewhere.ip), 3, 600)
    for _ in range(2):
        velocity.record(identity=elsewhere, attempt=attempt(40), request=None)
    assert points("ip", PAYER.ip) == 1 and points("ip", elsewhere.ip) == 3
    assert points("card", "fp-1") == 1
    cache.delete_many(
        [
            "velocity:paid:key-40",
            "velocity:eased:key-40",  # a day later
            "velocity:card-counted:40",
            "velocity:declined:40",
        ]
    )
    velocity.record(identity=PAYER, attempt=attempt(40), request=None)
    assert points("ip", PAYER.ip) == 1 and points("card", "fp-1") == 1


def test_a_give_back_never_takes_a_counter_below_zero(backend):
    """A window that started again since the attempt was charged holds fewer points than are
    given back: it stops at zero, so no payer gains slack."""
    key = velocity._key("points", "ip", "203.0.113.41")
    velocity._add_points_many([(key, 1, 600)])
    assert velocity._add_points_many([(key, -2, 600)]) == [0]
    assert points("ip", "203.0.113.41") == 0


def test_a_pending_charge_keeps_a_declines_points_until_it_is_paid(backend):
    velocity.check(identity=PAYER, attempt_key="key-2", request=None)
    velocity.record(identity=PAYER, attempt=attempt(2, status="pending"), request=None)
    assert points("ip", PAYER.ip) == 3 and points("card", "fp-1") == 1
    for _ in range(2):
        velocity.record(identity=PAYER, attempt=attempt(2), request=None)
    assert points("ip", PAYER.ip) == 1 and points("card", "fp-1") == 1
    velocity.check(identity=PAYER, attempt_key="key-3", request=None)
    declined = attempt(3, status="failed", failure_code="insufficient_fund")
    for _ in range(2):
        velocity.record(identity=PAYER, attempt=declined, request=None)
    assert points("ip", PAYER.ip) == 4 and points("card", "fp-1") == 4


def test_declines_block_the_payer_and_a_blocked_card_burns_its_carrier(backend):
    for n in range(5):
        assert velocity.check(identity=PAYER, attempt_key=f"key-{10 + n}", request=None) is None
        velocity.record(
            identity=PAYER,
            request=None,
            attempt=attempt(
                10 + n, status="failed", failure_code="stolen_or_lost_card", card=f"card-{n}"
            ),
        )
    block = velocity.check(identity=PAYER, attempt_key="d-5", request=None)
    assert block is not None and block.dimension == "ip" and block.points == 15
    # Three declines of one card block it; the card then burns a fresh identity that brings it.
    other = velocity.Identity(ip="198.51.100.1", email="someone@example.com")
    for n in range(4):
        velocity.check(identity=other, attempt_key=f"key-{30 + n}", request=None)
        found = velocity.record(
            identity=other,
            request=None,
            attempt=attempt(30 + n, status="failed", failure_code="stolen_or_lost_card"),
        )
    assert found is not None and found.dimension == "card"
    assert velocity.check(identity=other, attempt_key="c-9", request=None).dimension == "ip"


def test_parallel_requests_cannot_all_slip_under_the_limit(backend):
    """As in test_velocity, on this backend: eight racing checks, one decline below the limit."""
    payer = velocity.Identity(ip="203.0.113.71")
    velocity._add_points(velocity._key("points", "ip", payer.ip), 12, 600)
    start = threading.Barrier(8)

    def race(n):
        start.wait()
        return velocity.check(identity=payer, attempt_key=f"race-{n}", request=None)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(race, range(8)))
    assert sum(outcome is None for outcome in outcomes) == 1
