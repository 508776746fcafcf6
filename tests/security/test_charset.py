"""Request charsets (security/charset.py): ASCII-compatible text encodings are read, every other
name is a 400, and no Content-Type makes the server answer 500."""

import codecs
import io
import json
import logging
from unittest import mock

import pytest
from django.core.exceptions import BadRequest, TooManyFieldsSent
from django.http import JsonResponse
from django.test import Client, RequestFactory
from django.urls import include, path

from security import charset
from security.cardguard import CardGuardMiddleware
from security.charset import RequestCharsetMiddleware, ShopASGIRequest, ShopWSGIRequest, codec_name
from security.models import SecurityEvent
from tests.factories import make_product

pytestmark = pytest.mark.django_db

CARD = "4242424242424242"
FORM = "application/x-www-form-urlencoded"
# Not text encodings at all: Python codecs from bytes to bytes (or str to str).
NOT_TEXT = ["rot13", "base64", "zlib", "bz2", "hex", "uu", "quopri"]
# Text encodings in which ASCII digits are not ASCII bytes, or not always.
NOT_ASCII_COMPATIBLE = [
    "utf-16",
    "UTF-16LE",
    "utf-32",
    "cp500",
    "cp037",
    "utf-7",
    "iso-2022-jp",
    "iso-2022-kr",
    "hz",
    "raw_unicode_escape",
    "unicode_escape",
    "idna",
    "punycode",
]
UNKNOWN = ["bogus", "", "   ", "x" * 300, "utf-8" + "x" * 40]
REFUSED = NOT_TEXT + NOT_ASCII_COMPATIBLE + UNKNOWN
# name → Python's codec, and a non-ASCII form value written in that charset with what it is.
ACCEPTED = {
    "utf-8": ("utf-8", "%C3%A9", "é"),
    "UTF-8": ("utf-8", "%C3%A9", "é"),
    "utf8": ("utf-8", "%C3%A9", "é"),
    "us-ascii": ("ascii", "abc", "abc"),
    "iso-8859-1": ("iso8859-1", "%E9", "é"),
    "windows-874": ("cp874", "%A1", "ก"),
    "tis-620": ("tis-620", "%A1", "ก"),
}


def echo(request):
    """What a view reads from the request."""
    body = request.body
    return JsonResponse(
        {
            "encoding": request.encoding,
            "GET": request.GET.dict(),
            "POST": request.POST.dict(),
            "json": json.loads(body) if request.content_type == "application/json" else None,
        }
    )


urlpatterns = [path("echo/", echo), path("", include("config.urls"))]


@pytest.fixture(autouse=True)
def production_requests():
    """Requests built as config.wsgi builds them: the test client would build Django's own
    WSGIRequest, which fails on some of these headers before any middleware runs."""
    with mock.patch("django.test.client.WSGIRequest", ShopWSGIRequest):
        yield


def send(client, method, url, charset_name, body_kind, data=None):
    content_type = FORM if body_kind == "form" else "application/json"
    content_type += f"; charset={charset_name}"
    if data is None:
        data = b"product=mug&note=hi" if body_kind == "form" else b'{"product": "mug"}'
    if method == "GET":  # a GET has no body, but its Content-Type still names the charset
        return client.get(url, CONTENT_TYPE=content_type)
    return client.generic(method, url, data=data, content_type=content_type)


# --- The rule --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REFUSED)
def test_unknown_non_text_and_non_ascii_compatible_names_are_refused(name):
    """No codec is named for them: unknown, no text encoding, or not ASCII-compatible."""
    assert codec_name(name) is None


@pytest.mark.parametrize("name", ACCEPTED)
def test_ascii_compatible_text_encodings_are_read_under_pythons_name(name):
    """Each is named as Python calls it (windows-874 is Python's cp874)."""
    assert codec_name(name) == ACCEPTED[name][0]


@pytest.mark.parametrize("name", NOT_TEXT)
def test_the_rule_not_text_encodings_are_refused_by_str_encode(name):
    """The first half of the rule, checked with Python itself: str.encode refuses them."""
    with pytest.raises(LookupError, match="not a text encoding"):
        "0".encode(name)


@pytest.mark.parametrize(
    "name", ["utf-16", "utf-32", "cp500", "cp037", "utf-7", "iso-2022-jp", "hz"]
)
def test_the_rule_some_ascii_byte_does_not_decode_to_itself(name):
    """The second half: in each of these some byte 0x00–0x7F alone is not that character
    (EBCDIC maps the digits elsewhere; UTF-16/32 need more bytes; UTF-7's "+", ISO-2022's
    ESC and HZ's "~" start escapes)."""

    def itself(byte):
        try:
            return bytes([byte]).decode(name) == chr(byte)
        except UnicodeDecodeError:
            return False

    assert not all(itself(byte) for byte in range(128))


@pytest.mark.parametrize("name", list(ACCEPTED) + ["shift_jis", "gb18030", "koi8-r"])
def test_the_rule_every_ascii_byte_decodes_to_itself_in_accepted_names(name):
    """Where the rule lets a charset in, the digits the card guard looks for are ASCII."""
    codec = codec_name(name)
    assert all(bytes([byte]).decode(codec) == chr(byte) for byte in range(128))
    assert "4242 4242-4242".encode(codec) == b"4242 4242-4242"


def test_escapes_that_spell_digits_out_of_ascii_are_refused():
    """raw_unicode_escape passes the byte-by-byte test, yet reads `\\u0034` as "4"; the rule
    also reads ASCII shaped like such escapes, so it is refused."""
    assert all(bytes([b]).decode("raw_unicode_escape") == chr(b) for b in range(128))
    assert b"\\u0034".decode("raw_unicode_escape") == "4"
    assert codec_name("raw_unicode_escape") is None


def test_verdicts_are_cached_per_name_and_long_names_never_looked_up():
    """One lookup per name (bounded cache); a name over 40 characters is refused unseen."""
    charset._codec_name.cache_clear()
    codec_name("iso-8859-1")
    codec_name("ISO-8859-1")
    info = charset._codec_name.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (1, 1, 256)
    with mock.patch.object(codecs, "lookup") as lookup:
        assert codec_name("a" * 41) is None
    lookup.assert_not_called()
    assert charset._codec_name.cache_info().currsize == 1


# --- The middleware, through the shop's URLs -------------------------------------------------


@pytest.mark.parametrize("name", REFUSED)
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("body_kind", ["form", "json"])
def test_refused_charsets_get_a_clear_400_and_nothing_is_processed(client, name, method, body_kind):
    """GET (with a query string) or POST, form or JSON: 400 with a short message, never a
    500, never reaching a view (the cart stays empty)."""
    make_product(slug="mug")
    response = send(client, method, "/cart/add/?q=1", name, body_kind)
    assert response.status_code == 400
    if body_kind == "json":
        assert response.json()["error"] == "unsupported_charset"
    else:
        assert b"character set (charset)" in response.content
    assert response["Cache-Control"] == "no-store"
    assert client.session.get("cart") is None


@pytest.mark.parametrize("name", ACCEPTED)
@pytest.mark.parametrize("body_kind", ["form", "json"])
def test_accepted_charsets_reach_the_shop(client, name, body_kind):
    """The catalog answers a GET naming the charset; a form POST in it adds to the cart."""
    product = make_product(slug="mug")
    assert send(client, "GET", "/?q=1", name, body_kind).status_code == 200
    response = send(client, "POST", "/cart/add/", name, body_kind)
    assert response.status_code == 302
    if body_kind == "form":
        assert client.session["cart"] == {str(product.pk): 1}


@pytest.mark.urls("tests.security.test_charset")
@pytest.mark.parametrize("name", ACCEPTED)
def test_a_form_in_an_accepted_charset_loses_nothing(client, name):
    """Form and query values are decoded in the declared charset, also where Django 6.1
    would refuse a form that is not UTF-8 (us-ascii, iso-8859-1, windows-874, tis-620)."""
    codec, escaped, text = ACCEPTED[name]
    response = send(
        client,
        "POST",
        f"/echo/?q={escaped}",
        name,
        "form",
        data=f"note={escaped}&card=tokn_test_5x".encode(),
    )
    assert response.status_code == 200
    assert response.json() == {
        "encoding": codec,
        "GET": {"q": text},
        "POST": {"note": text, "card": "tokn_test_5x"},
        "json": None,
    }


@pytest.mark.urls("tests.security.test_charset")
@pytest.mark.parametrize("name", ACCEPTED)
def test_a_json_body_in_an_accepted_charset_reaches_the_view(client, name):
    response = send(client, "POST", "/echo/", name, "json", data=b'{"note": "hi"}')
    assert response.status_code == 200
    assert response.json()["json"] == {"note": "hi"}


def test_a_card_number_still_meets_the_guard_in_an_accepted_charset(client):
    """A latin-1 form is read as latin-1 by the guard too: its digits are ASCII."""
    response = send(
        client, "POST", "/cart/add/", "iso-8859-1", "form", data=f"note={CARD}".encode()
    )
    assert response.status_code == 400
    assert SecurityEvent.objects.get().kind == SecurityEvent.Kind.CARD_DATA_REFUSED


def test_an_ebcdic_body_hiding_a_card_number_is_refused_before_the_guard(client):
    """cp500 spells "4242…" in bytes no ASCII reader sees as digits: refused as a charset."""
    body = f"note={CARD}".encode("cp500")
    assert CARD.encode() not in body
    response = client.generic(
        "POST", "/cart/add/", data=body, content_type=f"{FORM}; charset=cp500"
    )
    assert response.status_code == 400
    assert b"character set (charset)" in response.content


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain; charset*=bogus''abc",  # an RFC 2231 charset Python does not know
        "application/json; charset*=idna''%ff",  # one that cannot decode with errors="replace"
        "text/plain; charset=" + "a" * 10_000,  # over Django's header length limit
    ],
)
def test_an_unreadable_content_type_is_a_400(client, content_type):
    response = client.generic(
        "POST", "/cart/add/", data=b"{}", content_type=content_type, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_content_type"


def test_an_rfc2231_charset_value_is_judged_like_any_other(client):
    """`charset*=utf-8''rot13` names rot13: refused, not a LookupError in a view."""
    response = client.generic(
        "POST", "/cart/add/?q=1", data=b"a=b", content_type=f"{FORM}; charset*=utf-8''rot13"
    )
    assert response.status_code == 400


def test_too_many_query_fields_with_a_charset_are_djangos_400():
    """Naming a charset made Django parse the query string while building the request:
    TooManyFieldsSent escaped as a 500. Now Django's own 400 for too many fields."""
    query = "&".join(f"f{i}=1" for i in range(1_200))
    response = Client(raise_request_exception=False).post(
        f"/cart/add/?{query}", b"a=b", content_type=f"{FORM}; charset=utf-8"
    )
    assert response.status_code == 400


def test_the_refusal_logs_the_path_masked_and_django_logs_nothing(client, caplog):
    """The charset is judged before the guard: a card number in the path is masked in the
    refusal's line, and Django's raw "Bad Request: <path>" is not written."""
    with (
        mock.patch("django.utils.log.request_logger.warning") as bad_request,
        caplog.at_level(logging.WARNING, logger="security.charset"),
    ):
        response = client.generic(
            "POST", f"/cart/{CARD}/", data=b"a=b", content_type=f"{FORM}; charset=utf-16"
        )
    assert response.status_code == 400
    bad_request.assert_not_called()
    [record] = [r for r in caplog.records if r.name == "security.charset"]
    assert "/cart/************4242/" in record.getMessage() and CARD not in record.getMessage()


def test_the_middleware_sits_right_before_the_card_guard(settings):
    middleware = settings.MIDDLEWARE
    guard = middleware.index("security.cardguard.CardGuardMiddleware")
    assert middleware[guard - 1] == "security.charset.RequestCharsetMiddleware"
    assert middleware.index("security.headers.SecurityHeadersMiddleware") < guard - 1


def test_the_guard_sees_the_encoding_the_middleware_set(rf: RequestFactory):
    """Behind the middleware, the guard decodes a windows-874 query with cp874."""
    request = rf.get("/?note=%A1", CONTENT_TYPE="text/plain; charset=windows-874")
    seen = {}

    def view(request):
        seen["note"] = request.GET["note"]
        return JsonResponse({})

    RequestCharsetMiddleware(CardGuardMiddleware(view))(request)
    assert seen == {"note": "ก"}


# --- The production entry points ---------------------------------------------------------------


def test_wsgi_and_asgi_build_requests_that_defer_content_type_errors():
    from config.asgi import application as asgi_application
    from config.wsgi import application as wsgi_application

    assert wsgi_application.request_class is ShopWSGIRequest
    assert asgi_application.request_class is ShopASGIRequest


@pytest.mark.parametrize(
    "content_type, query, raised",
    [
        ("text/plain; charset*=bogus''abc", "", BadRequest),
        ("text/plain; charset=rot13", "q=1", LookupError),  # the query string decoded at once
        ("text/plain; charset=utf-8", "&".join(f"f{i}=1" for i in range(1_200)), TooManyFieldsSent),
    ],
)
def test_the_wsgi_application_answers_400_where_django_raised(content_type, query, raised):
    """Straight through config.wsgi, as gunicorn calls it: Django's own request class raises
    for these while the request is built, so the server would have answered 500."""
    from django.core.handlers.wsgi import WSGIRequest

    from config.wsgi import application

    environ = RequestFactory()._base_environ(
        PATH_INFO="/cart/add/",
        QUERY_STRING=query,
        REQUEST_METHOD="POST",
        CONTENT_TYPE=content_type,
        CONTENT_LENGTH="3",
        **{"wsgi.input": io.BytesIO(b"a=b")},
    )
    with pytest.raises(raised):
        WSGIRequest(dict(environ))  # what Django alone does with it
    status = []
    environ["wsgi.input"] = io.BytesIO(b"a=b")
    body = b"".join(application(environ, lambda s, headers: status.append((s, dict(headers)))))
    ((line, headers),) = status
    assert line.startswith("400") and body, line
    assert headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" in headers
