"""The production stack under load: gunicorn workers on loopback, PostgreSQL, Redis.

Two gunicorn servers are started: "Omise" (the offline sandbox) and the shop (DEBUG off,
bench/settings.py: production settings, the baseline views of bench/stack_urls.py, and the
counting middleware of bench/instrument.py). Every target is a ratio against a baseline that
does the same essential work on the same server in the same run, so the machine's speed (and
the other processes sharing it) cancels out; the absolute numbers are only context.

- Catalog and product pages: requests per second under concurrent clients, ÷ those of a bare
  view rendering the same template with the same data held in memory.
- Checkout: the POST /checkout/ time minus the time the worker waited on the sandbox in that
  same request, ÷ the same for a minimal correct checkout (bench/stack_urls.py), the two in
  alternation; with what each sent to PostgreSQL, Redis and Omise.
- Webhook receiver: signed deliveries per second on two workers, duplicates included, ÷ the
  bare view's requests per second from the same number of clients; p99 latency.

The load generator is Python threads on the same machine, sharing the CPUs with the servers:
the ratios are fair to both sides, the absolute rates are lower than a dedicated client's.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DB_NAME = os.environ.get("BENCH_DATABASE", "shop_bench")
REDIS_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/14")
BUYER = {
    "email": "bench@example.com",
    "name": "Bench Buyer",
    "country": "TH",
    "phone": "+66 81 234 5678",
    "street1": "1 Road",
    "city": "Chiang Mai",
    "postal_code": "50200",
}
CARD = {
    "name": "Bench Buyer",
    "number": "4242424242424242",
    "expiration_month": 12,
    "expiration_year": 2099,
    "security_code": "123",
}
LOAD_SECONDS = 3.0  # per measurement; every loop below is bounded by count or by time
PAIR_SECONDS = 1.5  # per load of a pair (a page and its baseline, in alternation)
ROUNDS = 5  # pairs per comparison; the median ratio is reported
CLIENT_THREADS = 4
STORM_THREADS = 8  # webhook deliverers, and the bare view's clients it is compared with
CHECKOUTS = 25
DUPLICATES = 20  # each webhook event delivered this many times


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_database(name: str = DB_NAME) -> str:
    """An empty PostgreSQL database for this run (dropped and created again)."""
    with psycopg.connect(**PG, dbname="postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


def fresh_cache(url: str) -> str:
    """An empty Redis database for this run: no rate-limit counts left from an earlier one."""
    redis.Redis.from_url(url, socket_connect_timeout=5).flushdb()
    return url


def environments(
    sandbox_port: int,
    shop_port: int,
    *,
    database: str = DB_NAME,
    cache_url: str = REDIS_URL,
    relax_velocity: bool = True,
) -> tuple[dict, dict]:
    """(sandbox env, shop env): one set of generated test keys, shared by both."""
    keys = {
        "OMISE_PUBLIC_KEY": "pkey_test_" + secrets.token_hex(10),
        "OMISE_SECRET_KEY": "skey_test_" + secrets.token_hex(10),
        "OMISE_WEBHOOK_SECRET": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    common = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "",
        "DATABASE_URL": fresh_database(database),
        "CACHE_URL": fresh_cache(cache_url),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        # Persistent connections, as docs/deploy-platforms.md recommends for production.
        "CONN_MAX_AGE": "60",
        # Background work in the database queue, as docs/deploy.md deploys it (the deploy check
        # mails.W001 asks for it): a checkout queues its mail for a worker instead of sending it
        # while the shopper waits. No worker runs here; the mails stay queued.
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "LOG_LEVEL": "WARNING",
        **keys,
    }
    omise = f"http://127.0.0.1:{sandbox_port}/sandbox"
    sandbox = {
        **common,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "OMISE_SANDBOX": "true",
        "PORT": str(sandbox_port),
        "SANDBOX_ORIGIN": f"http://127.0.0.1:{sandbox_port}",
        "SANDBOX_WEBHOOK_DELIVERY": "manual",
    }
    # One load generator is one IP, session, email and card: without these, velocity limits would
    # rightly stop the checkout benchmark after a handful of orders.
    generous = {
        f"CHECKOUT_VELOCITY_{d}": "1000000,600,3600"
        for d in ("IP", "SESSION", "EMAIL", "CARD")
        if relax_velocity
    }
    shop = {
        **common,
        **generous,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "PORT": str(shop_port),
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "OMISE_API_URL": f"{omise}/api",
        "OMISE_VAULT_URL": f"{omise}/vault",
        "OMISE_JS_URL": f"{omise}/omise.js",
    }
    return sandbox, shop


def manage(env: dict, *args: str, timeout: float = 300) -> None:
    subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=timeout,
    )


@contextmanager
def gunicorn(env: dict):
    """gunicorn with the project's config; stopped (and waited for) when the block ends."""
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [str(BIN / "gunicorn"), "config.wsgi", "-c", "deploy/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url + "/", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # not up, or a busy machine
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn on {url} did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # loopback only: never through a proxy from the environment
    return http


def load(url: str, *, seconds: float = LOAD_SECONDS, threads: int = CLIENT_THREADS) -> dict:
    """GET `url` from `threads` keep-alive clients for `seconds`: rate and latencies."""
    latencies, lock, deadline = [], threading.Lock(), time.monotonic() + seconds

    def client():
        mine = []
        with session() as http:
            while time.monotonic() < deadline:
                start = time.perf_counter()
                response = http.get(url, timeout=30)
                mine.append(time.perf_counter() - start)
                assert response.status_code == 200, (url, response.status_code)
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"rate": len(latencies) / (time.monotonic() - started), **percentiles(latencies)}


def percentiles(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {"p50": ordered[len(ordered) // 2], "p99": ordered[int(len(ordered) * 0.99) - 1]}


def csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


COUNTS = {
    "sql": "X-Bench-SQL",
    "round_trips": "X-Bench-PG-Round-Trips",
    "commits": "X-Bench-Commits",
    "redis": "X-Bench-Redis",
    "omise": "X-Bench-Omise",
}


def _costed(response: requests.Response, seconds: float, costs: list, counts: list) -> None:
    """Record one checkout POST: its server cost (client-observed time minus the time the worker
    waited on the sandbox in that very request) and what it sent to PostgreSQL, Redis, Omise."""
    costs.append(seconds - float(response.headers["X-Bench-Omise-Seconds"]))
    counts.append(
        {name: int(response.headers[header]) for name, header in COUNTS.items()}
        | {
            "pg_ms": 1e3 * float(response.headers["X-Bench-PG-Seconds"]),
            "redis_ms": 1e3 * float(response.headers["X-Bench-Redis-Seconds"]),
        }
    )


def _median_counts(counts: list[dict]) -> dict:
    return {name: statistics.median(c[name] for c in counts) for name in counts[0]}


def checkout_costs(shop: str, sandbox: str, env: dict, slug: str) -> dict:
    """Median server cost (seconds) of the shop's checkout POST and of the bare checkout's, in
    alternation, each with the sandbox's latency in that request subtracted; and the median
    per-checkout counts of SQL statements, round trips, commits, Redis and Omise calls."""
    pkey = (env["OMISE_PUBLIC_KEY"], "")
    shop_costs, shop_counts, bare_costs, bare_counts, omise = [], [], [], [], []
    with session() as vault:

        def token() -> str:
            return vault.post(
                f"{sandbox}/sandbox/vault/tokens", json={"card": CARD}, auth=pkey, timeout=30
            ).json()["id"]

        for _ in range(CHECKOUTS):
            with session() as shopper:
                page = shopper.get(f"{shop}/products/{slug}/", timeout=30).text
                shopper.post(
                    f"{shop}/cart/add/",
                    timeout=30,
                    data={"product": slug, "quantity": "1", "csrfmiddlewaretoken": csrf(page)},
                )
                form = shopper.get(f"{shop}/checkout/", timeout=30).text
                # The form's hidden fields, as a browser sends them back: the attempt key, the
                # total and cart fingerprint the shopper was shown, the CSRF token.
                hidden = dict(
                    re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)
                )
                card = token()
                start = time.perf_counter()
                answer = shopper.post(
                    f"{shop}/checkout/",
                    allow_redirects=False,
                    timeout=30,
                    data={**hidden, **BUYER, "omise_token": card},
                )
                elapsed = time.perf_counter() - start
                assert answer.status_code == 302 and "/orders/" in answer.headers["Location"], (
                    answer.status_code,
                    answer.headers.get("Location"),
                    answer.text[:500],
                )
                _costed(answer, elapsed, shop_costs, shop_counts)
                omise.append(float(answer.headers["X-Bench-Omise-Seconds"]))
            with session() as shopper:
                url = f"{shop}/bench/checkout/{slug}/"
                page = shopper.get(url, timeout=30).text
                card = token()
                start = time.perf_counter()
                answer = shopper.post(
                    url,
                    allow_redirects=False,
                    timeout=30,
                    data={
                        "csrfmiddlewaretoken": csrf(page),
                        "email": BUYER["email"],
                        "omise_token": card,
                    },
                )
                elapsed = time.perf_counter() - start
                assert answer.status_code == 302 and "/orders/" in answer.headers["Location"], (
                    answer.status_code,
                    answer.text[:500],
                )
                _costed(answer, elapsed, bare_costs, bare_counts)
    return {
        "shop": statistics.median(shop_costs),
        "bare": statistics.median(bare_costs),
        "omise": statistics.median(omise),
        "shop_counts": _median_counts(shop_counts),
        "bare_counts": _median_counts(bare_counts),
    }


def webhook_storm(shop: str, sandbox: str, env: dict, threads: int = STORM_THREADS) -> dict:
    """Deliver every sandbox event DUPLICATES times, signed, from `threads` clients."""
    events = requests.get(
        f"{sandbox}/sandbox/api/events?limit=100", timeout=30, auth=(env["OMISE_SECRET_KEY"], "")
    ).json()["data"]
    bodies = [json.dumps(event).encode() for event in events] * DUPLICATES
    secret = base64.b64decode(env["OMISE_WEBHOOK_SECRET"])
    latencies, statuses, lock = [], {}, threading.Lock()
    pending = iter(bodies)

    def deliverer():
        mine, codes = [], {}
        with session() as http:
            while True:
                with lock:
                    body = next(pending, None)
                if body is None:
                    break
                stamp = str(int(time.time()))
                signature = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256)
                start = time.perf_counter()
                response = http.post(
                    f"{shop}/webhooks/omise/",
                    data=body,
                    timeout=30,
                    headers={
                        "Content-Type": "application/json",
                        "X-Forwarded-Proto": "https",
                        "Omise-Signature": signature.hexdigest(),
                        "Omise-Signature-Timestamp": stamp,
                    },
                )
                mine.append(time.perf_counter() - start)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
        with lock:
            latencies.extend(mine)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n

    started = time.monotonic()
    workers = [threading.Thread(target=deliverer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    return {
        "events": len(events),
        "deliveries": len(bodies),
        "rate": len(bodies) / elapsed,
        "statuses": statuses,
        **percentiles(latencies),
    }


def forget_webhooks(database_url: str) -> None:
    """Empty the webhook tables, so the next storm's first deliveries are new events again."""
    with psycopg.connect(
        database_url.replace("postgres://", "postgresql://"), autocommit=True, connect_timeout=5
    ) as conn:
        conn.execute("TRUNCATE checkout_webhookevent, checkout_webhookdelivery")


def run() -> dict:
    """Start the stack, measure everything, stop it. Returns the raw figures."""
    sandbox_port, shop_port, deferred_port = free_port(), free_port(), free_port()
    sandbox_env, shop_env = environments(sandbox_port, shop_port)
    # The same shop with webhook processing queued for a worker (docs/operations.md).
    deferred_env = {
        **shop_env,
        "PORT": str(deferred_port),
        "WEBHOOK_PROCESSING": "deferred",
    }
    manage(sandbox_env, "migrate", "--noinput")  # all apps: the sandbox's and the queue's
    manage(sandbox_env, "load_demo")
    manage(shop_env, "collectstatic", "--noinput", "-v0")
    with ExitStack() as stack:
        sandbox = stack.enter_context(gunicorn(sandbox_env))
        shop = stack.enter_context(gunicorn(shop_env))
        page = requests.get(shop + "/", timeout=30).text
        slug = re.search(r'href="/products/([^/"]+)/"', page).group(1)
        figures = {
            "catalog": paired_loads(f"{shop}/", f"{shop}/bench/catalog/"),
            "product": paired_loads(f"{shop}/products/{slug}/", f"{shop}/bench/product/{slug}/"),
            "checkout": checkout_costs(shop, sandbox, shop_env, slug),
        }
        stack.close()  # the shop stops: each storm gets a shop of its own
        sandbox = stack.enter_context(gunicorn(sandbox_env))
        figures["webhooks"] = paired_storms(shop_env, sandbox)
        figures["webhooks_deferred"] = paired_storms(deferred_env, sandbox)
    return figures


def paired_loads(url: str, baseline: str, rounds: int = ROUNDS) -> dict:
    """`url` and `baseline` loaded in alternation, `rounds` times: the median of the rounds'
    ratios (each round's two loads close in time, so a neighbour's burst hits both), and the
    median rates."""
    pairs = [
        (load(url, seconds=PAIR_SECONDS), load(baseline, seconds=PAIR_SECONDS))
        for _ in range(rounds)
    ]
    return {
        "ratio": statistics.median(a["rate"] / b["rate"] for a, b in pairs),
        "rate": statistics.median(a["rate"] for a, _ in pairs),
        "baseline": statistics.median(b["rate"] for _, b in pairs),
    }


def paired_storms(env: dict, sandbox: str, rounds: int = ROUNDS) -> dict:
    """`rounds` webhook storms, each on a shop started afresh over empty webhook tables (every
    event new at first, then its duplicates; a worker's memory of known deliveries and events
    starts empty too), each beside a load of the bare view from as many clients on the same
    shop: the median ratio of deliveries/s to requests/s, the median rates and latencies."""
    storms, bares = [], []
    for _ in range(rounds):
        forget_webhooks(env["DATABASE_URL"])
        with gunicorn(env) as shop:
            for _ in range(10):  # warm both workers, as the pages' loads do
                requests.get(f"{shop}/bench/bare/", timeout=30)
            storms.append(webhook_storm(shop, sandbox, env))
            bares.append(load(f"{shop}/bench/bare/", seconds=PAIR_SECONDS, threads=STORM_THREADS))
    median = storms[0] | {
        key: statistics.median(storm[key] for storm in storms) for key in ("rate", "p50", "p99")
    }
    return median | {
        "ratio": statistics.median(
            s["rate"] / b["rate"] for s, b in zip(storms, bares, strict=True)
        ),
        "baseline": statistics.median(b["rate"] for b in bares),
    }


def row(label: str, value: str, target: str, met: bool | None) -> str:
    mark = "—" if met is None else ("✓" if met else "✗")
    return f"| {label} | {value} | {target} | {mark} |"


def table(figures: dict, counts: dict[str, list[int]]) -> list[str]:
    """Markdown rows: measure, result, target, met? Every target a ratio of the same run."""
    rows = ["| measure | result | target | met |", "|---|---|---|---|"]
    for page in ("catalog", "product"):
        pair = figures[page]
        rows.append(
            row(
                f"{page} page throughput ÷ bare view rendering its template with the same data",
                f"{pair['ratio']:.2f} ({pair['rate']:.0f} vs {pair['baseline']:.0f} req/s)",
                "≥ 0.8",
                pair["ratio"] >= 0.8,
            )
        )
        rows.append(
            row(
                f"{page} page SQL queries at 10 / 1,000 products (cold; warm: 0)",
                " / ".join(map(str, counts[page])),
                "constant",
                len(set(counts[page])) == 1,
            )
        )
    checkout = figures["checkout"]
    ratio = checkout["shop"] / checkout["bare"]
    rows.append(
        row(
            "checkout POST server cost ÷ minimal correct checkout's (sandbox latency subtracted)",
            f"{ratio:.2f} ({checkout['shop'] * 1e3:.1f} ms vs {checkout['bare'] * 1e3:.1f} ms; "
            f"sandbox charge {checkout['omise'] * 1e3:.1f} ms subtracted)",
            "≤ 2",
            ratio <= 2,
        )
    )
    for name, label in (("shop_counts", "shop"), ("bare_counts", "minimal")):
        c = checkout[name]
        rows.append(
            row(
                f"per checkout, {label}: SQL statements / PostgreSQL round trips / commits / "
                "Redis round trips / Omise calls (time in PostgreSQL, in Redis)",
                f"{c['sql']:.0f} / {c['round_trips']:.0f} / {c['commits']:.0f} / "
                f"{c['redis']:.0f} / {c['omise']:.0f} ({c['pg_ms']:.1f} ms, "
                f"{c['redis_ms']:.1f} ms)",
                "—",
                None,
            )
        )
    inline, deferred = figures["webhooks"], figures["webhooks_deferred"]
    ratio = deferred["ratio"]
    rows.append(
        row(
            "webhook deliveries/s ÷ bare view req/s, 2 workers, same clients, processing deferred",
            f"{ratio:.2f} ({deferred['rate']:.0f} vs {deferred['baseline']:.0f}/s; "
            f"{deferred['deliveries']} deliveries of {deferred['events']} events, "
            f"statuses {deferred['statuses']})",
            "≥ 0.6",
            ratio >= 0.6,
        )
    )
    rows.append(
        row(
            "webhook delivery latency p99 (p50), deferred",
            f"{deferred['p99'] * 1e3:.0f} ms ({deferred['p50'] * 1e3:.0f} ms)",
            "≤ 50 ms",
            deferred["p99"] <= 0.050,
        )
    )
    rows.append(
        row(
            "beside it: processing inline (the default), deliveries/s ÷ bare, p99 (p50)",
            f"{inline['ratio']:.2f} ({inline['rate']:.0f}/s), "
            f"p99 {inline['p99'] * 1e3:.0f} ms (p50 {inline['p50'] * 1e3:.0f} ms)",
            "—",
            None,
        )
    )
    return rows
