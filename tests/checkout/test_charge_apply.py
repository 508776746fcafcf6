"""charge_apply and the flows around it, in process: Omise is tests/fake_omise.py's fake, so
these run in the unit tier, without the sandbox or a live server."""

import inspect
import logging
import re
import secrets
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from checkout import omise, refunds, services
from checkout.models import Order, PaymentAttempt
from checkout.omise import OmiseAPIError, OmiseClient, OmiseInvalidId, OmiseNetworkError
from tests.factories import make_product
from tests.fake_omise import API_METHODS, CLIENT_USERS, UNREACHABLE_URL, FakeOmise
from tests.shopping import pay

pytestmark = pytest.mark.django_db
AMOUNT = 129000
CHECKOUT = Path(services.__file__).resolve().parent
S, A = Order.Status, PaymentAttempt.Status


def new_payment(
    fake,
    number="4242424242424242",
    *,
    amount=AMOUNT,
    charge_amount=None,
    reference=None,
    capture=True,
):
    """An order, its attempt, and the charge Omise made for it, as checkout_submit leaves them
    just before applying the charge: (order, attempt, charge)."""
    order = Order.objects.create(
        amount=amount, currency="THB", email="malee@example.com", name="Malee Sukjai", country="TH"
    )
    attempt = PaymentAttempt.objects.create(
        order=order, key=secrets.token_urlsafe(16), amount=amount, currency="THB"
    )
    charge = fake.create_charge(
        amount=charge_amount or amount,
        currency="THB",
        card=fake.token(number),
        return_uri="https://shop.example/return/",
        capture=capture,
        metadata={"order_reference": reference or order.reference, "attempt": attempt.key},
    )
    return order, attempt, charge


def applied(charge, attempt=None) -> tuple[Order, PaymentAttempt]:
    """Apply `charge` (with its attempt id, as charge creation does); both rows re-read."""
    services.charge_apply(charge=charge, attempt_id=attempt.pk if attempt else None)
    attempt = PaymentAttempt.objects.get(charge_id=charge["id"])
    return Order.objects.get(pk=attempt.order_id), attempt


@pytest.fixture
def cart(client):
    """A shopper with a silk scarf (฿1,290.00) in the cart."""
    make_product(name="Silk Scarf", slug="silk-scarf", price=AMOUNT)
    client.post("/cart/add/", {"product": "silk-scarf", "quantity": "1"})
    return client


# --- the fake itself ---------------------------------------------------------------------------
def test_the_fake_has_the_clients_methods_with_the_same_signatures():
    """Every API method of OmiseClient is on the fake, with the same parameters, so code that
    works with the fake calls the real client the same way."""
    public = {
        name
        for name, _ in inspect.getmembers(OmiseClient, inspect.isfunction)
        if not name.startswith("_")
    } - {"close"}
    assert public == set(API_METHODS)
    for name in API_METHODS:
        assert inspect.signature(getattr(FakeOmise, name)) == inspect.signature(
            getattr(OmiseClient, name)
        ), name


def test_the_fake_answers_every_call_the_payment_code_makes():
    """Each `client.<method>(` or `get_client().<method>(` in checkout/ names a method the fake
    has: a new call in the payment code cannot bypass it unnoticed."""
    called = set()
    for path in CHECKOUT.rglob("*.py"):
        called |= set(re.findall(r"(?:\bclient|get_client\(\))\.(\w+)\(", path.read_text()))
    answered = {*API_METHODS, "close"}
    assert called and called <= answered, called - answered
    assert {"create_charge", "retrieve_charge", "expire_charge", "create_refund"} <= called


def test_the_fixture_stands_in_for_get_client_everywhere(fake_omise, settings):
    """get_client() and each module's imported copy return the fake; the settings point the real
    client nowhere, so nothing reaches a sandbox or Omise."""
    import importlib

    assert omise.get_client() is fake_omise
    for name in CLIENT_USERS:
        assert importlib.import_module(name).get_client() is fake_omise, name
    assert settings.OMISE_API_URL == settings.OMISE_VAULT_URL == UNREACHABLE_URL
    assert django_settings.OMISE_PROXY_URL == ""


def test_charges_are_in_omises_wire_format(fake_omise):
    """Ids, lower-case currency, the status flags and the metadata as Omise answers them; each
    answer is a copy (changing it changes nothing at "Omise")."""
    charge = fake_omise.create_charge(
        amount=AMOUNT, currency="THB", card=fake_omise.token(), metadata={"order_reference": "LG-1"}
    )
    assert re.fullmatch(r"chrg_test_[0-9a-z]{19}", charge["id"])
    assert charge["object"] == "charge" and charge["currency"] == "thb"
    assert (charge["status"], charge["authorized"], charge["paid"]) == ("successful", True, True)
    assert charge["failure_code"] is None and charge["authorize_uri"] is None
    assert charge["refunded_amount"] == 0 and charge["refunds"]["total"] == 0
    assert charge["card"]["last_digits"] == "4242" and charge["metadata"] == {
        "order_reference": "LG-1"
    }
    charge["status"] = "failed"
    assert fake_omise.retrieve_charge(charge["id"])["status"] == "successful"
    assert [e["key"] for e in fake_omise.events()] == ["charge.create"]


def test_the_fake_keeps_omises_rules(fake_omise):
    """A token is single use and must exist; bad ids never become a call; only a pending charge
    expires; a refund never exceeds the charge: the real client's errors, Omise's codes."""
    token = fake_omise.token()
    charge = fake_omise.create_charge(amount=AMOUNT, currency="THB", card=token)
    with pytest.raises(OmiseAPIError) as used:
        fake_omise.create_charge(amount=AMOUNT, currency="THB", card=token)
    assert (used.value.code, used.value.http_status) == ("used_token", 400)
    with pytest.raises(OmiseAPIError, match="not_found"):
        fake_omise.create_charge(amount=AMOUNT, currency="THB", card="tokn_test_neverissued1")
    with pytest.raises(OmiseAPIError, match="invalid_charge"):
        fake_omise.create_charge(amount=1999, currency="THB", card=fake_omise.token())
    calls = len(fake_omise.calls)
    with pytest.raises(OmiseInvalidId):
        fake_omise.retrieve_charge("../account")
    with pytest.raises(TypeError):
        fake_omise.create_charge(amount=12.5, currency="THB", card=fake_omise.token())
    assert len(fake_omise.calls) == calls  # refused before any "request", like the client
    with pytest.raises(OmiseAPIError, match="only a pending charge can expire"):
        fake_omise.expire_charge(charge["id"])
    with pytest.raises(OmiseAPIError, match="failed_refund"):
        fake_omise.create_refund(charge["id"], amount=AMOUNT + 1)


def test_scheduled_failures_raise_the_clients_errors(fake_omise):
    """fail_next raises OmiseNetworkError/OmiseAPIError, before or after the call took effect;
    a misspelt method is refused, and an unreached failure is reported."""
    fake_omise.fail_next("create_charge", after=True)
    with pytest.raises(OmiseNetworkError):
        fake_omise.create_charge(amount=AMOUNT, currency="THB", card=fake_omise.token())
    assert len(fake_omise.charges) == 1  # made, its answer lost
    fake_omise.fail_next(
        "retrieve_charge", OmiseAPIError(code="server_error", message="x", http_status=500)
    )
    with pytest.raises(OmiseAPIError, match="server_error"):
        fake_omise.retrieve_charge(fake_omise.charges[0]["id"])
    with pytest.raises(AttributeError):
        fake_omise.fail_next("create_chrage")
    fake_omise.fail_next("list_refunds", count=2)
    assert fake_omise.pending_failures() == {"list_refunds": 2}
    fake_omise.clear_failures()  # or the fixture fails the test at teardown, as it should


# --- charge_apply ------------------------------------------------------------------------------
def test_a_successful_charge_pays_the_order(fake_omise):
    order, attempt, charge = new_payment(fake_omise)
    order, attempt = applied(charge, attempt)
    assert order.status == S.PAID and order.paid_at is not None
    assert attempt.status == A.SUCCESSFUL and attempt.charge_id == charge["id"]
    assert (attempt.card_brand, attempt.card_last_digits) == ("Visa", "4242")
    assert attempt.payment_method == "card" and attempt.authorize_uri == ""
    assert fake_omise.calls_of("create_charge")[0]["metadata"]["order_reference"] == (
        order.reference
    )


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("4111111111140011", "insufficient_fund"),
        ("4111111111130012", "stolen_or_lost_card"),
        ("4111111111150002", "failed_processing"),  # 3-D Secure enrollment fails
    ],
)
def test_a_failed_charge_fails_the_order_with_its_reason(fake_omise, number, code):
    order, attempt, charge = new_payment(fake_omise, number)
    order, attempt = applied(charge, attempt)
    assert order.status == S.FAILED and order.paid_at is None
    assert attempt.status == A.FAILED and attempt.failure_code == code
    assert attempt.failure_message


def test_a_pending_charge_pays_the_order_once_3ds_passes(fake_omise):
    """3-D Secure: pending with the bank's authorize_uri, then paid when reconciling retrieves
    the charge the bank completed."""
    order, attempt, charge = new_payment(fake_omise, "4000000000000002")
    order, attempt = applied(charge, attempt)
    assert order.status == S.PENDING and attempt.status == A.PENDING
    assert attempt.authorize_uri == charge["authorize_uri"] and charge["authorize_uri"]
    fake_omise.complete_3ds(charge["id"])
    attempt = services.attempt_reconcile(attempt=attempt)
    assert fake_omise.last_call("retrieve_charge")["charge_id"] == charge["id"]
    attempt.refresh_from_db()
    assert attempt.status == A.SUCCESSFUL and attempt.authorize_uri == ""
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_a_pending_charge_whose_3ds_fails_fails_the_order(fake_omise):
    order, attempt, charge = new_payment(fake_omise, "4111111111140003")
    applied(charge, attempt)
    order, attempt = applied(fake_omise.complete_3ds(charge["id"], passed=True))
    assert (order.status, attempt.status, attempt.failure_code) == (
        S.FAILED,
        A.FAILED,
        "failed_processing",
    )


@pytest.mark.parametrize("mismatch", ["amount", "reference"])
def test_a_charge_that_does_not_match_its_order_is_refused(fake_omise, caplog, mismatch):
    """A charge for another amount, or carrying another order's reference, changes nothing,
    however successful it is; the merchant hears of it."""
    other = {"charge_amount": AMOUNT - 100} if mismatch == "amount" else {"reference": "LG-X"}
    order, attempt, charge = new_payment(fake_omise, **other)
    assert charge["status"] == "successful"
    with caplog.at_level(logging.ERROR, logger="checkout.services"):
        order, attempt = applied(charge, attempt)
    assert order.status == S.PENDING and order.paid_at is None
    assert attempt.status == A.CREATING and attempt.charge_id == charge["id"]
    assert "does not match order" in caplog.text


def test_refunds_follow_omises_refunded_amount(fake_omise):
    """A partial refund through the admin's refund_create, then the rest: the order follows the
    charge's refunded_amount as Omise reports it."""
    order, attempt, charge = new_payment(fake_omise)
    order, _ = applied(charge, attempt)
    refunds.refund_create(order=order, amount=30000, request_token="r1")
    assert fake_omise.last_call("create_refund").params == {
        "charge_id": charge["id"],
        "amount": 30000,
        "metadata": {"order_reference": order.reference, "refund_request": "r1"},
    }
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (S.PARTIALLY_REFUNDED, 30000)
    refunds.refund_create(order=order, amount=AMOUNT - 30000, request_token="r2")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (S.REFUNDED, AMOUNT)
    assert fake_omise.charge(charge["id"])["refunded_amount"] == AMOUNT
    assert len(fake_omise.calls_of("create_refund")) == 2


def test_a_charge_paid_and_refunded_before_we_heard_refunds_the_order(fake_omise):
    """The first copy we apply is already refunded in full: the order is paid, then refunded."""
    order, attempt, charge = new_payment(fake_omise)
    fake_omise.create_refund(charge["id"], amount=AMOUNT)
    order, attempt = applied(fake_omise.retrieve_charge(charge["id"]), attempt)
    assert (order.status, order.refunded_amount) == (S.REFUNDED, AMOUNT)
    assert order.paid_at is not None and attempt.status == A.SUCCESSFUL


def test_a_stale_pending_copy_never_unsettles_a_paid_order(fake_omise):
    order, attempt, charge = new_payment(fake_omise, "4000000000000002")
    stale = fake_omise.charge(charge["id"])
    paid = fake_omise.complete_3ds(charge["id"])
    applied(paid, attempt)
    order, attempt = applied(stale)
    assert (order.status, attempt.status) == (S.PAID, A.SUCCESSFUL)


def test_a_charge_matching_no_attempt_is_ignored(fake_omise):
    charge = fake_omise.create_charge(amount=AMOUNT, currency="THB", card=fake_omise.token())
    assert services.charge_apply(charge=charge) is None
    assert not PaymentAttempt.objects.exists()


def test_ending_a_pending_attempt_expires_its_charge(fake_omise):
    """attempt_end asks Omise to expire the 3-D Secure charge the shopper left; the order
    expires with it."""
    order, attempt, charge = new_payment(fake_omise, "4000000000000002")
    _, attempt = applied(charge, attempt)
    attempt = services.attempt_end(attempt=attempt)
    assert fake_omise.last_call("expire_charge")["charge_id"] == charge["id"]
    assert fake_omise.charge(charge["id"])["status"] == "expired"
    assert Order.objects.get(pk=order.pk).status == S.EXPIRED


# --- through the checkout view -----------------------------------------------------------------
def test_checkout_charges_the_cart_once_and_pays_the_order(cart, fake_omise):
    """The shop's POST /checkout/ creates one charge for the cart's total, with the order's
    reference, the attempt's key and a return URL, and the order is paid."""
    response = pay(cart, fake_omise)
    order = Order.objects.get()
    assert response.status_code == 302 and response.url == order.get_absolute_url()
    assert order.status == S.PAID
    [call] = fake_omise.calls_of("create_charge")
    assert (call["amount"], call["currency"]) == (AMOUNT, "THB")
    assert call["card"].startswith("tokn_test_") and call["source"] is None
    assert call["metadata"]["order_reference"] == order.reference
    assert call["metadata"]["attempt"] == order.attempts.get().key
    assert call["return_uri"].startswith("http://testserver/")


def test_a_charge_whose_answer_was_lost_is_found_by_reconciling(cart, fake_omise):
    """POST /charges timed out after Omise made the charge: the attempt is unknown, never
    charged again; reconciling finds the charge by the attempt's key and pays the order."""
    fake_omise.fail_next("create_charge", after=True)
    pay(cart, fake_omise)
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == A.UNKNOWN and attempt.charge_id is None
    attempt = services.attempt_reconcile(attempt=attempt)
    assert fake_omise.calls_of("list_charges") and len(fake_omise.calls_of("create_charge")) == 1
    attempt.refresh_from_db()
    assert attempt.status == A.SUCCESSFUL
    assert attempt.charge_id == fake_omise.charges[0]["id"]
    assert attempt.order.status == S.PAID


def test_a_charge_that_never_reached_omise_stays_unknown_within_the_grace(cart, fake_omise):
    """The request failed before Omise saw it: no charge exists, and within the grace period the
    attempt stays unknown (not failed) rather than guessing."""
    fake_omise.fail_next("create_charge")
    pay(cart, fake_omise)
    attempt = services.attempt_reconcile(attempt=PaymentAttempt.objects.get())
    assert fake_omise.charges == [] and attempt.status == A.UNKNOWN
    assert Order.objects.get().status == S.PENDING
