"""WCAG 2.2 AA in Chromium: axe-core (from npm, `make node-deps`) on every shopper page and the
card form, in Thai and English, at desktop and phone sizes: zero violations."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone, translation

from checkout import payment_methods
from checkout.models import Order, OrderItem, PaymentAttempt
from shop.models import Product
from tests.factories import make_product
from tests.support import skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
LANGUAGES = {"en": "en-GB", "th": "th-TH"}
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# A phone as Chromium emulates one: narrow, touch (a coarse pointer), a mobile browser.
PHONE = {
    "viewport": VIEWPORTS["phone"],
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        skip_or_fail("axe-core is not installed: run `make node-deps` (npm)")
    return AXE.read_text()


def axe_violations(page, axe_source: str) -> list[str]:
    """Run axe-core on the page as it is now; one line per violation and element."""
    page.evaluate(axe_source)  # by the DevTools protocol: the page's CSP does not apply
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_22_AA
    )
    return [
        f"{v['id']} ({v['impact']}): {node['target']} {node.get('failureSummary', '')}"
        for v in result["violations"]
        for node in v["nodes"]
    ]


def make_order(status: str, *, method: str = "card", **fields) -> Order:
    product = Product.objects.filter(slug="silk-scarf").first() or make_product(
        name="Silk Scarf", name_th="ผ้าพันคอไหม", slug="silk-scarf", price=129000
    )
    order = Order.objects.create(
        amount=129000,
        currency="THB",
        email="malee@example.com",
        name="Malee Sukjai",
        country="TH",
        status=status,
        **fields,
    )
    OrderItem.objects.create(
        order=order,
        product=product,
        name=product.name,
        sku=product.slug,
        unit_price=129000,
        quantity=1,
    )
    # Each family's own failure message (checkout.failures.METHOD_MESSAGES).
    failure_codes = {
        "truemoney": "insufficient_balance",
        "mobile_banking_kbank": "payment_rejected",
    }
    attempt_status = {
        "paid": "successful",
        "pending": "pending",
        "failed": "failed",
        "expired": "expired",
        "partially_refunded": "successful",
        # Manual capture: an authorization held on the card, or released (reversed).
        "authorized": "authorized",
        "cancelled": "reversed",
    }[status]
    PaymentAttempt.objects.create(
        order=order,
        key=f"a11y-{order.reference}",
        amount=129000,
        currency="THB",
        status=attempt_status,
        payment_method=method,
        card_brand="Visa" if method == "card" else "",
        card_last_digits="4242" if method == "card" else "",
        failure_code=failure_codes.get(method, "insufficient_fund") if status == "failed" else "",
        qr_code_uri="https://api.omise.co/charges/chrg_test_x/documents/qr.svg"
        if method == "promptpay" and status == "pending"
        else "",
        expires_at=timezone.now() + timedelta(minutes=15) if method == "promptpay" else None,
    )
    return order


def rendered(template: str, context: dict, language: str) -> str:
    """A page no stranger's request can be made to show on demand (500, 429, the bank hop)."""
    request = RequestFactory().get("/")
    with translation.override(language):
        return render_to_string(template, context, request)


SHOP_PAGES = ["catalog", "product", "cart-empty", "cart", "checkout", "checkout-errors", "404"]
ORDER_PAGES = [
    ("paid", "card", {}),
    ("pending", "card", {}),
    ("pending", "promptpay", {}),
    ("failed", "card", {}),
    ("expired", "promptpay", {}),
    ("partially_refunded", "card", {"refunded_amount": 50000}),
    # The payment methods: waiting for the bank's app or the wallet, their failures, paid.
    ("pending", "mobile_banking_kbank", {}),
    ("pending", "truemoney", {}),
    ("failed", "mobile_banking_kbank", {}),
    ("failed", "truemoney", {}),
    ("paid", "installment_kbank", {}),
    # Manual capture: authorized, released, and paid for part of the authorization.
    ("authorized", "card", {}),
    ("cancelled", "card", {}),
    ("paid", "card", {"captured_amount": 100000}),
]
RENDERED_PAGES = {
    "400": ("400.html", {}),
    "429": ("checkout/too_many_attempts.html", {"minutes": 15}),
    "500": ("500.html", {}),
    "to-bank": ("checkout/to_bank.html", {"authorize_uri": "#bank"}),
    # The hand-off to a bank's app, a wallet or a card issuer's installment page.
    "to-bank-app": (
        "checkout/to_bank.html",
        {
            "authorize_uri": "#bank",
            "offsite_method": payment_methods.MOBILE_BANKING["mobile_banking_kbank"],
        },
    ),
    "to-wallet": (
        "checkout/to_bank.html",
        {"authorize_uri": "#wallet", "offsite_method": payment_methods.WALLETS["truemoney"]},
    ),
    "to-installments": (
        "checkout/to_bank.html",
        {
            "authorize_uri": "#issuer",
            "offsite_method": payment_methods.INSTALLMENTS["installment_kbank"],
        },
    ),
}


@pytest.fixture(params=list(VIEWPORTS), ids=list(VIEWPORTS))
def viewport(request):
    return VIEWPORTS[request.param]


@pytest.fixture(params=list(LANGUAGES), ids=list(LANGUAGES))
def language(request):
    return request.param


@pytest.fixture
def browse(chromium, sandbox, language, viewport):
    """A browser context in `language` (its Accept-Language) at `viewport`."""
    context = chromium.new_context(locale=LANGUAGES[language], viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def open_shop_page(page, base: str, name: str) -> None:
    make_product(
        name="Silk Scarf",
        name_th="ผ้าพันคอไหม",
        slug="silk-scarf",
        price=129000,
        description="Pure Thai silk.",
        description_th="ผ้าไหมไทยแท้",
    )
    if name in {"cart", "checkout", "checkout-errors"}:
        page.goto(f"{base}/products/silk-scarf/")
        page.locator("form.add-form button[type=submit]").click()
    path = {
        "catalog": "/",
        "product": "/products/silk-scarf/",
        "cart-empty": "/cart/",
        "cart": "/cart/",
        "checkout": "/checkout/",
        "checkout-errors": "/checkout/",
        "404": "/no-such-page/",
    }[name]
    page.goto(base + path)
    if name == "checkout-errors":
        # The browser's own checks off: the server's errors, as a shopper without script sees
        page.evaluate("document.getElementById('checkout-form').noValidate = true")
        page.evaluate(
            "HTMLFormElement.prototype.submit.call(document.getElementById('checkout-form'))"
        )
        page.wait_for_load_state()


@pytest.mark.parametrize("name", SHOP_PAGES)
def test_shop_pages_have_no_violations(browse, sandbox, axe_source, language, name):
    open_shop_page(browse, sandbox.url, name)
    assert browse.locator("html").get_attribute("lang") == language
    assert axe_violations(browse, axe_source) == []


@pytest.mark.parametrize(
    ("status", "method", "fields"),
    ORDER_PAGES,
    ids=[
        f"{status}-{method}" + ("-" + "-".join(fields) if fields else "")
        for status, method, fields in ORDER_PAGES
    ],
)
def test_order_pages_have_no_violations(
    browse, sandbox, axe_source, language, status, method, fields
):
    order = make_order(status, method=method, **fields)
    browse.goto(sandbox.url + order.get_absolute_url())
    assert browse.locator("html").get_attribute("lang") == language
    # The page of the state asked for (nothing settled it on the way).
    assert browse.locator(f".order-status.status-{status}").count() == 1
    assert axe_violations(browse, axe_source) == []


def test_promptpay_save_and_share_on_a_phone_have_no_violations(
    chromium, sandbox, axe_source, language
):
    """On a phone the PromptPay page offers to save the QR code image and, where the browser
    can share, to share it: both shown (a share-capable browser), then checked."""
    context = chromium.new_context(locale=LANGUAGES[language], **PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        # Headless Chromium has no share sheet: a stand-in, so the page shows its Share button.
        page.add_init_script("navigator.share = () => Promise.resolve();")
        order = make_order("pending", method="promptpay")
        page.goto(sandbox.url + order.get_absolute_url())
        assert page.locator("html").get_attribute("lang") == language
        assert page.locator("#promptpay-save").is_visible()
        assert page.locator("#promptpay-download").is_visible()
        assert page.locator("#promptpay-share").is_visible()
        assert axe_violations(page, axe_source) == []
    finally:
        context.close()


def test_duplicate_payment_page_has_no_violations(browse, sandbox, axe_source):
    first = make_order("paid")
    second = make_order("paid", duplicate_of=first)
    browse.goto(sandbox.url + second.get_absolute_url())
    assert axe_violations(browse, axe_source) == []


@pytest.mark.parametrize("name", list(RENDERED_PAGES))
def test_error_and_interstitial_pages_have_no_violations(
    browse, sandbox, axe_source, language, name
):
    template, context = RENDERED_PAGES[name]
    html = rendered(template, context, language)
    url = f"{sandbox.url}/a11y/{name}/"
    browse.route(url, lambda route: route.fulfill(body=html, content_type="text/html"))
    browse.goto(url)
    assert browse.locator("html").get_attribute("lang") == language
    if method := context.get("offsite_method"):
        with translation.override(language):
            assert str(method) in browse.locator("#to-bank").inner_text()
    assert axe_violations(browse, axe_source) == []


def test_the_card_form_has_no_violations(browse, sandbox, axe_source, language):
    browse.goto(
        f"{sandbox.sandbox_url}/sandbox/card-frame/?key=pkey_test_x&amount=129000&currency=thb"
        f"&locale={language}&frameLabel=Lanna+Goods&otherPaymentMethods=promptpay,internet_banking_bbl"
    )
    assert browse.locator("html").get_attribute("lang") == language
    assert axe_violations(browse, axe_source) == []


@pytest.mark.parametrize("method", ["mobile_banking_kbank", "truemoney", "installment"])
def test_the_card_form_with_each_method_has_no_violations(
    browse, sandbox, axe_source, language, method
):
    """Omise's form (the sandbox's) offering the payment methods, with `method` picked: a
    bank's app, the wallet's phone number field, the installment plans."""
    methods = "promptpay,mobile_banking_kbank,truemoney,rabbit_linepay,shopeepay,installment"
    browse.goto(
        f"{sandbox.sandbox_url}/sandbox/card-frame/?key=pkey_test_x&amount=1290000&currency=thb"
        f"&locale={language}&frameLabel=Lanna+Goods&otherPaymentMethods={methods}"
    )
    browse.locator(f"input[name=method][value={method}]").check()
    shown = {"truemoney": "#phone_number", "installment": "#installment_plan"}.get(method)
    if shown:
        assert browse.locator(shown).is_visible()
    assert browse.locator("html").get_attribute("lang") == language
    assert axe_violations(browse, axe_source) == []


def test_axe_reports_what_it_finds(page, sandbox, axe_source):
    """The harness can fail: a page with an unlabelled field and an image without text."""
    url = f"{sandbox.url}/a11y/broken/"
    broken = '<!doctype html><title>x</title><img src="x.png"><input type="text">'
    page.route(url, lambda route: route.fulfill(body=broken, content_type="text/html"))
    page.goto(url)
    found = " ".join(axe_violations(page, axe_source))
    assert "image-alt" in found and "label" in found and "html-has-lang" in found


def test_the_checkout_with_the_card_form_open_has_no_violations(browse, sandbox, axe_source):
    """The card form over the checkout: a labelled modal dialog holding a titled frame."""
    open_shop_page(browse, sandbox.url, "checkout")
    browse.locator("#id_email").fill("malee@example.com")
    browse.locator("#id_name").fill("Malee Sukjai")
    browse.locator("#pay-button").click()
    browse.frame_locator('iframe[title="Omise card form"]').locator("#number").wait_for()
    dialog = browse.get_by_role("dialog")
    assert dialog.get_attribute("aria-modal") == "true" and dialog.get_attribute("aria-label")
    assert axe_violations(browse, axe_source) == []
