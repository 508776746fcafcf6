"""Omise.js and the card frame in Chromium: the shop's page (http://localhost:PORT) opens the
sandbox's card form (http://127.0.0.1:PORT), gets a token back, and cannot read the frame."""

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_card_form(sandbox, page):
    page.goto(f"{sandbox.url}/sandbox/try/?amount=129000")
    page.get_by_role("button", name="Pay with card").click()
    frame = page.frame_locator("iframe[title='Omise card form']")
    frame.get_by_label("Card number").wait_for()
    return frame


def fill_card(frame, number="4242 4242 4242 4242"):
    frame.get_by_label("Card number").fill(number)
    frame.get_by_label("Name on card").fill("Somchai Prasert")
    frame.get_by_label("Expiry date").fill("12/39")
    frame.get_by_label("Security code").fill("123")


def test_card_form_in_frame_returns_a_token(sandbox, page):
    """OmiseCard.open shows the sandbox's card form in a frame; paying with a test card hands a
    tokn_test_ id to onCreateTokenSuccess, with no CSP violation on either origin."""
    violations = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    frame = open_card_form(sandbox, page)
    fill_card(frame)
    frame.get_by_role("button", name="Pay ฿1,290.00").click()
    page.locator("#result").filter(has_text=re.compile(r"^tokn_test_")).wait_for()
    assert page.locator("iframe").count() == 0  # the form closed itself
    assert violations == []


def test_vault_errors_show_in_the_frame(sandbox, page):
    """An invalid number is refused by the vault and the frame says why; no token is given."""
    frame = open_card_form(sandbox, page)
    fill_card(frame, number="4242 4242 4242 4241")
    frame.get_by_role("button", name="Pay ฿1,290.00").click()
    # Waits for the vault's answer to be written (an inner_text right away can read it empty).
    frame.get_by_role("alert").filter(has_text="number is invalid").wait_for()
    assert page.locator("#result").inner_text() == ""


def test_shop_page_cannot_read_the_card_fields(sandbox, page):
    """The frame is cross-origin: the shop page's script gets no document from it."""
    frame = open_card_form(sandbox, page)
    fill_card(frame)
    outcome = page.evaluate("""() => {
        const frame = document.querySelector("iframe");
        let direct;
        try { direct = frame.contentWindow.document.querySelector("#number").value; }
        catch (error) { direct = error.name; }
        return {contentDocument: frame.contentDocument === null, direct};
    }""")
    assert outcome == {"contentDocument": True, "direct": "SecurityError"}


def test_closing_the_form_calls_on_form_closed(sandbox, page):
    """The Close button (or Escape) removes the frame and calls onFormClosed."""
    frame = open_card_form(sandbox, page)
    frame.get_by_role("button", name="Close").click()
    page.locator("#closed").filter(has_text="yes").wait_for()
    assert page.locator("iframe").count() == 0


def test_create_token_from_the_shop_origin(sandbox, page):
    """Omise.createToken called by the shop's page reaches the vault cross-origin (CORS) and
    calls back with 200 and a token."""
    page.goto(f"{sandbox.url}/sandbox/try/")
    result = page.evaluate(
        """(key) => new Promise((resolve) => {
        Omise.setPublicKey(key);
        Omise.createToken("card", {name: "A B", number: "4242424242424242",
            expiration_month: 12, expiration_year: 2039, security_code: "123"},
            (status, response) => resolve([status, response.id]));
    })""",
        sandbox.settings.OMISE_PUBLIC_KEY,
    )
    assert result[0] == 200 and result[1].startswith("tokn_test_")
