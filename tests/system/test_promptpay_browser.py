"""PromptPay in Chromium: the method picker of Omise's form (the sandbox's), the QR code on the
shop's order page, and a page that updates by itself. Mobile banking, wallets, installments:
tests/system/test_methods_browser.py."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from checkout.models import Order, PaymentAttempt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FRAME = 'iframe[title="Omise card form"]'
QR = 'img[alt^="PromptPay QR code"]'


def pay_with_method(page, method: str) -> None:
    """Press Pay, pick `method` in Omise's form and confirm."""
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    frame = page.frame_locator(FRAME)
    frame.get_by_label(method).check()
    frame.locator("#submit").click()


def scan_page(page) -> PaymentAttempt:
    """Wait for the PromptPay page with its QR code drawn; returns the pending attempt."""
    page.get_by_role("heading", name="Scan to pay with PromptPay").wait_for()
    page.wait_for_function(
        "(selector) => document.querySelector(selector)?.naturalWidth > 0", arg=QR
    )
    return PaymentAttempt.objects.get()


def test_promptpay_paid_updates_the_page_by_itself(shopper, sandbox):
    """Choosing PromptPay shows the QR code with the amount on the shop's page; once it is
    paid and Omise's webhook lands, the page turns to "paid" with no reload by the shopper."""
    pay_with_method(shopper, "PromptPay")
    attempt = scan_page(shopper)
    assert "฿1,290.00" in shopper.locator("#promptpay-amount").inner_text()
    # The page's script turns the server's "23 hours, 59 minutes" into a ticking h:mm:ss.
    expect(shopper.locator("#promptpay-countdown")).to_have_text(re.compile(r"^\d+:\d\d:\d\d$"))
    sandbox.mark_as_paid(attempt.charge_id)
    sandbox.deliver_webhooks()
    shopper.get_by_text("your order is paid").wait_for(timeout=15_000)
    assert Order.objects.get().status == Order.Status.PAID
    assert shopper.csp_errors == []
    assert shopper.hosts <= {urlsplit(sandbox.url).netloc, urlsplit(sandbox.sandbox_url).netloc}


def test_promptpay_failed_shows_the_failure(shopper, sandbox):
    """A failed PromptPay payment turns the waiting page into "not completed", with a way back
    to the checkout."""
    pay_with_method(shopper, "PromptPay")
    attempt = scan_page(shopper)
    sandbox.mark_as_failed(attempt.charge_id)
    sandbox.deliver_webhooks()
    shopper.get_by_text("you were not charged").wait_for(timeout=15_000)
    assert shopper.get_by_role("link", name="Try again").is_visible()
    assert Order.objects.get().status == Order.Status.FAILED


def test_promptpay_expired_leads_back_to_checkout_with_the_cart(shopper, sandbox):
    """An expired QR code turns the page into "expired" with Start again, which leads to the
    checkout with the cart still there."""
    pay_with_method(shopper, "PromptPay")
    attempt = scan_page(shopper)
    sandbox.expire(attempt.charge_id)
    sandbox.deliver_webhooks()
    shopper.get_by_role("link", name="Start again").click(timeout=15_000)
    assert urlsplit(shopper.url).path == "/checkout/"
    assert shopper.get_by_label(re.compile(r"items? in cart")).inner_text() == "1"
    assert Order.objects.get().status == Order.Status.EXPIRED
