"""The shopper's mails about an order, through the checkout and the sandbox over real HTTP:
which state sends which mail, each exactly once, in the shopper's language, over SMTP."""

from urllib.parse import urlsplit

import pytest
from django.core import mail

from checkout import services
from checkout.models import Order, PaymentAttempt
from checkout.refunds import refund_create
from mails.models import OutboxMail
from tests.shopping import BUYER, checkout_form, pay

pytestmark = pytest.mark.django_db(transaction=True)
TOTAL = 129000 + 2 * 12000  # the `shop` fixture's cart


def kinds() -> list[str]:
    return sorted(OutboxMail.objects.values_list("kind", flat=True))


def pay_by_promptpay(shop, sandbox) -> PaymentAttempt:
    source = sandbox.source("promptpay", amount=TOTAL)
    shop.post("/checkout/", {**BUYER, "omise_source": source, **checkout_form(shop)})
    return PaymentAttempt.objects.select_related("order").get()


def test_a_card_payment_sends_one_itemised_receipt_over_smtp(shop, sandbox, smtp_server):
    pay(shop, sandbox)
    order = Order.objects.get()
    sandbox.deliver_webhooks()  # charge.create arrives after the checkout: nothing more
    services.attempt_reconcile(attempt=order.attempts.get())
    assert kinds() == ["order_confirmation"]
    (message,) = smtp_server.messages
    assert message["To"] == BUYER["email"]
    assert message["Subject"] == f"Your receipt for order {order.reference} · Lanna Goods"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "1 × Silk Scarf" in part and "2 × Rice Soap" in part
        assert "฿1,290.00" in part and "฿240.00" in part and "฿1,530.00" in part
        assert "Visa ending in 4242" in part
        assert order.get_absolute_url() in part
        assert "4242424242424242" not in part and "4242 4242" not in part


def test_a_declined_card_sends_no_mail(shop, sandbox):
    pay(shop, sandbox, "4111111111140011")  # insufficient funds: the page says so
    assert Order.objects.get().status == Order.Status.FAILED
    assert kinds() == [] and mail.outbox == []


def test_three_d_secure_return_webhook_and_reconcile_send_one_receipt(pending_3ds, shop, sandbox):
    attempt, charge = pending_3ds
    assert kinds() == []  # waiting for the bank: no mail yet
    return_url = sandbox.complete_3ds(charge)
    assert shop.get(urlsplit(return_url).path).status_code == 302  # back from the bank
    sandbox.deliver_webhooks(duplicate=3)
    services.attempt_reconcile(attempt=PaymentAttempt.objects.get())
    assert Order.objects.get().status == Order.Status.PAID
    assert kinds() == ["order_confirmation"] and len(mail.outbox) == 1


def test_promptpay_instructions_then_receipt(shop, sandbox):
    attempt = pay_by_promptpay(shop, sandbox)
    assert kinds() == ["payment_instructions"]
    (instructions,) = mail.outbox
    assert instructions.subject.startswith(
        f"Complete your payment for order {attempt.order.reference}"
    )
    assert attempt.order.get_absolute_url() in instructions.body
    assert (
        "฿1,530.00 by PromptPay" in instructions.body and "Please pay before" in instructions.body
    )
    assert attempt.qr_code_uri not in instructions.body  # the QR code expires: the page shows it
    sandbox.mark_as_paid(attempt.charge_id)
    sandbox.deliver_webhooks(duplicate=2)
    assert kinds() == ["order_confirmation", "payment_instructions"]
    assert "Paid with PromptPay." in mail.outbox[1].body


@pytest.mark.parametrize(
    ("settle", "subject"),
    [("expire", "the payment has expired"), ("mark_as_failed", "did not go through")],
)
def test_a_promptpay_payment_that_fails_or_expires_is_told(shop, sandbox, settle, subject):
    attempt = pay_by_promptpay(shop, sandbox)
    getattr(sandbox, settle)(attempt.charge_id)
    sandbox.deliver_webhooks(duplicate=2)
    services.attempt_reconcile(attempt=PaymentAttempt.objects.get())
    assert kinds() == ["payment_failed", "payment_instructions"]
    notice = mail.outbox[-1]
    assert subject in notice.subject and "you were not charged" in notice.body.lower()
    assert "Your cart is kept" in notice.body


def test_each_refund_is_told_once(shop, sandbox):
    pay(shop, sandbox)
    order = Order.objects.get()
    refund_create(order=order, amount=50000)
    sandbox.deliver_webhooks(duplicate=2)  # refund.create: the same refund again
    refund_create(order=Order.objects.get(), amount=TOTAL - 50000)
    sandbox.deliver_webhooks()
    assert kinds() == ["order_confirmation", "refund_notice", "refund_notice"]
    first, second = mail.outbox[1:]
    assert first.subject.startswith(f"Refund of ฿500.00 for order {order.reference}")
    assert "Refunded in all: ฿500.00 of ฿1,530.00." in first.body
    assert "Visa card ending in 4242" in first.body
    assert second.subject.startswith("Refund of ฿1,030.00")
    assert "Refunded in all: ฿1,530.00 of ฿1,530.00." in second.body


def test_a_thai_shopper_gets_thai_mails(shop, sandbox):
    shop.post("/i18n/setlang/", {"language": "th", "next": "/"})
    pay(shop, sandbox)
    (receipt,) = mail.outbox
    assert receipt.subject.startswith("ใบเสร็จสำหรับคำสั่งซื้อ")
    assert "สวัสดีคุณMalee Sukjai" in receipt.body and "ชำระด้วยบัตร Visa" in receipt.body
    html = receipt.alternatives[0].content
    assert '<html lang="th">' in html and "ขอบคุณที่สั่งซื้อ" in html


def test_a_payment_the_shopper_replaced_sends_no_failure_notice(shop, sandbox):
    """The shopper leaves a PromptPay QR code unpaid and pays by card instead: the shop ends
    the QR code's charge itself, and says nothing of it failing (only the receipt follows)."""
    first = pay_by_promptpay(shop, sandbox)
    pay(shop, sandbox)
    first.refresh_from_db()
    assert first.order.status == Order.Status.EXPIRED
    assert kinds() == ["order_confirmation", "payment_instructions"]


def test_mails_sent_before_any_payment_carry_no_text_the_buyer_typed(shop, sandbox):
    """Starting a PromptPay payment costs nothing, so anyone can have the shop mail any
    address: those mails greet nobody by the name typed, which could carry anyone's words."""
    source = sandbox.source("promptpay", amount=TOTAL)
    name = "Your account is locked, visit evil.example"
    shop.post("/checkout/", {**BUYER, "name": name, "omise_source": source, **checkout_form(shop)})
    attempt = PaymentAttempt.objects.get()
    sandbox.expire(attempt.charge_id)
    sandbox.deliver_webhooks()
    assert kinds() == ["payment_failed", "payment_instructions"]
    for message in mail.outbox:
        assert "evil.example" not in message.body
        assert all("evil.example" not in content for content, _ in message.alternatives)
