"""Thai and English: the language a shopper gets, how they switch, what is translated."""

import pytest
from django.utils import translation

from shop.money import format_money
from tests.factories import make_product

pytestmark = pytest.mark.django_db

THAI = {"HTTP_ACCEPT_LANGUAGE": "th-TH,th;q=0.9,en;q=0.5"}


def scarf():
    return make_product(
        name="Silk Scarf",
        name_th="ผ้าพันคอไหม",
        slug="silk-scarf",
        price=129000,
        description="Pure Thai silk.",
        description_th="ผ้าไหมไทยแท้",
    )


def test_a_first_visit_gets_the_browsers_language(client):
    scarf()
    page = client.get("/", **THAI)
    assert page.headers["Content-Language"] == "th"
    assert '<html lang="th">' in page.text
    assert "งานทำมือจากภาคเหนือ" in page.text and "ผ้าพันคอไหม" in page.text
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert '<html lang="en">' in english.text and "Silk Scarf" in english.text


def test_a_language_the_shop_does_not_speak_gets_english(client):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert '<html lang="en">' in page.text and "Handmade in Northern Thailand" in page.text


def test_the_switcher_keeps_the_choice_over_the_browsers_language(client):
    scarf()
    switched = client.post("/i18n/setlang/", {"language": "th", "next": "/products/silk-scarf/"})
    assert switched.status_code == 302 and switched.url == "/products/silk-scarf/"
    cookie = switched.cookies["django_language"]
    assert cookie.value == "th" and cookie["samesite"] == "Lax" and cookie["httponly"]
    # The choice wins over an English browser, on every later page.
    page = client.get("/products/silk-scarf/", HTTP_ACCEPT_LANGUAGE="en")
    assert "ผ้าไหมไทยแท้" in page.text and "ใส่ตะกร้า" in page.text
    back = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert back.cookies["django_language"].value == "en"
    assert "Add to cart" in client.get("/products/silk-scarf/", **THAI).text


def test_the_switcher_refuses_unknown_languages_and_foreign_redirects(client):
    refused = client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert "django_language" not in refused.cookies
    away = client.post("/i18n/setlang/", {"language": "th", "next": "https://evil.example/"})
    assert away.status_code == 302 and away.url == "/"  # never off-site


def test_every_page_offers_the_other_language(client):
    english = client.get("/")
    assert 'name="language" value="th"' in english.text and "ไทย" in english.text
    thai = client.get("/", **THAI)
    assert 'name="language" value="en"' in thai.text and 'value="th"' not in thai.text


def test_a_product_without_thai_falls_back_to_english(client):
    make_product(name="Teak Bowl", slug="teak-bowl", description="Turned teak.")
    page = client.get("/products/teak-bowl/", **THAI)
    assert "Teak Bowl" in page.text and "Turned teak." in page.text


def test_the_cached_catalog_grid_is_kept_per_language(client):
    scarf()
    assert "Silk Scarf" in client.get("/").text
    assert "ผ้าพันคอไหม" in client.get("/", **THAI).text
    assert "ผ้าพันคอไหม" not in client.get("/").text


def test_cart_messages_are_translated(client):
    product = scarf()
    client.post("/i18n/setlang/", {"language": "th", "next": "/"})
    response = client.post("/cart/add/", {"product": product.slug, "quantity": "2"}, follow=True)
    assert "เพิ่ม ผ้าพันคอไหม × 2 ลงในตะกร้าแล้ว" in response.text
    response = client.post("/cart/add/", {"product": product.slug, "quantity": "99"}, follow=True)
    assert "กรุณาระบุจำนวนระหว่าง 1 ถึง 20" in response.text


@pytest.mark.parametrize(
    ("path", "status", "thai"),
    [
        ("/no-such-page/", 404, "ขออภัย ไม่พบหน้าที่คุณต้องการ"),
        ("/products/no-such-product/", 404, "ขออภัย ไม่พบหน้าที่คุณต้องการ"),
        ("/cart/", 200, "ตะกร้าของคุณว่างอยู่"),
    ],
)
def test_pages_in_thai(client, path, status, thai):
    page = client.get(path, **THAI)
    assert page.status_code == status
    assert thai in page.text


def test_the_card_guard_refusal_speaks_the_shoppers_language(client):
    page = client.post("/cart/add/", {"card_number": "4242424242424242"}, **THAI)
    assert page.status_code == 400
    assert "ข้อมูลบัตรจะไม่ถูกส่งมายังร้านค้านี้" in page.content.decode()


def test_money_is_grouped_with_the_baht_sign_in_both_languages():
    for language in ("en", "th"):
        with translation.override(language):
            assert format_money(15_000_000, "THB") == "฿150,000.00"


def test_dates_read_as_each_language_writes_them():
    """Thai month names and the Buddhist Era year in Thai (2026 is 2569), in Bangkok time."""
    from datetime import UTC, date, datetime

    from shop.templatetags.dates import when

    moment = datetime(2026, 12, 6, 4, 30, tzinfo=UTC)  # 11:30 in Bangkok
    with translation.override("th"):
        assert when(moment) == "6 ธันวาคม 2569 เวลา 11:30 น."
        assert when(date(2026, 1, 2)) == "2 มกราคม 2569"
    with translation.override("en"):
        assert when(moment) == "6 December 2026, 11:30"
        assert when(None) == ""


def test_the_demo_catalog_is_in_both_languages():
    from django.core.management import call_command

    from shop.models import Product

    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    products = list(Product.objects.all())
    assert len(products) == 8
    assert all(p.name_th and p.description_th and p.name_th != p.name for p in products)


def test_thai_names_are_edited_in_the_admin(otp_admin_client):
    product = scarf()
    page = otp_admin_client.get(f"/admin/shop/product/{product.pk}/change/")
    assert page.status_code == 200
    assert 'name="name_th"' in page.text and 'name="description_th"' in page.text
    assert "ผ้าพันคอไหม" in page.text


def test_the_switcher_costs_the_catalog_no_csrf_token():
    """The header's switcher carries no CSRF token, so the catalog sets no cookie (its pages
    stay cheap, README's Performance); switching works with CSRF checks enforced."""
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    page = strict.get("/")
    assert "csrfmiddlewaretoken" not in page.text and not page.cookies
    switched = strict.post("/i18n/setlang/", {"language": "th", "next": "/"})
    assert switched.status_code == 302 and switched.cookies["django_language"].value == "th"
