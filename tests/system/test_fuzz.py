"""Fuzz: whatever a stranger sends to any public URL, the shop answers below 500 and logs no
card number.

Rule of the house: bad input gets a clear 4xx and loses nothing; a 500 from anything a
stranger can send is a bug (and in production each one e-mails the admins). Hypothesis draws
method × path × content type × charset × body × headers, over every URL the resolver knows
(the shop, checkout, order pages, the webhook, /csp-report/, the admin, and the sandbox,
which is public in development), its path converters filled with plausible and hostile
values, plus static files and garbage paths. Bodies: forms, JSON (deep, odd, card-shaped),
multipart (malformed too), binary garbage, card numbers, oversized bodies; headers: huge and
odd values, forged signatures, cookies, ranges, hosts.

Each request is sent twice, through Django's test Client (no live server): by a client with
`raise_request_exception=False`, which sees what a browser would see (the status), and by a
default client, which raises the view's exception with its traceback when there is one. The
requests are built by config.wsgi's request class (`ShopWSGIRequest`), as in production: the
test client would otherwise build Django's own, which fails on some headers before any
middleware runs (security/charset.py explains). The whole run's log capture (tests/log_capture.py)
must see no new card number after any request.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from unittest import mock
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from checkout.models import Order
from security.charset import ShopWSGIRequest
from tests import log_capture
from tests.factories import make_product

pytestmark = pytest.mark.django_db

EXAMPLES = 600  # each sent twice, in two configurations: 2,400 requests
CARDS = [
    "4242424242424242",
    "4242 4242 4242 4242",
    "5555-5555-5555-4444",
    "378282246310005",
    "3530111333300000",
    "4111111111140011",
]
CARD_FIELDS = [
    "card_number",
    "cardNumber",
    "cc-number",
    "card[number]",
    "cvv",
    "cvc",
    "security_code",
    "expiration_month",
    "exp_year",
    "number",
    "card",
]
SHOP_FIELDS = [
    "product",
    "quantity",
    "next",
    "email",
    "name",
    "phone",
    "country",
    "street1",
    "city",
    "postal_code",
    "omise_token",
    "omise_source",
    "attempt_key",
    "shown_total",
    "shown_currency",
    "cart_fingerprint",
    "username",
    "password",
    "otp_token",
    "otp_device",
    "csrfmiddlewaretoken",
    "amount",
    "currency",
    "key",
]
GOOD_CHARSETS = [
    "utf-8",
    "UTF-8",
    "utf8",
    "us-ascii",
    "iso-8859-1",
    "windows-874",
    "tis-620",
    "shift_jis",
    "utf-8-sig",
]
BAD_CHARSETS = [
    "rot13",
    "base64",
    "zlib",
    "bz2",
    "hex",
    "uu",
    "quopri",
    "utf-16",
    "utf-32",
    "cp500",
    "cp037",
    "utf-7",
    "iso-2022-jp",
    "hz",
    "idna",
    "raw_unicode_escape",
    "unicode_escape",
    "bogus",
    "",
    "x" * 300,
    "utf-8'",
    '"utf-8"',
]
MEDIA_TYPES = [
    "application/x-www-form-urlencoded",
    "application/json",
    "multipart/form-data",
    "text/plain",
    "application/octet-stream",
    "application/csp-report",
    "application/reports+json",
    "application/merge-patch+json",
    "text/html",
    "image/svg+xml",
    "application/xml",
    "",
    "*/*",
    "garbage",
    "multipart/mixed",
    "application/x-www-form-urlencoded\x00",
    "application/json ; ;",
]
METHODS = (
    ["POST"] * 8
    + ["GET"] * 5
    + ["HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "get", "FOO"]
)
HOSTILE = [
    "",
    ".",
    "..",
    "%2e%2e",
    "..%2f..%2fsettings.py",
    "%00",
    "%ff",
    "%c0%ae",
    "😀",
    "ก" * 40,
    "a" * 3000,
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "%0d%0aX: y",
    "\\",
    "//evil.example",
    "tokn_test_5xp",
    "chrg_test_",
    "LG-XXXXXXXX",
    "null",
    "-1",
    "0",
    "1e308",
    "NaN",
    "%",
    "%zz",
    "~",
    "LPT1",
    "con",
    "[]",
    "{}",
]
STATIC = [
    "/static/css/shop.css",
    "/static/img/favicon.svg",
    "/static/js/checkout.js",
    "/static/admin/css/base.css",
    "/static/",
    "/static/../config/settings.py",
    "/static/%2e%2e/%2e%2e/config/settings.py",
    "/static/css/shop.css.gz",
    "/static/css/missing.css",
    "/static/css//shop.css",
    "/static/css/shop.css/",
]
# Card numbers in paths and hosts too (Django's own records carry both raw), and a card-shaped
# run that fails the Luhn check: hostile to parsers, not a card number.
CARDS = ["4242424242424242", "4242-4242-4242-4242", "5555 5555 5555 4444", "4242424242424241"]


class Big(bytes):
    """A large body that a failing example shows by its size, not its bytes."""

    def __repr__(self):
        return f"<{self[:40]!r}… {len(self)} bytes>"


class LongQuery(str):
    def __repr__(self):
        return f"<{self[:40]!r}… {len(self)} characters>"


HUGE = Big(b"note=" + b"a" * 2_700_000)  # over DATA_UPLOAD_MAX_MEMORY_SIZE (256 KiB) tenfold
MANY_FIELDS = Big("&".join(f"f{i}=1" for i in range(1_200)).encode())  # over 1,000 fields
MANY_MULTIPART = Big(
    b"".join(
        b'--xx\r\nContent-Disposition: form-data; name="f%d"%s\r\n\r\n1\r\n'
        % (i, b'; filename="f"' if i % 2 else b"")
        for i in range(1_200)
    )
    + b"--xx--\r\n"
)
DEEP_JSON = Big(b"[" * 5000 + b"]" * 5000)  # deeper than json's recursion limit


# --- URLs, from the resolver ---------------------------------------------------------------

_ROUTE_PART = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
_NAMED_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<regex>(?:[^()]|\([^()]*\))*)\)")


def _pattern_parts(pattern) -> list[str | tuple[str, str]]:
    """A URL pattern as literal text and (kind, detail) holes: ("route", converter) or
    ("regex", the group's regex)."""
    parts: list[str | tuple[str, str]] = []
    if isinstance(pattern, RoutePattern):
        route, position = str(pattern), 0
        for hole in _ROUTE_PART.finditer(route):
            parts += [route[position : hole.start()], ("route", hole["converter"] or "str")]
            position = hole.end()
        parts.append(route[position:])
    elif isinstance(pattern, RegexPattern):
        regex = str(pattern).removeprefix("^")
        open_ended = not regex.endswith("$")
        regex, position = regex.removesuffix("$"), 0
        for hole in _NAMED_GROUP.finditer(regex):
            parts += [regex[position : hole.start()].replace("\\", ""), ("regex", hole["regex"])]
            position = hole.end()
        parts.append(regex[position:].replace("\\", ""))
        if open_ended:  # e.g. the sandbox's "^api/": anything may follow
            parts.append(("route", "path"))
    return [part for part in parts if part != ""]


def url_templates() -> dict[str, list[list[str | tuple[str, str]]]]:
    """Every URL of the resolver as parts (the sandbox's included: tests mount it), grouped
    by their first path segment so that the admin's many URLs do not crowd out the rest."""
    templates: dict[str, list] = {}

    def walk(patterns, prefix):
        for entry in patterns:
            parts = prefix + _pattern_parts(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, parts)
            elif isinstance(entry, URLPattern):
                first = parts[0] if parts and isinstance(parts[0], str) else ""
                templates.setdefault(first.split("/")[0], []).append(parts)

    walk(get_resolver().url_patterns, [])
    return templates


def _segment(converter: str, plausible: list[str]):
    """A value for one path hole: plausible for its converter, or hostile."""
    typed = {
        "int": st.integers(0, 10**12).map(str),
        "slug": st.from_regex(r"[-a-zA-Z0-9_]{1,40}", fullmatch=True),
        "uuid": st.uuids().map(str),
        "path": st.text(st.characters(codec="utf-8"), max_size=60),
    }.get(converter, st.text(st.characters(codec="utf-8", exclude_characters="/"), max_size=60))
    hostile = st.sampled_from(HOSTILE + CARDS)
    values = st.one_of(typed, hostile, *([st.sampled_from(plausible)] if plausible else []))
    return st.tuples(values, st.booleans()).map(
        lambda pair: quote(pair[0], safe="") if pair[1] else pair[0]
    )


@st.composite
def paths(draw, templates, plausible):
    kind = draw(st.sampled_from(["template"] * 8 + ["static", "garbage"]))
    if kind == "static":
        path = draw(st.sampled_from(STATIC))
    elif kind == "garbage":
        path = "/" + draw(st.text(st.characters(codec="utf-8"), max_size=80))
    else:
        path = "/"
        group = draw(st.sampled_from(sorted(templates)))
        for part in draw(st.sampled_from(templates[group])):
            if isinstance(part, str):
                path += part
            elif part[0] == "regex":
                path += draw(
                    st.one_of(st.from_regex(part[1], fullmatch=True), _segment("str", plausible))
                )
            else:
                path += draw(_segment(part[1], plausible))
    if draw(st.booleans()):
        query = draw(
            st.one_of(
                st.dictionaries(
                    st.sampled_from(SHOP_FIELDS + CARD_FIELDS + ["q", "page"]),
                    st.one_of(st.text(max_size=30), st.sampled_from(CARDS)),
                    max_size=4,
                ).map(urlencode),
                st.text(st.characters(codec="utf-8"), max_size=60).map(
                    lambda text: quote(text, safe="=&%+")
                ),
                st.just(LongQuery(MANY_FIELDS.decode())),
            )
        )
        path = (LongQuery if isinstance(query, LongQuery) else str)(path + "?" + query)
    return path


# --- Bodies and headers --------------------------------------------------------------------

field_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(CARDS + HOSTILE + ["silk-scarf", "1", "-5", "999999"]),
)
fields = st.lists(
    st.tuples(st.sampled_from(SHOP_FIELDS + CARD_FIELDS) | st.text(max_size=20), field_values),
    max_size=8,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(CARDS + [int(CARDS[0])]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                CARD_FIELDS
                + SHOP_FIELDS
                + ["object", "id", "data", "csp-report", "body", "type", "key"]
            )
            | st.text(max_size=12),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


def multipart(parts: list[tuple[str, str, bool]], boundary: str) -> bytes:
    out = b""
    for name, value, as_file in parts:
        disposition = f'form-data; name="{name}"' + ('; filename="x.txt"' if as_file else "")
        out += (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            + ("Content-Type: text/plain\r\n" if as_file else "")
            + f"\r\n{value}\r\n"
        ).encode("utf-8", "surrogatepass")
    return out + f"--{boundary}--\r\n".encode()


MALFORMED_MULTIPART = [
    b"--xx\r\nContent-Disposition: form-data; name*=bogus''abc\r\n\r\nb\r\n--xx--\r\n",
    b"--xx\r\nContent-Disposition: form-data; name*=idna''%ff\r\n\r\nb\r\n--xx--\r\n",
    b"--xx\r\nContent-Disposition: form-data; name*=rot13''abc\r\n\r\nb\r\n--xx--\r\n",
    b'--xx\r\nContent-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: base64'
    b"\r\n\r\n!!!\r\n--xx--\r\n",
    b"--xx\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--xx--\r\n",
    b"--xx\r\n\r\n\r\n--xx",
    b"--xx--",
    b'--xx\r\nContent-Disposition: form-data; name="card_number"\r\n\r\n4242424242424242\r\n'
    b"--xx--\r\n",
]


# The bodies each media type usually carries; any other one a fifth of the time.
BODY_KINDS = {
    "application/x-www-form-urlencoded": ["form", "form", "many", "huge", "text"],
    "multipart/form-data": ["multipart", "multipart", "malformed-multipart", "many", "huge"],
    "application/json": ["json", "json", "deep", "text", "huge"],
}
ALL_KINDS = [
    "empty",
    "form",
    "json",
    "multipart",
    "malformed-multipart",
    "binary",
    "text",
    "huge",
    "many",
    "deep",
]


@st.composite
def bodies(draw, media_type: str) -> bytes:
    usual = BODY_KINDS.get(media_type)
    if usual is None and media_type.endswith("json") or media_type == "application/csp-report":
        usual = BODY_KINDS["application/json"]
    kind = draw(st.sampled_from(usual if usual and draw(st.integers(0, 4)) else ALL_KINDS))
    if kind == "form":
        return urlencode(draw(fields)).encode()
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "multipart":
        parts = draw(
            st.lists(
                st.tuples(st.sampled_from(SHOP_FIELDS + CARD_FIELDS), field_values, st.booleans()),
                max_size=5,
            )
        )
        return multipart(parts, "xx")
    if kind == "malformed-multipart":
        return draw(st.sampled_from(MALFORMED_MULTIPART))
    if kind == "binary":
        return draw(st.binary(max_size=600))
    if kind == "text":
        return draw(
            st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
            | st.sampled_from([card.encode() for card in CARDS])
        )
    if kind == "huge":
        return HUGE
    if kind == "many":
        return MANY_MULTIPART if media_type == "multipart/form-data" else MANY_FIELDS
    if kind == "deep":
        return DEEP_JSON
    return b""


@st.composite
def content_types(draw) -> tuple[str, str | None]:
    media_type = draw(st.sampled_from(MEDIA_TYPES))
    if media_type == "multipart/form-data":
        boundary = draw(st.sampled_from(["xx", "", '"xx"', "x" * 100, "xx; boundary=yy"]))
        media_type += f"; boundary={boundary}" if boundary else ""
    charset = draw(
        st.sampled_from(["none"] * 5 + ["good"] * 3 + ["bad", "random"]).flatmap(
            lambda kind: {
                "none": st.none(),
                "good": st.sampled_from(GOOD_CHARSETS),
                "bad": st.sampled_from(BAD_CHARSETS),
                "random": st.text(max_size=12),
            }[kind]
        )
    )
    style = draw(st.sampled_from(["plain"] * 8 + ["quoted", "rfc2231", "rfc2231-value"]))
    if charset is None:
        header = media_type
    elif style == "quoted":
        header = f'{media_type}; charset="{charset}"'
    elif style == "rfc2231":
        header = f"{media_type}; charset*={charset}''x"
    elif style == "rfc2231-value":
        header = f"{media_type}; charset*=utf-8''{quote(charset)}"
    else:
        header = f"{media_type}; charset={charset}"
    return media_type.split(";")[0], header


PUBLIC_KEY_AUTH = (
    "Basic " + base64.b64encode(f"{django_settings.OMISE_PUBLIC_KEY}:".encode()).decode()
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)
HEADERS = {
    "HTTP_ACCEPT": st.sampled_from(
        [
            "application/json",
            "text/html",
            "*/*",
            "",
            "a" * 5000,
            "application/json;q=0.9,text/html;q=bad",
        ]
    )
    | header_text,
    "HTTP_USER_AGENT": header_text | st.sampled_from(["x" * 9000] + CARDS),
    "HTTP_X_FORWARDED_FOR": st.sampled_from(
        ["1.2.3.4", "::1", "999.1.1.1", "a, b, c", " , ,", "1.2.3.4, 10.0.0.1" * 50]
    )
    | header_text,
    "HTTP_X_FORWARDED_PROTO": st.sampled_from(["https", "http", "", "HTTPS,http"]),
    "HTTP_COOKIE": st.sampled_from(
        [
            "sessionid=garbage",
            "csrftoken=x",
            "sessionid=;;;=",
            "a=" + "b" * 5000,
            "sessionid=" + CARDS[0],
        ]
    )
    | header_text,
    "HTTP_OMISE_SIGNATURE": st.sampled_from(["", "abc", "a" * 64, "zz,yy", "=" * 10]) | header_text,
    "HTTP_OMISE_SIGNATURE_TIMESTAMP": st.sampled_from(
        ["", "0", "-1", "1" * 30, "1e9", "nan", "17000000000000"]
    )
    | header_text,
    "HTTP_AUTHORIZATION": st.sampled_from(
        [
            "Basic",
            "Basic !!!",
            "Basic Og==",
            "Bearer x",
            # the public key, which every shopper's page shows
            PUBLIC_KEY_AUTH,
            PUBLIC_KEY_AUTH,
        ]
    )
    | header_text,
    "HTTP_RANGE": st.sampled_from(
        ["bytes=0-0", "bytes=-1", "bytes=9-1", "bytes=0-99999999", "bytes=a-b", "bytes=0-1,2-3"]
    )
    | header_text,
    "HTTP_IF_MODIFIED_SINCE": st.sampled_from(
        ["garbage", "Thu, 01 Jan 1970 00:00:00 GMT", "Sat, 31 Dec 9999 23:59:59 GMT"]
    )
    | header_text,
    "HTTP_IF_NONE_MATCH": st.sampled_from(['"x"', "*", "W/", '"' * 100]) | header_text,
    "HTTP_ACCEPT_ENCODING": st.sampled_from(["gzip", "br", "gzip;q=bad", "*"]) | header_text,
    "HTTP_ORIGIN": st.sampled_from(["null", "http://evil.example", "http://testserver"])
    | header_text,
    "HTTP_REFERER": st.sampled_from(["http://evil.example/", "http://testserver/", "::"])
    | header_text,
    "HTTP_HOST": st.sampled_from(
        ["testserver"] * 4
        + [
            "localhost",
            "127.0.0.1",
            "localhost:8000",
            "evil.example",
            "testserver:99999",
            "[::1",
            "a" * 300,
            "",
            "4242424242424242.example",
            "4242-4242-4242-4242",
        ]
    ),
    "HTTP_X_REQUESTED_WITH": st.just("XMLHttpRequest"),
}
headers = st.fixed_dictionaries({}, optional=HEADERS)


@st.composite
def requests(draw, templates, plausible):
    media_type, header = draw(content_types())
    request = {
        "method": draw(st.sampled_from(METHODS)),
        "path": draw(paths(templates, plausible)),
        "data": draw(bodies(media_type)),
        "content_type": header,
        "secure": draw(st.booleans()),
        **draw(headers),
    }
    if not request["data"] and draw(st.booleans()):
        request["CONTENT_TYPE"] = header  # a GET that names a charset has no body
    return request


def describe(request: dict) -> str:
    """The request, as a reproducible description (long bodies shortened)."""
    shown = dict(request)
    if len(shown["data"]) > 300:
        shown["data"] = Big(shown["data"])
    if len(shown["path"]) > 300:
        shown["path"] = LongQuery(shown["path"])
    return repr(shown)


# --- The fuzz ------------------------------------------------------------------------------


@pytest.fixture
def production_requests():
    """Requests built as config.wsgi builds them (see the module docstring)."""
    with mock.patch("django.test.client.WSGIRequest", ShopWSGIRequest):
        yield


@pytest.fixture
def plausible(db):
    """Real values for path holes: a product, an order and its secret."""
    product = make_product(name="Silk Scarf", slug="silk-scarf", price=129000)
    order = Order.objects.create(
        amount=129000, currency="THB", email="a@example.com", name="A", country="TH"
    )
    return [
        product.slug,
        order.reference,
        order.access_token,
        "omise.js",
        "card-frame.css",
        "1",
        str(order.pk),
    ]


def send(client: Client, request: dict):
    request = dict(request)
    return client.generic(
        request.pop("method"),
        request.pop("path"),
        data=request.pop("data"),
        content_type=request.pop("content_type"),
        secure=request.pop("secure"),
        **request,
    )


@pytest.mark.parametrize("debug", [True, False], ids=["development", "production"])
def test_no_stranger_gets_a_5xx_or_has_a_card_number_logged(
    debug,
    settings,
    production_requests,
    plausible,
    mailoutbox,
):
    """1,200 requests over every public URL in each mode: none answers 5xx or logs a card
    number.

    Twice: as the test settings run (DEBUG on: Django's debug pages render the error
    reports), and as production answers (DEBUG off, error pages from templates, and every
    ERROR line e-mailed to ADMINS, unthrottled here so that each report is built): no e-mail
    handler may fail either (logging's handleError)."""
    settings.DEBUG = debug  # pytest-django would run it with DEBUG off
    if not debug:
        settings.ADMINS = ["ops@example.com"]
        settings.ADMIN_ERROR_EMAIL_THROTTLE_SECONDS = 0
    templates = url_templates()
    quiet = Client(raise_request_exception=False)  # what a browser would see
    loud = Client()  # the same request, raising the view's exception with its traceback
    for client in (quiet, loud):  # a cart, so the checkout and cart pages have content
        client.post("/cart/add/", {"product": "silk-scarf", "quantity": "1"})
    handler_errors = []

    @seed(20260517)
    @hypothesis_settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(request=requests(templates, plausible))
    def fuzz(request):
        offenders = len(log_capture.collector.offenders)
        response = send(quiet, request)
        assert response.status_code < 500, describe(request)
        assert send(loud, request).status_code < 500, describe(request)
        assert len(log_capture.collector.offenders) == offenders, (
            f"a card number was logged: {log_capture.collector.offenders[offenders:]} "
            f"for {describe(request)}"
        )
        assert not handler_errors, f"a log handler failed on {describe(request)}"

    with mock.patch.object(
        logging.Handler, "handleError", lambda handler, record: handler_errors.append(record)
    ):
        fuzz()


# --- Django's own records --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, host",
    [
        ("/products/4242424242424242/", "testserver"),  # 405 (a product page is GET only)
        ("/cart/add/4242-4242-4242-4242/", "testserver"),  # 404
        ("/", "4242424242424242.example"),  # DisallowedHost
    ],
)
def test_a_card_number_in_the_url_path_or_host_reaches_no_log_record(path, host):
    """Django logs the raw path (every 4xx) and Host (DisallowedHost, an e-mailed ERROR); the
    card guard reads neither, so the records are scrubbed as they are made
    (security.logscrub.install_record_scrubbing), before any handler or capture sees them."""
    records = []
    # Every record is taken here, before the whole run's capture sees it (or a handler).
    with mock.patch.object(
        logging.Logger, "callHandlers", lambda logger, record: records.append(record)
    ):
        response = Client(raise_request_exception=False).post(path, HTTP_HOST=host)
    assert response.status_code in {400, 404, 405}
    assert records
    leaked = [r.name for r in records if log_capture.cards_in(log_capture.record_text(r))]
    assert not leaked, leaked
