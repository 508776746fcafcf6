"""Request charsets: only ASCII-compatible text encodings are read; anything else is a 400.

Threats:
- A 500 for the asking. Django decodes the query string, form and multipart fields with the
  `charset` a request's Content-Type names, whatever it names: `charset=rot13` (or base64,
  zlib, bz2, hex, uu, quopri) is a Python codec but not a text encoding, and decoding with it
  raises LookupError; so does `charset*=utf-8''rot13`. Every such request, on any URL, was a
  500 and an e-mail to the admins.
- Card numbers hidden from the card guard. The guard (security/cardguard.py) and the log
  scrubber look for ASCII digits. A body in UTF-16/32, in EBCDIC (cp500, cp037: the known WAF
  bypass), in UTF-7 (`+ADQ-` is "4") or in a stateful encoding (ISO-2022, HZ: an escape switches
  what the next bytes mean) does not show its digits as ASCII digits, while a view reading it in
  that charset would see them.
- An unreadable Content-Type header (`charset*=bogus''x`, or one over Django's length limit),
  or any charset at all on a URL whose query string Django cannot decode with it (rot13) or
  that has too many fields (`?f0=1&…&f1200=1`): Django raises while *building* the request,
  before any middleware runs, so the WSGI/ASGI server answered a bare 500 (no security
  headers, no clean 400). config.wsgi and config.asgi build requests with the classes below,
  which leave the refusal to this middleware (or to Django's own 400 for too many fields).

`RequestCharsetMiddleware` sits right before the card guard in settings.MIDDLEWARE (after the
security-header middlewares, so its refusal carries their headers): the guard, every later
middleware and every view only ever see a charset that reads ASCII as ASCII. It answers 400
with a short message (JSON for JSON clients, like the card guard) for

* an unknown charset name, an empty one or one longer than 40 characters (RFC 2978's limit);
* a codec that is not a text encoding (`str.encode` refuses it);
* a text encoding that is not ASCII-compatible: some byte 0x00–0x7F alone, the 128 of them in
  a row, or ASCII text written like another encoding's escapes (`\\u0034`, `+ADQ-`, `~{`,
  ESC `$B`) does not decode to itself; or one that cannot decode with errors="replace", as
  Django does (IDNA).

The verdict per name is cached (bounded, names of at most 40 characters). Names browsers send
that Python calls otherwise are mapped (`windows-874` is Python's cp874, Thai Windows). A
charset that passes is set as `request.encoding` under Python's own name, so Django decodes
with it (`utf8` becomes `utf-8`). For an `application/x-www-form-urlencoded` POST in another
ASCII-compatible charset (`us-ascii`, `iso-8859-1`, `tis-620`…), Django 6.1 raises BadRequest
on `request.POST`; this middleware parses the form in its declared charset instead, as Django
did before, so nothing is lost: the percent-escapes of such a body are ASCII, and so are its
digits.
"""

from __future__ import annotations

import codecs
import logging
from functools import lru_cache
from typing import TYPE_CHECKING

from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.template import engines
from django.utils.datastructures import MultiValueDict
from django.utils.http import parse_header_parameters

logger = logging.getLogger("security.charset")

# RFC 2978: a registered charset name is at most 40 characters.
MAX_NAME_LENGTH = 40
# Names that real clients send and that Python's codec registry spells otherwise.
ALIASES = {"windows-874": "cp874", "windows_874": "cp874", "dos-874": "cp874"}

_ASCII = bytes(range(128))
# ASCII text shaped like the escapes of non-ASCII-compatible encodings: UTF-7 (`+ADQ-`),
# HZ (`~{`), ISO-2022 (ESC `$B`), Python's unicode escapes (`\u0034`, `\x34`), HTML and
# quoted-printable. An ASCII-compatible text encoding reads all of it as it is.
_ESCAPES = b"+ADQ- ~{4~} \x1b$B4\x1b(B \\u0034\\x34\\N{DIGIT FOUR} &#52; =34 %34"
# Every byte value, twice: decoding it with errors="replace" must work (Django decodes so).
_ALL_BYTES = bytes(range(256)) * 2

CHARSET_MESSAGE = (
    "This request was refused: its Content-Type names a character set (charset) that this "
    "shop cannot read. Send it in UTF-8. Nothing from this request was stored or processed."
)
CONTENT_TYPE_MESSAGE = (
    "This request was refused: its Content-Type header could not be read. "
    "Nothing from this request was stored or processed."
)


def codec_name(charset: str) -> str | None:
    """Python's name for `charset` when it is an ASCII-compatible text encoding, else None."""
    name = charset.strip().lower()
    if not name or len(name) > MAX_NAME_LENGTH:
        return None  # never looked up, never cached: made-up names cannot fill the cache
    return _codec_name(name)


@lru_cache(maxsize=256)
def _codec_name(name: str) -> str | None:
    try:
        codec = codecs.lookup(ALIASES.get(name, name)).name
        "0".encode(codec)  # LookupError for rot13, base64, zlib…: not text encodings
        ascii_compatible = (
            all(bytes([byte]).decode(codec) == chr(byte) for byte in range(128))
            and _ASCII.decode(codec) == _ASCII.decode("ascii")
            and _ESCAPES.decode(codec) == _ESCAPES.decode("ascii")
        )
        _ALL_BYTES.decode(codec, "replace")
    except (LookupError, ValueError, TypeError):  # UnicodeError is a ValueError
        return None
    return codec if ascii_compatible else None


if TYPE_CHECKING:
    _RequestBase = HttpRequest  # the mixin is only ever combined with HttpRequest's subclasses
else:
    _RequestBase = object


class _DeferContentTypeError(_RequestBase):
    """Read the Content-Type as Django does, but never fail while the request is being built.

    Django raises there, before any middleware, where only the server's bare 500 answers: on a
    header it cannot parse (BadRequest "Invalid Content-Type header.") and, when the URL has a
    query string, on a charset that is no text encoding (setting `request.encoding` decodes
    the query string at once: LookupError for rot13). Here the request is built without a
    content type, or without an encoding, and RequestCharsetMiddleware refuses it with a 400.
    """

    content_type_error: Exception | None = None

    def _set_content_type_params(self, meta):
        try:
            self.content_type, self.content_params = parse_header_parameters(
                meta.get("CONTENT_TYPE", "")
            )
        except (ValueError, LookupError) as error:  # UnicodeError is a ValueError
            self.content_type, self.content_params = "", {}
            self.content_type_error = error
            return
        charset = self.content_params.get("charset")
        codec = codec_name(charset) if charset is not None else None
        if codec:
            _set_encoding(self, codec)


def _set_encoding(request: HttpRequest, codec: str) -> None:
    """`request.encoding = codec`, without parsing the query string on the way.

    Django's setter asks `hasattr(request, "GET")`, which *computes* GET: a query string of
    more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields then raised TooManyFieldsSent while the
    request was being built (a 500 from the server, for `?f0=1&…&f1200=1` with any charset).
    Nothing decoded yet means nothing to forget: the encoding is simply stored.
    """
    if "GET" in request.__dict__ or hasattr(request, "_post"):
        request.encoding = codec  # forgets what was decoded with the previous one
    else:
        request._encoding = codec  # type: ignore[attr-defined]  # Django's private, unstubbed


class ShopWSGIRequest(_DeferContentTypeError, WSGIRequest):
    """config.wsgi's request class."""


class ShopASGIRequest(_DeferContentTypeError, ASGIRequest):
    """config.asgi's request class."""


_REFUSAL_PAGE = """{% extends "base.html" %}
{% block title %}Request refused{% endblock %}{% block tracking %}{% endblock %}
{% block content %}<h1>This request could not be read</h1><p>{{ message }}</p>{% endblock %}"""


@lru_cache(maxsize=1)
def _refusal_template():
    return engines["django"].from_string(_REFUSAL_PAGE)


def refusal_response(request: HttpRequest, error: str, message: str) -> HttpResponse:
    """400 with a short page (or JSON), never echoing what was sent. The security headers come
    from the middlewares before this one (security.headers adds the CSP)."""
    from security.cardguard import _wants_json  # the guard's rule: JSON for JSON clients

    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse({"error": error, "message": message}, status=400)
    else:
        html = _refusal_template().render({"message": message}, request)
        response = HttpResponse(html, status=400)
    response["Cache-Control"] = "no-store"
    # Django would log "Bad Request: <path>" with the raw path, which may hold a card number
    # (this refusal comes before the guard); the line below is written with it masked.
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own flag, unstubbed
    return response


class RequestCharsetMiddleware:
    """Refuse a request whose Content-Type is unreadable or names a charset that is not an
    ASCII-compatible text encoding; decode the others under Python's name for them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if getattr(request, "content_type_error", None) is not None:
            return self._refuse(request, "invalid_content_type", CONTENT_TYPE_MESSAGE, "")
        charset = (getattr(request, "content_params", None) or {}).get("charset")
        if charset is not None:
            codec = codec_name(charset)
            if codec is None:
                return self._refuse(request, "unsupported_charset", CHARSET_MESSAGE, charset)
            if request.encoding != codec:
                _set_encoding(request, codec)
            if (
                codec != "utf-8"
                and request.method == "POST"
                and request.content_type == "application/x-www-form-urlencoded"
            ):
                # Django 6.1 reads such forms as UTF-8 only and raises BadRequest otherwise;
                # the same parse (same size and field-count limits) in the declared charset.
                request.POST = QueryDict(request.body, encoding=codec)
                request._files = MultiValueDict()  # type: ignore[attr-defined]  # Django's private
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest, error: str, message: str, charset: str) -> HttpResponse:
        from security.logscrub import scrub

        logger.warning(
            "Refused %s %s: %s %r",
            request.method,
            scrub(request.path)[:500],
            error,
            scrub(charset[:MAX_NAME_LENGTH]),
        )
        return refusal_response(request, error, message)
