"""Card-testing defence: scripted attacks on the checkout, against the sandbox over real HTTP.

Each attack is a few hundred token-bearing POSTs with declining test cards; what matters is how
many charges reach "Omise" (the sandbox), which must stop at the limit of the dimension the
attack cannot vary.
"""

import ipaddress
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from checkout import velocity
from checkout.models import Order
from security.models import SecurityEvent
from tests.factories import make_product
from tests.shopping import checkout_form

pytestmark = pytest.mark.django_db(transaction=True)

DECLINES = ["4111111111140011", "4111111111130012", "4111111111120013", "4111111111110014"]
PAYS = "4242424242424242"
THREE_D_SECURE = "4000000000000002"
BUYER = {"name": "Malee Sukjai", "country": "TH", "email": "malee@example.com"}
ATTACK_SIZE = 200
# The defaults (config/settings.py): five declines per IP, session or email; three per card.
DECLINES_PER_IP = DECLINES_PER_SESSION = DECLINES_PER_EMAIL = 5
DECLINES_PER_CARD = 3


@pytest.fixture
def product(db):
    return make_product(name="Gift Card Sleeve", slug="sleeve", price=5000)


def shopper(product) -> Client:
    """A fresh browser (its own session) with the product in its cart."""
    client = Client()
    client.post("/cart/add/", {"product": product.slug, "quantity": "1"})
    return client


def attempt(client, sandbox, *, number=DECLINES[0], ip="203.0.113.7", **fields):
    """One checkout submission: load the page for its attempt key, then POST a fresh token."""
    data = {
        **BUYER,
        **fields,
        **checkout_form(client, REMOTE_ADDR=ip),
        "omise_token": sandbox.token(number),
    }
    return client.post("/checkout/", data, REMOTE_ADDR=ip)


def charges(sandbox) -> int:
    return len(sandbox.requests("charges.create"))


def blocks() -> list[SecurityEvent]:
    return list(SecurityEvent.objects.filter(kind=SecurityEvent.Kind.VELOCITY_BLOCK))


def test_one_ip_is_stopped_at_its_decline_limit(sandbox, product, settings):
    """200 declining attempts from one IP, each with a new session and email and a made-up
    X-Forwarded-For, reach Omise five times; every later one is refused with 429."""
    settings.TRUSTED_PROXY_COUNT = 0
    statuses = []
    for i in range(ATTACK_SIZE):
        client = shopper(product)
        client.defaults["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{i % 250}"
        response = attempt(client, sandbox, number=DECLINES[i % 4], email=f"bot{i}@example.com")
        statuses.append(response.status_code)
    assert charges(sandbox) == DECLINES_PER_IP
    assert statuses[:DECLINES_PER_IP] == [302] * DECLINES_PER_IP
    assert set(statuses[DECLINES_PER_IP:]) == {429}
    assert Order.objects.count() == DECLINES_PER_IP
    assert [event.detail["dimension"] for event in blocks()] == ["ip"]


ROTATION = 30  # attempts of an attacker rotating addresses: far past the five declines allowed


def rotated(i: int) -> str:
    """The i-th address an attacker picks inside the /64 2001:db8:7:1::/64, written each time
    in another textual form (compressed, expanded, upper case)."""
    forms = [
        "2001:db8:7:1::{i:x}",
        "2001:0db8:0007:0001:0000:0000:{i:04x}:0001",
        "2001:DB8:7:1:{i:X}:{i:X}:{i:X}:{i:X}",
    ]
    return forms[i % 3].format(i=i + 1)


def test_rotating_addresses_inside_one_ipv6_64_is_one_ip(sandbox, product, settings):
    """A VPS comes with a /64: an attacker who sends each decline from another of its 2^64
    addresses (with a new session and email) is stopped at the IP limit, like one address."""
    settings.TRUSTED_PROXY_COUNT = 0
    statuses = [
        attempt(
            shopper(product),
            sandbox,
            number=DECLINES[i % 4],
            ip=rotated(i),
            email=f"bot{i}@example.com",
        ).status_code
        for i in range(ROTATION)
    ]
    assert charges(sandbox) == DECLINES_PER_IP
    assert set(statuses[DECLINES_PER_IP:]) == {429}
    [event] = blocks()
    assert event.detail["dimension"] == "ip"
    # The real address (of the attempt that started the block) is recorded, not the bucket.
    assert event.client_ip == str(ipaddress.ip_address(rotated(DECLINES_PER_IP)))
    orders = Order.objects.order_by("pk").values_list("client_ip", flat=True)
    assert list(orders) == [str(ipaddress.ip_address(rotated(i))) for i in range(5)]


def test_two_ipv6_64s_are_counted_apart(sandbox, product, settings):
    """The /64 next door is someone else: its first payment goes through while this one is
    blocked."""
    settings.TRUSTED_PROXY_COUNT = 0
    for i in range(DECLINES_PER_IP):
        attempt(shopper(product), sandbox, ip=f"2001:db8:7:1::{i + 1}", email=f"b{i}@example.com")
    blocked = attempt(
        shopper(product), sandbox, number=PAYS, ip="2001:db8:7:1::ff", email="late@example.com"
    )
    neighbour = attempt(
        shopper(product), sandbox, number=PAYS, ip="2001:db8:7:2::1", email="neighbour@example.com"
    )
    assert (blocked.status_code, neighbour.status_code) == (429, 302)
    assert Order.objects.filter(status=Order.Status.PAID).count() == 1


@pytest.mark.parametrize(
    "forwarded",
    [["unknown"], ["unknown", "-", "garbage", "1.2.3.999"]],
    ids=["unknown", "assorted"],
)
def test_an_unparseable_forwarded_address_is_counted_in_one_shared_bucket(
    sandbox, product, settings, forwarded
):
    """Behind our proxy, a client it could not name (`X-Forwarded-For: unknown`, or junk) is
    not let off the IP limit: all such requests share one bucket, and are stopped at it."""
    settings.TRUSTED_PROXY_COUNT = 1
    statuses = []
    for i in range(ROTATION):
        client = shopper(product)
        client.defaults["HTTP_X_FORWARDED_FOR"] = forwarded[i % len(forwarded)]
        statuses.append(
            attempt(
                client, sandbox, number=DECLINES[i % 4], ip="127.0.0.1", email=f"bot{i}@example.com"
            ).status_code
        )
    assert charges(sandbox) == DECLINES_PER_IP
    assert set(statuses[DECLINES_PER_IP:]) == {429}
    [event] = blocks()
    assert event.detail["dimension"] == "ip" and event.client_ip is None


def test_a_request_always_has_an_ip_dimension(rf, settings):
    """`Identity.of` never leaves the IP empty (an empty value would not be counted)."""
    settings.TRUSTED_PROXY_COUNT = 1
    request = rf.post("/checkout/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="unknown")
    request.session = type("Session", (), {"session_key": None})()
    assert velocity.Identity.of(request, email="").ip == "unknown"
    request.META["HTTP_X_FORWARDED_FOR"] = "2001:DB8:7:1::5"
    assert velocity.Identity.of(request, email="").ip == "2001:db8:7:1::/64"


def test_rotating_ips_with_one_email_are_stopped_at_the_email_limit(sandbox, product):
    """200 attempts from 200 IPs and sessions for one mailbox (with +tags and capitals) reach
    Omise five times."""
    for i in range(ATTACK_SIZE):
        attempt(
            shopper(product),
            sandbox,
            number=DECLINES[i % 4],
            ip=f"10.1.{i // 250}.{i % 250}",
            email=f"Malee+{i}@Example.com",
        )
    assert charges(sandbox) == DECLINES_PER_EMAIL
    assert [event.detail["dimension"] for event in blocks()] == ["email"]


def test_one_session_is_stopped_at_the_session_limit(sandbox, product):
    """200 attempts from one browser session with a new IP and email each reach Omise five
    times."""
    client = shopper(product)
    statuses = [
        attempt(
            client,
            sandbox,
            number=DECLINES[i % 4],
            ip=f"10.2.{i // 250}.{i % 250}",
            email=f"bot{i}@example.com",
        ).status_code
        for i in range(ATTACK_SIZE)
    ]
    assert charges(sandbox) == DECLINES_PER_SESSION
    assert set(statuses[DECLINES_PER_SESSION:]) == {429}
    assert [event.detail["dimension"] for event in blocks()] == ["session"]


def test_one_card_is_blocked_and_burns_every_identity_that_brings_it_again(sandbox, product):
    """One card declined three times is blocked. It is known only from a charge, so each later
    try still reaches Omise once, is answered 429, and blocks its IP, session and email: none of
    them gets another charge, whatever card it brings."""
    tries = 20
    responses, identities = [], []
    for i in range(tries):
        identity = {"ip": f"10.3.0.{i + 1}", "email": f"holder{i}@example.com"}
        client = shopper(product)
        responses.append(attempt(client, sandbox, **identity).status_code)
        identities.append((client, identity))
    assert responses[:DECLINES_PER_CARD] == [302] * DECLINES_PER_CARD
    assert set(responses[DECLINES_PER_CARD:]) == {429}
    assert charges(sandbox) == tries  # the limit of what can be known before a charge
    first_burned, identity = identities[DECLINES_PER_CARD]
    for retry in (
        attempt(first_burned, sandbox, number=PAYS, ip="10.3.1.1", email="new@example.com"),
        attempt(shopper(product), sandbox, number=PAYS, ip=identity["ip"], email="n2@example.com"),
        attempt(shopper(product), sandbox, number=PAYS, ip="10.3.1.2", email=identity["email"]),
    ):
        assert retry.status_code == 429
    assert charges(sandbox) == tries
    card_events = [event for event in blocks() if event.detail["dimension"] == "card"]
    assert len(card_events) == 1 + tries - DECLINES_PER_CARD  # the block, then each burn
    assert set(card_events[0].detail["blocked"]) == {"ip", "session", "email"}


def test_a_shopper_who_declines_then_pays_is_never_blocked(sandbox, product):
    """A decline, then a successful payment from the same browser, IP and email: both go
    through to Omise and the order is paid."""
    client = shopper(product)
    declined = attempt(client, sandbox, number=DECLINES[0])
    paid = attempt(client, sandbox, number=PAYS)
    assert declined.status_code == 302 and paid.status_code == 302
    assert paid.url == Order.objects.get(status=Order.Status.PAID).get_absolute_url()
    assert charges(sandbox) == 2 and blocks() == []


def test_four_declines_with_different_cards_then_paying_stays_under_every_limit(sandbox, product):
    """One below the limit: four different cards declined, then a fifth card pays."""
    client = shopper(product)
    for number in DECLINES:
        assert attempt(client, sandbox, number=number).status_code == 302
    assert attempt(client, sandbox, number=PAYS).status_code == 302
    assert Order.objects.filter(status=Order.Status.PAID).count() == 1
    assert blocks() == []


def test_three_d_secure_failures_count_as_declines(sandbox, product, settings):
    """A payment refused on the bank's 3-D Secure page weighs like a decline: with a limit of
    one decline, the next attempt is refused."""
    settings.CHECKOUT_VELOCITY_LIMITS = {**settings.CHECKOUT_VELOCITY_LIMITS, "ip": (3, 600, 600)}
    client = shopper(product)
    response = attempt(client, sandbox, number=THREE_D_SECURE, ip="127.0.0.1")
    back = sandbox.complete_3ds(
        {"authorize_uri": response.context["authorize_uri"]}, authorize=False
    )
    assert client.get(urlsplit(back).path).url == "/checkout/"  # back to pay, not charged
    assert attempt(client, sandbox, number=PAYS, ip="127.0.0.1").status_code == 429
    assert charges(sandbox) == 1


def test_a_block_lifts_after_its_time(sandbox, product, settings):
    """With a one-second window and block, a blocked IP may pay again once the block is over."""
    settings.CHECKOUT_VELOCITY_LIMITS = {**settings.CHECKOUT_VELOCITY_LIMITS, "ip": (3, 1, 1)}
    client = shopper(product)
    assert attempt(client, sandbox).status_code == 302
    assert attempt(client, sandbox, number=PAYS).status_code == 429
    time.sleep(1.1)
    assert attempt(client, sandbox, number=PAYS).status_code == 302
    assert Order.objects.filter(status=Order.Status.PAID).count() == 1


def test_a_blocked_shopper_gets_a_polite_429_and_one_security_event(sandbox, product):
    """The refusal is a 429 page saying when to come back, with Retry-After, no order and no
    charge; the block's start is one security event with its dimension, count and window,
    however many refusals follow."""
    client = shopper(product)
    for number in [*DECLINES, DECLINES[0]]:
        attempt(client, sandbox, number=number)
    orders, sent = Order.objects.count(), charges(sandbox)
    refusals = [attempt(client, sandbox, number=PAYS) for _ in range(3)]
    for refusal in refusals:
        assert refusal.status_code == 429
        assert "Please try again in about 60 minutes" in refusal.text
        assert 3500 < int(refusal["Retry-After"]) <= 3600
        for hint in ("IP address", "session", "mail", "card number", "limit", "203.0.113.7"):
            assert hint not in refusal.text
    assert (Order.objects.count(), charges(sandbox)) == (orders, sent)
    [event] = blocks()
    assert event.client_ip == "203.0.113.7" and event.path == "/checkout/"
    assert {k: event.detail[k] for k in ("dimension", "count", "window")} == {
        "dimension": "ip",
        "count": 15,
        "window": 600,
    }


@pytest.mark.parametrize(
    ("given", "counted"),
    [
        ("Malee@Example.COM", "malee@example.com"),
        (" malee+shop@example.com ", "malee@example.com"),
        ("malee+a+b@example.com", "malee@example.com"),
        ("not-an-email", ""),
        ("m.a.lee@gmail.com", "malee@gmail.com"),  # Gmail ignores dots
        ("M.alee+x@GoogleMail.com", "malee@gmail.com"),
        ("m.alee@example.com", "m.alee@example.com"),  # elsewhere a dot is a letter
    ],
)
def test_emails_are_counted_per_mailbox(given, counted):
    """Capitals, spaces and +tags do not make a new mailbox for the email limit."""
    assert velocity.normalise_email(given) == counted


def race_checks(payer: velocity.Identity, count: int) -> list:
    """`count` threads call `check` for new attempts of one payer at the same moment."""
    start = threading.Barrier(count)

    def race(n):
        start.wait()
        return velocity.check(identity=payer, attempt_key=f"race-{n}", request=None)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(race, range(count)))


def test_parallel_requests_cannot_all_slip_under_the_limit(monkeypatch):
    """Eight requests racing at one decline below the limit: exactly one passes, because
    passing takes its points with an atomic increment, not a read."""
    monkeypatch.setattr(velocity, "record_security_event", lambda *args, **kwargs: None)
    payer = velocity.Identity(ip="203.0.113.50")
    velocity._add_points(velocity._key("points", "ip", payer.ip), 12, 600)
    assert sum(outcome is None for outcome in race_checks(payer, 8)) == 1


def test_sixteen_simultaneous_first_attempts_let_five_through(monkeypatch):
    """A bot firing sixteen attempts at once from a clean IP gets five through, the number of
    declines allowed: each attempt pays for a decline before Omise is asked."""
    monkeypatch.setattr(velocity, "record_security_event", lambda *args, **kwargs: None)
    payer = velocity.Identity(ip="203.0.113.51")
    assert sum(outcome is None for outcome in race_checks(payer, 16)) == DECLINES_PER_IP


def test_the_same_attempt_posted_twice_pays_once(sandbox, product):
    """A refreshed POST of one attempt (same key) cannot make a second charge, so it adds no
    points: the payer's count after a paid attempt is one point, however often it is sent."""
    client = shopper(product)
    data = {
        **BUYER,
        "omise_token": sandbox.token(PAYS),
        **checkout_form(client, REMOTE_ADDR="203.0.113.9"),
    }
    for _ in range(3):
        assert client.post("/checkout/", data, REMOTE_ADDR="203.0.113.9").status_code == 302
    assert points("ip", "203.0.113.9") == 1
    assert charges(sandbox) == 1


def test_a_reload_of_a_paid_post_shows_its_order_even_once_the_payer_is_blocked(shop, sandbox):
    """The repeat of an attempt already made is answered with its outcome before the limits
    are asked: a block that started since (the same e-mail elsewhere) does not hide it."""
    data = {**BUYER, **checkout_form(shop), "omise_token": sandbox.token(PAYS)}
    first = shop.post("/checkout/", data)
    order = Order.objects.get()
    assert first.status_code == 302 and order.status == Order.Status.PAID
    email = velocity.normalise_email(BUYER["email"])
    cache.set(velocity._key("block", "email", email), time.time() + 600, 600)
    again = shop.post("/checkout/", data)
    assert again.status_code == 302 and again.url == order.get_absolute_url()
    assert charges(sandbox) == 1


@pytest.mark.parametrize(("authorize", "after"), [(True, 1), (False, 3)], ids=["paid", "failed"])
def test_a_pending_charge_keeps_a_declines_points_until_it_is_paid(
    sandbox, product, authorize, after
):
    """A 3-D Secure charge waiting at the bank weighs like a decline (3 points: a bot that never
    finishes 3-D Secure pays in full); paid, it gives 2 back, once, however often the return
    is loaded; failed, it keeps them."""
    client = shopper(product)
    response = attempt(client, sandbox, number=THREE_D_SECURE, ip="203.0.113.10")
    assert points("ip", "203.0.113.10") == 3
    back = urlsplit(
        sandbox.complete_3ds(
            {"authorize_uri": response.context["authorize_uri"]}, authorize=authorize
        )
    ).path
    for _ in range(2):
        client.get(back, REMOTE_ADDR="203.0.113.10")
    assert points("ip", "203.0.113.10") == after


def test_a_payment_settled_later_gives_its_points_back_from_the_shoppers_order_page(
    sandbox, product
):
    """A charge still pending when the shopper returns, paid later (by the bank, a webhook),
    gives its decline's points back when the shopper's own order page sees it paid."""
    client = shopper(product)
    response = attempt(client, sandbox, number=THREE_D_SECURE, ip="203.0.113.12")
    pending = Order.objects.get()
    back = reverse("checkout:return", args=[pending.reference, pending.attempts.get().return_token])
    client.get(back, REMOTE_ADDR="203.0.113.12")  # back before the bank has finished
    assert points("ip", "203.0.113.12") == 3
    sandbox.complete_3ds({"authorize_uri": response.context["authorize_uri"]})
    sandbox.deliver_webhooks()
    assert Order.objects.get().status == Order.Status.PAID
    for _ in range(2):
        client.get(pending.get_absolute_url(), REMOTE_ADDR="203.0.113.12")
    assert points("ip", "203.0.113.12") == 1


def test_the_payment_service_failing_is_no_decline(sandbox, product):
    """Omise refusing the shop (rate limit, bad key) costs the shopper one attempt's point,
    not a decline's: a shop with a key problem does not lock its shoppers out."""
    sandbox.fault("charges.create", "status", status=429, count=6)
    client = shopper(product)
    for _ in range(6):
        assert attempt(client, sandbox, ip="203.0.113.11").status_code == 302
    assert points("ip", "203.0.113.11") == 6
    assert blocks() == []


def points(dimension: str, value: str) -> int:
    return cache.get(velocity._key("points", dimension, value), 0)
