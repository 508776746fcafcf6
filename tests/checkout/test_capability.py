"""The account's capability (checkout/capability.py) with Omise faked in process: what the
checkout offers for a cart, the server refusing a source the capability does not allow whatever
the browser sent (a forged type, term or phone number), and the fallback when Omise is down."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from checkout import capability
from checkout.capability import Capability, Origin, capability_get, source_refusal
from checkout.models import Order
from checkout.omise import OmiseAPIError, OmiseNetworkError
from tests.factories import make_product
from tests.shopping import BUYER, checkout_form

pytestmark = pytest.mark.django_db

SMALL, LARGE = 129000, 1_290_000  # ฿1,290 and ฿12,900
# The fake account (tests/fake_omise.py default_capability): KBank 3/4/6/10 months, ฿2,000 a
# month at least: ฿12,900 has 3, 4 and 6 months; ฿1,290 has none.


def cart_of(client, price: int):
    make_product(name="Silk Scarf", slug="silk-scarf", price=price)
    client.post("/cart/add/", {"product": "silk-scarf", "quantity": "1"})
    return client


def offered_on_page(client) -> list[str]:
    html = client.get("/checkout/").content.decode()
    return re.search(r'data-other-payment-methods="([^"]*)"', html).group(1).split(",")


def pay_with(client, fake_omise, price: int, source_type: str, **fields):
    source = fake_omise.source(source_type, amount=price, **fields)
    data = {**BUYER, **checkout_form(client), "omise_source": source}
    return client.post("/checkout/", data)


# --- what is offered --------------------------------------------------------------------------


def test_the_checkout_offers_what_the_account_has_for_this_cart(client, fake_omise):
    """Only methods in the account's capability, in the form's order; installments once a plan
    is open to the cart's amount."""
    cart_of(client, LARGE)
    assert offered_on_page(client) == [
        "promptpay",
        "mobile_banking_kbank",
        "truemoney",
        "installment",
    ]


def test_installments_are_hidden_below_their_minimum(client, fake_omise):
    """฿1,290 over three months is under the ฿2,000 monthly minimum: no installment choice."""
    cart_of(client, SMALL)
    assert "installment" not in offered_on_page(client)


def test_terms_come_from_the_account_not_from_constants(fake_omise):
    """Terms and the monthly minimum follow the capability: another account, other plans."""
    data = fake_omise.capability_data
    cap = Capability.from_json(data)
    assert cap.installment_terms("installment_kbank", amount=LARGE, currency="THB") == [3, 4, 6]
    data["limits"]["installment_amount"]["min"] = 100000
    data["payment_methods"][-1]["installment_terms"] = [3, 10, 24]
    cap = Capability.from_json(data)
    assert cap.installment_terms("installment_kbank", amount=LARGE, currency="THB") == [3, 10]
    assert cap.installment_terms("installment_kbank", amount=LARGE, currency="USD") == []


def test_internet_banking_is_never_offered_even_if_the_account_lists_it(fake_omise):
    """Discontinued on 2025-09-30: an old account's capability may still list it."""
    fake_omise.capability_data["payment_methods"].append(
        {"name": "internet_banking_bbl", "currencies": ["THB"]}
    )
    cap = Capability.from_json(fake_omise.capability_data)
    assert "internet_banking_bbl" not in cap.offered(amount=LARGE, currency="THB")


def test_nothing_beyond_cards_outside_the_charge_limits(fake_omise):
    cap = Capability.from_json(fake_omise.capability_data)
    assert cap.offered(amount=1999, currency="THB") == []
    assert cap.offered(amount=15_000_001, currency="THB") == []


# --- the server refuses what the capability does not allow --------------------------------------


@pytest.mark.parametrize(
    ("source_type", "fields", "message"),
    [
        ("installment_kbank", {"installment_term": 9}, "installment plan is not available"),
        ("installment_kbank", {"installment_term": 10}, "installment plan is not available"),
        ("installment_kbank", {"installment_term": "6"}, "installment plan is not available"),
        ("installment_kbank", {}, "installment plan is not available"),
        ("installment_scb", {"installment_term": 3}, "not available for this order"),
        ("mobile_banking_scb", {}, "not available for this order"),
        ("internet_banking_bbl", {}, "not available for this order"),
        ("alipay", {}, "not available for this order"),
        ("truemoney", {}, "mobile number of your TrueMoney Wallet"),
        ("truemoney", {"phone_number": "021234567"}, "mobile number of your TrueMoney Wallet"),
    ],
    ids=[
        "term not offered",
        "term under the monthly minimum",
        "term as text",
        "no term",
        "issuer not enabled",
        "bank not enabled",
        "internet banking",
        "type this shop does not handle",
        "truemoney without phone",
        "truemoney landline",
    ],
)
def test_a_forged_source_is_refused_before_any_order_or_charge(
    client, fake_omise, source_type, fields, message
):
    """A source the page never offered (made with the public key by hand) is read back from
    Omise and refused: no order, no charge, the shopper told why."""
    cart_of(client, LARGE)
    response = pay_with(client, fake_omise, LARGE, source_type, **fields)
    assert response.status_code == 302 and response.url == "/checkout/"
    assert Order.objects.count() == 0 and fake_omise.calls_of("create_charge") == []
    shown = [str(m) for m in client.get(response.url).context["messages"]]
    assert any(message in m for m in shown), shown


@pytest.mark.parametrize(
    ("source_type", "fields"),
    [
        ("installment_kbank", {"installment_term": 6}),
        ("truemoney", {"phone_number": "081 234 5678"}),
        ("mobile_banking_kbank", {}),
        ("promptpay", {}),
    ],
)
def test_an_allowed_source_is_charged(client, fake_omise, source_type, fields):
    cart_of(client, LARGE)
    pay_with(client, fake_omise, LARGE, source_type, **fields)
    assert fake_omise.last_call("create_charge")["amount"] == LARGE
    assert Order.objects.get().attempts.get().payment_method == source_type


def test_a_source_omise_cannot_find_is_refused(client, fake_omise):
    cart_of(client, LARGE)
    data = {**BUYER, **checkout_form(client), "omise_source": "src_test_" + "0" * 19}
    response = client.post("/checkout/", data)
    assert response.url == "/checkout/" and Order.objects.count() == 0


def test_a_source_that_cannot_be_read_is_not_charged(client, fake_omise):
    """Omise unreachable while reading the source: nothing is created, the shopper may retry."""
    cart_of(client, LARGE)
    source = fake_omise.source("promptpay", amount=LARGE)
    fake_omise.fail_next("retrieve_source", OmiseNetworkError("down"))
    data = {**BUYER, **checkout_form(client), "omise_source": source}
    response = client.post("/checkout/", data)
    assert response.url == "/checkout/" and Order.objects.count() == 0
    shown = [str(m) for m in client.get(response.url).context["messages"]]
    assert shown == [str(capability.SERVICE_DOWN)]


def test_source_refusal_checks_the_amount_too():
    cap = Capability.from_json({"payment_methods": [{"name": "promptpay", "currencies": ["THB"]}]})
    source = {"type": "promptpay", "amount": 5000, "currency": "thb"}
    assert source_refusal(cap, source, amount=5000, currency="THB") == ""
    assert "another amount" in source_refusal(cap, source, amount=6000, currency="THB")
    assert "another amount" in source_refusal(cap, source, amount=5000, currency="USD")
    for amount in (None, "x", "5000.5"):
        refusal = source_refusal(cap, {**source, "amount": amount}, amount=5000, currency="THB")
        assert "another amount" in refusal


# --- cached, refreshed, and a fallback when Omise is down ---------------------------------------


def test_the_capability_is_read_once_and_cached(fake_omise):
    assert capability_get().origin == Origin.OMISE
    assert capability_get().origin == Origin.OMISE
    assert len(fake_omise.calls_of("capability")) == 1


def test_a_stale_copy_is_read_again(fake_omise, settings):
    capability_get()
    stored = cache.get(capability.CACHE_KEY)
    stored["fetched_at"] = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    cache.set(capability.CACHE_KEY, stored)
    capability_get()
    assert len(fake_omise.calls_of("capability")) == 2


@pytest.mark.parametrize(
    "error",
    [
        OmiseNetworkError("timed out", timed_out=True),
        OmiseAPIError(code="server_error", message="boom", http_status=503),
    ],
)
def test_omise_down_with_no_copy_falls_back_to_cards_only(client, fake_omise, error):
    """Never read: cards only (a method that needs enabling is never offered blind), and
    Omise is not asked again on every page for a minute."""
    fake_omise.fail_next("capability", error)
    cap = capability_get()
    assert cap.origin == Origin.FALLBACK and list(cap.methods) == ["card"]
    assert cap.offered(amount=LARGE, currency="THB") == []
    cart_of(client, LARGE)
    assert offered_on_page(client) == [""]
    assert len(fake_omise.calls_of("capability")) == 1


def test_omise_down_keeps_the_last_good_copy(fake_omise):
    capability_get()
    stored = cache.get(capability.CACHE_KEY)
    stored["fetched_at"] = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    cache.set(capability.CACHE_KEY, stored)
    fake_omise.fail_next("capability", OmiseNetworkError("down"))
    cap = capability_get()
    assert cap.origin == Origin.LAST_GOOD
    assert "mobile_banking_kbank" in cap.offered(amount=LARGE, currency="THB")


def test_a_malformed_answer_is_not_cached(fake_omise):
    fake_omise.capability_data = {"object": "capability", "payment_methods": "all of them"}
    assert capability_get().origin == Origin.FALLBACK
    assert cache.get(capability.CACHE_KEY) is None


# --- the scheduled refresh ----------------------------------------------------------------------


def test_the_scheduled_refresh_reads_omise_now(fake_omise):
    capability_get()
    out = io.StringIO()
    call_command("omise_capability", stdout=out)
    assert len(fake_omise.calls_of("capability")) == 2
    assert out.getvalue().startswith("omise_capability: 5 methods;")


def test_the_scheduled_refresh_fails_loudly_and_keeps_the_copy(fake_omise):
    capability_get()
    fake_omise.fail_next("capability", OmiseNetworkError("down"))
    with pytest.raises(CommandError, match="Could not read the account's capability"):
        call_command("omise_capability", "--quiet")
    assert capability_get().origin == Origin.OMISE  # the cached copy is untouched
