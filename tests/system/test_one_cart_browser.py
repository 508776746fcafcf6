"""One cart, one payment, in Chromium: a payment left pending in one tab, the same cart paid
by card in another, then the first one finished; and the refund of a cart paid twice."""

import re

import pytest

from checkout import services
from checkout.models import Order, PaymentAttempt
from sandbox.models import Charge
from tests.shopping import CARD_FRAME, pay_in_card_form

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def second_tab(first, sandbox):
    """Another tab of the same browser (same session and cart) at the checkout, filled in."""
    tab = first.context.new_page()
    tab.set_default_timeout(10_000)
    tab.goto(f"{sandbox.url}/checkout/")
    tab.get_by_label("Email").fill("malee@example.com")
    tab.get_by_label("Full name").fill("Malee Sukjai")
    return tab


def test_3ds_left_pending_then_card_in_another_tab_pays_once(shopper, sandbox):
    """Tab one waits on the bank's 3-D Secure page; tab two sees that payment linked, pays by
    card; back in tab one, authorizing no longer pays: one paid order."""
    pay_in_card_form(shopper, "4000 0000 0000 0002")
    shopper.get_by_role("button", name="Authorize").wait_for()
    first = PaymentAttempt.objects.get()
    tab = second_tab(shopper, sandbox)
    assert tab.get_by_role("link", name=f"order {first.order.reference}").is_visible()
    pay_in_card_form(tab)
    tab.get_by_text("your order is paid").wait_for()
    assert Charge.objects.get(id=first.charge_id).status == "expired"
    shopper.get_by_role("button", name="Authorize").click()  # the bank page, still open
    shopper.get_by_role("heading", name="This payment has expired").wait_for()
    assert Order.objects.filter(status=Order.Status.PAID).count() == 1
    assert Order.objects.get(pk=first.order_id).status == Order.Status.EXPIRED
    assert (
        shopper.csp_errors == []
        and tab.get_by_label(re.compile(r"items? in cart")).inner_text() == "0"
    )


def test_promptpay_left_pending_then_card_in_another_tab_pays_once(shopper, sandbox):
    """Tab one shows a PromptPay QR code; tab two pays by card; the QR code's page turns to
    expired by itself, and the banking app can no longer pay it."""
    shopper.get_by_role("button", name=re.compile(r"^Pay ")).click()
    frame = shopper.frame_locator(CARD_FRAME)
    frame.get_by_label("PromptPay").check()
    frame.locator("#submit").click()
    shopper.get_by_role("heading", name="Scan to pay with PromptPay").wait_for()
    first = PaymentAttempt.objects.get()
    tab = second_tab(shopper, sandbox)
    pay_in_card_form(tab)
    tab.get_by_text("your order is paid").wait_for()
    shopper.get_by_role("heading", name="This payment has expired").wait_for(timeout=15_000)
    with pytest.raises(AssertionError):  # the sandbox refuses to pay an expired QR code
        sandbox.mark_as_paid(first.charge_id)
    assert Order.objects.filter(status=Order.Status.PAID).count() == 1


def test_a_cart_paid_twice_by_a_bank_race_is_refunded_and_the_shopper_told(shopper, sandbox):
    """The bank completes the first payment after all: that later payment is refunded in
    full, and its order page says so and links the order that stands."""
    pay_in_card_form(shopper, "4000 0000 0000 0002")
    shopper.get_by_role("button", name="Authorize").wait_for()
    first = PaymentAttempt.objects.get()
    tab = second_tab(shopper, sandbox)
    pay_in_card_form(tab)
    tab.get_by_text("your order is paid").wait_for()
    kept = Order.objects.get(status=Order.Status.PAID)
    # The race the shop cannot prevent: the bank's approval lands after the expiry.
    Charge.objects.filter(id=first.charge_id).update(
        status="successful", authorized=True, paid=True, expired=False
    )
    services.attempt_reconcile(attempt=PaymentAttempt.objects.get(pk=first.pk))
    late = Order.objects.get(pk=first.order_id)
    assert (late.status, late.duplicate_of_id) == (Order.Status.REFUNDED, kept.pk)
    shopper.goto(f"{sandbox.url}{late.get_absolute_url()}")
    shopper.get_by_role("heading", name="This cart was already paid").wait_for()
    assert "has been refunded in full" in shopper.locator("main").inner_text()
    shopper.get_by_role("link", name=f"order {kept.reference}").click()
    shopper.get_by_text("your order is paid").wait_for()
