"""Mobile banking, a wallet and an installment plan paid end to end in Chromium, on a desktop
and on a phone: picked in Omise's form (the sandbox's), handed over to the bank's app, the
wallet or the issuer (the sandbox's hand-off page), and back to the shop by return_uri. Plus a
cancelled and an expired payment, and PromptPay's save / share of the QR code on a phone."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from checkout.capability import capability_refresh
from checkout.models import Order, PaymentAttempt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FRAME = 'iframe[title="Omise card form"]'
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture(params=["desktop", "phone"])
def page(request, chromium):
    """This module's browser page: a desktop window, or a phone (narrow, touch, mobile)."""
    context = chromium.new_context(**(PHONE if request.param == "phone" else {}))
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.viewport_name = request.param
    yield page
    context.close()


def choose(page, method: str):
    """Press Pay and pick `method` in Omise's form; returns the form's frame."""
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    frame = page.frame_locator(FRAME)
    frame.get_by_label(method, exact=True).check()
    return frame


def at_handoff(page, heading: str) -> None:
    """The shop hands over (meta refresh) to the bank's app / wallet / issuer page."""
    page.get_by_role("heading", name=heading).wait_for(timeout=15_000)
    assert urlsplit(page.url).path.startswith("/sandbox/app/")


def test_a_mobile_bank_pays_end_to_end(shopper):
    frame = choose(shopper, "K PLUS (Kasikorn Bank)")
    frame.locator("#submit").click()
    at_handoff(shopper, "K PLUS (Kasikorn Bank)")
    shopper.get_by_role("button", name="Pay").click()
    shopper.get_by_text("your order is paid").wait_for()
    assert shopper.get_by_text("Paid with K PLUS (Kasikorn Bank).").is_visible()
    assert PaymentAttempt.objects.get().payment_method == "mobile_banking_kbank"
    assert shopper.csp_errors == []


def test_a_wallet_checks_the_phone_number_then_pays(shopper):
    """TrueMoney asks for the wallet's phone number; one that is not a Thai mobile number is
    refused in the form, before any order."""
    frame = choose(shopper, "TrueMoney Wallet")
    frame.get_by_label("TrueMoney phone number").fill("02 123 4567")
    frame.locator("#submit").click()
    expect(frame.locator("#error")).to_contain_text("not a Thai mobile number")
    assert Order.objects.count() == 0
    frame.get_by_label("TrueMoney phone number").fill("081 234 5678")
    frame.locator("#submit").click()
    at_handoff(shopper, "TrueMoney Wallet")
    assert shopper.get_by_text("0812345678").is_visible()
    shopper.get_by_role("button", name="Pay").click()
    shopper.get_by_text("your order is paid").wait_for()
    assert PaymentAttempt.objects.get().payment_method == "truemoney"


def test_an_installment_plan_pays_end_to_end(shopper, settings):
    """The plans offered are the account's: ฿300 a month at least makes ฿1,290 payable over
    3 or 4 months with Kasikorn (not 6 or 10); the issuer's page shows the plan."""
    settings.SANDBOX_INSTALLMENT_MIN_AMOUNT = 30000
    capability_refresh()  # as the admin's "Refresh from Omise now" does
    shopper.reload()  # installments are now open to this cart
    shopper.get_by_label("Email").fill("malee@example.com")
    shopper.get_by_label("Full name").fill("Malee Sukjai")
    frame = choose(shopper, "Installments")
    plans = frame.get_by_label("Card issuer and months")
    options = plans.locator("option").all_inner_texts()
    assert "Kasikorn Bank, 4 months (฿322.50/month)" in options
    assert not any(o.startswith("Kasikorn Bank, 6 months") for o in options)
    plans.select_option(label="Kasikorn Bank, 4 months (฿322.50/month)")
    frame.locator("#submit").click()
    at_handoff(shopper, "Kasikorn Bank installments")
    assert shopper.get_by_text("4 months, interest paid by the shopper").is_visible()
    shopper.get_by_role("button", name="Pay").click()
    shopper.get_by_text("your order is paid").wait_for()
    assert PaymentAttempt.objects.get().payment_method == "installment_kbank"


def test_a_cancelled_payment_is_back_at_checkout_with_a_message(shopper):
    frame = choose(shopper, "SCB Easy")
    frame.locator("#submit").click()
    at_handoff(shopper, "SCB Easy")
    shopper.get_by_role("button", name="Cancel").click()
    shopper.get_by_text("You cancelled the payment, so you were not charged.").wait_for()
    assert urlsplit(shopper.url).path == "/checkout/"
    assert Order.objects.get().status == Order.Status.FAILED


def test_an_expired_payment_says_so_and_starts_again(shopper):
    frame = choose(shopper, "Rabbit LINE Pay")
    frame.locator("#submit").click()
    at_handoff(shopper, "Rabbit LINE Pay")
    shopper.get_by_role("button", name="Let it time out").click()
    shopper.get_by_role("heading", name="This payment has expired").wait_for()
    shopper.get_by_role("link", name="Start again").click()
    assert urlsplit(shopper.url).path == "/checkout/"
    assert Order.objects.get().status == Order.Status.EXPIRED


def test_promptpay_qr_code_can_be_saved_on_a_phone(shopper):
    """A phone cannot scan its own screen: there the page offers the QR image to save; a
    desktop scans it with a phone and is not shown the offer."""
    frame = choose(shopper, "PromptPay")
    frame.locator("#submit").click()
    shopper.get_by_role("heading", name="Scan to pay with PromptPay").wait_for()
    save = shopper.get_by_role("link", name="Save QR code image")
    if shopper.viewport_name == "phone":
        expect(save).to_be_visible()
        attempt = PaymentAttempt.objects.get()
        assert save.get_attribute("href") == attempt.qr_code_uri
        assert save.get_attribute("download") == f"promptpay-{attempt.order.reference}.svg"
        image = shopper.request.get(attempt.qr_code_uri)
        assert image.ok and image.headers["content-type"] == "image/svg+xml"
    else:
        expect(save).to_be_hidden()
