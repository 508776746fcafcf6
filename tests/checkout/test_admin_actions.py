"""Admin actions and pages of the checkout app: reconcile, re-fetch and re-apply webhook events,
the Refund button; all behind the verified 2FA session.

`otp_admin_client` (tests/staff.py) is a staff client logged in with a password and a TOTP
code, as a person would.
"""

import pytest
from django.urls import reverse

from checkout.models import Order, PaymentAttempt, WebhookEvent
from tests.shopping import pay
from tests.staff import INDEX

pytestmark = pytest.mark.django_db(transaction=True)


def run_action(client, model: str, action: str, ids) -> str:
    """Run an admin list action on `ids`; return the messages shown after it."""
    url = reverse(f"admin:checkout_{model}_changelist")
    response = client.post(
        url, {"action": action, "_selected_action": [str(i) for i in ids]}, follow=True
    )
    assert response.status_code == 200
    return " ".join(str(m) for m in response.context["messages"])


def test_reconcile_action_settles_a_lost_webhook(shop, sandbox, otp_admin_client):
    """ "Reconcile with Omise" on an order waiting for 3-D Secure, authorised at the bank but never
    heard of again, marks it paid."""
    response = pay(shop, sandbox, "4000000000000002")
    sandbox.complete_3ds({"authorize_uri": response.context["authorize_uri"]})
    order = Order.objects.get()
    assert order.status == Order.Status.PENDING
    shown = run_action(otp_admin_client, "order", "reconcile_with_omise", [order.pk])
    assert "1 attempt: 1 successful" in shown
    assert Order.objects.get().status == Order.Status.PAID


def test_reconcile_action_on_settled_attempts_asks_omise_nothing(shop, sandbox, otp_admin_client):
    """Attempts already settled are skipped: no request reaches Omise."""
    pay(shop, sandbox)
    calls = len(sandbox.requests())
    shown = run_action(
        otp_admin_client,
        "paymentattempt",
        "reconcile_with_omise",
        PaymentAttempt.objects.values_list("pk", flat=True),
    )
    assert "1 skipped" in shown and len(sandbox.requests()) == calls


def test_refetch_and_reapply_repairs_an_order_and_is_idempotent(shop, sandbox, otp_admin_client):
    """An event recorded as processed while the order stayed pending (e.g. restored from a
    backup) is fetched again and applied; running it twice changes nothing more."""
    response = pay(shop, sandbox, "4000000000000002")
    sandbox.complete_3ds({"authorize_uri": response.context["authorize_uri"]})
    sandbox.deliver_webhooks()
    event = WebhookEvent.objects.get(key="charge.complete")
    # Simulate the lost state change: the event is "processed" but the order is pending again.
    Order.objects.update(status=Order.Status.PENDING, paid_at=None)
    PaymentAttempt.objects.update(status=PaymentAttempt.Status.PENDING)
    event.data = {}
    event.save()
    for _ in range(2):
        shown = run_action(otp_admin_client, "webhookevent", "refetch_and_reapply", [event.pk])
        assert "Re-applied 1 event." in shown
        order = Order.objects.get()
        assert order.status == Order.Status.PAID and order.refunded_amount == 0
    event.refresh_from_db()
    assert event.data["id"] == event.event_id and event.processed_at
    assert len(sandbox.requests("charges.create")) == 1


def test_refetch_reports_when_omise_is_unreachable(shop, sandbox, otp_admin_client, settings):
    """If Omise cannot be asked, the action says so and changes nothing."""
    pay(shop, sandbox)
    sandbox.deliver_webhooks()
    event = WebhookEvent.objects.first()
    before = event.processed_at
    settings.OMISE_API_URL = "http://127.0.0.1:9/unreachable"
    shown = run_action(otp_admin_client, "webhookevent", "refetch_and_reapply", [event.pk])
    assert "could not be asked about" in shown and event.event_id in shown
    event.refresh_from_db()
    assert event.processed_at == before


@pytest.mark.parametrize("model", ["order", "paymentattempt", "webhookevent", "webhookdelivery"])
def test_admin_lists_filter_and_search(otp_admin_client, model):
    """The checkout lists answer with search and their date/status filters."""
    url = reverse(f"admin:checkout_{model}_changelist")
    assert otp_admin_client.get(url, {"q": "LG-"}).status_code == 200


def test_security_event_list_filters_by_kind(otp_admin_client):
    """Security events can be filtered by kind."""
    url = reverse("admin:security_securityevent_changelist")
    assert otp_admin_client.get(url, {"kind__exact": "velocity_block"}).status_code == 200


def test_order_page_links_to_its_refund_page(shop, sandbox, otp_admin_client):
    """The order's change page has a Refund button leading to its refund page."""
    pay(shop, sandbox)
    order = Order.objects.get()
    page = otp_admin_client.get(reverse("admin:checkout_order_change", args=[order.pk]))
    assert reverse("admin:checkout_order_refund", args=[order.pk]) in page.text


def test_admin_index_links_to_monitoring(otp_admin_client):
    """The admin index links to the monitoring dashboard."""
    assert reverse("admin:checkout_monitoring") in otp_admin_client.get(INDEX).text
