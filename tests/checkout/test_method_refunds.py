"""Refund rules per method (checkout/payment_methods.py REFUND_RULES), enforced by
checkout.refunds whoever asks, and said in the admin; the admin's "Payment methods" page shows
the account's capability and refreshes it on demand."""

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from checkout.capability import Origin, capability_get
from checkout.models import Order
from checkout.refunds import RefundError, refund_create
from tests.factories import make_product
from tests.shopping import BUYER, checkout_form

pytestmark = pytest.mark.django_db(transaction=True)
PRICE = 1_290_000


def paid_with(client, sandbox, source_type: str, **fields) -> Order:
    make_product(name="Teak Chair", slug="teak-chair", price=PRICE)
    client.post("/cart/add/", {"product": "teak-chair", "quantity": "1"})
    source = sandbox.source(source_type, amount=PRICE, **fields)
    response = client.post("/checkout/", {**BUYER, **checkout_form(client), "omise_source": source})
    back = sandbox.complete_offsite(response.context["authorize_uri"], "pay")
    client.get(urlsplit(back).path)
    order = Order.objects.get()
    assert order.status == Order.Status.PAID
    return order


def test_a_full_only_method_refuses_a_partial_refund_before_omise(client, sandbox):
    """Mobile banking refunds in full, once: a partial refund is refused with the reason, and
    nothing reaches Omise; the full amount is refunded."""
    order = paid_with(client, sandbox, "mobile_banking_kbank")
    with pytest.raises(RefundError, match="can only be refunded in full"):
        refund_create(order=order, amount=PRICE - 100)
    assert sandbox.requests("refunds.create") == []
    refund_create(order=order, amount=PRICE)
    assert Order.objects.get().status == Order.Status.REFUNDED


def test_a_partial_method_refunds_part(client, sandbox):
    order = paid_with(client, sandbox, "truemoney", phone_number="0812345678")
    refund_create(order=order, amount=100_000)
    assert Order.objects.get().status == Order.Status.PARTIALLY_REFUNDED


def test_the_refund_page_says_the_rule(client, sandbox, otp_admin_client):
    order = paid_with(client, sandbox, "installment_kbank", installment_term=3)
    url = reverse("admin:checkout_order_refund", args=[order.pk])
    page = otp_admin_client.get(url).content.decode()
    assert "Kasikorn Bank installments: full refunds only (the whole amount, once)" in page
    refused = otp_admin_client.post(url, {"amount": "100.00", "token": "t" * 24})
    assert refused.status_code == 400
    assert "can only be refunded in full" in refused.content.decode()


# --- the admin's payment methods page --------------------------------------------------------


def test_the_payment_methods_page_shows_the_account_and_refreshes(
    sandbox, settings, otp_admin_client
):
    url = reverse("admin:checkout_payment_methods")
    page = otp_admin_client.get(url).content.decode()
    assert "Read from Omise" in page and "<code>mobile_banking_scb</code>" in page
    assert "3, 4, 6, 10" in page  # KBank's terms
    settings.SANDBOX_PAYMENT_METHODS = ["card", "promptpay"]
    response = otp_admin_client.post(url)
    assert response.status_code == 302
    assert list(capability_get().methods) == ["card", "promptpay"]
    assert "<code>mobile_banking_scb</code>" not in otp_admin_client.get(url).content.decode()


def test_a_refresh_that_fails_keeps_the_copy_and_says_so(sandbox, otp_admin_client):
    url = reverse("admin:checkout_payment_methods")
    otp_admin_client.get(url)
    sandbox.fault("capability.retrieve", status=500, count=3)
    page = otp_admin_client.post(url, follow=True).content.decode()
    assert "could not be read" in page
    assert capability_get().origin == Origin.OMISE


def test_the_page_needs_staff(client, sandbox):
    response = client.get(reverse("admin:checkout_payment_methods"))
    assert response.status_code == 302 and "/login/" in response.url
