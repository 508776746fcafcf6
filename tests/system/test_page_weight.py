"""The checkout page's weight budget, measured in Chromium: the shop's own bytes (Omise's
script and card form aside) at most 50 KB transferred, and nothing from another origin blocks
the first render."""

from urllib.parse import urlsplit

import pytest

from tests.factories import make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BUDGET = 50 * 1024  # bytes on the wire: headers and bodies of the shop's own responses


@pytest.mark.parametrize("locale", ["en-GB", "th-TH"])
def test_checkout_page_stays_within_its_budget(chromium, sandbox, locale):
    make_product(name="Silk Scarf", name_th="ผ้าพันคอไหม", slug="silk-scarf", price=129000)
    context = chromium.new_context(locale=locale)
    page = context.new_page()
    try:
        page.goto(f"{sandbox.url}/products/silk-scarf/")
        page.locator("form.add-form button[type=submit]").click()
        page.wait_for_url("**/cart/")
        responses = []
        page.on("requestfinished", lambda request: responses.append(request))
        page.goto(f"{sandbox.url}/checkout/")
        page.wait_for_load_state("networkidle")
        shop = urlsplit(sandbox.url).netloc
        own = [r for r in responses if urlsplit(r.url).netloc == shop]
        assert any(urlsplit(r.url).path == "/checkout/" for r in own)
        weight = sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in own)
        assert 0 < weight <= BUDGET, f"{weight} bytes: {[r.url for r in own]}"
        blocking = page.evaluate(
            """() => performance.getEntriesByType("resource")
                 .filter(e => e.renderBlockingStatus === "blocking").map(e => e.name)"""
        )
        assert blocking, "the shop's style sheet blocks rendering: the measure works"
        assert [url for url in blocking if urlsplit(url).netloc != shop] == []
    finally:
        context.close()
