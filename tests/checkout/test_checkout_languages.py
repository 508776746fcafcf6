"""The checkout in Thai: the form, Omise's card form's locale, failure messages, order pages."""

import pytest
from django.utils import translation

from checkout.failures import MESSAGES, SOURCE_MESSAGES, shopper_message
from checkout.models import Order
from tests.shopping import messages_of, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def thai(shop):
    shop.post("/i18n/setlang/", {"language": "th", "next": "/"})
    return shop


def test_the_checkout_opens_omises_form_in_the_shoppers_language(thai):
    page = thai.get("/checkout/").text
    assert 'data-locale="th"' in page and 'data-submit-label="ชำระเงิน"' in page
    assert "ชำระเงิน ฿1,530.00" in page and "ที่อยู่สำหรับเรียกเก็บเงิน" in page
    assert '<option value="TH" selected>ไทย</option>' in page


def test_english_shoppers_get_omises_english_form(shop):
    assert 'data-locale="en"' in shop.get("/checkout/").text


def test_the_sandbox_card_form_speaks_thai(shop, sandbox):
    page = shop.get("/sandbox/card-frame/", {"locale": "th", "amount": "129000"}).text
    assert '<html lang="th">' in page
    assert "หมายเลขบัตร" in page and "ชำระเงิน ฿1,290.00" in page
    english = shop.get("/sandbox/card-frame/", {"locale": "zz", "amount": "129000"}).text
    assert "Card number" in english and "Pay ฿1,290.00" in english


def test_an_order_remembers_the_language_it_was_placed_in(thai, sandbox):
    pay(thai, sandbox)
    assert Order.objects.get().language == "th"


def test_a_declined_card_is_explained_in_thai(thai, sandbox):
    response = pay(thai, sandbox, "4111111111140011")  # declined: insufficient funds
    assert response.status_code == 302
    shown = " ".join(messages_of(thai, response))
    assert "ยังไม่มีการเรียกเก็บเงิน" in shown


def test_a_paid_order_page_in_thai(thai, sandbox):
    response = pay(thai, sandbox)
    page = thai.get(response.url).text
    assert "ขอบคุณที่สั่งซื้อ" in page and "ผ้าพันคอไหม" not in page  # no Thai name given
    assert "ยอดรวม" in page


def test_every_failure_message_has_thai():
    codes = [(code, "card") for code in MESSAGES] + [
        (code, "promptpay") for code in SOURCE_MESSAGES
    ]
    for code, method in [*codes, ("unheard_of", "card"), ("unheard_of", "promptpay")]:
        english = shopper_message(code, method=method)
        with translation.override("th"):
            thai = shopper_message(code, method=method)
        assert thai != english and thai.isascii() is False, code
