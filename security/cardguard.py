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
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from contextlib import suppress
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
from django.utils import translation
from django.utils.csp import CSP, build_policy

from security.card_fields import (
    CACHED_NAME_LENGTH,
    CardFieldKind,
    card_field_kind_memo,
    card_number_part,
    card_number_part_memo,
    is_card_field,
    name_words,
    names_number_or_code,
)
from security.cards import (
    MAX_DIGITS,
    MIN_DIGITS,
    SEPARATORS,
    first_card_number,
    is_card_number,
    might_hold_card_number,
)

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

    All names and values are joined and judged as one text (names first: a card number used
    as a field name, a mis-built form, is found like one in a value), and a number the rules
    confirm is mapped back to its field by its offset.
    """
    names = tuple(fields)
    entries = [(name, value) for name, values in fields.lists() for value in values]
    values = [value for _, value in entries]
    # Joined by NUL, which is neither a digit, a separator nor a word character: entries stay
    # apart ("\n" would be a separator to the detector, joining one field's digits to the next).
    text = "\x00".join(chain(names, values))
    # One pass: where nothing is found, it costs what a "might it hold one?" check would.
    match = first_card_number(text)
    if match:
        owners = [*names, *(name for name, _ in entries)]
        offsets = list(accumulate(len(entry) + 1 for entry in chain(names, values)))
        return Finding(
            carrier, owners[bisect_right(offsets, match.start)], "card_number", match.last4
        )
    card_fields, parts = _card_fields_among(names)
    if parts:
        split = _split_card_number(
            (position, name, base, index, [_digits_of(value) for value in fields.getlist(name)])
            for position, name, base, index in parts
        )
        if split:
            return Finding(carrier, split[0], "card_number", split[1][-4:])
    for name in card_fields:
        if any(map(_has_value, fields.getlist(name))):
            return Finding(carrier, name, "card_field")
    return None


# A form's names that could hold a card number or a part of one: (position among the names,
# name, base, index), base and index as card_fields.card_number_part gives them.
_Parts = tuple[tuple[int, str, tuple[str, ...], int | None], ...]

# The card fields and card-number parts among a form's names, per set of names: a form posts
# the same ones every time. Only sets a real form could have are kept (up to 64 names of up
# to 200 characters), and at most 256 of them: under 15 MB even of 4-byte characters,
# whatever is sent.
_card_fields_of_forms: dict[tuple[str, ...], tuple[tuple[str, ...], _Parts]] = {}


def _card_fields_among(names: tuple[str, ...]) -> tuple[tuple[str, ...], _Parts]:
    found = _card_fields_of_forms.get(names)
    if found is None:
        parts = ((i, name, card_number_part(name)) for i, name in enumerate(names))
        found = (
            tuple(name for name in names if is_card_field(name)),
            tuple((i, name, part[0], part[1]) for i, name, part in parts if part),
        )
        if len(names) <= 64 and max(map(len, names), default=0) <= CACHED_NAME_LENGTH:
            if len(_card_fields_of_forms) >= 256:
                _card_fields_of_forms.clear()
            _card_fields_of_forms[names] = found
    return found


# --- A card number split over several fields ---------------------------------------------------

_NO_SEPARATORS = dict.fromkeys(map(ord, SEPARATORS))


def _digits_of(value: object) -> str | None:
    """A value's digits in ASCII, separators dropped, when it holds digits and nothing else
    (at most a card number's worth); None otherwise. A JSON integer counts by its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value) if value >= 0 else ""
    if not isinstance(value, str) or len(value) > 4 * MAX_DIGITS:
        return None
    digits = value.translate(_NO_SEPARATORS)
    if not digits or len(digits) > MAX_DIGITS or not digits.isdecimal():
        return None
    if not digits.isascii():  # full-width, Thai, Arabic-Indic… digits, as the detector reads
        digits = "".join(str(unicodedata.decimal(char)) for char in digits)
    return digits


# Each field that may hold a card number or a part of one: its position among the fields, its
# name, base (its card words without the index), index, and the digits of each of its values
# in order (None for a value that is not all digits).
_PartField = tuple[int, str, tuple[str, ...], int | None, list[str | None]]


def _split_card_number(fields: Iterable[_PartField]) -> tuple[str, str] | None:
    """A card number whose digits are spread over several fields, as (the first field's
    name, the number), or None. Joined in order:

    (a) fields named as parts of one number with an index (`card1`…`card4`, `card_number_1`,
        `cc_1`, `ccnum[0]`, `card[number][1]`), by index, a base name without an index first;
    (b) the values of one name repeated (`card=4242&card=4242&…`, a JSON list);
    (c) consecutive fields with card-number names (`cc_number=42424242&cc_number_end=…`).

    Only names with a card word count (card_fields.card_number_part): quantities, phones,
    postcodes and product ids are never joined. A window of whole values is a card number when
    its 12–19 digits pass the detector's rules (brand, length, Luhn).
    """
    fields = list(fields)
    # (b) one name repeated
    for _position, name, _base, _index, digits in fields:
        if len(digits) > 1:
            found = _card_in_parts([(name, d) for d in digits])
            if found:
                return found
    # (a) by base, in index order
    by_base: dict[tuple[str, ...], list[_PartField]] = {}
    for field in fields:
        by_base.setdefault(field[2], []).append(field)
    for group in by_base.values():
        if len(group) > 1 and any(field[3] is not None for field in group):
            ordered = sorted(group, key=lambda field: -1 if field[3] is None else field[3])
            found = _card_in_parts([(f[1], d) for f in ordered for d in f[4]])
            if found:
                return found
    # (c) consecutive card-number fields, each value in its turn; any other field between
    # two of them breaks the run
    parts: list[tuple[str, str | None]] = []
    for i, (position, name, _base, _index, digits) in enumerate(fields):
        if i and position != fields[i - 1][0] + 1:
            parts.append((name, None))
        parts.extend((name, d) for d in digits)
    return _card_in_parts(parts)


def _card_in_parts(parts: list[tuple[str, str | None]]) -> tuple[str, str] | None:
    """The first window of two or more consecutive parts (None breaks a run) whose joined
    digits are a card number: (the first part's name, the number). Each start tries at most
    MAX_DIGITS parts (every part holds a digit), so this is linear in the parts."""
    for start in range(len(parts) - 1):
        joined = ""
        for end in range(start, min(len(parts), start + MAX_DIGITS)):
            digits = parts[end][1]
            if digits is None:
                break
            joined += digits
            if len(joined) > MAX_DIGITS:
                break
            if end > start and len(joined) >= MIN_DIGITS and is_card_number(joined):
                return parts[start][0], joined
    return None


# Objects with up to this many names are judged as a whole and remembered (`_judged_names`).
CACHED_SHAPE_NAMES = 64

_Part = tuple[tuple[str, ...], int | None] | None
_Judged = tuple[tuple[_Part, ...], tuple[CardFieldKind | None, ...]]


def _judged_names(names: tuple[str, ...], path: tuple[str, ...]) -> _Judged:
    """For each name of a JSON object at `path`: the card number part it may hold
    (`card_number_part`, under the enclosing name) and the card field it names
    (`card_field_kind`), in order.

    Documents of one kind repeat the same objects (every Omise event of a kind has the same
    names), so a short object's names are judged together once and remembered whole: one
    lookup instead of two per name. Longer ones are judged name by name, as made-up names
    must not fill the cache."""
    if len(names) <= CACHED_SHAPE_NAMES and (
        sum(map(len, names)) + sum(map(len, path)) <= CACHED_NAME_LENGTH * 4
    ):
        return _judged_names_cached(names, path)
    return _judge_names(names, path)


def _judge_names(names: tuple[str, ...], path: tuple[str, ...]) -> _Judged:
    parent = path[-1] if path else ""
    parts = tuple(card_number_part_memo(name, parent) for name in names)
    return parts, tuple(card_field_kind_memo(name, path) for name in names)


@lru_cache(maxsize=512)
def _judged_names_cached(names: tuple[str, ...], path: tuple[str, ...]) -> _Judged:
    return _judge_names(names, path)


def _json_parts(node: dict, parts: tuple[_Part, ...]) -> Iterator[_PartField]:
    """A JSON object's members that may hold a card number or a part of one, in order: a
    string or integer, or a list of them (a name repeated). `parts`: each name's judgment,
    the name of the object directly around them counting (`{"card": {"1": "4242", …}}`)."""
    for position, ((key, value), part) in enumerate(zip(node.items(), parts, strict=True)):
        if part is None:
            continue
        values = value if isinstance(value, list) else [value]
        if values and all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            yield position, str(key), part[0], part[1], [_digits_of(v) for v in values]
        else:
            yield position, str(key), part[0], part[1], [None]  # breaks a run of parts


JSON_CONTEXT_NAMES = 3


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
            # A number split over members (short parts, which the body's own text never shows
            # as a number): judged always, before the names, so the refusal keeps its last4.
            names = tuple(map(str, node))
            parts, kinds = _judged_names(names, path)
            split = _split_card_number(_json_parts(node, parts))
            if split:
                return Finding("json", split[0], "card_number", split[1][-4:])
            for key, value, kind in zip(names, node.values(), kinds, strict=True):
                # An Omise card object may hold its expiry and the cardholder's phone_number,
                # never a security code or a field its own name calls a card number.
                refused = kind is not None and (
                    not is_omise_card
                    or kind == "security_code"
                    or names_number_or_code(name_words(key))
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
                # The enclosing names, innermost last, at most JSON_CONTEXT_NAMES of them: a card
                # object's fields sit right under it, and a deep document costs no more per key.
                stack.append((value, (*path[1 - JSON_CONTEXT_NAMES :], key), is_omise_card))
        elif isinstance(node, list):
            stack.extend((item, path, omise_card) for item in node)
        elif isinstance(node, float) or (
            isinstance(node, str | int) and not isinstance(node, bool) and not raw_is_clear
        ):
            if isinstance(node, float) and node.is_integer():
                text = str(int(node))  # 4242424242424242.0, as int(value) reads it
            else:
                text = node if isinstance(node, str) else str(node)
            match = first_card_number(text)
            if match:
                return Finding("json", path[-1] if path else "", "card_number", match.last4)
    return None


# A JSON \u escape, and its hex digits.
_JSON_ESCAPE = re.compile(rb"\\u[0-9A-Fa-f]{4}")
_JSON_ESCAPE_HEX = re.compile(rb"\\u([0-9A-Fa-f]{4})")
# The short escapes for whitespace, which the detector reads as separators: \t \n \f \r.
_JSON_SEPARATOR_ESCAPE = re.compile(rb"\\[tnfr]")
_SEPARATOR_SET = frozenset(SEPARATORS)


def _escapes_spell_number_characters(body: bytes) -> bool:
    """Does a `\\u` escape in the body stand for a digit of any script or a separator (NBSP,
    an en dash, a dot…), or a short escape for whitespace (`\\n`)? Each distinct escape is
    judged once: text of another script escaped throughout holds a few hundred at most."""
    if _JSON_SEPARATOR_ESCAPE.search(body):
        return True
    for hexdigits in set(_JSON_ESCAPE_HEX.findall(body)):
        char = chr(int(hexdigits, 16))
        if char.isdecimal() or char in _SEPARATOR_SET:
            return True
    return False


def _raw_json_is_clear(body: bytes) -> bool:
    """Can one search of a JSON body's own text stand for searching each value in it?

    Yes for UTF-8 text in which no card number shows once each `\\u` escape is read as the
    one character it is (none may spell a digit of any script or a separator, nor may a short
    escape spell whitespace): every string, name and integer is then written there as it is,
    between quotes, commas or brackets that no card number crosses. Read as text, the hex
    digits of `\\u00e9` would glue onto a number that follows and hide it. Not for UTF-16 or
    UTF-32 (json.loads reads them too; their NUL bytes would hide the digits).
    """
    if b"\x00" in body or _escapes_spell_number_characters(body):
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
    if length <= 0 and not request.body:  # ASGI, or chunked: the body may come without one
        return None
    content_type = _content_type(request)
    if content_type == "multipart/form-data":
        # Field values only: file contents go to upload handlers and are not read here.
        if request.method == "POST":
            fields: QueryDict = request.POST
        else:
            fields, _files = request.parse_file_upload(request.META, BytesIO(request.body))
        return scan_fields(fields, "multipart")
    declared_json = _is_json(content_type)
    finding = None
    if content_type == "application/x-www-form-urlencoded":
        # For POST this is the parse the view will use (cached); other methods parse a copy.
        fields = request.POST if request.method == "POST" else QueryDict(request.body)
        finding = scan_fields(fields, "form")
    elif not declared_json:
        finding = scan_text(request.body, request.encoding)
    if finding:
        return finding
    # Whatever type it declares, a body that is a JSON document is also judged as one, as a
    # view calling json.loads(request.body) would read it: a fetch() posts JSON as text/plain
    # by default, and a number split over members or spelled with escapes shows in no text.
    data = _json_document(request.body, expected=declared_json)
    if data is _NOT_JSON:
        # Declared JSON that is not: scanned as the text it is.
        return scan_text(request.body, request.encoding) if declared_json else None
    return scan_json(data, raw_is_clear=_raw_json_is_clear(request.body))


_NOT_JSON = object()
# A JSON object or array: its opening bracket after any whitespace, or the first byte of a
# UTF-8 BOM or of UTF-16 or UTF-32 text (NUL on one side of the first character, or a BOM).
_JSON_CONTAINER = re.compile(rb"[ \t\r\n]*[\[{]|[\x00\xef\xfe\xff]")


def _json_document(body: bytes, *, expected: bool) -> object:
    """The body parsed as JSON (UTF-8, -16 or -32, as json.loads reads bytes), or _NOT_JSON.
    A body not declared as JSON is parsed only when it could be an object or an array: a
    bare string or number is no more than the text already searched."""
    if not expected and not _JSON_CONTAINER.match(body):
        return _NOT_JSON
    try:
        # The raw bytes, as a view's json.loads(request.body) reads them: that also detects
        # UTF-16 and UTF-32, which a decode as UTF-8 would turn into noise. An object's
        # repeated name keeps all its values (json.loads keeps the last).
        return json.loads(body, object_pairs_hook=_keeping_repeated_names)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _keeping_repeated_names(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object as a dict, where a name given more than once holds the list of all its
    values in order: `{"cvv": "123", "cvv": ""}` must not hide the first, and
    `{"card": "4242", "card": "4242", …}` is a number split over one name repeated."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    repeated: dict[str, list[object]] = {}
    for key, value in pairs:
        repeated.setdefault(key, []).append(value)
    return {key: values[0] if len(values) == 1 else values for key, values in repeated.items()}


def scan_text(body: bytes, encoding: str | None) -> Finding | None:
    """A body of another type, or one that is not valid JSON, searched as text: as decoded in
    its declared charset (what a view reads) and, for any other charset, also as UTF-8, so
    that a declaration (UTF-16, EBCDIC) cannot hide digits that arrived as ASCII bytes.
    security/charset.py refuses such charsets before the guard; this holds without it too."""
    codec = encoding or "utf-8"
    texts = []
    with suppress(LookupError):  # no codec by that name (rot13 is none for bytes): bytes alone
        texts.append(body.decode(codec, errors="replace"))
    if codec.lower().replace("_", "-") not in {"utf-8", "utf8"}:
        texts.append(body.decode("utf-8", errors="replace"))
    for text in texts:
        match = first_card_number(text)
        if match:
            return Finding("text", "", "card_number", match.last4)
    return None


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
        # Before LocaleMiddleware: the page picks the shopper's language itself (cookie, then
        # Accept-Language); the template translates the message.
        with translation.override(translation.get_language_from_request(request)):
            html = render_to_string("cardguard_refused.html", {}, request)
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
