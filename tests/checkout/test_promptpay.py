"""PromptPay through the checkout, against the sandbox over real HTTP: sources, the pending QR
code page, settling by webhook, expiry. Mobile banking, wallets and installments:
tests/checkout/test_methods.py."""

import re
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone

from checkout import velocity
from checkout.models import Order, PaymentAttempt
from shop.cart import SESSION_KEY
from tests.shopping import checkout_form

pytestmark = pytest.mark.django_db(transaction=True)

BUYER = {"email": "malee@example.com", "name": "Malee Sukjai", "country": "TH"}
TOTAL = 129000 + 2 * 12000  # satang: the cart of the `shop` fixture (tests/shopping.py)


def pay_with_source(client, source: str, **fields):
    """Submit the checkout as checkout.js does when Omise's form hands back a source."""
    return client.post(
        "/checkout/", {**BUYER, "omise_source": source, **checkout_form(client), **fields}
    )


def pay_by_promptpay(shop, sandbox):
    """A PromptPay checkout; returns the response and the pending attempt."""
    response = pay_with_source(shop, sandbox.source("promptpay", amount=TOTAL))
    return response, PaymentAttempt.objects.select_related("order").get()


def order_page(client, order: Order):
    return client.get(order.get_absolute_url())


def status_of(client, order: Order) -> str:
    response = client.get(f"{order.get_absolute_url()}status.json")
    assert response.status_code == 200
    return response.json()["status"]


# --- the sandbox's sources ---------------------------------------------------------------------


def test_sandbox_source_charge_is_pending_with_a_qr_code_image(sandbox):
    """A PromptPay source makes a pending, unauthorized charge carrying the source with a QR
    code image document and an expiry; the image URL serves an SVG any page can show."""
    source = sandbox.source("promptpay", amount=5000)
    assert re.fullmatch(r"src_test_[0-9a-z]{19}", source)
    charge = sandbox.client.create_charge(amount=5000, currency="THB", source=source)
    assert (charge["status"], charge["authorized"], charge["paid"]) == ("pending", False, False)
    assert charge["card"] is None and charge["authorize_uri"] is None
    assert charge["source"]["id"] == source
    assert (charge["source"]["type"], charge["source"]["flow"]) == ("promptpay", "offline")
    image = charge["source"]["scannable_code"]["image"]
    assert charge["source"]["scannable_code"]["type"] == "qr" and image["object"] == "document"
    assert charge["expires_at"] > charge["created_at"]
    qr = requests.get(image["download_uri"], timeout=10)
    assert qr.headers["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
    assert qr.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_sandbox_sources_take_the_public_key_only(sandbox):
    """Sources are made from the shopper's browser with the public key; the secret key is
    refused, as the vault refuses it."""
    response = requests.post(
        f"{sandbox.api_url}/sources",
        auth=(sandbox.settings.OMISE_SECRET_KEY, ""),
        timeout=10,
        json={"type": "promptpay", "amount": 5000, "currency": "THB"},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failure"


@pytest.mark.parametrize(
    ("charge_amount", "reuse", "code"),
    [(6000, False, "invalid_charge"), (5000, True, "invalid_charge")],
    ids=["another amount", "used twice"],
)
def test_sandbox_refuses_a_source_for_another_amount_or_used_twice(
    sandbox, charge_amount, reuse, code
):
    """A source fixes its amount, and makes one charge only."""
    from checkout.omise import OmiseAPIError

    source = sandbox.source("promptpay", amount=5000)
    if reuse:
        sandbox.client.create_charge(amount=5000, currency="THB", source=source)
    with pytest.raises(OmiseAPIError) as refused:
        sandbox.client.create_charge(amount=charge_amount, currency="THB", source=source)
    assert refused.value.code == code


def test_sandbox_mark_as_paid_failed_and_expire_record_events(sandbox):
    """Test mode's mark_as_paid and mark_as_failed settle a PromptPay charge with
    charge.complete; expiring one records charge.expire; a settled one cannot change again."""
    charges = [
        sandbox.client.create_charge(
            amount=5000, currency="THB", source=sandbox.source("promptpay", amount=5000)
        )
        for _ in range(3)
    ]
    assert sandbox.mark_as_paid(charges[0]["id"])["status"] == "successful"
    assert sandbox.mark_as_failed(charges[1]["id"])["status"] == "failed"
    assert sandbox.expire(charges[2]["id"])["status"] == "expired"
    completed = {e["data"]["id"]: e["data"]["status"] for e in sandbox.events("charge.complete")}
    assert completed == {charges[0]["id"]: "successful", charges[1]["id"]: "failed"}
    assert [e["data"]["id"] for e in sandbox.events("charge.expire")] == [charges[2]["id"]]
    with pytest.raises(AssertionError, match="invalid_charge"):
        sandbox.mark_as_paid(charges[2]["id"])


def test_sandbox_charge_expires_when_its_time_has_passed(sandbox):
    """A PromptPay charge left unpaid past its expires_at is expired (and charge.expire
    recorded) when it is next looked at; mark_as_paid then comes too late."""
    source = sandbox.source("promptpay", amount=5000)
    created = requests.post(
        f"{sandbox.api_url}/charges",
        timeout=10,
        auth=(sandbox.settings.OMISE_SECRET_KEY, ""),
        json={
            "amount": 5000,
            "currency": "THB",
            "source": source,
            "expires_at": (timezone.now() + timedelta(seconds=1)).isoformat(),
        },
    ).json()
    assert created["status"] == "pending"
    time.sleep(1.2)
    assert sandbox.client.retrieve_charge(created["id"])["status"] == "expired"
    assert [e["data"]["id"] for e in sandbox.events("charge.expire")] == [created["id"]]
    with pytest.raises(AssertionError, match="invalid_charge"):
        sandbox.mark_as_paid(created["id"])


def test_sandbox_promptpay_app_page_pays_the_charge(sandbox):
    """The page the QR code leads to (the shopper's "banking app") pays the charge with one
    press, recording charge.complete."""
    charge = sandbox.client.create_charge(
        amount=5000, currency="THB", source=sandbox.source("promptpay", amount=5000)
    )
    app = requests.Session()
    app.trust_env = False
    url = f"{sandbox.sandbox_url}/sandbox/promptpay/{charge['id']}/"
    page = app.get(url, timeout=10)
    assert "฿50.00" in page.text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    app.post(
        url,
        data={"csrfmiddlewaretoken": csrf, "choice": "pay"},
        headers={"Referer": url},
        timeout=10,
    )
    assert sandbox.client.retrieve_charge(charge["id"])["status"] == "successful"
    assert [e["data"]["status"] for e in sandbox.events("charge.complete")] == ["successful"]


def test_sandbox_dashboard_settles_pending_source_charges(sandbox, client):
    """The sandbox dashboard offers Mark as paid / Mark as failed / Expire for a pending
    PromptPay charge, and pressing one settles it (card charges get no buttons)."""
    charge = sandbox.client.create_charge(
        amount=5000, currency="THB", source=sandbox.source("promptpay", amount=5000)
    )
    sandbox.client.create_charge(amount=5000, currency="THB", card=sandbox.token())
    html = client.get("/sandbox/").text
    assert html.count("Mark as paid") == 1 and f"/sandbox/charges/{charge['id']}/settle" in html
    response = client.post(f"/sandbox/charges/{charge['id']}/settle", {"action": "expire"})
    assert response.status_code == 302
    assert sandbox.client.retrieve_charge(charge["id"])["status"] == "expired"
    assert "Mark as paid" not in client.get("/sandbox/").text


# --- the shop: PromptPay ------------------------------------------------------------------------


def test_promptpay_charge_is_created_from_the_source(shop, sandbox):
    """The checkout charges the source (no card) for the server-side cart total with a return
    URI, records PromptPay on the attempt, and sends the shopper to the order page."""
    response, attempt = pay_by_promptpay(shop, sandbox)
    sent = sandbox.last_request("charges.create")
    assert sent["source"].startswith("src_test_") and "card" not in sent
    assert sent["amount"] == TOTAL and sent["currency"] == "THB"
    assert f"/orders/{attempt.order.reference}/return/{attempt.return_token}/" in sent["return_uri"]
    assert response.status_code == 302 and response.url == attempt.order.get_absolute_url()
    assert attempt.status == PaymentAttempt.Status.PENDING
    assert attempt.payment_method == "promptpay" and attempt.order.status == Order.Status.PENDING
    assert attempt.qr_code_uri.startswith(f"{sandbox.sandbox_url}/sandbox/qr/")
    assert attempt.expires_at > timezone.now()


def test_pending_promptpay_page_shows_qr_amount_and_expiry(shop, sandbox, settings):
    """The order page shows the QR code image from Omise, the amount and the expiry, loads
    the poller script (no inline script, no meta refresh), and allows images from Omise's
    origin and nowhere else new."""
    _, attempt = pay_by_promptpay(shop, sandbox)
    page = order_page(shop, attempt.order)
    html = page.text
    assert f'src="{attempt.qr_code_uri}"' in html
    assert "฿1,530.00" in html
    shown = re.search(r'<time datetime="([^"]+)"', html).group(1)
    assert datetime.fromisoformat(shown) == attempt.expires_at.replace(microsecond=0)
    assert 'id="promptpay-countdown"' in html
    assert re.search(r'<script src="/static/js/promptpay\.js" nonce="[^"]+"></script>', html)
    assert 'http-equiv="refresh"' not in html
    policy = page.headers["Content-Security-Policy"]
    img_src = re.search(r"img-src ([^;]+)", policy).group(1).split()
    assert set(img_src) == {"'self'", "data:", sandbox.sandbox_url}
    assert sandbox.sandbox_url not in re.search(r"script-src ([^;]+)", policy).group(1)


def test_marked_paid_and_webhook_pay_the_order(shop, sandbox):
    """Paying the QR code (mark_as_paid) and Omise's charge.complete webhook mark the order
    paid; the poller sees it, and the page says so and empties the cart."""
    _, attempt = pay_by_promptpay(shop, sandbox)
    assert status_of(shop, attempt.order) == "pending"
    sandbox.mark_as_paid(attempt.charge_id)
    assert {d["status_code"] for d in sandbox.deliver_webhooks()} == {200}
    assert status_of(shop, attempt.order) == "paid"
    page = order_page(shop, attempt.order)
    assert "your order is paid" in page.text and "Paid with PromptPay" in page.text
    assert attempt.qr_code_uri not in page.text
    assert not shop.session.get(SESSION_KEY)


def test_a_paid_qr_code_gives_its_velocity_points_back_when_the_poller_sees_it(shop, sandbox):
    """A QR code waiting to be paid weighs like a decline in the velocity limits; once the
    shopper's own page polls it paid, it weighs one attempt."""
    _, attempt = pay_by_promptpay(shop, sandbox)
    ip_points = velocity._key("points", "ip", "127.0.0.1")
    assert cache.get(ip_points) == 3
    sandbox.mark_as_paid(attempt.charge_id)
    sandbox.deliver_webhooks()
    assert status_of(shop, attempt.order) == status_of(shop, attempt.order) == "paid"
    assert cache.get(ip_points) == 1


def test_marked_failed_shows_a_failure_without_blaming_a_card(shop, sandbox):
    """A failed PromptPay payment fails the order; the page says nothing was charged, offers
    to try again, and keeps the cart."""
    _, attempt = pay_by_promptpay(shop, sandbox)
    sandbox.mark_as_failed(attempt.charge_id)
    sandbox.deliver_webhooks()
    assert Order.objects.get().status == Order.Status.FAILED
    page = order_page(shop, attempt.order)
    assert "did not go through and you were not charged" in page.text
    assert "another card" not in page.text and 'href="/checkout/"' in page.text
    assert shop.session[SESSION_KEY]


def test_expired_qr_code_offers_to_start_again(shop, sandbox):
    """When the QR code expires unpaid (charge.expire), the order expires and the page says
    so with a "Start again" link to the checkout; the cart is kept."""
    _, attempt = pay_by_promptpay(shop, sandbox)
    sandbox.expire(attempt.charge_id)
    sandbox.deliver_webhooks()
    assert Order.objects.get().status == Order.Status.EXPIRED
    html = order_page(shop, attempt.order).text
    assert "No payment arrived in time for the QR code" in html
    assert re.search(r'<a class="button primary" href="/checkout/">Start again</a>', html)
    assert attempt.qr_code_uri not in html
    assert shop.session[SESSION_KEY]
    again = shop.get("/checkout/")
    assert again.status_code == 200 and again.context["form"].initial["attempt_key"] != attempt.key


def test_poller_asks_omise_once_the_qr_code_has_expired(shop, sandbox):
    """Without any webhook, the status endpoint finds out from Omise that an expired QR code's
    charge expired (the shop asks Omise; the browser never does)."""
    _, attempt = pay_by_promptpay(shop, sandbox)
    sandbox.expire(attempt.charge_id)  # the webhook is never delivered
    PaymentAttempt.objects.filter(pk=attempt.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert status_of(shop, attempt.order) == "expired"


def test_status_endpoint_needs_the_order_token(shop, sandbox):
    """The poller's JSON answers only with the order page's secret token."""
    _, attempt = pay_by_promptpay(shop, sandbox)
    order = attempt.order
    assert shop.get(f"/orders/{order.reference}/{'x' * 43}/status.json").status_code == 404


# --- rejections ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"omise_source": "src_test_UPPER"},
        {"omise_source": "source_test_abcdefghij"},
        {"omise_source": "src_test_abcdefghij", "omise_token": "tokn_test_abcdefghij"},
    ],
    ids=["bad characters", "wrong prefix", "token and source"],
)
def test_malformed_source_is_refused_before_any_order(shop, sandbox, fields):
    """A source id of the wrong shape, or one sent with a card token, is refused by the form:
    no order, no call to Omise."""
    data = {**BUYER, **checkout_form(shop), **fields}
    response = shop.post("/checkout/", data)
    assert response.status_code == 400
    assert Order.objects.count() == 0 and sandbox.requests("charges.create") == []


def test_source_for_another_amount_is_refused_before_any_order(shop, sandbox):
    """A source made for another amount (a tampered page) is refused by the shop once it has
    read the source back from Omise: no order, no charge, the shopper back at checkout."""
    response = pay_with_source(shop, sandbox.source("promptpay", amount=TOTAL - 1000))
    assert response.status_code == 302 and urlsplit(response.url).path == "/checkout/"
    assert Order.objects.count() == 0 and sandbox.requests("charges.create") == []
    messages = [str(m) for m in shop.get(response.url).context["messages"]]
    assert messages == ["The payment was prepared for another amount. Please choose how to pay."]


def test_used_source_fails_without_a_second_charge(shop, sandbox):
    """A source already used for a charge cannot pay another order."""
    source = sandbox.source("promptpay", amount=TOTAL)
    sandbox.client.create_charge(amount=TOTAL, currency="THB", source=source)
    response = pay_with_source(shop, source)
    assert urlsplit(response.url).path == "/checkout/"
    assert PaymentAttempt.objects.get().status == PaymentAttempt.Status.FAILED


def test_promptpay_attempts_count_against_velocity_limits(shop, sandbox, settings):
    """PromptPay submissions go through the same velocity limits as cards: over the IP's
    limit, the checkout refuses (429) before creating an order or a charge."""
    # 6 points: an attempt pays a decline's 3 up front and a QR code not yet paid keeps them,
    # so two attempts reach the limit and the third is refused.
    settings.CHECKOUT_VELOCITY_LIMITS = {**settings.CHECKOUT_VELOCITY_LIMITS, "ip": (6, 600, 600)}
    codes = [
        pay_with_source(shop, sandbox.source("promptpay", amount=TOTAL)).status_code
        for _ in range(3)
    ]
    assert codes == [302, 302, 429]
    assert len(sandbox.requests("charges.create")) == Order.objects.count() == 2
