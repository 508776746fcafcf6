"""Every response carries the page's security headers: static files, error pages and the
refusals of middlewares that answer before Django's CSP and clickjacking middlewares too
(security/headers.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.template import engines
from django.test import Client, RequestFactory, override_settings
from django.urls import include, path
from django.utils.csp import LazyNonce, build_policy

from security.headers import SecurityHeadersMiddleware
from tests.support import production_env

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
CARD = "4242424242424242"
SECURITY_HEADERS = {
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Permissions-Policy",
    "Strict-Transport-Security",
}


def boom(request):
    raise RuntimeError("a view that fails")


def nonce_page(request):
    template = engines["django"].from_string("<script nonce='{{ csp_nonce }}'></script>")
    return HttpResponse(template.render({}, request))


urlpatterns = [path("boom/", boom), path("nonce/", nonce_page), path("", include("config.urls"))]


def security_headers(response) -> set[str]:
    return {name for name in SECURITY_HEADERS if name in response.headers}


def responses(client: Client) -> dict:
    """One of each kind of response, as a stranger can cause them."""
    return {
        "404": client.get("/no-such-page/"),
        "static file": client.get("/static/css/shop.css"),
        "charset 400": client.generic(
            "POST", "/cart/add/", b"a=b", content_type="text/plain; charset=rot13"
        ),
        "card guard 400": client.post("/cart/add/", {"note": CARD}),
        "405": client.get("/cart/add/"),
        "500": client.get("/boom/"),
    }


def all_kinds(client: Client) -> dict:
    found = responses(client)
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        found["oversized 400"] = client.post("/cart/add/", {"note": "x" * 2000})
    statuses = {kind: response.status_code for kind, response in found.items()}
    assert statuses == {
        "404": 404,
        "static file": 200,
        "charset 400": 400,
        "card guard 400": 400,
        "405": 405,
        "500": 500,
        "oversized 400": 400,
    }
    return found


@pytest.mark.urls("tests.security.test_headers")
def test_every_kind_of_response_carries_the_catalog_pages_headers(settings):
    """A normal page, a static file (WhiteNoise), a 404, a 400 for a bad charset, one for an
    oversized body, a card-guard refusal, a 405 and a 500 (error pages as production renders
    them, DEBUG off) carry the same security headers."""
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    expected = security_headers(client.get("/"))
    assert expected == SECURITY_HEADERS - {"Strict-Transport-Security"}  # no HSTS over HTTP
    for kind, response in all_kinds(client).items():
        assert security_headers(response) == expected, kind


@pytest.mark.urls("tests.security.test_headers")
def test_djangos_debug_pages_keep_their_own_choice_of_no_policy(settings):
    """With DEBUG on, Django's debug pages (404, 500, and the 400 for an oversized body)
    choose no Content-Security-Policy (`csp_override({})`: their inline styles and scripts
    must run for the developer); that choice is respected, and every other header is there.
    All other responses are as in production."""
    settings.DEBUG = True  # pytest-django runs tests with DEBUG off
    client = Client(raise_request_exception=False)
    expected = security_headers(client.get("/"))
    debug_pages = {"404", "500", "oversized 400"}
    for kind, response in all_kinds(client).items():
        if kind in debug_pages:
            assert response._csp_config == {}, kind
            assert security_headers(response) == expected - {"Content-Security-Policy"}, kind
        else:
            assert security_headers(response) == expected, kind


def test_static_files_get_the_sites_strict_policy_without_a_nonce(client, settings):
    """WhiteNoise answers before Django's CSP middleware: the default is SECURE_CSP itself,
    its nonce source dropped (nothing on a static file could carry the nonce)."""
    response = client.get("/static/img/favicon.svg")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == build_policy(settings.SECURE_CSP)
    assert "nonce" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_the_card_guards_own_script_free_policy_is_kept(client):
    response = client.post("/cart/add/", {"note": CARD})
    assert "script-src 'none'" in response["Content-Security-Policy"]


@pytest.mark.urls("tests.security.test_headers")
def test_a_page_that_used_its_nonce_keeps_its_own_header(client):
    """Django's CSP middleware puts the page's nonce in the header; it is never replaced by
    the nonce-less default."""
    response = client.get("/nonce/")
    nonce = response.content.decode().split("nonce='")[1].split("'")[0]
    assert nonce and f"'nonce-{nonce}'" in response["Content-Security-Policy"]


def test_a_response_without_a_header_whose_page_used_the_nonce_gets_it():
    """Should a page that used the nonce reach this middleware without a header, the default
    carries that nonce, as Django's middleware would, so the page's scripts still run."""
    request = RequestFactory().get("/")
    request._csp_nonce = LazyNonce()
    used = str(request._csp_nonce)
    response = SecurityHeadersMiddleware(lambda r: HttpResponse())(request)
    assert f"'nonce-{used}'" in response["Content-Security-Policy"]


def test_views_that_chose_otherwise_are_left_alone():
    """A view exempt from X-Frame-Options (the sandbox's card frame) and one that chose no
    CSP at all (`csp_override({})`) are not given the defaults."""

    def view(request):
        response = HttpResponse()
        response.xframe_options_exempt = True
        response._csp_config = {}
        return response

    response = SecurityHeadersMiddleware(view)(RequestFactory().get("/"))
    assert "X-Frame-Options" not in response and "Content-Security-Policy" not in response
    assert "Permissions-Policy" in response


def test_the_sandbox_card_frame_stays_frameable_by_the_shop(client, settings):
    response = client.get("/sandbox/card-frame/")
    assert "X-Frame-Options" not in response
    assert f"frame-ancestors {settings.SHOP_ORIGIN}" in response["Content-Security-Policy"]


# --- Production ---------------------------------------------------------------------------------

# The production settings (DEBUG off, HTTPS, WhiteNoise serving STATIC_ROOT), in their own
# interpreter. STATIC_ROOT is a small collected root (the two files base.html links and their
# manifest), so no collectstatic is needed; a failing view is added to the URLs.
PROBE = """
import json, shutil, sys, types
from pathlib import Path
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import path

static_root = Path(sys.argv[1])
manifest = {}
for name in ("css/shop.css", "img/favicon.svg"):
    (static_root / name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(settings.BASE_DIR / "static" / name, static_root / name)
    manifest[name] = name
(static_root / "staticfiles.json").write_text(json.dumps({"paths": manifest, "version": "1.1"}))

def boom(request):
    raise RuntimeError("a view that fails")

import config.urls
urls = types.ModuleType("probe_urls")
urls.urlpatterns = [path("boom/", boom), *config.urls.urlpatterns]
sys.modules["probe_urls"] = urls

call_command("migrate", verbosity=0)
with override_settings(STATIC_ROOT=static_root, ROOT_URLCONF="probe_urls"):
    client = Client(raise_request_exception=False, HTTP_HOST="shop.example")
    def get(*args, **kwargs):
        return client.get(*args, secure=True, **kwargs)
    def post(*args, **kwargs):
        return client.post(*args, secure=True, **kwargs)
    found = {
        "catalog": get("/"),
        "404": get("/no-such-page/"),
        "static file": get("/static/css/shop.css"),
        "charset 400": client.generic("POST", "/cart/add/", b"a=b", secure=True,
                                      content_type="text/plain; charset=rot13"),
        "card guard 400": post("/cart/add/", {"note": "4242424242424242"}),
        "405": get("/cart/add/"),
        "500": get("/boom/"),
    }
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        found["oversized 400"] = post("/cart/add/", {"note": "x" * 2000})
print(json.dumps({kind: [r.status_code, sorted(r.headers)] for kind, r in found.items()}))
"""


def test_production_responses_all_carry_the_same_headers_and_hsts(tmp_path):
    """DEBUG off, over HTTPS: the page, WhiteNoise's static file, the error pages and every
    refusal carry the same security headers, HSTS included."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", PROBE, str(tmp_path / "static")],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    statuses = {kind: status for kind, (status, _) in found.items()}
    assert statuses == {
        "catalog": 200,
        "404": 404,
        "static file": 200,
        "charset 400": 400,
        "card guard 400": 400,
        "405": 405,
        "500": 500,
        "oversized 400": 400,
    }
    for kind, (_status, names) in found.items():
        assert set(names) >= SECURITY_HEADERS, (kind, SECURITY_HEADERS - set(names))
