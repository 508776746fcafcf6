"""The charge flow through the checkout view, against the sandbox over real HTTP."""

import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from checkout import services
from checkout.models import Order, PaymentAttempt
from shop.cart import SESSION_KEY, Cart
from tests.factories import make_product
from tests.shopping import BUYER, checkout_form, checkout_page, messages_of, pay

pytestmark = pytest.mark.django_db(transaction=True)

DECLINES = {
    "4111111111140011": "insufficient funds",
    "4111111111130012": "contact your bank",
    "4111111111120013": "could not be processed",
    "4111111111110014": "rejected the payment",
    "4111111111190016": "could not accept this payment",
    "4111111111180017": "did not recognise this card number",
    "4111111111160001": "security code was not accepted",
    "4111111111150002": "could not be processed",  # 3-D Secure enrollment fails
}


def attempt_charge(response) -> dict:
    """The part of the charge the sandbox's 3-D Secure page needs, from the to-the-bank page."""
    return {"authorize_uri": response.context["authorize_uri"]}


def test_success_pays_the_order_and_empties_the_cart(shop, sandbox):
    """A successful card charge marks the order paid, shows it, and only then empties the cart."""
    response = pay(shop, sandbox)
    order = Order.objects.get()
    assert response.status_code == 302 and response.url == order.get_absolute_url()
    assert order.status == Order.Status.PAID and order.paid_at
    assert order.amount == 129000 + 2 * 12000
    attempt = order.attempts.get()
    assert attempt.charge_id.startswith("chrg_test_") and attempt.card_last_digits == "4242"
    page = shop.get(response.url)
    assert "your order is paid" in page.text
    assert SESSION_KEY not in shop.session or not shop.session[SESSION_KEY]


def test_charge_carries_server_amount_and_fraud_data(shop, sandbox):
    """The charge's amount comes from the server-side cart; description, ip, metadata and a
    return_uri with the order reference and an unguessable token go with it."""
    pay(shop, sandbox, amount="100", currency="USD")  # a tampering client's extra fields
    sent = sandbox.last_request("charges.create")
    order = Order.objects.get()
    attempt = order.attempts.get()
    assert int(sent["amount"]) == 153000 and sent["currency"].upper() == "THB"
    assert order.reference in sent["description"] and "Silk Scarf" in sent["description"]
    assert sent["ip"] == "127.0.0.1"
    metadata = sent["metadata"]
    assert metadata["order_reference"] == order.reference
    assert metadata["email"] == BUYER["email"]
    assert {(i["sku"], i["quantity"]) for i in metadata["items"]} == {
        ("silk-scarf", 1),
        ("rice-soap", 2),
    }
    assert sent["return_uri"].endswith(f"/orders/{order.reference}/return/{attempt.return_token}/")
    assert len(attempt.return_token) >= 32


@pytest.mark.parametrize(("number", "phrase"), DECLINES.items())
def test_declines_return_to_checkout_with_a_message_and_the_cart_intact(
    shop, sandbox, number, phrase
):
    """Each decline code brings the shopper back to checkout with its own message."""
    response = pay(shop, sandbox, number)
    assert response.status_code == 302 and response.url == reverse("checkout:checkout")
    assert any(phrase in m for m in messages_of(shop, response))
    assert Order.objects.get().status == Order.Status.FAILED
    assert shop.session[SESSION_KEY]  # cart intact


def test_another_attempt_is_allowed_after_a_decline(shop, sandbox):
    """After a decline the checkout issues a new attempt key and a second card can pay."""
    first_key = checkout_page(shop)
    pay(shop, sandbox, "4111111111140011", attempt_key=first_key)
    second_key = checkout_page(shop)
    assert second_key != first_key
    pay(shop, sandbox, attempt_key=second_key)
    assert sorted(Order.objects.values_list("status", flat=True)) == ["failed", "paid"]


def test_double_submit_creates_one_charge(shop, sandbox):
    """The same attempt posted twice (double click, refresh) creates exactly one charge."""
    token = sandbox.token()
    data = {**BUYER, **checkout_form(shop), "omise_token": token}
    first = shop.post("/checkout/", data)
    second = shop.post("/checkout/", {**data, "omise_token": sandbox.token()})
    assert first.url == second.url
    assert len(sandbox.requests("charges.create")) == 1
    assert PaymentAttempt.objects.count() == 1


def test_a_repeat_while_the_first_waits_at_the_bank_creates_no_second_charge(shop, sandbox):
    """The first POST went to 3-D Secure and the cart is still full: a repeat of it (a double
    click, a reload) sends the shopper to the same bank page, with no second order or charge."""
    data = {**BUYER, **checkout_form(shop), "omise_token": sandbox.token("4000000000000002")}
    first = shop.post("/checkout/", data)
    second = shop.post("/checkout/", {**data, "omise_token": sandbox.token()})
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == PaymentAttempt.Status.PENDING and attempt.authorize_uri
    assert first.status_code == second.status_code == 200
    assert attempt.authorize_uri in second.text
    assert len(sandbox.requests("charges.create")) == 1
    assert Order.objects.count() == 1


def test_foreign_attempt_key_is_refused(shop, sandbox):
    """A key this session was not given (a stale tab, a forged form) charges nothing."""
    checkout_page(shop)
    response = pay(shop, sandbox, attempt_key="not-the-key-this-session-got")
    assert response.url == reverse("checkout:checkout")
    assert any("expired" in m for m in messages_of(shop, response))
    assert sandbox.requests("charges.create") == []


@pytest.mark.parametrize(
    "token", ["", "tokn_", "chrg_test_abc123456", "tokn_test_../../x", "4242424242424242"[:10]]
)
def test_malformed_tokens_are_refused_before_omise(shop, sandbox, token):
    """Anything but a well-formed token id re-renders the form with an error; nothing charged."""
    response = shop.post("/checkout/", {**BUYER, **checkout_form(shop), "omise_token": token})
    assert response.status_code == 400
    assert "card details were not received" in response.text
    assert sandbox.requests("charges.create") == []


def test_used_token_is_a_clear_message(shop, sandbox):
    """A token already spent is refused by Omise; the shopper is asked to enter the card again."""
    token = sandbox.token()
    sandbox.client.create_charge(amount=5000, currency="THB", card=token)
    response = pay(shop, sandbox, omise_token=token)
    assert any("enter your card again" in m for m in messages_of(shop, response))
    assert Order.objects.get().status == Order.Status.FAILED


@pytest.mark.parametrize("missing", ["street1", "city", "state", "postal_code"])
def test_us_and_canadian_shoppers_must_give_a_billing_address(shop, sandbox, missing):
    """For US/CA shoppers each billing address field is required (Omise's fraud guidance)."""
    address = {
        "country": "US",
        "street1": "1 Main St",
        "city": "Austin",
        "state": "TX",
        "postal_code": "78701",
    }
    data = {**BUYER, **address, missing: "", "omise_token": sandbox.token(), **checkout_form(shop)}
    response = shop.post("/checkout/", data)
    assert response.status_code == 400
    assert "Required for billing addresses" in response.text
    assert sandbox.requests("charges.create") == []


def test_amounts_outside_omise_limits_are_refused(client, sandbox):
    """A cart under ฿20.00 is refused with a message before any charge."""
    cheap = make_product(price=1000)
    client.post("/cart/add/", {"product": cheap.slug, "quantity": "1"})
    response = pay(client, sandbox)
    assert any("between ฿20.00 and ฿150,000.00" in m for m in messages_of(client, response))
    assert sandbox.requests("charges.create") == []


def test_empty_cart_cannot_check_out(client, sandbox):
    """With nothing in the cart the checkout sends the shopper back to the cart."""
    response = client.get("/checkout/")
    assert response.status_code == 302 and response.url == reverse("shop:cart")


def test_three_d_secure_pass(shop, sandbox):
    """A 3-D Secure card redirects to the bank; after authorising, the return confirms it paid."""
    response = pay(shop, sandbox, "4000000000000002")
    attempt = PaymentAttempt.objects.get()
    assert response.status_code == 200
    assert response.context["authorize_uri"] == attempt.authorize_uri
    assert f'content="0;url={attempt.authorize_uri}"' in response.text
    assert attempt.charge_id and attempt.status == PaymentAttempt.Status.PENDING
    back = sandbox.complete_3ds(attempt_charge(response), authorize=True)
    landing = shop.get(urlsplit(back).path)
    assert landing.url == attempt.order.get_absolute_url()
    assert Order.objects.get().status == Order.Status.PAID
    assert "your order is paid" in shop.get(landing.url).text


@pytest.mark.parametrize(
    ("number", "authorize", "message"),
    [
        ("4000000000000002", False, "not charged"),  # the shopper fails the bank's check
        ("4111111111140003", True, "could not be processed"),  # validation fails all the same
    ],
    ids=["shopper-fails", "validation-fails"],
)
def test_three_d_secure_fail(shop, sandbox, number, authorize, message):
    """A failed 3-D Secure check brings the shopper back to checkout with a message, the cart
    intact; the order fails and nothing is charged."""
    response = pay(shop, sandbox, number)
    back = sandbox.complete_3ds(attempt_charge(response), authorize=authorize)
    landing = shop.get(urlsplit(back).path)
    assert landing.url == reverse("checkout:checkout")
    assert any(message in m for m in messages_of(shop, landing))
    assert Order.objects.get().status == Order.Status.FAILED
    assert shop.session[SESSION_KEY]


def test_returning_before_the_bank_has_finished_shows_still_confirming(shop, sandbox):
    """A shopper back on the return URL while the charge is still pending sees the order's
    "confirming" page, which watches its status, and is never sent to the bank again."""
    pay(shop, sandbox, "4000000000000002")
    attempt = PaymentAttempt.objects.get()
    back = reverse("checkout:return", args=[attempt.order.reference, attempt.return_token])
    landing = shop.get(back)
    assert landing.status_code == 302 and landing.url == attempt.order.get_absolute_url()
    page = shop.get(landing.url).text
    assert "Confirming your payment" in page and "status.json" in page
    assert attempt.authorize_uri not in page
    assert Order.objects.get().status == Order.Status.PENDING


def test_reloading_the_return_page_is_harmless(shop, sandbox):
    """Loading the 3-D Secure return URL again changes nothing and charges nothing."""
    response = pay(shop, sandbox, "4000000000000002")
    back = urlsplit(sandbox.complete_3ds(attempt_charge(response))).path
    first, second = shop.get(back), shop.get(back)
    assert first.url == second.url
    assert Order.objects.get().status == Order.Status.PAID
    assert len(sandbox.requests("charges.create")) == 1


def test_return_with_a_wrong_token_is_404(shop, sandbox):
    """The return URL works only with the attempt's own unguessable token."""
    pay(shop, sandbox, "4000000000000002")
    order = Order.objects.get()
    assert shop.get(f"/orders/{order.reference}/return/guess/").status_code == 404


def test_order_page_needs_its_secret_link(shop, sandbox):
    """An order page is shown only with the reference and its access token."""
    pay(shop, sandbox)
    order = Order.objects.get()
    assert shop.get(order.get_absolute_url()).status_code == 200
    assert shop.get(f"/orders/{order.reference}/wrong-token/").status_code == 404


def test_pending_order_page_watches_its_status_until_settled(shop, sandbox):
    """While the bank confirms, the order page says so, and its script polls the order's
    status to reload once it settles (no timed meta refresh: WCAG 2.2.1); "Check now" works
    without script."""
    pay(shop, sandbox, "4000000000000002")
    order = Order.objects.get()
    page = shop.get(order.get_absolute_url())
    assert "Confirming your payment" in page.text
    assert f'data-status-url="{order.get_absolute_url()}status.json"' in page.text
    assert re.search(r'<script src="/static/js/promptpay\.js" nonce="[^"]+"></script>', page.text)
    assert 'http-equiv="refresh"' not in page.text
    assert f'<a href="{order.get_absolute_url()}">Check now</a>' in page.text


def _submit(shop, sandbox, key: str, cart=None):
    """checkout_submit called directly, as a second request racing past the view's check."""
    cart = cart or Cart(shop.session)
    return services.cart_charge(
        cart=cart,
        buyer=services.Buyer(
            **{k: v for k, v in BUYER.items() if k in services.Buyer.__dataclass_fields__}
        ),
        shown=services.ShownCart(cart.total, cart.currency, cart.fingerprint),
        token=sandbox.token(),
        attempt_key=key,
        client_ip="127.0.0.1",
        return_url=lambda a: f"http://testserver/return/{a.return_token}/",
    )


def test_a_key_already_used_returns_its_attempt_without_a_new_charge(shop, sandbox):
    """Past the view (a race), the unique key still finds the first attempt: no second order
    survives, no second charge; likewise once the cart is empty."""
    key = checkout_page(shop)
    first = _submit(shop, sandbox, key)
    again = _submit(shop, sandbox, key)
    assert again.pk == first.pk and again.order.pk == first.order.pk
    empty = Cart(shop.session)
    empty.clear()
    assert _submit(shop, sandbox, key, cart=empty).pk == first.pk
    assert len(sandbox.requests("charges.create")) == 1
    assert (Order.objects.count(), PaymentAttempt.objects.count()) == (1, 1)


def test_the_charge_id_is_stored_even_if_applying_the_charge_fails(shop, sandbox, monkeypatch):
    """The charge id and the outcome are written in one transaction; if applying fails, the
    id is still stored on its own, so reconciling retrieves the charge by id."""

    def broken(order, attempt, charge):
        raise RuntimeError("applying failed")

    monkeypatch.setattr(services, "_order_follow", broken)
    key = checkout_page(shop)
    with pytest.raises(RuntimeError):
        _submit(shop, sandbox, key)
    attempt = PaymentAttempt.objects.get()
    assert attempt.charge_id.startswith("chrg_test_")
    assert attempt.status == PaymentAttempt.Status.CREATING
    monkeypatch.undo()
    settled = services.attempt_reconcile(attempt=attempt)
    assert settled.status == PaymentAttempt.Status.SUCCESSFUL
    assert settled.order.status == Order.Status.PAID
