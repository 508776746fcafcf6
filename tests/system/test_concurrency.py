"""Races on a real PostgreSQL server: parallel requests apply each payment fact exactly once.

Each test starts its threads together on a `threading.Barrier`; every thread (and every live
server request) has its own database connection, so row locks and unique indexes are what
keeps the outcome right, as with several gunicorn workers. These tests run in the second pass
of `make test` (`pytest --ds=tests.settings_postgres -m postgres`); on SQLite they skip.
"""

import threading
import time
from urllib.parse import urlsplit

import psycopg
import pytest
import requests
from django.conf import settings
from django.db import connection, connections
from django.test import Client

from checkout import services
from checkout.capture import CaptureError, order_capture, order_reverse
from checkout.models import (
    AuthorizationAction,
    Order,
    PaymentAttempt,
    Refund,
    WebhookDelivery,
    WebhookEvent,
)
from checkout.refunds import RefundError, refund_create
from tests.shopping import BUYER, checkout_form, event_body, pay, sign
from tests.support import skip_or_fail

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

POSTGRES_PASS = "pytest --ds=tests.settings_postgres -m postgres"


@pytest.fixture(scope="session", autouse=True)
def postgresql():
    """Skip unless these settings use PostgreSQL and its server answers (fail under CI)."""
    db = settings.DATABASES["default"]
    if connection.vendor != "postgresql":
        pytest.skip(f"concurrency tests need PostgreSQL; they run in `{POSTGRES_PASS}`")
    try:
        psycopg.connect(
            host=db["HOST"],
            port=db["PORT"],
            user=db["USER"],
            password=db["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as error:
        skip_or_fail(
            f"PostgreSQL is not reachable at {db['HOST']}:{db['PORT']} "
            f"({error.__class__.__name__}); start it or point TEST_DATABASE_URL at one"
        )


def run_together(count: int, work) -> list:
    """Call `work(i)` in `count` threads released at the same instant; return the results.

    Each thread closes its own database connections when done, as a request does.
    """
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def thread(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as error:  # reported to the test below, not lost in the thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def transitions(monkeypatch):
    """Every order state change made in this process (any thread), as (from, to) pairs."""
    seen, lock = [], threading.Lock()
    original = Order.transition_to

    def recording(order, status):
        before = order.status
        original(order, status)
        with lock:
            seen.append((before, status))

    monkeypatch.setattr(Order, "transition_to", recording)
    return seen


@pytest.fixture
def slow_apply(monkeypatch):
    """Hold each charge application 50 ms between reading the order and changing it, so
    racing requests overlap there: without the row locks they would both see it pending."""
    original = services._order_follow

    def slow(order, attempt, charge):
        time.sleep(0.05)
        original(order, attempt, charge)

    monkeypatch.setattr(services, "_order_follow", slow)


@pytest.fixture
def authorised_3ds(shop, sandbox):
    """An order whose shopper passed 3-D Secure at the bank; the shop has not heard yet.
    Returns the return URL the bank sent the shopper to and charge.complete's body."""
    pay(shop, sandbox, "4000000000000002")
    attempt = PaymentAttempt.objects.get()
    back = sandbox.complete_3ds(sandbox.client.retrieve_charge(attempt.charge_id))
    assert Order.objects.get().status == Order.Status.PENDING
    # The test client paid as "testserver"; the shopper's browser comes back to the live server.
    return f"{sandbox.url}{urlsplit(back).path}", event_body(sandbox, "charge.complete")


def post_webhook(sandbox, body: bytes, *, retry: int = 0) -> int:
    """Deliver a signed event over HTTP as Omise does, on a connection of its own. Omise signs
    each delivery of an event anew: `retry` n is signed n seconds earlier, a delivery of its
    own (the same signed delivery again is a replay, answered but stored once)."""
    headers = {
        **sign(body, settings.OMISE_WEBHOOK_SECRET, int(time.time()) - retry),
        "Content-Type": "application/json",
    }
    with requests.Session() as http:
        http.trust_env = False
        return http.post(
            f"{sandbox.url}/webhooks/omise/", data=body, headers=headers, timeout=60
        ).status_code


def test_sixteen_simultaneous_deliveries_of_one_event_apply_once(
    sandbox, authorised_3ds, transitions, slow_apply
):
    """16 deliveries of the same charge.complete at the same instant are all acknowledged
    (200), the event is stored and applied once, and the order becomes paid exactly once."""
    _, body = authorised_3ds
    statuses = run_together(16, lambda i: post_webhook(sandbox, body, retry=i))

    assert statuses == [200] * 16
    event = WebhookEvent.objects.get(key="charge.complete")
    assert event.processed_at is not None
    outcomes = list(
        WebhookDelivery.objects.filter(event_id=event.event_id).values_list("outcome", flat=True)
    )
    assert len(outcomes) == 16 and outcomes.count("applied") == 1
    assert set(outcomes) == {"applied", "duplicate: already applied"}
    assert transitions == [(Order.Status.PENDING, Order.Status.PAID)]
    assert Order.objects.get().status == Order.Status.PAID


def test_sixteen_first_deliveries_of_one_event_queue_it_once(sandbox, settings, monkeypatch):
    """Processing deferred: 16 deliveries of a new event, all of them reading "never seen"
    before any has queued it, race to insert its row. One queues it (202); the others fail on
    the unique event id and answer as duplicates (200): one row, one task."""
    from django_tasks_db.models import DBTaskResult

    from checkout import webhooks

    settings.WEBHOOK_PROCESSING = "deferred"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    first_read, read = threading.local(), webhooks.event_state

    def unseen_at_first(event_id):
        if not getattr(first_read, "done", False):
            first_read.done = True
            return None
        return read(event_id)

    monkeypatch.setattr(webhooks, "event_state", unseen_at_first)
    body = b'{"object": "event", "id": "evnt_test_racing123", "key": "charge.complete"}'
    statuses = run_together(16, lambda i: post_webhook(sandbox, body, retry=i))

    assert sorted(statuses) == [200] * 15 + [202]
    assert WebhookEvent.objects.filter(event_id="evnt_test_racing123").count() == 1
    assert DBTaskResult.objects.count() == 1
    outcomes = list(WebhookDelivery.objects.values_list("outcome", flat=True))
    assert sorted(set(outcomes)) == ["duplicate: already queued", "queued"]


def test_3ds_returns_racing_webhooks_settle_the_order_once(
    sandbox, authorised_3ds, transitions, slow_apply
):
    """The shopper's 3-D Secure return (4 tabs) and charge.complete (4 deliveries) arriving
    together: every request succeeds, no deadlock, and the order goes pending → paid once."""
    back, body = authorised_3ds

    def return_or_webhook(i: int) -> int:
        if i % 2:
            return post_webhook(sandbox, body)
        with requests.Session() as shopper:
            shopper.trust_env = False
            answer = shopper.get(back, allow_redirects=False, timeout=60)
            assert answer.headers["Location"] == Order.objects.get().get_absolute_url()
            return answer.status_code

    statuses = run_together(8, return_or_webhook)

    assert statuses == [302, 200] * 4
    assert transitions == [(Order.Status.PENDING, Order.Status.PAID)]
    order = Order.objects.get()
    assert order.status == Order.Status.PAID and order.paid_at is not None
    assert WebhookEvent.objects.get(key="charge.complete").processed_at is not None


def test_eight_simultaneous_submissions_of_one_checkout_create_one_charge(
    shop, sandbox, transitions
):
    """Eight POSTs of the same checkout page (a double-clicking shopper, tabs, retries) at
    the same instant: one order, one attempt, one charge at Omise, and every response sends
    the shopper to that order."""
    data = {**BUYER, "omise_token": sandbox.token(), **checkout_form(shop)}
    session_cookie = shop.cookies[settings.SESSION_COOKIE_NAME].value

    def submit(i: int) -> tuple[int, str]:
        tab = Client()
        tab.cookies[settings.SESSION_COOKIE_NAME] = session_cookie
        response = tab.post("/checkout/", data)
        return response.status_code, urlsplit(response.get("Location", "")).path

    answers = run_together(8, submit)

    assert len(sandbox.requests("charges.create")) == 1
    order = Order.objects.get()
    assert PaymentAttempt.objects.get().order == order
    assert set(answers) == {(302, order.get_absolute_url())}
    assert order.status == Order.Status.PAID
    assert transitions == [(Order.Status.PENDING, Order.Status.PAID)]


def test_simultaneous_refunds_never_exceed_the_charge(shop, sandbox, slow_apply):
    """Four staff members refunding ฿1,000.00 of a ฿1,530.00 order at the same instant, each
    with their own form: the order lock lets one through to Omise, the others are refused
    before asking it, and the order is refunded ฿1,000.00 once."""
    pay(shop, sandbox)
    order = Order.objects.get()

    def refund(i: int) -> str:
        try:
            return refund_create(order=order, amount=100000, request_token=f"form-{i}").refund_id
        except RefundError as error:
            return str(error)

    results = run_together(4, refund)

    assert sum(r.startswith("rfnd_test_") for r in results) == 1
    assert sum("more than the ฿530.00 left" in r for r in results) == 3
    assert len(sandbox.requests("refunds.create")) == 1
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 100000)
    assert Refund.objects.count() == 1


def test_one_refund_form_submitted_four_times_at_once_refunds_once(shop, sandbox, slow_apply):
    """The same refund form posted four times at once (a double-clicking operator): one
    refund at Omise, and every submission gets that same refund back."""
    pay(shop, sandbox)
    order = Order.objects.get()

    results = run_together(
        4, lambda i: refund_create(order=order, amount=50000, request_token="one-form").refund_id
    )

    assert len(set(results)) == 1 and results[0].startswith("rfnd_test_")
    assert len(sandbox.requests("refunds.create")) == 1
    order.refresh_from_db()
    assert order.refunded_amount == 50000


def test_two_payments_of_one_cart_landing_together_keep_one(shop, sandbox, slow_apply):
    """A cart whose two charges both succeeded at the bank (a race the shop cannot prevent),
    applied at the same instant: the cart's row lock judges them one after the other, so
    exactly one order keeps its payment and the other is refunded once."""
    from sandbox.models import Charge

    pay(shop, sandbox, "4000000000000002")
    pay(shop, sandbox, "4000000000000002")  # ends the first at Omise, then waits for 3-D Secure
    attempts = list(PaymentAttempt.objects.order_by("pk"))
    assert len({a.order.cart_id for a in attempts}) == 1
    Charge.objects.filter(id__in=[a.charge_id for a in attempts]).update(
        status="successful", authorized=True, paid=True, expired=False
    )
    run_together(2, lambda i: services.attempt_reconcile(attempt=attempts[i]))
    orders = list(Order.objects.order_by("pk"))
    kept = [o for o in orders if o.duplicate_of_id is None]
    assert len(kept) == 1 and kept[0].status == Order.Status.PAID
    [late] = [o for o in orders if o.duplicate_of_id == kept[0].pk]
    assert late.status == Order.Status.REFUNDED
    assert len(sandbox.requests("refunds.create")) == 1


def test_staff_capturing_and_releasing_at_once_act_once(shop, sandbox, slow_apply, settings):
    """Manual capture: three staff capture ฿1,000.00 and one releases the same authorization
    at the same instant, each with their own form: one of them reaches Omise, the others are
    refused under the order lock before asking it."""
    settings.OMISE_CAPTURE = "manual"
    pay(shop, sandbox)
    order = Order.objects.get()
    assert order.status == Order.Status.AUTHORIZED

    def act(i: int) -> str:
        try:
            if i == 3:
                return order_reverse(order=order, request_token=f"form-{i}").kind
            return order_capture(order=order, amount=100000, request_token=f"form-{i}").kind
        except CaptureError as error:
            return str(error)

    results = run_together(4, act)

    assert sum(r in {"capture", "reverse"} for r in results) == 1
    assert sum("only an authorized order" in r for r in results) == 3
    calls = sandbox.requests("charges.capture") + sandbox.requests("charges.reverse")
    assert len(calls) == 1 and AuthorizationAction.objects.count() == 1
    order.refresh_from_db()
    assert order.status in {Order.Status.PAID, Order.Status.CANCELLED}


def test_one_capture_form_submitted_four_times_at_once_captures_once(
    shop, sandbox, slow_apply, settings
):
    settings.OMISE_CAPTURE = "manual"
    pay(shop, sandbox)
    order = Order.objects.get()

    results = run_together(
        4, lambda i: order_capture(order=order, amount=100000, request_token="one-form").pk
    )

    assert len(set(results)) == 1
    assert len(sandbox.requests("charges.capture")) == 1
    order.refresh_from_db()
    assert (order.status, order.captured_amount) == (Order.Status.PAID, 100000)


def test_3ds_return_webhook_and_reconcile_racing_send_one_receipt(
    sandbox, authorised_3ds, slow_apply, smtp_server
):
    """The shopper's return (3 tabs), charge.complete (3 deliveries) and the reconcile job (3
    runs) settle the order together: each decides the receipt, the outbox's unique key keeps
    one row, and one sender's claim sends it, once, over SMTP."""
    from mails.models import OutboxMail

    back, body = authorised_3ds

    def settle(i: int) -> int:
        if i % 3 == 0:
            with requests.Session() as shopper:
                shopper.trust_env = False
                return shopper.get(back, allow_redirects=False, timeout=60).status_code
        if i % 3 == 1:
            return post_webhook(sandbox, body, retry=i)
        services.attempt_reconcile(attempt=PaymentAttempt.objects.get())
        return 0

    statuses = run_together(9, settle)

    assert statuses == [302, 200, 0] * 3
    assert Order.objects.get().status == Order.Status.PAID
    row = OutboxMail.objects.get()
    assert (row.kind, row.status, row.attempts) == ("order_confirmation", "sent", 1)
    assert len(smtp_server.messages) == 1


def test_charge_apply_locks_the_attempt_before_its_order(sandbox, authorised_3ds):
    """Its one locking statement takes the attempt's row first: held up by a lock on the order,
    it already holds the attempt (so no one can lock them the other way round)."""
    attempt = PaymentAttempt.objects.get()
    charge = sandbox.client.retrieve_charge(attempt.charge_id)
    db = settings.DATABASES["default"]
    params = {
        "host": db["HOST"],
        "port": db["PORT"],
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
        "dbname": connection.settings_dict["NAME"],
    }
    with psycopg.connect(**params) as holder, psycopg.connect(**params) as prober:
        holder.execute("SELECT 1 FROM checkout_order WHERE id = %s FOR UPDATE", [attempt.order_id])

        def apply() -> None:
            try:
                services.charge_apply(charge=charge)
            finally:
                connections.close_all()

        applying = threading.Thread(target=apply)
        applying.start()
        try:
            time.sleep(0.5)  # charge_apply now waits for the order
            assert applying.is_alive()
            with pytest.raises(psycopg.errors.LockNotAvailable):
                prober.execute(
                    "SELECT 1 FROM checkout_paymentattempt WHERE id = %s FOR UPDATE NOWAIT",
                    [attempt.pk],
                )
        finally:
            holder.rollback()
            applying.join(timeout=30)
    assert Order.objects.get().status == Order.Status.PAID
