"""Velocity limits hold across processes: two gunicorn workers sharing Redis count together.

The shop runs as in production (DEBUG off, gunicorn with two workers, PostgreSQL, Redis as the
cache), next to the sandbox on its own server. A card tester posts declining cards from one IP
with a new session, email and connection each time, all at once, so the two workers share
the attempts between them. With a per-process cache each worker would let its own five
declines through; with Redis the shop lets exactly five reach Omise in all. Runs in the
PostgreSQL pass of `make test`.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from django.conf import settings

from bench.stack import CARD, csrf, environments, free_port, gunicorn, manage, session
from tests.shopping import shown_fields
from tests.support import skip_or_fail

pytestmark = pytest.mark.postgres
CACHE_URL = "redis://127.0.0.1:6379/13"
# A different declining test card each time, so only the per-IP limit is at stake.
DECLINING = [
    "4111111111140011",
    "4111111111130012",
    "4111111111120013",
    "4111111111110014",
    "4111111111190016",
    "4111111111180017",
]
ATTEMPTS = 16


@pytest.fixture(scope="module")
def stack():
    """Sandbox and shop servers on loopback; a Redis database of their own, emptied first."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("runs in the PostgreSQL pass: pytest --ds=tests.settings_postgres -m postgres")
    try:
        redis.Redis.from_url(CACHE_URL, socket_connect_timeout=3).flushdb()
    except redis.ConnectionError as error:
        skip_or_fail(f"Redis is not reachable at 127.0.0.1:6379 ({error})")
    sandbox_port, shop_port = free_port(), free_port()
    sandbox_env, shop_env = environments(
        sandbox_port,
        shop_port,
        database="shop_velocity_test",
        cache_url=CACHE_URL,
        relax_velocity=False,
    )
    manage(sandbox_env, "migrate", "--noinput")
    manage(sandbox_env, "load_demo")
    manage(shop_env, "collectstatic", "--noinput", "-v0")
    with gunicorn(sandbox_env) as sandbox, gunicorn(shop_env) as shop:
        yield shop, sandbox, shop_env


def prepared_attempt(shop: str, sandbox: str, env: dict, n: int):
    """A card tester's browser at the point of paying, with a fresh session, email and card:
    returns the function that sends the checkout POST and answers its status."""
    tester = session()
    page = tester.get(f"{shop}/products/silk-scarf/", timeout=30).text
    tester.post(
        f"{shop}/cart/add/",
        timeout=30,
        data={"product": "silk-scarf", "quantity": "1", "csrfmiddlewaretoken": csrf(page)},
    )
    form = tester.get(f"{shop}/checkout/", timeout=30).text
    fields = shown_fields(form)
    card = {**CARD, "number": DECLINING[n % len(DECLINING)]}
    token = requests.post(
        f"{sandbox}/sandbox/vault/tokens",
        json={"card": card},
        auth=(env["OMISE_PUBLIC_KEY"], ""),
        timeout=30,
    ).json()["id"]

    def pay() -> int:
        with tester:
            return tester.post(
                f"{shop}/checkout/",
                allow_redirects=False,
                timeout=30,
                data={
                    "email": f"tester{n}@example.com",
                    "name": "Card Tester",
                    "country": "TH",
                    "omise_token": token,
                    **fields,
                    "csrfmiddlewaretoken": csrf(form),
                },
            ).status_code

    return pay


def test_two_workers_sharing_redis_stop_card_testing_at_the_ip_limit(stack):
    """Sixteen declining attempts from one IP, sent all at once to two workers: five charges
    reach Omise, the rest are answered 429 by whichever worker gets them, and the counts live
    in Redis. (Were a decline counted only after Omise answered, all sixteen would pass.)"""
    shop, sandbox, env = stack
    payments = [prepared_attempt(shop, sandbox, env, n) for n in range(ATTEMPTS)]
    start = threading.Barrier(ATTEMPTS)

    def send(pay) -> int:
        start.wait(timeout=30)
        return pay()

    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        statuses = list(pool.map(send, payments))

    charges = requests.get(
        f"{sandbox}/sandbox/api/charges?limit=100", timeout=30, auth=(env["OMISE_SECRET_KEY"], "")
    ).json()
    ip_limit, _, _ = settings.CHECKOUT_VELOCITY_LIMITS["ip"]
    declines_allowed = ip_limit // settings.CHECKOUT_VELOCITY_DECLINE_POINTS
    assert charges["total"] == declines_allowed == 5
    assert sorted(statuses) == [302] * 5 + [429] * (ATTEMPTS - 5)
    assert redis.Redis.from_url(CACHE_URL).keys("*velocity*"), "the counts are not in Redis"
