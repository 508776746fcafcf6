"""Real checkouts in Chromium: the shop's page, the sandbox's card frame, 3-D Secure, webhooks."""

import re
from urllib.parse import urlsplit

import pytest

from checkout.models import Order, PaymentAttempt
from tests.factories import make_product
from tests.shopping import pay_in_card_form

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FRAME = 'iframe[title="Omise card form"]'


def open_card_form(page):
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    return page.frame_locator(FRAME)


def test_successful_card_payment(shopper, sandbox):
    """Paying with a good card ends on the paid order page, talking only to shop and Omise."""
    pay_in_card_form(shopper, "4242 4242 4242 4242")
    shopper.get_by_text("your order is paid").wait_for()
    assert Order.objects.get().status == Order.Status.PAID
    assert shopper.csp_errors == []
    assert shopper.hosts <= {urlsplit(sandbox.url).netloc, urlsplit(sandbox.sandbox_url).netloc}
    assert shopper.get_by_label(re.compile(r"items? in cart")).inner_text() == "0"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("4111111111140011", "declined for insufficient funds"),
        ("4111111111130012", "contact your bank"),
        ("4111111111120013", "could not be processed"),
        ("4111111111110014", "rejected the payment"),
        ("4111111111190016", "could not accept this payment"),
        ("4111111111180017", "did not recognise this card number"),
    ],
)
def test_declines_show_their_message(shopper, number, message):
    """Each decline brings the shopper back to checkout with its own message, cart intact."""
    pay_in_card_form(shopper, number)
    shopper.get_by_text(message).wait_for()
    assert urlsplit(shopper.url).path == "/checkout/"
    assert shopper.get_by_label(re.compile(r"items? in cart")).inner_text() == "1"


def test_three_d_secure_pass(shopper):
    """A 3-D Secure card goes to the bank's page; authorising returns to a paid order."""
    pay_in_card_form(shopper, "4000000000000002")
    shopper.get_by_role("button", name="Authorize").click()
    shopper.get_by_text("your order is paid").wait_for()
    assert Order.objects.get().status == Order.Status.PAID


def test_three_d_secure_fail(shopper):
    """Failing 3-D Secure returns to checkout with a message; nothing is charged."""
    pay_in_card_form(shopper, "4000000000000002")
    shopper.get_by_role("button", name="Fail").click()
    shopper.get_by_text("not charged").wait_for()
    assert urlsplit(shopper.url).path == "/checkout/"
    assert Order.objects.get().status == Order.Status.FAILED


def test_reloading_the_return_url_changes_nothing(shopper, sandbox):
    """Opening the 3-D Secure return URL again shows the same paid order; one charge only."""
    returns = []
    shopper.on("request", lambda r: "/return/" in r.url and returns.append(r.url))
    pay_in_card_form(shopper, "4000000000000002")
    shopper.get_by_role("button", name="Authorize").click()
    shopper.get_by_text("your order is paid").wait_for()
    shopper.goto(returns[0])
    shopper.get_by_text("your order is paid").wait_for()
    assert len(sandbox.requests("charges.create")) == 1


def test_webhook_arriving_before_the_shopper_returns(shopper, sandbox):
    """If Omise's webhook lands while the shopper is still on the way back, both agree: paid."""

    def deliver_first(route):
        deliveries = sandbox.deliver_webhooks()
        assert deliveries and {d["status_code"] for d in deliveries} == {200}
        assert Order.objects.get().status == Order.Status.PAID
        route.continue_()

    shopper.route(re.compile(r".*/orders/[^/]+/return/.*"), deliver_first)
    pay_in_card_form(shopper, "4000000000000002")
    shopper.get_by_role("button", name="Authorize").click()
    shopper.get_by_text("your order is paid").wait_for()
    assert PaymentAttempt.objects.get().status == PaymentAttempt.Status.SUCCESSFUL


def test_closing_the_card_form_charges_nothing(shopper, sandbox):
    """Closing Omise's form returns to the checkout with Pay usable again and no charge."""
    frame = open_card_form(shopper)
    frame.get_by_role("button", name="Close").click()
    shopper.locator(FRAME).wait_for(state="detached")
    assert shopper.get_by_role("button", name=re.compile(r"^Pay ")).is_enabled()
    assert sandbox.requests("charges.create") == []
    assert Order.objects.count() == 0


def test_double_clicking_pay_opens_one_form_and_charges_once(shopper, sandbox):
    """A double click on Pay opens a single card form and leads to exactly one charge."""
    shopper.get_by_role("button", name=re.compile(r"^Pay ")).dblclick()
    assert shopper.locator(FRAME).count() == 1
    frame = shopper.frame_locator(FRAME)
    frame.get_by_label("Card number").fill("4242424242424242")
    frame.get_by_label("Name on card").fill("MALEE SUKJAI")
    frame.get_by_label("Expiry date").fill("12/39")
    frame.get_by_label("Security code").fill("123")
    frame.locator("#submit").dblclick()
    shopper.get_by_text("your order is paid").wait_for()
    assert len(sandbox.requests("charges.create")) == 1


def open_held_card_form(page):
    """Open the card form with its script held back: (frame, release). `release()` lets the
    script run and returns once the shop's page has seen the frame load."""
    held = []
    page.route(re.compile(r".*/card-frame\.js$"), lambda route: held.append(route))
    frame = open_card_form(page)
    frame.get_by_label("Card number").wait_for()
    assert len(held) == 1, "the card form's script was not held back"
    # Registered after omise.js' own load listener, so it resolves after that one ran.
    page.locator(FRAME).evaluate(
        "frame => { window.frameLoaded = new Promise("
        "done => frame.addEventListener('load', () => done(true), {once: true})); }"
    )

    def release():
        held[0].continue_()
        assert page.evaluate("window.frameLoaded")

    return frame, release


def test_card_form_opens_ready_to_type_the_card_number(shopper):
    """Once the card form has loaded, what the shopper types goes into the card number."""
    frame, release = open_held_card_form(shopper)
    release()
    shopper.keyboard.type("4242")
    assert frame.get_by_label("Card number").input_value() == "4242"


def test_typing_before_the_card_form_is_ready_keeps_the_shoppers_place(shopper):
    """A shopper who starts typing before the card form's script has run keeps the focus and
    what they typed: neither the script nor the shop's page moves it to the card number."""
    frame, release = open_held_card_form(shopper)
    frame.get_by_label("Name on card").fill("MALEE")
    release()
    shopper.keyboard.type(" SUKJAI")
    assert frame.get_by_label("Name on card").input_value() == "MALEE SUKJAI"
    assert frame.get_by_label("Card number").input_value() == ""


def test_checkout_form_needs_contact_details_before_the_card_form(sandbox, page):
    """Pay does not open the card form until the required contact fields are filled."""
    make_product(name="Silk Scarf", slug="silk-scarf", price=129000)
    page.goto(f"{sandbox.url}/products/silk-scarf/")
    page.get_by_role("button", name="Add to cart").click()
    page.goto(f"{sandbox.url}/checkout/")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    assert page.locator(FRAME).count() == 0
