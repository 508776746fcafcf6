"""Keep card numbers and Omise secrets out of every log line and error report.

Threat: sensitive data "captured in server logs" (Omise's guide). Logs are copied to
terminals, log shippers, CI output and support tickets; a card number in a debug print, a
query string in an access log line or a secret key in a traceback leaks through all of them.

* `install_record_scrubbing` (run when the shop app loads) makes every log record scrubbed
  as it is made, whichever logger makes it: Django's own records carry raw URL paths ("Not
  Found: <path>") and Host headers ("Invalid HTTP_HOST header"), which no card guard reads,
  and a handler filter alone would leave them unmasked on the record for any other handler, a
  test's capture or an error tracker to see. (What a caller passes as `extra`, such as the
  request Django attaches to its records, is set after: only handlers and formatters that
  print the message, exception and stack, as ours do, are covered; an error tracker's logging
  integration that reads `record.request` must scrub it itself.)
* `ScrubFilter` is a logging filter that settings install on every handler (Django's, the
  shop's, gunicorn's: see `deploy/gunicorn.conf.py`). It masks card numbers (the card guard's
  own detector, keeping the last four digits: `************4242`), Omise secret keys
  (`skey_…`), the configured OMISE_SECRET_KEY and OMISE_WEBHOOK_SECRET values wherever they
  appear, and `Authorization: Basic/Bearer …` credentials, in the message, its arguments, the
  exception text and the stack. Access-log request lines are messages too, so they are masked.
  A number is found as typed (any separator, any script's digits: the detector's rules) and
  as encoded on its way to a log: URL escapes, up to three rounds (`%20`, `%2520`, `+`, UTF-8
  sequences such as `%C2%A0`), a repr's escapes (`\\xa0`: Django's "Invalid HTTP_HOST header:
  %r" and its unicode-escaped "Not Found: <path>") and UTF-8 read as latin-1 (header values a
  WSGI server logs, such as gunicorn's User-Agent and Referer).
* `ScrubbingExceptionReporterFilter` and `ScrubbingExceptionReporter` do the same for Django's
  error reports (the DEBUG page and the 500 e-mails): card fields and keys are hidden, card
  numbers masked in settings, POST data, query strings, local variables and the error message.
* `ScrubbingAdminEmailHandler` e-mails the full report (built from the original exception) and
  scrubs the mail's subject and bodies before sending. It sends one e-mail per distinct error
  per ADMIN_ERROR_EMAIL_THROTTLE_SECONDS (threat: a stranger repeating one failing request
  floods the admins' inbox, buries other errors and gets the relay throttled); the next e-mail
  about it says how many were not sent.

In gunicorn's `logconfig_dict`, add `"filters": {"scrub": {"()": "security.logscrub.ScrubFilter"}}`
and `"filters": ["scrub"]` on every handler, as deploy/gunicorn.conf.py does.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
import os
import re
from bisect import bisect_right
from collections.abc import Callable
from functools import lru_cache
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import QueryDict
from django.template.defaultfilters import pprint
from django.utils.datastructures import MultiValueDict
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from security.card_fields import is_card_field
from security.cards import find_card_numbers

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"(skey_(?:test_)?)[A-Za-z0-9]+")
# Basic/Bearer followed by a credential-looking token (it holds a digit or base64 symbol), so
# prose like "Basic information" is left alone.
_AUTH = re.compile(
    r"(?i)\b(basic|bearer)(\s+)(?=[A-Za-z0-9+/=._~-]*[0-9+/=])[A-Za-z0-9+/=._~-]{8,}"
)


def mask_card_numbers(text: str) -> str:
    r"""Replace every card number's digits but the last four with `*`, also where the text
    encodes its separators or digits: URL escapes (`4242+4242+…`, `%20`, `%2520`, `%C2%A0`: a GET
    form or a path in an access log), a repr's escapes (`'4242\xa04242…'`: Django's
    "Invalid HTTP_HOST header: %r") and UTF-8 read as latin-1 (`4242Â` and a no-break space
    between the groups: a header value gunicorn logs as its bytes came)."""
    spans = [(m.start, m.end, m) for m in find_card_numbers(text)]
    for view in _decoded_views(text):
        spans.extend((*view.original(m.start, m.end), m) for m in find_card_numbers(view.text))
    return _masked(text, spans) if spans else text


def _masked(text: str, spans: list) -> str:
    """`text` with each span replaced by stars and its number's last four digits; spans found
    in several views of the text (they may overlap) are merged first."""
    spans.sort(key=lambda span: (span[0], -span[1]))
    parts, position = [], 0
    merged: list[list] = []
    for start, end, match in spans:
        if merged and start < merged[-1][1]:  # overlaps the previous one: one region
            last = merged[-1]
            if end > last[1]:
                last[1], last[2] = end, match
            last[3] = max(last[3], len(match.digits))
        else:
            merged.append([start, end, match, len(match.digits)])
    for start, end, match, length in merged:
        parts.append(text[position:start])
        parts.append("*" * (length - 4) + match.last4)
        position = end
    parts.append(text[position:])
    return "".join(parts)


# --- Encoded text: decoded views, each character mapped back to where it came from -------------
#
# Each decoding step replaces tokens (an escape, a UTF-8 sequence) by one character each and
# remembers, per token, where it was: a card number found in the decoded text is masked at its
# span in the original. Every token pattern is a choice of fixed-length alternatives (no nested
# repetition: no backtracking), every step one pass, and the steps are bounded: linear in the
# text. Text with none of "%", "+", "\" or a non-ASCII character pays four `in` checks.

# "+" for a space, and every %XX escape: each is one character once decoded. All of them, not
# only %20, %2D and %30–%39: read as text, the hex digits of "%22" or "%A0" would glue onto
# a number that follows and hide it. A UTF-8 sequence of escapes is one character (%C2%A0 a
# no-break space, %E2%80%93 an en dash, %EF%BC%94 a full-width 4); a lone escape of a byte of
# 0x80 or more stands for that latin-1 character (%A0 also a no-break space).
_CONTINUATION = "%[89ABab][0-9A-Fa-f]"
_URL_ESCAPE = re.compile(
    rf"\+|%[Cc][2-9A-Fa-f]{_CONTINUATION}|%[Dd][0-9A-Fa-f]{_CONTINUATION}"
    rf"|%[Ee][0-9A-Fa-f]{_CONTINUATION}{_CONTINUATION}"
    rf"|%[Ff][0-4]{_CONTINUATION}{_CONTINUATION}{_CONTINUATION}|%[0-9A-Fa-f]{{2}}"
)
# Double and triple encoding (%2520 is "%20" once decoded, a space twice): at most this many
# rounds, fewer when a round leaves no escape.
URL_DECODE_ROUNDS = 3
# A repr's escapes of characters it does not print (a no-break space is "\xa0", an ideographic
# space "\u3000"): log messages format values with %r, tracebacks show reprs.
_BACKSLASH_ESCAPE = re.compile(r"\\x[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}")
# UTF-8 bytes read as latin-1, as WSGI servers decode header values (a User-Agent or Referer
# holding "4242 4242…" with no-break spaces reaches gunicorn's access log as "4242Â\xa04242…").
_MOJIBAKE = re.compile("[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _url_character(escape: str) -> str:
    if escape == "+":
        return " "
    if len(escape) == 3:
        return chr(int(escape[1:], 16))
    return _utf8(bytes.fromhex(escape.replace("%", "")))


def _backslash_character(token: str) -> str:
    code = int(token[2:], 16)
    return chr(code) if code <= 0x10FFFF else "\ufffd"


def _mojibake_character(token: str) -> str:
    return _utf8(token.encode("latin-1"))


def _utf8(sequence: bytes) -> str:
    try:
        return sequence.decode("utf-8")  # one character: the patterns take whole sequences
    except UnicodeDecodeError:  # an overlong form or a surrogate: no digit, no separator
        return "\ufffd"


class _View:
    """A decoded view of a text: `text`, and the span in the original of each character."""

    def __init__(self, text: str, steps: list[tuple[list[int], list[tuple[int, int]]]]):
        self.text = text
        # Per step, innermost last: the decoded index of each token, and its span in the
        # step's input.
        self._steps = steps

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The span in the original text of this view's characters start..end-1."""
        first, last = start, end - 1
        for keys, spans in reversed(self._steps):
            first, last = _span_in(keys, spans, first)[0], _span_in(keys, spans, last)[1] - 1
        return first, last + 1


def _span_in(keys: list[int], spans: list[tuple[int, int]], index: int) -> tuple[int, int]:
    """The span in a step's input of the decoded character at `index`."""
    k = bisect_right(keys, index) - 1
    if k < 0:
        return index, index + 1
    if keys[k] == index:
        return spans[k]
    offset = spans[k][1] + index - keys[k] - 1
    return offset, offset + 1


def _decode_step(
    text: str, pattern: re.Pattern[str], character: Callable[[str], str]
) -> tuple[str, list[int], list[tuple[int, int]]] | None:
    """`text` with each token of `pattern` decoded to one character, and the tokens' decoded
    indices and spans; None if it has no token."""
    keys: list[int] = []
    spans: list[tuple[int, int]] = []
    parts, last, decoded_length = [], 0, 0
    for token in pattern.finditer(text):
        start, end = token.span()
        parts.append(text[last:start])
        decoded_length += start - last
        parts.append(character(token.group()))
        keys.append(decoded_length)
        spans.append((start, end))
        decoded_length += 1
        last = end
    if not keys:
        return None
    parts.append(text[last:])
    return "".join(parts), keys, spans


def _decoded_views(text: str) -> list[_View]:
    """The decoded views of `text` worth searching, each decoding the one before it: every
    round of URL decoding, then a repr's escapes, then UTF-8 read as latin-1. A card number
    may show in any of them (one a later step glues to a letter, "…4242%2541" → "…4242A",
    was visible in the step before), so each is searched."""
    views: list[_View] = []
    steps: list[tuple[list[int], list[tuple[int, int]]]] = []
    current = text

    def step(pattern: re.Pattern[str], character: Callable[[str], str]) -> bool:
        nonlocal current
        decoded = _decode_step(current, pattern, character)
        if decoded is None:
            return False
        current, keys, spans = decoded
        steps.append((keys, spans))
        views.append(_View(current, list(steps)))
        return True

    if "%" in text or "+" in text:
        if "%" not in text:  # "+" alone: a space each, same length, same positions
            current = text.replace("+", " ")
            views.append(_View(current, []))
        else:
            for _ in range(URL_DECODE_ROUNDS):
                if not ("%" in current or "+" in current) or not step(_URL_ESCAPE, _url_character):
                    break
    if "\\" in current:
        step(_BACKSLASH_ESCAPE, _backslash_character)
    if not current.isascii():
        step(_MOJIBAKE, _mojibake_character)
    return views


def decoded_views(text: str) -> list[str]:
    """The texts `mask_card_numbers` searches besides `text` itself (URL-decoded, each round;
    repr escapes; UTF-8 read as latin-1): for tests/log_capture.py, which checks logs the same
    way."""
    return [view.text for view in _decoded_views(text)]


@lru_cache(maxsize=8)
def _literal_secrets(
    secret_key: str, webhook_secret: str, django_secret: str = ""
) -> tuple[str, ...]:
    """The configured secrets, and the Basic-auth header value the Omise client sends."""
    found = []
    for value in (secret_key, webhook_secret, django_secret):
        if len(value) >= 8:  # never mask "" or a tiny value (that would mask everything)
            found.append(value)
    if len(secret_key) >= 8:
        found.append(base64.b64encode(f"{secret_key}:".encode()).decode())
    return tuple(found)


# The configured secrets, read from settings once (every log line asks for them); emptied when a
# test overrides one of them.
_settings_secrets: list[tuple[str, ...]] = []


def _configured_secrets() -> tuple[str, ...]:
    if not _settings_secrets:
        if not settings.configured:  # gunicorn's own loggers may log before Django is set up
            return _literal_secrets(
                os.environ.get("OMISE_SECRET_KEY", ""),
                os.environ.get("OMISE_WEBHOOK_SECRET", ""),
                os.environ.get("SECRET_KEY", ""),
            )
        _settings_secrets.append(
            _literal_secrets(
                getattr(settings, "OMISE_SECRET_KEY", "") or "",
                getattr(settings, "OMISE_WEBHOOK_SECRET", "") or "",
                getattr(settings, "SECRET_KEY", "") or "",  # signs sessions, derives other keys
            )
        )
    return _settings_secrets[0]


@receiver(setting_changed)
def _forget_settings_secrets(*, setting: str, **_) -> None:
    if setting in {"OMISE_SECRET_KEY", "OMISE_WEBHOOK_SECRET", "SECRET_KEY"}:
        _settings_secrets.clear()


def scrub(text: str) -> str:
    """`text` with card numbers, secret keys, configured secrets and credentials masked."""
    if not text:
        return text
    text = mask_card_numbers(text)
    if "skey_" in text:
        text = _SECRET_KEY.sub(lambda m: m.group(1) + REDACTED, text)
    for secret in _configured_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "asic" in text or "earer" in text:  # cheap pre-check before the regex
        text = _AUTH.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    return text


class ScrubFilter(logging.Filter):
    """Mask card numbers and secrets in a record before any handler writes it anywhere.

    The message is formatted with its arguments first (a card number may hide in either), then
    scrubbed; the exception is formatted into a scrubbed `exc_text` and `exc_info` cleared, so
    no formatter can print the raw traceback. The original exception stays on the record as
    `unscrubbed_exc_info` for ScrubbingAdminEmailHandler, which scrubs what it sends.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "scrubbed", False):
            return True  # the same record reaching a second handler
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must still be logged, and scrubbed
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = scrub(str(message)), ()
        if record.exc_info and record.exc_info[0] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.unscrubbed_exc_info = record.exc_info
            record.exc_text, record.exc_info = scrub(formatted), None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        record.scrubbed = True
        return True


_scrub_record = ScrubFilter().filter


def install_record_scrubbing() -> None:
    """Scrub every log record when it is made (see the module docstring); once per process.

    A record a logger's level drops is never made, so only records that will be handled pay.
    The `extra` a caller passes is set on the record after this runs: extras are not message
    text, and handlers and formatters here print only the message, exception and stack.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "scrubs", False):
        return

    logging.setLogRecordFactory(_ScrubbedRecordFactory(current))


class _ScrubbedRecordFactory:
    """The log record factory that install_record_scrubbing puts in front of the current one;
    `scrubs` marks it installed."""

    scrubs = True

    def __init__(self, current: Callable[..., logging.LogRecord]) -> None:
        self._current = current

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._current(*args, **kwargs)
        _scrub_record(record)
        return record


def admin_mail_key(record: logging.LogRecord) -> str:
    """What makes an error distinct, hashed into a cache key of fixed length.

    With an exception: its type and the file and line where it was raised (the innermost frame
    of its traceback). Without one: the logger, the level, the log call's file and line (which
    stand for its message template, and unlike the formatted message hold nothing a request
    put there) and the response status. Never the request path or the message's arguments: a
    stranger choosing those could make every request "distinct" and defeat the throttle.
    """
    exc_info = getattr(record, "unscrubbed_exc_info", None) or record.exc_info
    kind, _value, tb = exc_info or (None, None, None)
    parts: tuple[object, ...]
    if kind is not None:
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = (
            (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
            if tb
            else (record.pathname, record.lineno)
        )
        parts = ("exception", f"{kind.__module__}.{kind.__qualname__}", *where)
    else:
        parts = (
            "log",
            record.name,
            record.levelno,
            record.pathname,
            record.lineno,
            getattr(record, "status_code", None),
        )
    digest = hashlib.sha256("\0".join(str(part)[:500] for part in parts).encode()).hexdigest()
    return f"shop:admin-mail:{digest[:32]}"


# How long the count of e-mails not sent is kept while no new e-mail about the error goes out.
_SUPPRESSED_COUNT_SECONDS = 24 * 60 * 60


class ScrubbingAdminEmailHandler(AdminEmailHandler):
    """Django's 500 e-mail with the full traceback report, scrubbed before it is sent; one per
    distinct error (`admin_mail_key`) per ADMIN_ERROR_EMAIL_THROTTLE_SECONDS.

    The throttle lives in Django's default cache (Redis in production), taken with `cache.add`,
    so all workers share it and exactly one of them sends. The errors not e-mailed are counted
    there too, and the next e-mail about the same error says how many. If the cache fails, the
    e-mail is sent: an error report is never lost to the throttle.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if not settings.ADMINS:
            return  # nobody to tell: no report built, nothing counted
        suppressed = self._admit(record)
        if suppressed is None:
            return
        original = getattr(record, "unscrubbed_exc_info", None)
        if original:
            # The report (frames, variables) is built from the real exception by the scrubbing
            # reporter below; every text it produces is scrubbed again in send_mail.
            record = copy.copy(record)
            record.exc_info, record.exc_text = original, None
        self._suppressed = suppressed  # read by send_mail; emit runs under the handler's lock
        try:
            super().emit(record)
        finally:
            self._suppressed = 0

    def send_mail(self, subject, message, *args, **kwargs):
        suppressed = getattr(self, "_suppressed", 0)
        if suppressed:
            message = (
                f"{suppressed} more report(s) of this error were not e-mailed since "
                f"the last one (one e-mail per error every "
                f"{_throttle_seconds()} seconds).\n\n{message}"
            )
        if kwargs.get("html_message"):
            kwargs["html_message"] = scrub(kwargs["html_message"])
        super().send_mail(scrub(subject), scrub(message), *args, **kwargs)

    @staticmethod
    def _admit(record: logging.LogRecord) -> int | None:
        """None if this error was e-mailed within the window; otherwise how many were not."""
        seconds = _throttle_seconds()
        if seconds <= 0:
            return 0
        key = admin_mail_key(record)
        counter = f"{key}:suppressed"
        try:
            first = cache.add(key, 1, timeout=seconds)
        except Exception:  # a cache outage must not swallow error reports
            return 0
        try:
            if not first:
                cache.add(counter, 0, timeout=_SUPPRESSED_COUNT_SECONDS)
                cache.incr(counter)
                return None
            suppressed = cache.get(counter) or 0
            if suppressed:
                cache.decr(counter, suppressed)  # not delete: a worker may be counting one
            return suppressed
        except Exception:  # the count is a courtesy: losing it changes nothing else
            return None if not first else 0


def _throttle_seconds() -> int:
    return int(getattr(settings, "ADMIN_ERROR_EMAIL_THROTTLE_SECONDS", 300) or 0)


class _Masked:
    """Stands in for a variable in an error report: its repr is the scrubbed repr."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class ScrubbingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter (which hides settings named *KEY*, *SECRET*, *TOKEN*…) plus card data:
    card fields are hidden whole, and card numbers and keys masked in every other value."""

    def cleanse_setting(self, key, value):
        if isinstance(key, str) and is_card_field(key):
            return self.cleansed_substitute
        cleansed = super().cleanse_setting(key, value)
        return scrub(cleansed) if isinstance(cleansed, str) else cleansed

    def get_post_parameters(self, request):
        params = super().get_post_parameters(request)
        if request is None or not params:
            return params
        # django-stubs types them dict[str, Any]; with a request, Django returns request.POST
        # (or a cleansed copy of it): a QueryDict.
        posted = cast(QueryDict, params).copy()  # request.POST is immutable and must stay intact
        for name in list(posted):
            if is_card_field(name):
                posted[name] = self.cleansed_substitute
            else:
                posted.setlist(name, [scrub(str(v)) for v in posted.getlist(name)])
        return posted

    def get_traceback_frame_variables(self, request, tb_frame):
        cleansed = []
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            if isinstance(name, str) and is_card_field(name):
                value = self.cleansed_substitute
            else:
                shown = pprint(value)
                masked = scrub(shown)
                if masked != shown:
                    value = _Masked(masked)
            cleansed.append((name, value))
        return cleansed


def _settle_unreadable_data(request) -> None:
    """Make a request whose query string or body cannot be parsed reportable.

    Threat: a 500 (and a lost error report) for the asking. Django answers a query string or
    form of more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields (TooManyFieldsSent), an oversized
    body (RequestDataTooBig) or a form Django refuses to decode with a 400; but the error
    report of that 400 (the DEBUG page, the e-mail for django.security's ERROR line) reads
    request.GET and request.POST again, which raise again: in DEBUG the exception escaped the
    handler (the server's 500), in production the e-mail was never sent. As Django itself does
    after a multipart parse error, each unreadable one is replaced by a QueryDict naming why.
    """
    if request is None:
        return
    for name in ("GET", "POST"):
        try:
            getattr(request, name)
        except Exception as error:
            note = QueryDict(mutable=True)
            note["(unreadable)"] = type(error).__name__
            if name == "GET":
                request.GET = note
            else:
                request._post, request._files = note, MultiValueDict()


class ScrubbingExceptionReporter(ExceptionReporter):
    """Scrubs what Django's reporter shows unfiltered: the error message, the URL, GET and the
    source lines around each frame; survives a request whose data cannot be parsed."""

    def get_traceback_data(self):
        _settle_unreadable_data(self.request)
        data = super().get_traceback_data()
        for frame in data.get("frames", []):
            # Source lines too: a test card pasted into code would otherwise be shown.
            if frame.get("context_line"):
                frame["context_line"] = scrub(frame["context_line"])
            for key in ("pre_context", "post_context"):
                if frame.get(key):
                    frame[key] = [scrub(line) for line in frame[key]]
        if "exception_value" in data:
            data["exception_value"] = scrub(str(data["exception_value"]))
        if "request_insecure_uri" in data:
            data["request_insecure_uri"] = scrub(str(data["request_insecure_uri"]))
        if "request_GET_items" in data:
            data["request_GET_items"] = [
                (k, self.filter.cleansed_substitute if is_card_field(k) else scrub(str(v)))
                for k, v in data["request_GET_items"]
            ]
        return data
