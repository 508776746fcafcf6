"""The payment page's scripts, its policy, and its freedom from tracking, by construction."""

import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.factories import make_product

pytestmark = pytest.mark.django_db
INVENTORY = Path(__file__).resolve().parents[2] / "docs" / "payment-page-scripts.md"
ANALYTICS = '<script src="https://www.googletagmanager.com/gtag/js?id=G-TEST"></script>'


@pytest.fixture
def cart(client):
    product = make_product(slug="scarf", price=129000)
    client.post("/cart/add/", {"product": product.slug, "quantity": "1"})
    return client


def scripts_of(html: str) -> list[str]:
    return re.findall(r"<script\b([^>]*)>", html)


def test_script_set_matches_the_documented_inventory(cart, settings):
    """Every script on the checkout page is listed in docs/payment-page-scripts.md, and the
    inventory lists nothing the page does not load."""
    html = cart.get("/checkout/").text
    sources = {re.search(r'src="([^"]+)"', attrs).group(1) for attrs in scripts_of(html)}
    loaded = {"OMISE_JS_URL" if s == settings.OMISE_JS_URL else s for s in sources}
    documented = set(re.findall(r"^\| `([^`]+)` \|", INVENTORY.read_text(), flags=re.M))
    assert loaded == documented


def test_no_inline_script_on_the_payment_page(cart, settings):
    """Every script tag on the checkout loads a file: no inline code to inject into. The page
    does load its scripts (Omise.js, then the shop's checkout.js), so "every tag" is not
    vacuously true of a page that lost them."""
    html = cart.get("/checkout/").text
    scripts = scripts_of(html)
    assert scripts, "the checkout page has no script at all"
    assert all("src=" in attrs for attrs in scripts)
    sources = [re.search(r'src="([^"]+)"', attrs).group(1) for attrs in scripts]
    assert sources == [settings.OMISE_JS_URL, "/static/js/checkout.js"]
    assert not re.search(r"<script\b[^>]*>[^<]+</script>", html), "inline script body found"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler found"


def test_checkout_policy_allows_only_shop_and_omise(cart, settings):
    """The checkout's CSP: scripts, frames and connections from the shop and Omise only; no
    unsafe-inline or unsafe-eval; no framing, no base, no plugins, forms post to the shop."""
    policy = cart.get("/checkout/").headers["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    sandbox_origin = re.match(r"https?://[^/]+", settings.OMISE_JS_URL).group(0)
    assert directives["script-src"][0] == "'self'"
    assert any(v.startswith("'nonce-") for v in directives["script-src"])
    assert set(directives["script-src"]) - {"'self'", "'report-sample'", sandbox_origin} == {
        v for v in directives["script-src"] if v.startswith("'nonce-")
    }
    assert directives["frame-src"] == [sandbox_origin]
    assert set(directives["connect-src"]) == {"'self'", sandbox_origin}
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_production_checkout_policy_names_omise_hosts(rf, settings):
    """With real keys the checkout allows Omise's hosts and not the sandbox."""
    from checkout.csp import checkout_policy

    settings.OMISE_SANDBOX = False
    settings.OMISE_JS_URL = "https://cdn.omise.co/omise.js"
    settings.OMISE_VAULT_URL = "https://vault.omise.co"
    policy = checkout_policy()
    assert "https://*.omise.co" in policy["script-src"]
    assert policy["frame-src"] == ["https://*.omise.co"]


def test_other_pages_do_not_allow_omise(client, settings):
    """Pages other than the checkout keep the strict site policy: no third-party script."""
    make_product(slug="scarf")
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "omise" not in policy and "localhost" not in policy
    assert "frame-src 'none'" in policy


def test_analytics_added_to_base_never_reach_the_payment_pages(cart, settings, tmp_path):
    """A fork that puts a tag manager in base.html's tracking block gets it on the catalog,
    but the checkout overrides that block with nothing."""
    base = Path(django_settings.BASE_DIR, "templates", "base.html").read_text()
    forked = base.replace(
        "{% block tracking %}{% endblock %}", "{% block tracking %}" + ANALYTICS + "{% endblock %}"
    )
    assert forked != base
    (tmp_path / "base.html").write_text(forked)
    shutil.copytree(Path(django_settings.BASE_DIR, "templates", "checkout"), tmp_path / "checkout")
    templates = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    settings.TEMPLATES = templates
    assert "googletagmanager" in cart.get("/").text
    assert "googletagmanager" not in cart.get("/checkout/").text
