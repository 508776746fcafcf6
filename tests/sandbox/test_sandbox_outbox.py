"""The sandbox's outbox page: the shop's e-mails as a shopper's inbox would get them."""

import pytest

from mails.models import OutboxMail
from tests.shopping import pay

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_outbox_lists_and_shows_the_shops_mails(shop, sandbox):
    pay(shop, sandbox)
    row = OutboxMail.objects.get()
    dashboard = shop.get("/sandbox/")
    assert 'href="/sandbox/outbox/"' in dashboard.text and "(1)" in dashboard.text
    listing = shop.get("/sandbox/outbox/")
    assert "order_confirmation" in listing.text and "malee@example.com" in listing.text
    assert f'href="/sandbox/outbox/{row.pk}/"' in listing.text
    page = shop.get(f"/sandbox/outbox/{row.pk}/")
    assert page.status_code == 200
    assert "Your receipt for order" in page.text and "Visa ending in 4242" in page.text
    assert "<iframe" in page.text and " sandbox " in page.text  # the HTML part runs no script
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_an_unknown_mail_is_a_404(client, sandbox):
    assert client.get("/sandbox/outbox/999/").status_code == 404
