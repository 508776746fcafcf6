"""What many tests do as a shopper: a cart, a checkout, a payment, a signed webhook.

The fixtures here (`shop`, `pending_3ds`, `shopper`) are made available to every test by
tests/conftest.py; the helpers are imported where needed.
"""

import base64
import hashlib
import hmac
import json
import re
import time
from urllib.parse import urlsplit

import pytest

from checkout.models import PaymentAttempt
from tests.factories import make_product

BUYER = {
    "email": "malee@example.com",
    "name": "Malee Sukjai",
    "phone": "+66 81 234 5678",
    "country": "TH",
    "street1": "12 Nimman Road",
    "city": "Chiang Mai",
    "postal_code": "50200",
}


@pytest.fixture
def shop(client, sandbox):
    """A shopper with a silk scarf (฿1,290.00) and two soaps (฿120.00) in the cart."""
    scarf = make_product(name="Silk Scarf", slug="silk-scarf", price=129000)
    soap = make_product(name="Rice Soap", slug="rice-soap", price=12000)
    client.post("/cart/add/", {"product": scarf.slug, "quantity": "1"})
    client.post("/cart/add/", {"product": soap.slug, "quantity": "2"})
    return client


@pytest.fixture
def pending_3ds(shop, sandbox):
    """An order waiting for 3-D Secure: (its attempt, its charge as Omise returns it)."""
    pay(shop, sandbox, "4000000000000002")
    attempt = PaymentAttempt.objects.get()
    return attempt, sandbox.client.retrieve_charge(attempt.charge_id)


@pytest.fixture
def shopper(sandbox, page):
    """A browser at the checkout with a silk scarf in the cart, contact details filled in,
    recording Content-Security-Policy errors (`page.csp_errors`) and hosts (`page.hosts`).

    `sandbox` comes before `page`: the browser closes its connections before the server."""
    make_product(name="Silk Scarf", slug="silk-scarf", price=129000)
    page.csp_errors = []
    page.hosts = set()
    page.on(
        "console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text)
    )
    page.on("request", lambda r: page.hosts.add(urlsplit(r.url).netloc))
    page.goto(f"{sandbox.url}/products/silk-scarf/")
    page.get_by_role("button", name="Add to cart").click()
    page.get_by_role("link", name="Proceed to checkout").click()
    page.get_by_label("Email").fill("malee@example.com")
    page.get_by_label("Full name").fill("Malee Sukjai")
    return page


SHOWN_FIELDS = ("attempt_key", "shown_total", "shown_currency", "cart_fingerprint")


def shown_fields(html: str | bytes) -> dict[str, str]:
    """The hidden fields a checkout page's form carries: its attempt key and what it showed
    (total, currency, the cart's fingerprint), read from the page as a browser would."""
    text = html.decode() if isinstance(html, bytes) else html
    return {
        name: re.search(rf'name="{name}" value="([^"]*)"', text).group(1) for name in SHOWN_FIELDS
    }


def checkout_form(client, **get) -> dict[str, str]:
    """Open the checkout; return the hidden fields its form would post."""
    response = client.get("/checkout/", **get)
    assert response.status_code == 200
    return shown_fields(response.content)


def checkout_page(client) -> str:
    """Open the checkout; return the attempt key it issued."""
    return checkout_form(client)["attempt_key"]


def pay(client, sandbox, number="4242424242424242", **overrides):
    """Submit the checkout as checkout.js does once Omise's form returns a card token."""
    form = checkout_form(client)
    data = {**BUYER, **form, "omise_token": sandbox.token(number), **overrides}
    return client.post("/checkout/", data)


def messages_of(client, response) -> list[str]:
    """The messages shown on the page a response redirects to."""
    return [str(m) for m in client.get(response.url).context["messages"]]


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Omise's signature headers for `body`: HMAC-SHA256 of `timestamp.body`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret)
    signature = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Omise-Signature": signature, "Omise-Signature-Timestamp": str(timestamp)}


def event_body(sandbox, key: str) -> bytes:
    """The body of the newest sandbox event with this key, as Omise would POST it."""
    return json.dumps(sandbox.events(key)[-1]).encode()


PAY_BUTTON = re.compile(r"^Pay ")
CARD_FRAME = 'iframe[title="Omise card form"]'


def pay_in_card_form(page, number: str = "4242 4242 4242 4242"):
    """In a browser at the checkout: press Pay, type a card into Omise's frame, submit."""
    page.get_by_role("button", name=PAY_BUTTON).click()
    frame = page.frame_locator(CARD_FRAME)
    frame.get_by_label("Card number").fill(number)
    frame.get_by_label("Name on card").fill("MALEE SUKJAI")
    frame.get_by_label("Expiry date").fill("12/39")
    frame.get_by_label("Security code").fill("123")
    frame.locator("#submit").click()
