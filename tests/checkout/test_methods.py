"""Mobile banking, wallets and installments through the checkout, against the sandbox over
real HTTP: to the bank's app (or the wallet's, or the issuer's page) by authorize_uri, back by
return_uri, the retrieved charge deciding; a cancelled and a timed-out payment each with its own
message; an order already paid by internet banking still showing how it was paid."""

from urllib.parse import urlsplit

import pytest

from checkout.models import Order, PaymentAttempt
from tests.factories import make_product
from tests.shopping import BUYER, checkout_form

pytestmark = pytest.mark.django_db(transaction=True)

PRICE = 1_290_000  # ฿12,900.00: every issuer has a plan for it in the sandbox


@pytest.fixture
def big_cart(client, sandbox):
    make_product(name="Teak Chair", slug="teak-chair", price=PRICE)
    client.post("/cart/add/", {"product": "teak-chair", "quantity": "1"})
    return client


def pay_with(client, sandbox, source_type: str, **fields):
    source = sandbox.source(source_type, amount=PRICE, **fields)
    return client.post("/checkout/", {**BUYER, **checkout_form(client), "omise_source": source})


def back_from(client, sandbox, response, outcome: str):
    """At the hand-off page: press `outcome`, follow the return URL to the shop."""
    assert response.status_code == 200
    authorize_uri = response.context["authorize_uri"]
    assert authorize_uri.startswith(f"{sandbox.sandbox_url}/sandbox/app/")
    back = sandbox.complete_offsite(authorize_uri, outcome)
    return client.get(urlsplit(back).path)


@pytest.mark.parametrize(
    ("source_type", "fields", "label"),
    [
        ("mobile_banking_kbank", {}, "K PLUS (Kasikorn Bank)"),
        ("mobile_banking_ktb", {}, "Krungthai NEXT"),
        ("truemoney", {"phone_number": "0812345678"}, "TrueMoney Wallet"),
        ("rabbit_linepay", {}, "Rabbit LINE Pay"),
        ("shopeepay", {}, "ShopeePay"),
        ("installment_kbank", {"installment_term": 6}, "Kasikorn Bank installments"),
    ],
)
def test_each_family_pays_off_site_and_comes_back_paid(
    big_cart, sandbox, source_type, fields, label
):
    """The shop hands the shopper over by a page naming the method (a meta refresh, not a 302:
    the checkout's CSP governs redirects after its form), the charge carries return_uri, and
    the order is paid once back, with the method on the order page."""
    response = pay_with(big_cart, sandbox, source_type, **fields)
    assert f"Taking you to {label}" in response.content.decode()
    assert sandbox.last_request()["return_uri"].startswith("http")
    landed = back_from(big_cart, sandbox, response, "pay")
    order = Order.objects.get()
    assert order.status == Order.Status.PAID and landed.url == order.get_absolute_url()
    assert f"Paid with {label}." in big_cart.get(landed.url).content.decode()
    assert PaymentAttempt.objects.get().payment_method == source_type


@pytest.mark.parametrize(
    ("source_type", "fields", "message"),
    [
        ("mobile_banking_scb", {}, "You cancelled the payment, so you were not charged."),
        ("truemoney", {"phone_number": "+66812345678"}, "You cancelled the payment"),
        ("installment_bay", {"installment_term": 4}, "You cancelled the payment"),
    ],
)
def test_a_cancelled_payment_goes_back_to_checkout_with_a_message(
    big_cart, sandbox, source_type, fields, message
):
    response = pay_with(big_cart, sandbox, source_type, **fields)
    landed = back_from(big_cart, sandbox, response, "cancel")
    assert urlsplit(landed.url).path == "/checkout/"
    assert Order.objects.get().status == Order.Status.FAILED
    shown = [str(m) for m in big_cart.get(landed.url).context["messages"]]
    assert len(shown) == 1 and shown[0].startswith(message)


def test_a_payment_left_to_time_out_shows_expired_with_the_cart_kept(big_cart, sandbox):
    response = pay_with(big_cart, sandbox, "mobile_banking_bbl")
    landed = back_from(big_cart, sandbox, response, "timeout")
    order = Order.objects.get()
    assert order.status == Order.Status.EXPIRED and landed.url == order.get_absolute_url()
    page = big_cart.get(landed.url).content.decode()
    assert "This payment has expired" in page and "Start again" in page
    assert big_cart.get("/checkout/").status_code == 200  # the cart is still there


def test_a_webhook_settles_an_app_payment_the_shopper_never_came_back_from(big_cart, sandbox):
    """Paid in the bank's app, but the phone never returned to the shop: charge.complete does."""
    response = pay_with(big_cart, sandbox, "mobile_banking_bay")
    attempt = PaymentAttempt.objects.get()
    sandbox.complete_offsite(response.context["authorize_uri"], "pay")
    sandbox.deliver_webhooks()
    attempt.refresh_from_db()
    assert attempt.order.status == Order.Status.PAID


def test_an_order_paid_by_internet_banking_still_says_so(client, sandbox):
    """Orders made before internet banking was discontinued keep their label."""
    order = Order.objects.create(
        amount=PRICE,
        currency="THB",
        email="a@example.com",
        name="A",
        country="TH",
        status=Order.Status.PAID,
    )
    PaymentAttempt.objects.create(
        order=order,
        key="old-attempt",
        amount=PRICE,
        currency="THB",
        payment_method="internet_banking_bbl",
        status=PaymentAttempt.Status.SUCCESSFUL,
        charge_id="chrg_test_" + "1" * 19,
    )
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Paid with Bangkok Bank internet banking." in page
