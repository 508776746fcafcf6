"""One cart, one payment, for the amount the shopper saw.

Against the sandbox over real HTTP. The attacks: pay a cart, leave that payment pending
(3-D Secure, a PromptPay QR code), pay the same cart again by card, then finish the first; and
charge a different amount from the one on the page (a price edited meanwhile, the cart changed
in another tab).
"""

import pytest
import requests
from django.core.cache import cache
from django.test import Client

from checkout import services, velocity
from checkout.models import Order, PaymentAttempt, Refund
from checkout.refunds import duplicate_refund
from sandbox.models import Charge
from sandbox.services.charges import complete_3ds
from sandbox.services.common import SandboxError
from security.models import SecurityEvent
from shop.cart import CHECKOUT_ID_KEY
from shop.models import Product
from tests.shopping import BUYER, checkout_form, messages_of, pay

pytestmark = pytest.mark.django_db(transaction=True)
TOTAL = 129000 + 2 * 12000  # the `shop` fixture's cart


def submit(client, sandbox, form, number="4242424242424242"):
    """POST a checkout form as it was shown (`form`: its hidden fields), with a fresh token."""
    return client.post("/checkout/", {**BUYER, **form, "omise_token": sandbox.token(number)})


def paid_orders():
    return Order.objects.filter(status=Order.Status.PAID, duplicate_of=None)


# --- The amount charged is the amount shown ---------------------------------------------------


def test_the_charge_is_for_the_total_the_page_showed(shop, sandbox):
    form = checkout_form(shop)
    assert form["shown_total"] == str(TOTAL) and form["shown_currency"] == "THB"
    submit(shop, sandbox, form)
    assert sandbox.last_request("charges.create")["amount"] == TOTAL
    assert paid_orders().get().amount == TOTAL


def test_a_price_changed_after_the_page_was_shown_charges_nothing(shop, sandbox):
    """The merchant edits a price while the shopper looks at the page: the POST is refused,
    nothing is ordered or charged, and the checkout shows the new total."""
    form = checkout_form(shop)
    Product.objects.filter(slug="silk-scarf").update(price=139000)
    response = submit(shop, sandbox, form)
    assert response.status_code == 302 and response.url == "/checkout/"
    assert any("the total is now ฿1,630.00" in m for m in messages_of(shop, response))
    assert sandbox.requests("charges.create") == [] and not Order.objects.exists()
    page = shop.get("/checkout/")
    assert "Pay ฿1,630.00" in page.text
    submit(shop, sandbox, checkout_form(shop))  # the page as it is now pays
    assert sandbox.last_request("charges.create")["amount"] == 163000


@pytest.mark.parametrize("change", ["add", "remove", "quantity"])
def test_a_cart_changed_in_another_tab_charges_nothing(shop, sandbox, change):
    """Tab one shows the checkout; tab two (the same session) changes the cart; tab one's Pay
    charges nothing, even where the total happens to stay the same."""
    form = checkout_form(shop)
    if change == "add":
        shop.post("/cart/add/", {"product": "rice-soap", "quantity": "1"})
    elif change == "remove":
        shop.post("/cart/remove/", {"product": "rice-soap"})
    else:
        shop.post("/cart/update/", {"product": "rice-soap", "quantity": "3"})
    assert checkout_form(shop)["cart_fingerprint"] != form["cart_fingerprint"]
    response = submit(shop, sandbox, form)
    assert response.url == "/checkout/"
    assert sandbox.requests("charges.create") == [] and not Order.objects.exists()


def test_the_same_total_from_other_lines_is_still_a_changed_cart(shop, sandbox):
    """Two soaps out, a product of the same price in: the total is unchanged, the lines are
    not; the fingerprint tells them apart."""
    Product.objects.create(name="Tea", slug="tea", price=24000, currency="THB")
    form = checkout_form(shop)
    shop.post("/cart/remove/", {"product": "rice-soap"})
    shop.post("/cart/add/", {"product": "tea", "quantity": "1"})
    assert checkout_form(shop)["shown_total"] == form["shown_total"]
    submit(shop, sandbox, form)
    assert sandbox.requests("charges.create") == []


@pytest.mark.parametrize(
    "forged",
    [
        {"shown_total": "1"},
        {"shown_total": ""},
        {"shown_total": "-5"},
        {"shown_total": "1e9"},
        {"shown_currency": "USD"},
        {"shown_currency": ""},
        {"cart_fingerprint": "0" * 32},
        {"cart_fingerprint": ""},
        {"cart_fingerprint": "x" * 500},
    ],
)
def test_a_missing_or_forged_shown_total_charges_nothing(shop, sandbox, forged):
    form = {**checkout_form(shop), **forged}
    response = submit(shop, sandbox, form)
    assert response.status_code in {302, 400}
    assert sandbox.requests("charges.create") == [] and not Order.objects.exists()


def test_a_page_rendered_again_after_an_error_shows_the_cart_as_it_is(shop, sandbox):
    """A form sent back with an error (here: no email) carries the current cart, not the
    values it was posted with."""
    form = checkout_form(shop)
    Product.objects.filter(slug="silk-scarf").update(price=139000)
    response = shop.post("/checkout/", {**form, "name": "Malee", "country": "TH"})
    assert response.status_code == 400
    assert 'name="shown_total" value="163000"' in response.text


# --- One cart, one payment ----------------------------------------------------------------------


def test_a_card_payment_ends_the_carts_pending_3ds_payment_first(shop, sandbox):
    """3-D Secure left pending, the same cart paid by card: the first charge is expired at
    Omise before the second is made; finishing 3-D Secure afterwards cannot pay it."""
    pay(shop, sandbox, "4000000000000002")
    first = PaymentAttempt.objects.get()
    pending_charge = sandbox.client.retrieve_charge(first.charge_id)
    assert first.status == PaymentAttempt.Status.PENDING
    page = shop.get("/checkout/")
    assert first.order.reference in page.text  # the pending order is linked
    pay(shop, sandbox)
    assert Charge.objects.get(id=first.charge_id).status == "expired"
    first.refresh_from_db()
    assert (first.status, first.order.status) == ("expired", Order.Status.EXPIRED)
    # The bank's page no longer offers to authorize it, and the bank cannot complete it.
    assert 'name="choice"' not in requests.get(pending_charge["authorize_uri"], timeout=10).text
    with pytest.raises(SandboxError):
        complete_3ds(charge_id=first.charge_id, passed=True)
    assert paid_orders().count() == 1


def test_a_card_payment_ends_the_carts_unscanned_promptpay_first(shop, sandbox):
    shop.post(
        "/checkout/",
        {**BUYER, **checkout_form(shop), "omise_source": sandbox.source("promptpay", amount=TOTAL)},
    )
    first = PaymentAttempt.objects.get()
    assert first.status == PaymentAttempt.Status.PENDING
    pay(shop, sandbox)
    assert Charge.objects.get(id=first.charge_id).status == "expired"
    with pytest.raises(AssertionError):  # the banking app can no longer pay the QR code
        sandbox.mark_as_paid(first.charge_id)
    assert paid_orders().count() == 1
    assert Order.objects.get(pk=first.order_id).status == Order.Status.EXPIRED


@pytest.mark.parametrize("fault", [{"status": 400}, {"status": 503}])
def test_a_pending_payment_that_cannot_be_ended_refuses_the_new_one(shop, sandbox, fault):
    """Omise refuses to end the earlier charge, or cannot be reached: the new attempt is
    refused with a message and a link to the pending order; nothing new is charged."""
    pay(shop, sandbox, "4000000000000002")
    first = PaymentAttempt.objects.get()
    sandbox.fault("charges.expire", **fault)
    response = pay(shop, sandbox)
    assert response.url == "/checkout/"
    [message] = messages_of(shop, response)
    assert first.order.reference in message and "still in progress" in message
    assert len(sandbox.requests("charges.create")) == 1
    assert Order.objects.count() == 1
    page = shop.get("/checkout/")
    assert first.order.get_absolute_url() in page.text


def test_a_cart_already_paid_elsewhere_is_not_charged_again(shop, sandbox):
    """The first payment settled by webhook while the shopper never saw its order page: the
    checkout (page or POST) shows that order, empties the cart and charges nothing."""
    pay(shop, sandbox, "4000000000000002")
    first = PaymentAttempt.objects.get()
    sandbox.complete_3ds(sandbox.client.retrieve_charge(first.charge_id), authorize=True)
    sandbox.deliver_webhooks()
    assert paid_orders().get().pk == first.order_id
    response = shop.get("/checkout/")
    assert response.url == first.order.get_absolute_url()
    assert shop.get("/cart/").context["cart"].lines == []
    assert len(sandbox.requests("charges.create")) == 1


def test_a_paid_post_for_a_cart_already_paid_charges_nothing(shop, sandbox):
    """Past the page check (a second tab's POST): the service finds the paid order first."""
    form = checkout_form(shop)
    pay(shop, sandbox, "4000000000000002")
    first = PaymentAttempt.objects.get()
    sandbox.complete_3ds(sandbox.client.retrieve_charge(first.charge_id), authorize=True)
    sandbox.deliver_webhooks()
    response = submit(shop, sandbox, {**form, "attempt_key": shop.session["checkout_attempt_key"]})
    assert response.status_code == 302 and response.url == first.order.get_absolute_url()
    assert len(sandbox.requests("charges.create")) == 1
    assert paid_orders().count() == 1


def test_a_second_tab_paying_a_cart_paid_meanwhile_costs_no_velocity_points(shop, sandbox):
    """A second tab's page (a key of its own) is posted after the first tab's payment went
    through: nothing is charged, and since nothing was tried, the shopper keeps the points
    the velocity limits took for it."""
    pay(shop, sandbox, "4000000000000002")
    first = PaymentAttempt.objects.get()
    second_tab = checkout_form(shop)
    assert second_tab["attempt_key"] != first.key
    sandbox.complete_3ds(sandbox.client.retrieve_charge(first.charge_id), authorize=True)
    sandbox.deliver_webhooks()
    points = velocity._key("points", "email", velocity.normalise_email(BUYER["email"]))
    before = cache.get(points)
    response = submit(shop, sandbox, second_tab)
    assert response.status_code == 302 and response.url == first.order.get_absolute_url()
    assert len(sandbox.requests("charges.create")) == 1
    assert cache.get(points) == before


def test_a_second_tab_at_the_edge_of_a_limit_is_shown_its_paid_order(shop, sandbox, settings):
    """The same, for a shopper whose next attempt would reach a limit: the cart paid meanwhile
    is answered first, never with "too many attempts"."""
    settings.CHECKOUT_VELOCITY_LIMITS = {
        **settings.CHECKOUT_VELOCITY_LIMITS,
        "email": (5, 600, 600),
    }
    pay(shop, sandbox, "4000000000000002")  # waits at the bank, holding a decline's 3 points
    first = PaymentAttempt.objects.get()
    second_tab = checkout_form(shop)
    sandbox.complete_3ds(sandbox.client.retrieve_charge(first.charge_id), authorize=True)
    sandbox.deliver_webhooks()
    response = submit(shop, sandbox, second_tab)
    assert response.status_code == 302 and response.url == first.order.get_absolute_url()


def race_both_paid(shop, sandbox):
    """The bank completes the first charge although Omise expired it: two paid charges for
    one cart. Returns (first order, second order) after the late one is applied."""
    pay(shop, sandbox, "4000000000000002")
    first = PaymentAttempt.objects.get()
    pay(shop, sandbox)
    second = PaymentAttempt.objects.exclude(pk=first.pk).get()
    assert second.order.status == Order.Status.PAID
    # The race: the bank's approval lands after the expiry.
    Charge.objects.filter(id=first.charge_id).update(
        status="successful", authorized=True, paid=True, expired=False
    )
    services.attempt_reconcile(attempt=PaymentAttempt.objects.get(pk=first.pk))
    return Order.objects.get(pk=first.order_id), Order.objects.get(pk=second.order_id)


def test_when_a_bank_race_pays_a_cart_twice_the_later_payment_is_refunded(shop, sandbox):
    late, kept = race_both_paid(shop, sandbox)
    assert late.duplicate_of_id == kept.pk and kept.duplicate_of_id is None
    assert late.status == Order.Status.REFUNDED and late.refunded_amount == late.amount
    [refund] = sandbox.requests("refunds.create")
    assert int(refund.params["amount"]) == late.amount
    assert Refund.objects.get(order=late).request_token == f"duplicate-{late.reference}"
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.DUPLICATE_PAYMENT)
    assert event.detail["order"] == late.reference and event.detail["paid_first"] == kept.reference
    page = shop.get(late.get_absolute_url())
    assert "This cart was already paid" in page.text and kept.reference in page.text
    assert "has been refunded in full" in page.text
    assert duplicate_refund(order_id=late.pk) is None  # nothing left: never refunded twice
    assert len(sandbox.requests("refunds.create")) == 1


def test_a_duplicate_refund_that_fails_is_retried_by_reconcile(shop, sandbox):
    from django.core.management import call_command

    sandbox.fault("refunds.create", status=503)
    late, kept = race_both_paid(shop, sandbox)
    assert late.status == Order.Status.PAID and late.duplicate_of_id == kept.pk
    sandbox.clear_faults()  # Omise is back
    call_command("reconcile_payments", "--quiet")
    late.refresh_from_db()
    assert late.status == Order.Status.REFUNDED
    assert Order.objects.get(pk=kept.pk).status == Order.Status.PAID


def test_a_duplicate_refund_lost_on_the_way_is_made_by_reconcile(shop, sandbox, settings):
    """The refund's request never reached Omise (connection refused): its row, without a
    refund id, no longer keeps reconcile from refunding the duplicate payment."""
    from datetime import timedelta

    from django.core.management import call_command

    sandbox.fault("refunds.create", status=503)
    late, kept = race_both_paid(shop, sandbox)
    sandbox.clear_faults()
    api_url, settings.OMISE_API_URL = settings.OMISE_API_URL, "http://127.0.0.1:9/api"
    assert duplicate_refund(order_id=late.pk) is None
    settings.OMISE_API_URL = api_url
    assert Refund.objects.get().refund_id is None
    Refund.objects.update(created_at=Refund.objects.get().created_at - timedelta(hours=1))
    call_command("reconcile_payments", "--quiet")
    late.refresh_from_db()
    assert late.status == Order.Status.REFUNDED and Refund.objects.get().refund_id
    assert Order.objects.get(pk=kept.pk).status == Order.Status.PAID


def test_the_shopper_of_a_paid_order_keeps_a_new_cart(shop, sandbox):
    """An old paid order's page no longer empties a cart started since."""
    pay(shop, sandbox)
    order = paid_orders().get()
    shop.get(order.get_absolute_url())  # empties the cart it paid for
    assert CHECKOUT_ID_KEY not in shop.session
    shop.post("/cart/add/", {"product": "rice-soap", "quantity": "1"})
    checkout_form(shop)
    pay(shop, sandbox)  # gives the new cart its own checkout id... and pays it
    shop.post("/cart/add/", {"product": "rice-soap", "quantity": "1"})
    shop.get(order.get_absolute_url())
    assert shop.get("/cart/").context["cart"].lines != []


def test_two_tabs_racing_to_a_carts_first_payment_share_its_id(shop, sandbox):
    """Pay clicked in two tabs of one session before either response saved it: both requests
    load the same session, so they must find the cart's id in it rather than each make one
    (which gave two carts, each paid once). The second then finds the first's payment."""
    from importlib import import_module

    from django.conf import settings

    from shop.cart import Cart

    store = import_module(settings.SESSION_ENGINE).SessionStore
    tabs = [Cart(store(session_key=shop.session.session_key)) for _ in range(2)]
    assert tabs[0].checkout_id(create=False)  # made with the cart's first line
    assert tabs[0].checkout_id() == tabs[1].checkout_id()

    def submit_in(tab, key):
        return services.cart_charge(
            cart=tab,
            buyer=services.Buyer(email=BUYER["email"], name=BUYER["name"], country="TH"),
            shown=services.ShownCart(tab.total, tab.currency, tab.fingerprint),
            token=sandbox.token("4242424242424242"),
            attempt_key=key,
            client_ip="203.0.113.9",
            return_url=lambda attempt: "https://shop.example/return",
        )

    submit_in(tabs[0], "tab-one-attempt-key-000000000000")
    with pytest.raises(services.CartAlreadyPaid):
        submit_in(tabs[1], "tab-two-attempt-key-000000000000")
    assert paid_orders().count() == 1 and len(sandbox.requests("charges.create")) == 1


def test_other_shoppers_carts_are_their_own(shop, sandbox):
    """A second browser paying the same products is another cart: no interference."""
    pay(shop, sandbox, "4000000000000002")
    other = Client()
    other.post("/cart/add/", {"product": "silk-scarf", "quantity": "1"})
    other.post("/cart/add/", {"product": "rice-soap", "quantity": "2"})
    pay(other, sandbox)
    assert PaymentAttempt.objects.filter(status="pending").count() == 1
    assert paid_orders().count() == 1


def test_the_merchant_sees_a_cart_paid_twice(shop, sandbox, otp_admin_client):
    """The dashboard counts it, the admin's order list filters it, and the order says which
    order had paid first."""
    from checkout import monitoring

    late, kept = race_both_paid(shop, sandbox)
    assert monitoring.summary(hours=24)["duplicate_payments"] == 1
    listing = otp_admin_client.get("/admin/checkout/order/?duplicate_of__isempty=0")
    assert [order.pk for order in listing.context["cl"].result_list] == [late.pk]
    dashboard = otp_admin_client.get("/admin/checkout/order/monitoring/")
    assert "Carts paid twice" in dashboard.text
