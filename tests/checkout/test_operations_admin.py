"""Staff pages of merchant operations over HTTP, against the sandbox: a dispute opened at
"Omise" reaches the order by webhook, is listed with its deadline, answered and accepted from
its admin page; Omise's advice on a decline is shown in the attempt view and on the
monitoring dashboard; the dashboard's operations panel lists what to capture."""

import pytest
from django.core import mail
from django.urls import reverse

from checkout.models import Dispute, Order, PaymentAttempt
from tests.shopping import pay

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def disputed(shop, sandbox, settings):
    """A paid order whose charge the sandbox's bank disputed, the webhook delivered."""
    settings.STAFF_NOTIFY_EMAILS = ["ops@example.com"]
    pay(shop, sandbox)
    order = Order.objects.get()
    sandbox.open_dispute(order.attempts.get().charge_id)
    assert {d["status_code"] for d in sandbox.deliver_webhooks()} == {200}
    return order, Dispute.objects.get()


def test_a_dispute_reaches_the_order_the_list_and_staff_mail(disputed, otp_admin_client):
    order, record = disputed
    assert (record.order, record.status) == (order, "open")
    assert [m.subject for m in mail.outbox if m.to == ["ops@example.com"]] == [
        f"[Lanna Goods] Dispute opened: ฿1,530.00 on {order.reference}"
    ]
    listing = otp_admin_client.get(reverse("admin:checkout_dispute_changelist"))
    assert record.dispute_id.encode() in listing.content and b"Time left" in listing.content
    orders = otp_admin_client.get(reverse("admin:checkout_order_changelist"))
    assert b'alt="True"' in orders.content  # the order's "Disputed" column
    page = otp_admin_client.get(reverse("admin:checkout_dispute_change", args=[record.pk]))
    assert b"Answer the dispute" in page.content
    assert f"dashboard.omise.co/test/disputes/{record.dispute_id}".encode() in page.content


def test_staff_answer_then_the_bank_decides(disputed, sandbox, otp_admin_client):
    _, record = disputed
    url = reverse("admin:checkout_dispute_answer", args=[record.pk])
    empty = otp_admin_client.post(url, {"action": "message", "message": " "}, follow=True)
    assert "Write the answer" in " ".join(str(m) for m in empty.context["messages"])
    otp_admin_client.post(url, {"action": "message", "message": "Delivered on 3 May."})
    record.refresh_from_db()
    assert (record.status, record.message) == ("pending", "Delivered on 3 May.")
    assert sandbox.last_request("disputes.update")["message"] == "Delivered on 3 May."
    from sandbox.services.disputes import close_dispute

    close_dispute(dispute_id=record.dispute_id, status="won")
    sandbox.deliver_webhooks()
    record.refresh_from_db()
    assert record.status == "won"


def test_staff_accept_a_dispute_once(disputed, sandbox, otp_admin_client):
    _, record = disputed
    url = reverse("admin:checkout_dispute_answer", args=[record.pk])
    assert otp_admin_client.get(url).status_code == 403  # POST only
    otp_admin_client.post(url, {"action": "accept"})
    again = otp_admin_client.post(url, {"action": "accept"}, follow=True)
    assert "only an open one" in " ".join(str(m) for m in again.context["messages"])
    assert Dispute.objects.get().status == "lost"
    assert len(sandbox.requests("disputes.accept")) == 1


def test_omise_advice_on_a_decline_is_shown_to_staff_only(shop, sandbox, otp_admin_client):
    response = pay(shop, sandbox, "4111111111140011")  # insufficient funds
    attempt = PaymentAttempt.objects.get()
    assert (attempt.merchant_advice_code, attempt.merchant_advice) == (
        "retry_later",
        "The issuer may approve a retry in a few days.",
    )
    shopper_page = shop.get(response.url)
    assert b"The issuer may approve" not in shopper_page.content
    view = otp_admin_client.get(reverse("admin:checkout_paymentattempt_change", args=[attempt.pk]))
    assert b"The issuer may approve a retry" in view.content
    dashboard = otp_admin_client.get(reverse("admin:checkout_monitoring"))
    assert b"The issuer may approve a retry" in dashboard.content


def test_missing_3ds_fields_are_recorded(shop, sandbox):
    pay(shop, sandbox, "4111111111150002")  # 3-D Secure enrollment fails
    assert PaymentAttempt.objects.get().missing_3ds_fields == [
        "cardholder_email",
        "cardholder_phone_number",
        "billing_address",
    ]


def test_the_dashboard_lists_authorizations_to_capture(shop, sandbox, otp_admin_client, settings):
    settings.OMISE_CAPTURE = "manual"
    pay(shop, sandbox)
    order = Order.objects.get()
    PaymentAttempt.objects.update(expires_at=order.created_at)  # due now
    dashboard = otp_admin_client.get(reverse("admin:checkout_monitoring"))
    capture = reverse("admin:checkout_order_capture", args=[order.pk])
    assert capture.encode() in dashboard.content
