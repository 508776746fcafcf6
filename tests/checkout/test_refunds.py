"""Refunds: full and partial, from the order's admin page, through Omise, never twice.

The order's state and refunded amount follow the charge at Omise (via charge_apply); the
refund.create webhook that follows reconciles and records the refund once, by its id.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from checkout.models import Order, PaymentAttempt, Refund
from checkout.refunds import (
    RefundError,
    refund_create,
    refundable_amount,
    refunds_unknown_resolve,
)
from tests.shopping import pay

pytestmark = pytest.mark.django_db(transaction=True)
TOTAL = 129000 + 2 * 12000  # the `shop` fixture's cart


@pytest.fixture
def paid(shop, sandbox):
    """A paid order of ฿1,530.00."""
    pay(shop, sandbox)
    order = Order.objects.get()
    assert order.status == Order.Status.PAID and order.amount == TOTAL
    return order


def refunds_sent(sandbox) -> list[int]:
    """Amounts of the refund requests that reached Omise."""
    return [int(r.params["amount"]) for r in sandbox.requests("refunds.create")]


def fresh(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


# --- the service -------------------------------------------------------------------------------
def test_full_refund(paid, sandbox):
    """Refunding everything makes the order refunded, with Omise's refunded amount."""
    refund = refund_create(order=paid, amount=TOTAL)
    order = fresh(paid)
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, TOTAL)
    assert refund.refund_id.startswith("rfnd_test_") and refund.amount == TOTAL
    charge = sandbox.client.retrieve_charge(order.attempts.get().charge_id)
    assert charge["refunded_amount"] == TOTAL
    assert refundable_amount(order) == 0


def test_partial_then_the_rest(paid, sandbox):
    """A partial refund leaves the order partly refunded; refunding the rest completes it."""
    refund_create(order=paid, amount=50000)
    order = fresh(paid)
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 50000)
    assert refundable_amount(order) == TOTAL - 50000
    refund_create(order=order, amount=TOTAL - 50000)
    order = fresh(paid)
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, TOTAL)
    assert refunds_sent(sandbox) == [50000, TOTAL - 50000]
    assert Refund.objects.count() == 2


def test_over_refund_is_refused_before_omise(paid, sandbox):
    """More than what is left to refund is refused with the amounts, and Omise is not asked."""
    refund_create(order=paid, amount=100000)
    with pytest.raises(RefundError, match=r"฿1,000.00 is more than the ฿530.00 left"):
        refund_create(order=paid, amount=100000)
    assert refunds_sent(sandbox) == [100000]
    assert fresh(paid).refunded_amount == 100000


@pytest.mark.parametrize("amount", [0, -100, 100.5, "100", True, None])
def test_amount_must_be_a_positive_integer(paid, sandbox, amount):
    """Zero, negative, fractional, textual or boolean amounts are refused; nothing is sent."""
    with pytest.raises(RefundError, match="positive whole number"):
        refund_create(order=paid, amount=amount)
    assert refunds_sent(sandbox) == [] and fresh(paid).refunded_amount == 0


def test_unpaid_orders_cannot_be_refunded(shop, sandbox):
    """A failed order and one waiting for 3-D Secure are refused: there is nothing to refund."""
    pay(shop, sandbox, "4111111111140011")  # declined
    pay(shop, sandbox, "4000000000000002")  # pending at the bank
    failed = Order.objects.get(status=Order.Status.FAILED)
    pending = Order.objects.get(status=Order.Status.PENDING)
    for order in (failed, pending):
        with pytest.raises(RefundError, match="only paid orders can be refunded"):
            refund_create(order=order, amount=1000)
    assert refunds_sent(sandbox) == [] and not Refund.objects.exists()


def test_same_request_token_refunds_once(paid, sandbox):
    """The same form submitted twice (double click) returns the first refund, sends one."""
    first = refund_create(order=paid, amount=30000, request_token="form-token-1")
    second = refund_create(order=fresh(paid), amount=30000, request_token="form-token-1")
    assert first.pk == second.pk
    assert refunds_sent(sandbox) == [30000] and fresh(paid).refunded_amount == 30000


def test_two_staff_on_the_same_stale_page_cannot_over_refund(paid, sandbox):
    """Two refund forms opened at once both offer ฿1,530.00; after the first refunds
    ฿1,000.00 the second's ฿1,000.00 is refused: the decision re-reads the order under its
    lock, never trusts the page. (Simultaneous requests: tests/system/test_concurrency.py,
    on PostgreSQL.)"""
    refund_create(order=paid, amount=100000, request_token="first-form")
    with pytest.raises(RefundError, match="more than the ฿530.00 left"):
        refund_create(order=paid, amount=100000, request_token="second-form")  # `paid` is stale
    assert refunds_sent(sandbox) == [100000]
    assert fresh(paid).refunded_amount == 100000


def test_refund_webhook_after_an_admin_refund_counts_once(paid, sandbox):
    """refund.create delivered (twice) after the refund changes nothing: one Refund row, the
    refunded amount unchanged."""
    refund = refund_create(order=paid, amount=40000)
    deliveries = sandbox.deliver_webhooks(duplicate=2)
    assert {d["status_code"] for d in deliveries} == {200}
    order = fresh(paid)
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 40000)
    assert list(Refund.objects.values_list("refund_id", flat=True)) == [refund.refund_id]


def test_refund_made_in_omise_dashboard_is_recorded_by_the_webhook(paid, sandbox):
    """A refund made outside the shop arrives by webhook: recorded once, order updated."""
    charge_id = paid.attempts.get().charge_id
    made = sandbox.client.create_refund(charge_id, amount=TOTAL)
    sandbox.deliver_webhooks()
    sandbox.deliver_webhooks(event_ids=[sandbox.events("refund.create")[-1]["id"]])
    order = fresh(paid)
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, TOTAL)
    assert list(Refund.objects.values_list("refund_id", "amount")) == [(made["id"], TOTAL)]


def test_unknown_outcome_keeps_the_token_so_a_retry_cannot_refund_twice(paid, sandbox, settings):
    """Omise answers too late: staff are told not to refund again, a resubmission sends
    nothing, and the webhook then fills in the refund."""
    settings.OMISE_TIMEOUT_READ = 0.5
    sandbox.fault("refunds.create", "stall_after", seconds=2)
    with pytest.raises(RefundError, match="Do not refund again"):
        refund_create(order=paid, amount=20000, request_token="slow-form")
    settings.OMISE_TIMEOUT_READ = 30
    refund_create(order=fresh(paid), amount=20000, request_token="slow-form")
    assert refunds_sent(sandbox) == [20000]
    sandbox.deliver_webhooks()
    row = Refund.objects.get()
    assert row.request_token == "slow-form" and row.refund_id.startswith("rfnd_test_")
    assert fresh(paid).refunded_amount == 20000


UNREACHABLE = "http://127.0.0.1:9/api"  # nothing listens: the request never reaches Omise


def make_old(refund: Refund) -> None:
    """Age a refund row past any request still in flight."""
    Refund.objects.filter(pk=refund.pk).update(created_at=refund.created_at - timedelta(hours=1))


def test_a_refund_that_never_reached_omise_is_cleared_by_reconcile_and_can_be_made(
    paid, sandbox, settings
):
    """Connection refused: the row (no refund id) first blocks a second refund, and once old
    enough reconcile finds no such refund at Omise and clears it, so the money is refundable."""
    api_url, settings.OMISE_API_URL = settings.OMISE_API_URL, UNREACHABLE
    with pytest.raises(RefundError, match="Do not refund again"):
        refund_create(order=paid, amount=TOTAL, request_token="lost-form")
    settings.OMISE_API_URL = api_url
    row = Refund.objects.get()
    assert row.refund_id is None and refundable_amount(fresh(paid)) == 0
    assert refunds_unknown_resolve(order=paid) == 0  # too young: may still be in flight
    make_old(row)
    call_command("reconcile_payments", "--quiet")
    assert not Refund.objects.exists() and refundable_amount(fresh(paid)) == TOTAL
    refund_create(order=fresh(paid), amount=TOTAL, request_token="second-form")
    assert refunds_sent(sandbox) == [TOTAL] and fresh(paid).status == Order.Status.REFUNDED


def test_a_refund_whose_answer_was_lost_is_found_by_its_token(paid, sandbox, settings):
    """Made at Omise, answer lost, webhook lost too: reconcile finds it by the token in its
    metadata, records its id and follows the charge; nothing is refunded twice."""
    settings.OMISE_TIMEOUT_READ = 0.5
    sandbox.fault("refunds.create", "stall_after", seconds=2)
    with pytest.raises(RefundError, match="Do not refund again"):
        refund_create(order=paid, amount=20000, request_token="slow-form")
    settings.OMISE_TIMEOUT_READ = 30
    make_old(Refund.objects.get())
    assert refunds_unknown_resolve(order=paid) == 1
    row = Refund.objects.get()
    made = sandbox.client.list_refunds(paid.attempts.get().charge_id)["data"]
    assert [r["id"] for r in made] == [row.refund_id]
    assert fresh(paid).refunded_amount == 20000 and refundable_amount(fresh(paid)) == TOTAL - 20000
    assert refunds_unknown_resolve(order=paid) == 0 and refunds_sent(sandbox) == [20000]


# --- the admin page --------------------------------------------------------------------------
def refund_url(order: Order) -> str:
    return reverse("admin:checkout_order_refund", args=[order.pk])


def test_refund_page_prefills_what_is_left(paid, otp_admin_client):
    """The form offers the refundable amount in baht and a one-time token."""
    refund_create(order=paid, amount=30000)
    page = otp_admin_client.get(refund_url(paid))
    assert page.status_code == 200
    form = page.context["form"]
    assert form.initial["amount"] == "1230.00" and len(form.initial["token"]) >= 32
    assert "฿1,230.00" in page.text


def test_refund_through_the_admin_page(paid, sandbox, otp_admin_client):
    """Submitting the form refunds through Omise, records who did it, and says so."""
    form = otp_admin_client.get(refund_url(paid)).context["form"]
    response = otp_admin_client.post(
        refund_url(paid), {"amount": "1,000.50", "token": form.initial["token"]}, follow=True
    )
    assert "Refunded ฿1,000.50" in response.text
    assert refunds_sent(sandbox) == [100050]
    refund = Refund.objects.get()
    assert refund.created_by == otp_admin_client.user
    assert fresh(paid).refunded_amount == 100050


def test_double_submit_of_the_refund_form_refunds_once(paid, sandbox, otp_admin_client):
    """The same form posted twice (double click) makes one refund."""
    token = otp_admin_client.get(refund_url(paid)).context["form"].initial["token"]
    for _ in range(2):
        otp_admin_client.post(refund_url(paid), {"amount": "500.00", "token": token})
    assert refunds_sent(sandbox) == [50000] and Refund.objects.count() == 1
    assert fresh(paid).refunded_amount == 50000


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "more than zero"),
        ("-5", "more than zero"),
        ("12.345", "at most 2 decimal places"),
        ("abc", "Enter an amount"),
        ("1530.01", "more than the ฿1,530.00 left"),
    ],
)
def test_refund_form_shows_errors_and_sends_nothing(
    paid, sandbox, otp_admin_client, amount, message
):
    """Bad amounts re-show the form with a clear error; Omise is not asked."""
    response = otp_admin_client.post(refund_url(paid), {"amount": amount, "token": "t" * 32})
    assert response.status_code == 400 and message in response.text
    assert refunds_sent(sandbox) == []


def test_refund_page_of_an_unpaid_order_offers_no_form(shop, sandbox, otp_admin_client):
    """A failed order's refund page says nothing can be refunded, and a forced POST is refused."""
    pay(shop, sandbox, "4111111111140011")
    order = Order.objects.get()
    page = otp_admin_client.get(refund_url(order))
    assert "Nothing can be refunded" in page.text and '<form method="post"' not in page.text
    response = otp_admin_client.post(refund_url(order), {"amount": "10.00", "token": "t" * 32})
    assert "only paid orders can be refunded" in response.text
    assert refunds_sent(sandbox) == [] and PaymentAttempt.objects.get().status == "failed"


def test_refund_page_needs_a_verified_admin_session(paid, client, django_user_model):
    """Anonymous visitors, and staff who logged in without the second factor, are sent to
    the login page."""
    assert client.get(refund_url(paid)).status_code == 302
    staff = django_user_model.objects.create_user("pw-only", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post(refund_url(paid), {"amount": "10.00", "token": "t" * 32})
    assert response.status_code == 302 and reverse("admin:login") in response.url
