"""Storefront pages for shoppers: catalog, product, cart, and their bad-input paths."""

import re
from html.parser import HTMLParser

import pytest
from django.core.management import call_command
from django.urls import reverse

from shop.cart import MAX_QUANTITY
from shop.models import Product
from tests.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("load_demo", verbosity=0)
    return Product.objects.get(slug="silk-scarf")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_catalog_lists_active_products_with_formatted_prices(client, demo):
    """The catalog shows every active product with its price in baht."""
    make_product(name="Hidden thing", active=False)
    response = client.get("/")
    assert response.status_code == 200
    assert "Silk Scarf" in response.text
    assert "฿1,290.00" in response.text
    assert "Hidden thing" not in response.text


def test_product_page(client, demo):
    """A product page shows name, price, description and an add-to-cart form."""
    response = client.get(reverse("shop:product_detail", kwargs={"slug": "silk-scarf"}))
    assert response.status_code == 200
    assert "Pak Thong Chai" in response.text
    assert 'action="/cart/add/"' in response.text
    assert '<label for="quantity">' in response.text


@pytest.mark.parametrize("slug", ["no-such-thing", "hidden"])
def test_unknown_or_inactive_product_is_a_friendly_404(client, slug):
    """Unknown and inactive products answer 404 with the shop's own page, not a 500."""
    make_product(slug="hidden", active=False)
    response = client.get(f"/products/{slug}/")
    assert response.status_code == 404
    assert "couldn't find that page" in response.text


def test_add_update_remove_round_trip(client, demo):
    """A shopper adds, changes and removes a product and sees the totals follow."""
    response = client.post("/cart/add/", {"product": "silk-scarf", "quantity": "2"}, follow=True)
    assert "Added 2 × Silk Scarf" in messages_of(response)[0]
    assert "฿2,580.00" in response.text
    response = client.post("/cart/update/", {"product": "silk-scarf", "quantity": "3"}, follow=True)
    assert "฿3,870.00" in response.text
    response = client.post("/cart/remove/", {"product": "silk-scarf"}, follow=True)
    assert "Your cart is empty" in response.text


@pytest.mark.parametrize("quantity", ["0", "-1", "abc", "", "1.5", str(MAX_QUANTITY + 1), "9" * 50])
def test_bad_quantities_get_a_clear_message_and_change_nothing(client, demo, quantity):
    """Bad quantities are refused with a message; the cart keeps what it had."""
    client.post("/cart/add/", {"product": "silk-scarf", "quantity": "1"})
    response = client.post(
        "/cart/update/", {"product": "silk-scarf", "quantity": quantity}, follow=True
    )
    assert response.status_code == 200
    assert "between 1 and" in messages_of(response)[-1]
    assert "฿1,290.00" in response.text


def test_bad_quantity_on_the_product_page_returns_there(client, demo):
    """A refused add from a product page sends the shopper back to that page."""
    response = client.post(
        "/cart/add/", {"product": "silk-scarf", "quantity": "0", "next": "product"}
    )
    assert response.status_code == 302
    assert response.url == "/products/silk-scarf/"


@pytest.mark.parametrize("url", ["/cart/add/", "/cart/update/", "/cart/remove/"])
def test_unknown_product_in_cart_forms_is_a_message(client, url):
    """Posting an unknown product slug gives a message, never a 500."""
    response = client.post(url, {"product": "ghost", "quantity": "1"}, follow=True)
    assert response.status_code == 200
    assert "does not exist" in messages_of(response)[0]


@pytest.mark.parametrize("url", ["/cart/add/", "/cart/update/", "/cart/remove/"])
def test_cart_changes_require_post(client, url):
    """Cart changes are POST-only: a crawler following links changes nothing."""
    assert client.get(url).status_code == 405


def test_cart_links_to_checkout(client, demo):
    """A cart with items offers the way to checkout."""
    client.post("/cart/add/", {"product": "silk-scarf", "quantity": "1"})
    response = client.get("/cart/")
    assert reverse("checkout:checkout") in response.text


def test_header_badge_counts_items(client, demo):
    """The header's cart badge counts items across lines."""
    client.post("/cart/add/", {"product": "silk-scarf", "quantity": "2"})
    client.post("/cart/add/", {"product": "teak-bowl", "quantity": "1"})
    assert 'aria-label="3 items in cart"' in client.get("/").text


def test_load_demo_is_idempotent(db):
    """Running the demo loader twice leaves exactly one copy of each product."""
    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)
    assert Product.objects.count() == 8
    assert all(p.image.startswith("img/products/") for p in Product.objects.all())


class _AssetCollector(HTMLParser):
    """Collects every URL a page would make the browser load."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "srcset", "data"):
            if attrs.get(name):
                self.urls.append(attrs[name])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


@pytest.mark.parametrize("path", ["/", "/products/silk-scarf/", "/cart/", "/checkout/"])
def test_pages_load_no_third_party_asset(client, demo, path, settings):
    """Every asset a page loads is the shop's own, but for Omise.js on the checkout page."""
    client.post("/cart/add/", {"product": "silk-scarf", "quantity": "1"})
    response = client.get(path)
    collector = _AssetCollector()
    collector.feed(response.text)
    assert collector.urls, "the page should load at least its stylesheet"
    allowed = [settings.OMISE_JS_URL] if path == "/checkout/" else []
    for url in collector.urls:
        assert not re.match(r"^(https?:)?//", url) or url in allowed, url
    assert (settings.OMISE_JS_URL in collector.urls) == (path == "/checkout/")


def test_catalog_grid_is_cached_until_a_product_changes(client, demo, django_assert_num_queries):
    """A second catalog view renders the cached grid without querying products; editing,
    adding or deleting a product shows at once."""
    client.get("/")
    with django_assert_num_queries(0):
        client.get("/")
    demo.name, demo.price = "Silk Scarf (indigo)", 139000
    demo.save()
    page = client.get("/").text
    assert "Silk Scarf (indigo)" in page and "฿1,390.00" in page
    make_product(name="Bamboo Basket")
    assert "Bamboo Basket" in client.get("/").text
    demo.delete()
    assert "Silk Scarf" not in client.get("/").text


def test_product_page_is_served_from_memory_until_the_product_changes(
    client, demo, django_assert_num_queries
):
    """A product page viewed again needs no query; an edit in this worker shows at once."""
    client.get("/products/silk-scarf/")
    with django_assert_num_queries(0):
        client.get("/products/silk-scarf/")
    demo.price = 99000
    demo.save()
    assert "฿990.00" in client.get("/products/silk-scarf/").text
    demo.active = False
    demo.save()
    assert client.get("/products/silk-scarf/").status_code == 404


def test_another_workers_edit_shows_within_the_local_memory_time(client, demo):
    """An edit made by another worker (a new shared version) shows here once this worker's
    memory of the version lapses, and not before: the bound LOCAL_SECONDS documents."""
    from django.core.cache import cache

    from shop import catalog

    client.get("/products/silk-scarf/")
    Product.objects.filter(pk=demo.pk).update(price=99000)  # no signal: another process's write
    cache.set(catalog.VERSION_KEY, catalog.catalog_version() + 1)  # what its signal shares
    assert "฿1,290.00" in client.get("/products/silk-scarf/").text  # remembered version
    catalog._remembered["until"] = 0.0  # LOCAL_SECONDS have passed
    assert "฿990.00" in client.get("/products/silk-scarf/").text


def test_unknown_slugs_are_not_remembered(client, db):
    """404s go to the database each time, so random slugs cannot fill the catalog memory."""
    from django.core.cache import caches

    client.get("/products/no-such-thing/")
    client.get("/products/another-one/")
    assert not [k for k in caches["catalog"]._cache if "no-such-thing" in k]


@pytest.mark.parametrize("url", ["/", "/products/test-product-page/"])
def test_queries_per_page_do_not_grow_with_the_catalog(client, db, url):
    """A cold page view (nothing cached) runs the same few queries at 10 and 1,000 products."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from shop.catalog import forget_local

    make_product(slug="test-product-page")

    def cold_queries() -> int:
        cache.clear()
        forget_local()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    Product.objects.bulk_create(
        Product(name=f"P{n}", slug=f"p-{n}", price=100, image="img/products/teak-bowl.svg")
        for n in range(9)
    )
    at_ten = cold_queries()
    Product.objects.bulk_create(
        Product(name=f"Q{n}", slug=f"q-{n}", price=100, image="img/products/teak-bowl.svg")
        for n in range(990)
    )
    assert cold_queries() == at_ten <= 4
