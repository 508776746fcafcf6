"""Manual capture end to end over HTTP: the checkout authorizes only (OMISE_CAPTURE=manual),
the sandbox holds the authorization, staff capture or release it from the order's admin page
(verified 2FA session), and the sandbox's webhooks agree."""

import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from checkout.models import AuthorizationAction, Order, PaymentAttempt
from tests.shopping import pay

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def manual(settings):
    settings.OMISE_CAPTURE = "manual"


def capture_url(order: Order) -> str:
    return reverse("admin:checkout_order_capture", args=[order.pk])


def form_of(client, order: Order) -> dict:
    """The capture page's one-time token, as the rendered form carries it."""
    response = client.get(capture_url(order))
    assert response.status_code == 200
    token = re.search(rb'name="token" value="([^"]+)"', response.content)
    return {"token": token.group(1).decode() if token else "none-shown"}


def test_checkout_authorizes_only_and_the_shopper_sees_it(manual, shop, sandbox):
    response = pay(shop, sandbox)
    assert sandbox.last_request("charges.create")["capture"] is False
    order = Order.objects.get()
    assert order.status == Order.Status.AUTHORIZED
    page = shop.get(response.url)
    assert b"authorized for" in page.content and b"charged when we send" in page.content
    assert shop.get("/cart/").context["cart"].lines == []  # the cart was emptied


def test_automatic_capture_stays_the_default(shop, sandbox):
    pay(shop, sandbox)
    assert sandbox.last_request("charges.create")["capture"] is True
    assert Order.objects.get().status == Order.Status.PAID


def test_staff_capture_part_once_and_the_webhook_agrees(manual, shop, sandbox, otp_admin_client):
    """Capture ฿1,000.00 of ฿1,530.00: submitted twice (a double click), captured once; the
    charge.capture webhook then changes nothing."""
    pay(shop, sandbox)
    order = Order.objects.get()
    change = otp_admin_client.get(reverse("admin:checkout_order_change", args=[order.pk]))
    assert capture_url(order).encode() in change.content
    fields = form_of(otp_admin_client, order)
    data = {**fields, "amount": "1000.00", "action": "capture"}
    first = otp_admin_client.post(capture_url(order), data)
    second = otp_admin_client.post(capture_url(order), data)
    assert first.status_code == second.status_code == 302
    assert len(sandbox.requests("charges.capture")) == 1
    assert sandbox.last_request("charges.capture")["capture_amount"] == 100_000
    order.refresh_from_db()
    assert (order.status, order.captured_amount) == (Order.Status.PAID, 100_000)
    row = AuthorizationAction.objects.get()
    assert (row.created_by, row.amount) == (otp_admin_client.user, 100_000)
    charge = sandbox.client.retrieve_charge(order.attempts.get().charge_id)
    assert (charge["status"], charge["captured_amount"]) == ("successful", 100_000)
    deliveries = sandbox.deliver_webhooks()
    assert {d["status_code"] for d in deliveries} == {200}
    order.refresh_from_db()
    assert (order.status, order.captured_amount) == (Order.Status.PAID, 100_000)


def test_over_capture_and_a_bad_amount_are_refused_with_a_reason(
    manual, shop, sandbox, otp_admin_client
):
    pay(shop, sandbox)
    order = Order.objects.get()
    fields = form_of(otp_admin_client, order)
    for amount, reason in [("99999.00", b"more than"), ("12.345", b"decimal places"), ("x", b"")]:
        response = otp_admin_client.post(
            capture_url(order), {**fields, "amount": amount, "action": "capture"}
        )
        assert response.status_code == 400 and reason in response.content
    assert sandbox.requests("charges.capture") == []
    assert Order.objects.get().status == Order.Status.AUTHORIZED


def test_release_cancels_the_order_and_capture_is_then_refused(
    manual, shop, sandbox, otp_admin_client
):
    pay(shop, sandbox)
    order = Order.objects.get()
    fields = form_of(otp_admin_client, order)
    response = otp_admin_client.post(capture_url(order), {**fields, "action": "reverse"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.attempts.get().status == PaymentAttempt.Status.REVERSED
    # Another tab's form, opened before the release:
    other_tab = {"token": "another-tab", "amount": "1530.00", "action": "capture"}
    response = otp_admin_client.post(capture_url(order), other_tab)
    assert response.status_code == 400 and b"only an authorized order" in response.content
    assert sandbox.requests("charges.capture") == []


def test_capture_after_the_sandbox_expired_the_authorization(
    manual, shop, sandbox, otp_admin_client
):
    """The hold passed at "Omise" (our copy of the deadline was later): refused, and the order
    follows the charge to expired."""
    from datetime import timedelta

    from django.utils import timezone

    from sandbox.models import Charge

    pay(shop, sandbox)
    order = Order.objects.get()
    Charge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    fields = {**form_of(otp_admin_client, order), "amount": "1530.00", "action": "capture"}
    response = otp_admin_client.post(capture_url(order), fields)
    assert response.status_code == 400 and b"expired" in response.content
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and order.authorized_at is not None


def test_the_capture_page_needs_the_verified_staff_session(manual, shop, sandbox, client):
    pay(shop, sandbox)
    order = Order.objects.get()
    response = client.post(capture_url(order), {"action": "capture", "token": "t"})
    assert response.status_code == 302 and "/login/" in response.url
    assert sandbox.requests("charges.capture") == []


@pytest.mark.parametrize("object_id", ["999999", "not-a-number", "1%00"])
def test_capture_refund_and_dispute_pages_of_no_object_are_404(otp_admin_client, object_id):
    for name in (
        "admin:checkout_order_capture",
        "admin:checkout_dispute_answer",
        "admin:checkout_order_refund",
    ):
        url = reverse(name, args=["x"]).replace("/x/", f"/{object_id}/")
        assert otp_admin_client.post(url, {"action": "capture"}).status_code == 404, name


@pytest.mark.parametrize(
    ("button", "status"),
    [
        ("capture", Order.Status.PAID),
        ("reverse", Order.Status.CANCELLED),
        ("expire", Order.Status.EXPIRED),
    ],
)
def test_acting_in_omises_dashboard_moves_the_order_by_webhook(
    manual, shop, sandbox, button, status
):
    """Captured, released or expired in "Omise's dashboard" (the sandbox's buttons) instead of
    the shop's admin: the webhook brings the order along."""
    from django.test import Client

    pay(shop, sandbox)
    order = Order.objects.get()
    charge_id = order.attempts.get().charge_id
    assert order.status == Order.Status.AUTHORIZED
    Client().post(f"/sandbox/charges/{charge_id}/settle", {"action": button})
    assert {d["status_code"] for d in sandbox.deliver_webhooks()} == {200}
    order.refresh_from_db()
    assert order.status == status


def test_three_d_secure_with_manual_capture_returns_to_an_authorized_order(manual, shop, sandbox):
    response = pay(shop, sandbox, "4000000000000002")
    back = sandbox.complete_3ds({"authorize_uri": response.context["authorize_uri"]})
    page = shop.get(urlsplit(back).path, follow=True)
    assert b"authorized for" in page.content
    order = Order.objects.get()
    assert order.status == Order.Status.AUTHORIZED and order.paid_at is None
