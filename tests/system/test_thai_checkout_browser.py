"""A checkout in Thai, end to end in Chromium: the switcher, the shop's pages, Omise's card
form in Thai, the paid order page and the receipt in Thai."""

import pytest
from django.core import mail

from checkout.models import Order
from tests.factories import make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_thai_checkout_end_to_end(page, sandbox):
    make_product(name="Silk Scarf", name_th="ผ้าพันคอไหม", slug="silk-scarf", price=129000)
    page.goto(f"{sandbox.url}/products/silk-scarf/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("button", name="ไทย").click()  # the switcher, back on the same page
    page.wait_for_url("**/products/silk-scarf/")
    assert page.locator("html").get_attribute("lang") == "th"
    assert page.get_by_role("heading", level=1).inner_text() == "ผ้าพันคอไหม"

    page.get_by_role("button", name="ใส่ตะกร้า").click()
    page.get_by_text("เพิ่ม ผ้าพันคอไหม × 1 ลงในตะกร้าแล้ว").wait_for()
    page.get_by_role("link", name="ไปที่หน้าชำระเงิน").click()
    page.get_by_label("อีเมล").fill("malee@example.com")
    page.get_by_label("ชื่อ-นามสกุล").fill("มาลี สุขใจ")
    page.get_by_role("button", name="ชำระเงิน ฿1,290.00").click()

    frame = page.frame_locator('iframe[title="Omise card form"]')
    frame.get_by_label("หมายเลขบัตร").fill("4242 4242 4242 4242")
    frame.get_by_label("ชื่อบนบัตร").fill("MALEE SUKJAI")
    frame.get_by_label("วันหมดอายุ").fill("12/39")
    frame.get_by_label("รหัสความปลอดภัย (CVV)").fill("123")
    frame.get_by_role("button", name="ชำระเงิน").click()

    page.get_by_text("ขอบคุณที่สั่งซื้อ — ชำระเงินเรียบร้อยแล้ว").wait_for()
    assert "ชำระด้วยบัตร Visa ลงท้ายด้วย 4242" in page.locator("main").inner_text()
    order = Order.objects.get()
    assert (order.status, order.language) == (Order.Status.PAID, "th")
    (receipt,) = mail.outbox
    assert receipt.subject.startswith(f"ใบเสร็จสำหรับคำสั่งซื้อ {order.reference}")
    assert "สวัสดีคุณมาลี สุขใจ" in receipt.body
