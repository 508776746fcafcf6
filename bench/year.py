"""A busy year of data, and what the pages and jobs that read it cost at that size.

`fill` makes a PostgreSQL database hold a year of a busy shop (YEAR: 100,000 orders with their
attempts and items, 1,000,000 security events, 300,000 webhook deliveries of 100,000 events),
or a fraction of it, in a few statements run by PostgreSQL itself (INSERT … SELECT over
generate_series: no row crosses the wire). Rows are spread evenly over the 365 days before
now, ids growing with time as in a real shop. Attempts still awaiting reconcile are UNSETTLED
at any size: a running shop settles them within minutes, so they do not pile up with a year.

`measure` (run in a subprocess per database, `python -m bench.year measure`, on the
production settings of bench/settings.py) times each page or job with Django's test client,
in process, the median of REPEAT runs after a warm-up, and counts its SQL queries:

- the shopper's order page; the admin's order list (unfiltered, filtered by status and
  country, searched by e-mail and by charge id); the security-event list (unfiltered,
  filtered by kind); the monitoring dashboard (24 hours and 14 days, one page); the reconcile
  job (`reconcile_payments`, Omise answered by a stub in process: only the shop's own work is
  timed); the webhook receiver (new events and their duplicates, processing deferred).

`run` fills the full and the 1 % databases and returns both measurements: each page's time at
a year ÷ its time at 1 % of it, target ≤ 2.
"""

import base64
import hashlib
import hmac
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import time

import psycopg

from bench.stack import PG, ROOT, manage

YEAR = {"orders": 100_000, "security_events": 1_000_000, "deliveries": 300_000}
DELIVERIES_PER_EVENT = 3  # Omise retries, and duplicates: about three deliveries an event
UNSETTLED = 50
REPEAT = 7  # timed runs of each page per measurement (median)
ROUNDS = 3  # measurements of each database, in alternation
SMALL = 0.01
DATABASES = {
    "year": os.environ.get("BENCH_YEAR_DATABASE", "shop_bench_year"),
    "small": os.environ.get("BENCH_SMALL_DATABASE", "shop_bench_year_small"),
}
GENERATOR = "year-1"  # bump when the generated data change: a kept database is filled again

# Each statement takes %(n)s (its row count) and %(unsettled)s (%% is the modulo operator);
# rows spread over a year.
FILL = [
    # Orders: 82 % paid, 12 % failed, 3 % expired, 3 % (partly) refunded; the newest UNSETTLED
    # still pending, an hour old. Customers come back (a third as many e-mails as orders).
    """
    INSERT INTO checkout_order (reference, access_token, status, amount, currency,
        refunded_amount, email, name, phone, country, street1, street2, city, state,
        postal_code, client_ip, cart_id, created_at, updated_at, paid_at, language)
    SELECT 'LG-' || translate(upper(lpad(to_hex(i), 8, '0')), '01', 'WX'),
        md5('access' || i), s.status, s.amount, 'THB',
        CASE s.status WHEN 'refunded' THEN s.amount WHEN 'partially_refunded' THEN s.amount / 2
            ELSE 0 END,
        'buyer' || (i %% greatest(%(n)s / 3, 1)) || '@example.com',
        'Buyer ' || (i %% greatest(%(n)s / 3, 1)), '+66 81 234 5678',
        (ARRAY['TH', 'TH', 'TH', 'TH', 'SG', 'MY', 'JP', 'US'])[1 + i %% 8],
        '1 Nimman Road', '', 'Chiang Mai', '', '50200',
        ('10.' || (i %% 200) || '.' || (i / 200 %% 250) || '.' || (i %% 250))::inet,
        md5('cart' || i), s.at, s.at, CASE WHEN s.status <> 'pending' THEN s.at END,
        (ARRAY['th', 'en'])[1 + i %% 2]
    FROM generate_series(1, %(n)s) AS i,
    LATERAL (SELECT
        CASE WHEN i > %(n)s - %(unsettled)s THEN 'pending'
             WHEN i %% 100 < 82 THEN 'paid' WHEN i %% 100 < 94 THEN 'failed'
             WHEN i %% 100 < 97 THEN 'expired' WHEN i %% 100 < 99 THEN 'refunded'
             ELSE 'partially_refunded' END AS status,
        45000 + (i * 7919) %% 300000 AS amount,
        CASE WHEN i > %(n)s - %(unsettled)s
             THEN now() - interval '1 hour' - (%(n)s - i) * interval '1 second'
             ELSE now() - interval '365 days' * (1 - i::float / %(n)s) - interval '2 hours'
        END AS at) AS s
    """,
    # One attempt per order, in the order's state; a tenth of the paid orders had a declined
    # attempt first.
    """
    INSERT INTO checkout_paymentattempt (order_id, key, return_token, charge_id, status,
        amount, currency, failure_code, failure_message, authorize_uri, card_brand,
        card_last_digits, card_fingerprint, payment_method, qr_code_uri, created_at,
        updated_at, merchant_advice, merchant_advice_code, missing_3ds_fields)
    SELECT o.id, md5('key' || o.id), md5('return' || o.id), 'chrg_test_' || md5('c' || o.id),
        CASE o.status WHEN 'paid' THEN 'successful' WHEN 'refunded' THEN 'successful'
            WHEN 'partially_refunded' THEN 'successful' ELSE o.status END,
        o.amount, 'THB',
        CASE WHEN o.status = 'failed' THEN 'insufficient_fund' ELSE '' END,
        CASE WHEN o.status = 'failed' THEN 'insufficient funds' ELSE '' END,
        CASE WHEN o.status = 'pending' THEN 'https://bank.example/3ds/' || o.id ELSE '' END,
        'Visa', '4242', md5('card' || (o.id %% 5000)), 'card', '', o.created_at, o.created_at,
        '', '', '[]'::jsonb
    FROM checkout_order o
    UNION ALL
    SELECT o.id, md5('key0' || o.id), md5('return0' || o.id),
        'chrg_test_' || md5('d' || o.id), 'failed', o.amount, 'THB', 'insufficient_fund',
        'insufficient funds', '', 'Visa', '0002', md5('card' || (o.id %% 5000 + 1)), 'card',
        '', o.created_at - interval '1 minute', o.created_at - interval '1 minute', '', '',
        '[]'::jsonb
    FROM checkout_order o WHERE o.status = 'paid' AND o.id %% 10 = 0
    """,
    # One to three items an order, of the demo catalog's products.
    """
    INSERT INTO checkout_orderitem (order_id, product_id, name, sku, unit_price, quantity)
    SELECT o.id, p.id, p.name, p.slug, p.price, 1 + k %% 2
    FROM checkout_order o
    CROSS JOIN LATERAL generate_series(1, 1 + o.id %% 3) AS k
    JOIN LATERAL (SELECT * FROM shop_product ORDER BY id
                  OFFSET (o.id + k) %% greatest((SELECT count(*) FROM shop_product), 1)
                  LIMIT 1) AS p ON true
    """,
    # Security events: mostly CSP reports and card-guard refusals, then unverified webhooks,
    # login failures and velocity blocks; a few of the rare kinds.
    """
    INSERT INTO shop_securityevent (kind, path, field_name, client_ip, user_agent, detail,
        created_at)
    SELECT s.kind,
        CASE s.kind WHEN 'csp_violation' THEN '/csp-report/'
            WHEN 'webhook_rejected' THEN '/webhooks/omise/'
            WHEN 'login_failure' THEN '/admin/login/' ELSE '/checkout/' END,
        CASE s.kind WHEN 'card_data_refused' THEN 'note' ELSE '' END,
        ('172.' || (16 + i %% 16) || '.' || (i / 16 %% 250) || '.' || (i %% 250))::inet,
        'Mozilla/5.0 (X11; Linux x86_64) bench/' || (i %% 50),
        jsonb_build_object('n', i, 'reason', 'bench'),
        now() - interval '365 days' * (1 - i::float / %(n)s) - interval '2 hours'
    FROM generate_series(1, %(n)s) AS i,
    LATERAL (SELECT CASE WHEN i %% 200 < 80 THEN 'csp_violation'
        WHEN i %% 200 < 120 THEN 'card_data_refused' WHEN i %% 200 < 150 THEN 'webhook_rejected'
        WHEN i %% 200 < 180 THEN 'login_failure' WHEN i %% 200 < 196 THEN 'velocity_block'
        WHEN i %% 200 < 198 THEN 'otp_failure' WHEN i %% 200 < 199 THEN 'login_lockout'
        ELSE 'duplicate_payment' END AS kind) AS s
    """,
    # Webhook events (applied) and their deliveries, about a kilobyte of body each.
    """
    INSERT INTO checkout_webhookevent (event_id, key, livemode, data, processed_at, created_at,
        arrival)
    SELECT 'evnt_test_' || md5('e' || e), 'charge.complete', false,
        jsonb_build_object('object', 'event', 'id', 'evnt_test_' || md5('e' || e),
            'key', 'charge.complete',
            'data', jsonb_build_object('object', 'charge', 'id', 'chrg_test_' || md5('c' || e))),
        s.at, s.at, 'webhook'
    FROM generate_series(1, greatest(%(n)s / 3, 1)) AS e,
    LATERAL (SELECT now() - interval '365 days' * (1 - e::float / greatest(%(n)s / 3, 1))
        - interval '2 hours' AS at) AS s
    """,
    """
    INSERT INTO checkout_webhookdelivery (received_at, remote_ip, headers, body, event_id,
        signature_valid, signature_digest, response_status, outcome)
    SELECT now() - interval '365 days' * (1 - i::float / %(n)s) - interval '2 hours',
        ('203.0.113.' || (i %% 250))::inet,
        jsonb_build_object('Content-Type', 'application/json', 'User-Agent', 'Omise/2019-05-29',
            'Omise-Signature', md5('s' || i) || md5('t' || i)),
        '{"object": "event", "id": "evnt_test_' || md5('e' || (i / 3 + 1)) || '", '
            || '"key": "charge.complete", "created_at": "2026-01-01T00:00:00Z", '
            || '"data": {"object": "charge", "id": "chrg_test_' || md5('c' || i) || '", '
            || '"amount": 129000, "currency": "thb", "status": "successful", '
            || '"description": "Lanna Goods order: 1 × Celadon mug", '
            || repeat('"padding": "bench", ', 30) || '"paid": true}}',
        'evnt_test_' || md5('e' || (i / 3 + 1)), true, md5('digest' || i) || md5('d2' || i),
        CASE WHEN i %% 200 = 0 THEN 500 WHEN i %% 200 = 1 THEN 400 ELSE 200 END,
        CASE WHEN i %% 200 = 0 THEN 'processing failed; will be retried'
            WHEN i %% 200 = 1 THEN 'unknown event id'
            WHEN i %% 3 = 0 THEN 'applied' ELSE 'duplicate: already applied' END
    FROM generate_series(1, %(n)s) AS i
    """,
]
COUNTS = ["orders", "orders", "orders", "security_events", "deliveries", "deliveries"]


def url(name: str) -> str:
    return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


def _marker(name: str) -> str | None:
    """The generator version a kept database was filled by, or None."""
    try:
        with psycopg.connect(**PG, dbname=name, connect_timeout=5) as conn:
            row = conn.execute("SELECT version FROM bench_year_generator").fetchone()
            return row[0] if row else None
    except psycopg.Error:
        return None


def fill(name: str, *, fraction: float, env: dict) -> float:
    """Create database `name` with the shop's tables holding `fraction` of a year; seconds.

    BENCH_KEEP_YEAR=1 keeps a database this generator version already filled (migrations are
    still applied to it): for repeated runs while working on the pages.
    """
    started = time.perf_counter()
    keep = os.environ.get("BENCH_KEEP_YEAR") == "1" and _marker(name) == GENERATOR
    if not keep:
        with psycopg.connect(**PG, dbname="postgres", autocommit=True, connect_timeout=5) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{name}"')
    manage({**env, "DATABASE_URL": url(name)}, "migrate", "--noinput", timeout=900)
    if keep:
        return time.perf_counter() - started
    manage({**env, "DATABASE_URL": url(name)}, "load_demo", timeout=900)
    with psycopg.connect(**PG, dbname=name, connect_timeout=5) as conn:
        for statement, count in zip(FILL, COUNTS, strict=True):
            conn.execute(
                statement, {"n": max(int(YEAR[count] * fraction), 1), "unsettled": UNSETTLED}
            )
        conn.execute("CREATE TABLE bench_year_generator (version text)")
        conn.execute("INSERT INTO bench_year_generator VALUES (%s)", [GENERATOR])
    with psycopg.connect(**PG, dbname=name, autocommit=True, connect_timeout=5) as conn:
        conn.execute("VACUUM ANALYZE")  # as autovacuum would have, over a year
    return time.perf_counter() - started


def environment(cache_url: str) -> dict:
    """Production settings (bench/settings.py) in process: DEBUG off, PostgreSQL, Redis."""
    return {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "CACHE_URL": cache_url,
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "ERROR",
        "OMISE_PUBLIC_KEY": "pkey_test_" + secrets.token_hex(10),
        "OMISE_SECRET_KEY": "skey_test_" + secrets.token_hex(10),
        "OMISE_WEBHOOK_SECRET": base64.b64encode(secrets.token_bytes(32)).decode(),
        # Nothing listens there: the stub below answers for Omise.
        "OMISE_API_URL": "http://127.0.0.1:9/api",
        "OMISE_VAULT_URL": "http://127.0.0.1:9/vault",
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "WEBHOOK_PROCESSING": "deferred",
    }


def run(cache_url: str, rounds: int = ROUNDS) -> dict:
    """Fill both databases, then measure them in alternation `rounds` times (a neighbour's
    burst then hits both sizes alike); per page the median of the rounds' medians.
    {"year": {page: {"seconds", "queries"}}, "small": {...}, "fill": {size: seconds}}."""
    env = environment(cache_url)
    fill_seconds = {
        "year": fill(DATABASES["year"], fraction=1.0, env=env),
        "small": fill(DATABASES["small"], fraction=SMALL, env=env),
    }
    runs: dict[str, list[dict]] = {size: [] for size in DATABASES}
    for _ in range(rounds):
        for size, name in DATABASES.items():
            answer = subprocess.run(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "bench.year", "measure"],
                cwd=ROOT,
                env={**env, "DATABASE_URL": url(name)},
                check=True,
                capture_output=True,
                text=True,
                timeout=900,
            )
            runs[size].append(json.loads(answer.stdout.strip().splitlines()[-1]))
    results = {
        size: {
            page: {
                "seconds": statistics.median(r[page]["seconds"] for r in measured),
                "queries": max(r[page]["queries"] for r in measured),
            }
            for page in measured[0]
        }
        for size, measured in runs.items()
    }
    return {**results, "fill": fill_seconds}


def table(figures: dict) -> list[str]:
    """Markdown rows: each page at a year ÷ at 1 % of it, with its queries."""
    rows = ["| page or job | at a year ÷ at 1 % | target | met |", "|---|---|---|---|"]
    for page, big in figures["year"].items():
        small = figures["small"][page]
        ratio = big["seconds"] / small["seconds"]
        rows.append(
            f"| {page} | {ratio:.2f} ({big['seconds'] * 1e3:.1f} ms vs "
            f"{small['seconds'] * 1e3:.1f} ms; queries {big['queries']} vs "
            f"{small['queries']}) | ≤ 2 | {'✓' if ratio <= 2 else '✗'} |"
        )
    return rows


# --- in the measuring subprocess --------------------------------------------------------------


class StubOmise:
    """Answers retrieve_charge for the unsettled attempts as Omise would for a charge still
    at the bank, so reconcile applies it (locks, checks, saves) and leaves it pending: the
    job can be timed again and again. Only the shop's own work is in the time."""

    def __init__(self, charges: dict[str, dict]):
        self.charges = charges

    def retrieve_charge(self, charge_id: str) -> dict:
        return json.loads(json.dumps(self.charges[charge_id]))


def _timed(action, repeat: int = REPEAT) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    action()  # warm: templates compiled, connections open, plans cached
    times, queries = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
        queries.append(len(captured))
    return {"seconds": statistics.median(times), "queries": max(queries)}


def _staff_client():
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    password = secrets.token_urlsafe(16)
    user = get_user_model().objects.filter(username="bench-operator").first()
    if user is None:
        user = get_user_model().objects.create_user(
            "bench-operator", "operator@example.com", password, is_staff=True, is_superuser=True
        )
    else:
        user.set_password(password)
        user.save()
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    code = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
    client = Client()
    answer = client.post(
        "/admin/login/",
        {"username": user.username, "password": password, "otp_token": code, "next": "/admin/"},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert answer.status_code == 302, answer.status_code
    return client


def _get(client, path: str, status: int = 200):
    def action():
        answer = client.get(path, headers={"X-Forwarded-Proto": "https"})
        assert answer.status_code == status, (path, answer.status_code)

    return action


def _webhooks(secret: str):
    """Deliveries of new events, each followed by two duplicates (signed anew, as Omise signs
    a retry): one round of the receiver's work, over tables already holding the year."""
    from django.test import Client

    client, key = Client(), base64.b64decode(secret)

    def action():
        for _ in range(5):
            body = json.dumps(
                {"object": "event", "id": f"evnt_test_{secrets.token_hex(10)}", "key": "x"}
            ).encode()
            for copy in range(DELIVERIES_PER_EVENT):
                stamp = str(int(time.time()) - copy)
                signature = hmac.new(key, f"{stamp}.".encode() + body, hashlib.sha256)
                answer = client.post(
                    "/webhooks/omise/",
                    data=body,
                    content_type="application/json",
                    headers={
                        "X-Forwarded-Proto": "https",
                        "Omise-Signature": signature.hexdigest(),
                        "Omise-Signature-Timestamp": stamp,
                    },
                )
                assert answer.status_code in (200, 202), answer.status_code

    return action


def measure() -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command

    import checkout.events
    import checkout.reconcile
    import checkout.services
    from checkout.models import Order, PaymentAttempt

    cache.clear()
    pending = list(
        PaymentAttempt.objects.exclude(status__in=checkout.services.SETTLED).select_related("order")
    )
    stub = StubOmise(
        {
            a.charge_id: {
                "object": "charge",
                "id": a.charge_id,
                "status": "pending",
                "amount": a.amount,
                "currency": a.currency.lower(),
                "authorized": False,
                "authorize_uri": a.authorize_uri,
                "metadata": {"order_reference": a.order.reference, "attempt": a.key},
            }
            for a in pending
        }
    )
    for module in (checkout.services, checkout.reconcile, checkout.events):
        module.get_client = lambda: stub  # type: ignore[attr-defined]

    order = Order.objects.filter(status=Order.Status.PAID).order_by("-pk")[500:501].get()
    charge = order.attempts.exclude(charge_id=None).first().charge_id
    staff = _staff_client()
    shopper = _get(staff, order.get_absolute_url())
    pages = {
        "order page": shopper,
        "admin order list": _get(staff, "/admin/checkout/order/"),
        "admin order list, filtered by status and country": _get(
            staff, "/admin/checkout/order/?status__exact=paid&country=TH"
        ),
        "admin order list, searched by e-mail": _get(
            staff, f"/admin/checkout/order/?q={order.email}"
        ),
        "admin order list, searched by charge id": _get(
            staff, f"/admin/checkout/order/?q={charge}"
        ),
        "security-event list": _get(staff, "/admin/security/securityevent/"),
        "security-event list, filtered by kind": _get(
            staff, "/admin/security/securityevent/?kind__exact=card_data_refused"
        ),
        "monitoring dashboard (24 h and 14 days)": _get(staff, "/admin/checkout/order/monitoring/"),
        "reconcile job (50 unsettled attempts)": lambda: call_command(
            "reconcile_payments", "--older-than=60", stdout=io.StringIO()
        ),
        "webhook receiver (5 new events, 3 deliveries each)": _webhooks(
            settings.OMISE_WEBHOOK_SECRET
        ),
    }
    return {name: _timed(action) for name, action in pages.items()}


if __name__ == "__main__" and sys.argv[1:] == ["measure"]:
    print(json.dumps(measure()))
