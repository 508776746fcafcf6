"""Card guard: the server refuses any request that carries card data.

Threat: card details reaching the merchant's server by mistake. Omise's guide asks that card
details go from the shopper's browser straight to Omise and that "form parameters containing
card details are not inadvertently sent to your server or captured in server logs". A forked
template that renders a card field outside Omise's form, an analytics snippet that posts what
the shopper typed, a debugging `fetch()`: each would put this server in PCI scope. The
middleware below catches them all at the door, before any view, session or log sees the data.

What a card number and a card field are is the detector's business (`security/cards.py`,
shared with the log scrubber); this module reads each carrier of a request with it. What is
scanned and what is not, and why, is explained in docs/card-guard.md.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from itertools import accumulate, chain
from typing import NotRequired, TypedDict

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.template.loader import render_to_string
from django.utils.csp import CSP, build_policy

from security import cards
from security.card_fields import (
    CACHED_NAME_LENGTH,
    is_card_field,
    is_card_field_memo,
    name_words,
    names_number_or_code,
)
from security.cards import first_card_number, might_hold_card_number

# --- Scanning a request ------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    carrier: str  # "query" | "form" | "multipart" | "json" | "text"
    field_name: str  # "" for a bare text body
    reason: str  # "card_number" (a value looks like one) | "card_field" (a card field's name)
    last4: str = ""  # only for card numbers; never a security code's digits


class _EventDetail(TypedDict):
    """What a refusal's SecurityEvent records besides the path, address and field name."""

    carrier: str
    reason: str
    method: str | None
    last4: NotRequired[str]


def _has_value(value: object) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, int | float):
        return True
    return bool(value)


def scan_fields(fields: QueryDict, carrier: str) -> Finding | None:
    """Scan a query string or form: names and values that look like card numbers, then card
    field names.

    The compiled first pass reads each name and value where it is and answers the common case,
    nothing worth judging, alone. Otherwise all of them are joined and judged as one text
    (names first: a card number used as a field name, a mis-built form, is found like one in a
    value), and a number the rules confirm is mapped back to its field by its offset.
    """
    names = tuple(fields)
    if cards.fields_need_judging(fields.lists()):
        entries = [(name, value) for name, values in fields.lists() for value in values]
        values = [value for _, value in entries]
        # "\n" is no separator: entries stay apart.
        match = first_card_number("\n".join(chain(names, values)))
        if match:
            owners = [*names, *(name for name, _ in entries)]
            offsets = list(accumulate(len(entry) + 1 for entry in chain(names, values)))
            return Finding(
                carrier, owners[bisect_right(offsets, match.start)], "card_number", match.last4
            )
    for name in _card_fields_among(names):
        if any(map(_has_value, fields.getlist(name))):
            return Finding(carrier, name, "card_field")
    return None


# The card fields among a form's names, per set of names: a form posts the same ones every
# time. Only sets a real form could have are kept (up to 64 names of up to 200 characters),
# and at most 256 of them: under 15 MB even of 4-byte characters, whatever is sent.
_card_fields_of_forms: dict[tuple[str, ...], tuple[str, ...]] = {}


def _card_fields_among(names: tuple[str, ...]) -> tuple[str, ...]:
    found = _card_fields_of_forms.get(names)
    if found is None:
        found = tuple(name for name in names if is_card_field(name))
        if len(names) <= 64 and max(map(len, names), default=0) <= CACHED_NAME_LENGTH:
            if len(_card_fields_of_forms) >= 256:
                _card_fields_of_forms.clear()
            _card_fields_of_forms[names] = found
    return found


def scan_json(data: object, *, raw_is_clear: bool = False) -> Finding | None:
    """Walk a parsed JSON document at any depth, without recursion (no depth limit to hit).

    An Omise card object (`"object": "card"`, as in webhook events) holds expiry, last digits
    and the cardholder's `phone_number`, but never the number or the security code: a field
    named as either is refused there too, the other names are allowed, and its values are
    still scanned.

    `raw_is_clear`: the body's own text was searched at once and holds no card number, nor
    anything that could spell one after parsing (see `_raw_json_is_clear`): then strings,
    names and integers, which appear in it as they are, need no search one by one; field
    names are still judged, and a number written with a fraction or an exponent is still read.
    """
    stack: list[tuple[object, tuple[str, ...], bool]] = [(data, (), False)]
    while stack:
        node, path, omise_card = stack.pop()
        if isinstance(node, dict):
            is_omise_card = node.get("object") == "card" and "number" not in node
            for key, value in node.items():
                key = str(key)
                refused = is_card_field_memo(key, path) and (
                    not is_omise_card or names_number_or_code(name_words(key))
                )
                if refused and _has_value(value):
                    last4 = ""
                    if isinstance(value, str | int) and not isinstance(value, bool):
                        match = first_card_number(str(value))
                        last4 = match.last4 if match else ""
                    return Finding("json", key, "card_field", last4)
                match = None if raw_is_clear else first_card_number(key)
                if match:
                    return Finding("json", key, "card_number", match.last4)
                stack.append((value, (*path, key), is_omise_card))
        elif isinstance(node, list):
            stack.extend((item, path, omise_card) for item in node)
        elif isinstance(node, float) or (
            isinstance(node, str | int) and not isinstance(node, bool) and not raw_is_clear
        ):
            match = first_card_number(node if isinstance(node, str) else str(node))
            if match:
                return Finding("json", path[-1] if path else "", "card_number", match.last4)
    return None


# A JSON escape for a character a card number is written with: 0-9 (U+0030–0039), space, dash.
_ESCAPED_NUMBER_CHARACTER = re.compile(rb"\\u00(?:3[0-9]|2[0dD])")
# Any other \u escape: one character that is none of those, whatever the hex digits say.
_JSON_ESCAPE = re.compile(rb"\\u[0-9A-Fa-f]{4}")


def _raw_json_is_clear(body: bytes) -> bool:
    """Can one search of a JSON body's own text stand for searching each value in it?

    Yes for UTF-8 text in which no card number shows once each `\\u` escape is read as the
    one character it is (none may spell a digit, a space or a dash): every string, name and
    integer is then written there as it is, between quotes, commas or brackets that no card
    number crosses. Read as text, the hex digits of `\\u00a0` would glue onto a number that
    follows and hide it. Not for UTF-16 or UTF-32 (json.loads reads them too; their NUL bytes
    would hide the digits).
    """
    if b"\x00" in body or _ESCAPED_NUMBER_CHARACTER.search(body):
        return False
    try:
        text = _JSON_ESCAPE.sub(b"?", body).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not might_hold_card_number(text)


def _content_type(request: HttpRequest) -> str:
    return request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()


def _is_json(content_type: str) -> bool:
    return content_type.endswith(("/json", "+json")) or content_type == "application/csp-report"


def scan_request(request: HttpRequest) -> Finding | None:
    """The first card data in the request's query string or body, or None.

    Reads the body at most once, through Django, so its size limits apply (an oversized body
    raises RequestDataTooBig here and Django answers 400) and views can still use request.POST
    and request.body afterwards.
    """
    finding = scan_fields(request.GET, "query") if request.META.get("QUERY_STRING") else None
    if finding:
        return finding
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return None
    content_type = _content_type(request)
    if content_type == "multipart/form-data":
        # Field values only: file contents go to upload handlers and are not read here.
        if request.method == "POST":
            fields: QueryDict = request.POST
        else:
            fields, _files = request.parse_file_upload(request.META, BytesIO(request.body))
        return scan_fields(fields, "multipart")
    if content_type == "application/x-www-form-urlencoded":
        # For POST this is the parse the view will use (cached); other methods parse a copy.
        fields = request.POST if request.method == "POST" else QueryDict(request.body)
        return scan_fields(fields, "form")
    if _is_json(content_type):
        try:
            # The raw bytes, as a view's json.loads(request.body) reads them: that also
            # detects UTF-16 and UTF-32, which a decode as UTF-8 would turn into noise.
            data = json.loads(request.body)
        except (ValueError, RecursionError):
            pass  # not valid JSON: scanned as the text it is
        else:
            return scan_json(data, raw_is_clear=_raw_json_is_clear(request.body))
    text = request.body.decode(request.encoding or "utf-8", errors="replace")
    match = first_card_number(text)
    return Finding("text", "", "card_number", match.last4) if match else None


# --- The middleware ----------------------------------------------------------------------------

REFUSAL_MESSAGE = (
    "This request was refused because it contained payment card details. Card details must "
    "go from your browser straight to Omise, never to this shop's server. Nothing from this "
    "request was stored or processed."
)


@lru_cache(maxsize=1)  # read once, not per request; forgotten when a test changes either
def exempt_paths() -> tuple[str, ...]:
    """Path prefixes the guard skips: only the sandbox's vault, and only while it is mounted."""
    if not getattr(settings, "OMISE_SANDBOX", False):
        return ()
    return tuple(getattr(settings, "CARD_GUARD_EXEMPT_PATHS", ()))


@receiver(setting_changed)
def _forget_exempt_paths(*, setting: str, **_) -> None:
    if setting in {"OMISE_SANDBOX", "CARD_GUARD_EXEMPT_PATHS"}:
        exempt_paths.cache_clear()


def _wants_json(request: HttpRequest) -> bool:
    accept = request.META.get("HTTP_ACCEPT", "")
    return _is_json(_content_type(request)) or (
        "application/json" in accept and "text/html" not in accept
    )


def refusal_response(request: HttpRequest) -> HttpResponse:
    """400 with a page (or JSON) saying what happened; it never echoes what was sent.

    The guard answers before the CSP middleware (which runs after sessions), so the page
    carries the site's policy itself, without a nonce: it runs no script at all.
    """
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse(
            {"error": "card_data_refused", "message": REFUSAL_MESSAGE}, status=400
        )
    else:
        html = render_to_string("cardguard_refused.html", {"message": REFUSAL_MESSAGE}, request)
        response = HttpResponse(html, status=400)
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = build_policy(
        {**settings.SECURE_CSP, "script-src": [CSP.NONE]}
    )
    # Django would log "Bad Request: <path>" for this 400, and the path may hold the card
    # number; the guard records its own event with the path masked instead.
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own flag, unstubbed
    return response


class CardGuardMiddleware:
    """Refuse requests carrying card data before sessions, CSRF, auth, static files or any
    view run.

    It sits right after the security-header middlewares and the charset check in MIDDLEWARE
    (so it reads only ASCII-compatible bodies, and its refusal still
    gets HSTS, nosniff, Referrer-Policy and Permissions-Policy) and before WhiteNoise, so even
    a static file's URL is checked: a refused request never reaches the session middleware,
    nothing from it is saved, and the event records at most the last 4 digits.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        exempt = exempt_paths()
        if not (exempt and request.path.startswith(exempt)):
            finding = scan_request(request)
            if finding:
                self._record(request, finding)
                return refusal_response(request)
        return self.get_response(request)

    @staticmethod
    def _record(request: HttpRequest, finding: Finding) -> None:
        from security.events import record_security_event_limited
        from security.logscrub import scrub  # a card number used as a field *name* is masked too
        from security.models import SecurityEvent

        detail: _EventDetail = {
            "carrier": finding.carrier,
            "reason": finding.reason,
            "method": request.method,
        }
        if finding.last4:
            detail["last4"] = finding.last4
        # Limited per client address: anyone can send card-like digits at will, and every
        # refusal still answers 400, but only the first few a minute leave a row.
        record_security_event_limited(
            SecurityEvent.Kind.CARD_DATA_REFUSED,
            request,
            field_name=scrub(finding.field_name),
            **detail,
        )
