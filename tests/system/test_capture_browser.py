"""A manual-capture order in Chromium, from the checkout to the capture in the admin: the
shopper pays with the sandbox's card form and sees an authorized order; staff log in with a
password and a TOTP code, open the order, capture part of it; the shopper's page then shows it
paid. No Content-Security-Policy violation on either side."""

import re
import secrets

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from checkout.models import AuthorizationAction, Order
from tests.shopping import pay_in_card_form
from tests.staff import code_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manual_capture_order_from_checkout_to_capture(shopper, sandbox, settings):
    settings.OMISE_CAPTURE = "manual"
    pay_in_card_form(shopper, "4242 4242 4242 4242")
    shopper.get_by_text("your order is confirmed").wait_for()
    shopper.get_by_text(re.compile("charged when we send your order")).wait_for()
    order = Order.objects.get()
    assert order.status == Order.Status.AUTHORIZED
    order_page = shopper.url
    assert shopper.get_by_label(re.compile("items in cart")).inner_text() == "0"

    password = secrets.token_urlsafe(16)
    user = get_user_model().objects.create_user(
        "packer", "packer@example.com", password, is_staff=True, is_superuser=True
    )
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    staff = shopper.context.browser.new_context().new_page()
    staff.set_default_timeout(10_000)
    violations = []
    staff.on(
        "console",
        lambda m: "Content Security Policy" in m.text and violations.append(m.text),
    )
    try:
        staff.goto(f"{sandbox.url}/admin/login/")
        staff.fill("input[name=username]", "packer")
        staff.fill("input[name=password]", password)
        staff.fill("input[name=otp_token]", code_for(device))
        staff.locator("form#login-form").get_by_role("button").click()
        staff.wait_for_url(f"{sandbox.url}/admin/")
        staff.goto(sandbox.url + reverse("admin:checkout_order_change", args=[order.pk]))
        staff.get_by_role("link", name="Capture or release").click()
        staff.get_by_text("Capture before").wait_for()
        staff.get_by_label("Amount (THB)").fill("1000.00")
        staff.get_by_role("button", name="Capture through Omise").click()
        staff.get_by_text(f"Captured ฿1,000.00 of {order.reference}.").wait_for()
        assert "Capture or release" not in staff.content()  # nothing left to capture
    finally:
        staff.context.close()
    order.refresh_from_db()
    assert (order.status, order.captured_amount) == (Order.Status.PAID, 100_000)
    assert AuthorizationAction.objects.get().created_by == user
    assert sandbox.last_request("charges.capture")["capture_amount"] == 100_000
    assert violations == [] and shopper.csp_errors == []

    shopper.goto(order_page)
    shopper.get_by_text("your order is paid").wait_for()
    shopper.get_by_text("Your card was charged ฿1,000.00").wait_for()
