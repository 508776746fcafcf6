"""A shopper with a keyboard only pays by card, from the catalog to the paid order: every
control reached with Tab shows where the focus is, and the card form opens on Pay, takes the
card, and closes with Escape (the focus back on Pay)."""

import pytest

from checkout.models import Order
from tests.factories import make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What has the focus, and whether it is visibly marked (an outline or a focus ring's shadow).
FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
               || style.boxShadow !== "none";
  return {tag: el.tagName, id: el.id, name: el.getAttribute("name"),
          text: (el.innerText || el.value || "").trim().slice(0, 60), visible: ring};
}"""

# A function, not an expression: Playwright polls an expression with eval(), which the card
# form's CSP (no 'unsafe-eval') refuses.
FOCUSED_ON_NUMBER = "() => document.activeElement && document.activeElement.id === 'number'"


def tab_to(context, matches, *, limit: int = 40, keyboard) -> dict:
    """Press Tab until the focused element `matches`; each stop must show its focus."""
    for _ in range(limit):
        keyboard.press("Tab")
        focused = context.evaluate(FOCUS)
        if focused is None or focused["tag"] == "IFRAME":
            continue
        assert focused["visible"], f"focus not visible on {focused}"
        if matches(focused):
            return focused
    raise AssertionError("never reached the control by keyboard")


def press_closing_the_card_form(page, key: str) -> None:
    """Press `key` in the card form when the key closes it (Escape, or Enter on its Pay).

    The form is a frame from another origin (its own renderer): if it is removed between the
    key's down and up, Chromium never answers the key-up sent to it and `keyboard.press` waits
    for ever (seen once in a few runs). So the key goes down in the form, the form goes, and
    the key comes up in the shop's page, as it does under a shopper's finger."""
    page.keyboard.down(key)
    page.locator(".omise-sandbox-overlay").wait_for(state="detached")
    page.keyboard.up(key)


def test_a_keyboard_only_card_payment(page, sandbox):
    make_product(name="Silk Scarf", slug="silk-scarf", price=129000)
    keys = page.keyboard
    page.goto(f"{sandbox.url}/")

    tab_to(page, lambda f: f["tag"] == "A" and "Silk Scarf" in f["text"], keyboard=keys)
    keys.press("Enter")
    page.wait_for_url("**/products/silk-scarf/")
    tab_to(page, lambda f: f["text"] == "Add to cart", keyboard=keys)
    keys.press("Enter")
    page.wait_for_url("**/cart/")
    tab_to(page, lambda f: f["text"] == "Proceed to checkout", keyboard=keys)
    keys.press("Enter")
    page.wait_for_url("**/checkout/")

    tab_to(page, lambda f: f["name"] == "email", keyboard=keys)
    keys.type("malee@example.com")
    tab_to(page, lambda f: f["name"] == "name", keyboard=keys)
    keys.type("Malee Sukjai")
    tab_to(page, lambda f: f["id"] == "pay-button", keyboard=keys)

    # Pay opens the card form with the focus in it; Escape closes it and gives Pay the focus.
    keys.press("Enter")
    frame = page.frame_locator('iframe[title="Omise card form"]')
    frame.locator("#number").wait_for()
    card_frame = page.frame(name="omise-card-frame")
    card_frame.wait_for_function(FOCUSED_ON_NUMBER)
    press_closing_the_card_form(page, "Escape")
    assert page.evaluate(FOCUS)["id"] == "pay-button"

    # Again, and this time pay: every field by Tab, the card form's button by Enter.
    keys.press("Enter")
    frame.locator("#number").wait_for()
    card_frame = page.frame(name="omise-card-frame")
    card_frame.wait_for_function(FOCUSED_ON_NUMBER)
    assert card_frame.evaluate(FOCUS)["visible"]
    keys.type("4242 4242 4242 4242")
    for field, text in (("name", "MALEE SUKJAI"), ("expiry", "12/39"), ("security_code", "123")):
        tab_to(card_frame, lambda f, field=field: f["id"] == field, keyboard=keys)
        keys.type(text)
    tab_to(card_frame, lambda f: f["id"] == "submit", keyboard=keys)
    press_closing_the_card_form(page, "Enter")

    page.get_by_text("your order is paid").wait_for()
    assert Order.objects.get().status == Order.Status.PAID
