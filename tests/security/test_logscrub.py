"""Log scrubbing and error reports: no card number, secret key or credential is written."""

import base64
import io
import json
import logging
import os
import re
import runpy
import subprocess
import sys
import time
from pathlib import Path
from typing import cast
from unittest import mock
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.core.cache.backends import locmem
from django.core.exceptions import TooManyFieldsSent
from django.test import RequestFactory
from django.urls import path
from django.views.debug import technical_500_response

from security import logscrub
from security.logscrub import (
    ScrubbingAdminEmailHandler,
    ScrubbingExceptionReporterFilter,
    ScrubFilter,
    admin_mail_key,
    scrub,
)

CARD = "4242424242424242"
SPACED = "4242 4242 4242 4242"
ROOT = Path(__file__).resolve().parents[2]


def record(msg, *args, exc_info=None, **kwargs):
    return logging.LogRecord("shop.test", logging.INFO, __file__, 1, msg, args, exc_info, **kwargs)


def written(rec: logging.LogRecord) -> str:
    """What a handler with the filter writes for this record, exception text included."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ScrubFilter())
    handler.handle(rec)
    return stream.getvalue()


def configured_handlers(logger_name: str) -> list[logging.Handler]:
    """The handlers settings installed on a logger, without pytest's own capture handlers."""
    return [
        h
        for h in logging.getLogger(logger_name).handlers
        if type(h).__module__.split(".")[0] != "_pytest"
    ]


# --- scrub() -----------------------------------------------------------------------------------


def test_card_numbers_are_masked_to_their_last_four():
    """Every card number becomes stars and its last four digits, whatever its separators."""
    assert scrub(f"a {CARD} b {SPACED} c 5555-5555-5555-4444") == (
        "a ************4242 b ************4242 c ************4444"
    )


def test_lookalikes_are_left_alone():
    """Omise ids, order references, timestamps and failing numbers are not touched, while the
    card number in the same line is (a scrubber that did nothing would fail here)."""
    lookalikes = "tokn_test_5xp6ca7ud chrg_test_5xp LG-20250101-0042 1718000000000 4242424242424241"
    assert scrub(f"{lookalikes} card {CARD}") == f"{lookalikes} card ************4242"


def test_secret_keys_are_masked_public_keys_kept():
    """Any skey_ value is masked; a public key (not a secret) stays readable."""
    assert scrub("using skey_test_5abcdef123 and pkey_test_5abc") == (
        "using skey_test_[redacted] and pkey_test_5abc"
    )
    assert scrub("live skey_5abcdef123") == "live skey_[redacted]"


def test_configured_secrets_are_masked_literally(settings):
    """The configured webhook secret and the secret key's Basic-auth header are masked."""
    settings.OMISE_WEBHOOK_SECRET = "c2VjcmV0LXdlYmhvb2stdmFsdWU="
    settings.OMISE_SECRET_KEY = "skey_test_5fakeconfigured9"
    basic = base64.b64encode(b"skey_test_5fakeconfigured9:").decode()
    out = scrub(f"whsec={settings.OMISE_WEBHOOK_SECRET} header={basic}")
    assert settings.OMISE_WEBHOOK_SECRET not in out and basic not in out
    assert out.count("[redacted]") == 2


def test_a_secret_changed_in_settings_is_masked_from_the_next_line_on(settings):
    """The configured secrets are read once, not per line, yet a changed one is not missed
    (the value read before is forgotten when the setting changes)."""
    settings.OMISE_WEBHOOK_SECRET = "Zmlyc3Qtd2ViaG9vay1zZWNyZXQ="
    assert scrub("whsec=Zmlyc3Qtd2ViaG9vay1zZWNyZXQ=") == "whsec=[redacted]"
    settings.OMISE_WEBHOOK_SECRET = "c2Vjb25kLXdlYmhvb2stc2VjcmV0"
    assert scrub("whsec=c2Vjb25kLXdlYmhvb2stc2VjcmV0") == "whsec=[redacted]"


def test_authorization_credentials_are_masked():
    """Authorization: Basic/Bearer credentials are masked; the word "Basic" in prose is not."""
    assert scrub("Authorization: Basic dXNlcjpwYXNzd29yZA==") == "Authorization: Basic [redacted]"
    assert scrub("'HTTP_AUTHORIZATION': 'Bearer abc123def456'") == (
        "'HTTP_AUTHORIZATION': 'Bearer [redacted]'"
    )
    assert scrub("Basic information about the order") == "Basic information about the order"


# --- ScrubFilter -------------------------------------------------------------------------------


def test_filter_masks_message_and_arguments():
    """A card number in the format string or in %-arguments is masked once formatted."""
    out = written(record("card %s paid by %s", CARD, {"cc": SPACED}))
    assert CARD not in out and "4242 4242" not in out
    assert out.count("************4242") == 2


def test_filter_masks_mapping_arguments_like_gunicorn_access_logs():
    """Gunicorn's access log passes a dict of atoms; the request line in it is masked."""
    rec = record(
        '%(h)s "%(r)s" %(s)s', {"h": "203.0.113.9", "r": f"GET /pay?cc={CARD} HTTP/1.1", "s": "400"}
    )
    out = written(rec)
    assert out.strip() == '203.0.113.9 "GET /pay?cc=************4242 HTTP/1.1" 400'


@pytest.mark.parametrize(
    "line",
    [
        "GET /search?q=4242+4242+4242+4242 HTTP/1.1",  # a GET form: spaces become +
        "GET /search?q=4242%204242%204242%204242 HTTP/1.1",
        "GET /search?q=4242%2D4242%2D4242%2D4242 HTTP/1.1",
        "GET /search?q=%34%32%34%32%34%32%34%32%34%32%34%32%34%32%34%32 HTTP/1.1",
        "GET /search?q=4242+4242%204242-4242&page=2 HTTP/1.1",
        "GET /search?q=%224242+4242+4242+4242%22 HTTP/1.1",  # a quoted search: %22 before it
        "GET /search?q=%C2%A04242%204242%204242%204242 HTTP/1.1",  # a no-break space before it
    ],
)
def test_filter_masks_card_numbers_in_url_encoded_request_lines(line):
    """An access log writes the raw request line: a card number whose separators or digits
    are URL-encoded is masked there too, the rest of the line kept."""
    rec = record('%(h)s "%(r)s" %(s)s', {"h": "203.0.113.9", "r": line, "s": "400"})
    out = written(rec)
    assert "************4242" in out and out.startswith('203.0.113.9 "GET /search?q=')
    assert "4242+4242" not in out and "%204242" not in out and "%34%32%34" not in out
    assert "4242%22" in out or "%22" not in line  # what follows the number is kept


def test_an_amex_number_between_url_encoded_brackets_is_masked():
    """A 15-digit Amex number right after "%28" is found: the escape is one character."""
    assert scrub("GET /?q=%28378282246310005%29 HTTP/1.1") == (
        "GET /?q=%28***********0005%29 HTTP/1.1"
    )


@pytest.mark.parametrize(
    ("lookalike", "card", "last_four"),
    [
        ("q=silk+scarf&phone=%2B66+81+234+5678", "4242+4242+4242+4242", "4242"),
        ("ts=2025-01-01T10%3A00%3A00%2B07%3A00", "5555%205555%205555%204444", "4444"),
        ("ids=1234+5678+9012+3457", "4242424242424242", "4242"),  # fails Luhn: no card
    ],
)
@pytest.mark.parametrize("card_first", [False, True])
def test_url_encoded_lookalikes_are_left_alone_next_to_a_card(
    lookalike, card, last_four, card_first
):
    """Phones, timestamps and ids in a URL are not mistaken for card numbers: in a request line
    that also carries a card number (before or after them), only the card is masked."""
    params = [lookalike, f"cc={card}"]
    masked = [lookalike, f"cc={'*' * 12}{last_four}"]
    if card_first:
        params.reverse()
        masked.reverse()
    line = f"GET /orders/?{'&'.join(params)} HTTP/1.1"
    assert scrub(line) == f"GET /orders/?{'&'.join(masked)} HTTP/1.1"


def test_filter_masks_exceptions_and_tracebacks():
    """The exception message and the traceback text are masked; no formatter sees raw exc_info."""
    try:
        raise ValueError(f"declined card {CARD} with skey_test_5abcdef123")
    except ValueError:
        rec = record("charge failed", exc_info=sys.exc_info())
    out = written(rec)
    assert "Traceback" in out and "ValueError: declined card ************4242" in out
    assert CARD not in out and "5abcdef123" not in out
    assert rec.exc_info is None and CARD not in rec.exc_text


def test_filter_masks_stack_info():
    """stack_info (logging with stack_info=True) is masked too."""
    rec = record("x", sinfo=f"Stack (most recent call last):\n  card = '{CARD}'")
    assert CARD not in written(rec)


def test_filter_survives_a_broken_format_string():
    """A message whose arguments do not fit is still logged, and still masked."""
    out = written(record("card %s %s", CARD))
    assert CARD not in out and "************4242" in out


def test_every_configured_handler_carries_the_filter():
    """Each handler in settings.LOGGING lists "scrub", and each handler Django configured on
    the root, django and django.server loggers really has a ScrubFilter."""
    config = django_settings.LOGGING
    assert config["filters"]["scrub"]["()"] == "security.logscrub.ScrubFilter"
    for name, handler in config["handlers"].items():
        assert "scrub" in handler.get("filters", []), name
    for logger_name in ("", "django", "django.server"):
        handlers = configured_handlers(logger_name)
        assert handlers, logger_name
        for handler in handlers:
            assert any(isinstance(f, ScrubFilter) for f in handler.filters), (logger_name, handler)


def test_runserver_access_log_request_line_is_masked():
    """Django's development access log ("django.server") writes the request line masked."""
    [handler] = configured_handlers("django.server")
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        logging.getLogger("django.server").info(
            '"%s" %s %s',
            f"GET /?card_number={CARD} HTTP/1.1",
            "400",
            "12",
            extra={"status_code": 400, "expected_card_data": True},  # see log_capture.py
        )
    finally:
        handler.setStream(old)
    assert CARD not in stream.getvalue() and "************4242" in stream.getvalue()


def test_gunicorn_logconfig_installs_the_filter_on_every_handler():
    """deploy/gunicorn.conf.py's logconfig_dict puts the filter on all of gunicorn's handlers,
    including the access log's."""
    config = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))["logconfig_dict"]
    assert config["filters"]["scrub"]["()"] == "security.logscrub.ScrubFilter"
    assert config["handlers"]
    for name, handler in config["handlers"].items():
        assert "scrub" in handler.get("filters", []), name
    assert config["loggers"]["gunicorn.access"]["handlers"]


# --- Error reports -----------------------------------------------------------------------------


def _raise_with_card_data():
    card_number = CARD  # noqa: F841 - a card field name: hidden whole
    note = f"customer typed {SPACED}"  # noqa: F841 - any other variable: number masked
    raise RuntimeError(f"could not charge {CARD}")


def test_debug_page_hides_card_fields_and_masks_numbers(rf: RequestFactory):
    """The DEBUG error page shows no card number: not in POST, GET, locals, URL or message."""
    request = rf.post(f"/pay/?ref={CARD}", {"cvv": "123", "comment": f"pay {CARD}"})
    try:
        _raise_with_card_data()
    except RuntimeError:
        response = technical_500_response(request, *sys.exc_info())
    page = response.content.decode()
    assert "could not charge ************4242" in page  # still a useful report
    assert CARD not in page and "4242 4242 4242 4242" not in page
    assert "card_number" in page and "note" in page  # the variables are listed, masked


def test_reporter_filter_hides_settings_and_post_fields(rf: RequestFactory):
    """Keys and card-named settings are hidden; card fields in POST are replaced whole."""
    reporter_filter = ScrubbingExceptionReporterFilter()
    assert reporter_filter.cleanse_setting("OMISE_SECRET_KEY", "skey_test_5x") == (
        reporter_filter.cleansed_substitute
    )
    assert reporter_filter.cleanse_setting("card_number", "1") == (
        reporter_filter.cleansed_substitute
    )
    assert reporter_filter.cleanse_setting("NOTE", f"x {CARD}") == "x ************4242"
    request = rf.post("/", {"security_code": "123", "note": CARD, "quantity": "2"})
    params = reporter_filter.get_post_parameters(request)
    assert params["security_code"] == reporter_filter.cleansed_substitute
    assert params["note"] == "************4242" and params["quantity"] == "2"
    assert request.POST["note"] == CARD  # the request itself is left intact


def test_admin_error_mail_keeps_the_traceback_and_leaks_nothing(
    rf: RequestFactory, mailoutbox, settings
):
    """The 500 e-mail still carries the traceback, with every card number masked."""
    settings.ADMINS = ["ops@example.com"]
    handler = ScrubbingAdminEmailHandler(include_html=True)
    handler.addFilter(ScrubFilter())
    request = rf.post(f"/pay/?ref={CARD}", {"cvv": "123", "comment": SPACED})
    try:
        _raise_with_card_data()
    except RuntimeError:
        rec = logging.LogRecord(
            "django.request",
            logging.ERROR,
            __file__,
            1,
            "Internal Server Error: %s",
            (request.get_full_path(),),
            sys.exc_info(),
        )
    rec.request = request
    handler.handle(rec)
    [mail] = mailoutbox
    html = mail.alternatives[0][0] if mail.alternatives else ""
    everything = mail.subject + mail.body + html
    assert "_raise_with_card_data" in mail.body and "Traceback" in mail.body
    assert CARD not in everything and SPACED not in everything


def test_djangos_secret_key_is_masked_too():
    """SECRET_KEY signs sessions and derives the sandbox keys: it never appears in a log."""
    assert django_settings.SECRET_KEY not in scrub(f"config: {django_settings.SECRET_KEY}")


# --- Error e-mails: one per distinct error per window -----------------------------------------


def _raise_here(kind=RuntimeError, text="boom"):
    raise kind(text)


def _error_record(request, exc_info=None, msg="Internal Server Error: %s", status_code=500):
    rec = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 7, msg, (request.path,), exc_info
    )
    rec.request, rec.status_code = request, status_code
    return rec


def _failed(kind=RuntimeError, text="boom"):
    try:
        _raise_here(kind, text)
    except kind:
        return sys.exc_info()


@pytest.fixture
def admins(settings):
    settings.ADMINS = ["ops@example.com"]
    settings.ADMIN_ERROR_EMAIL_THROTTLE_SECONDS = 300


def mail_handler():
    handler = ScrubbingAdminEmailHandler()
    handler.addFilter(ScrubFilter())
    return handler


def test_one_error_repeated_on_many_paths_sends_one_mail(rf, mailoutbox, admins):
    """The same exception raised at the same line is one error, whatever path a stranger
    chose for it: one e-mail in the window, not one per request."""
    handler = mail_handler()
    for n in range(20):
        handler.handle(_error_record(rf.get(f"/page-{n}/"), _failed(text=f"boom {n}")))
    assert len(mailoutbox) == 1


def test_distinct_errors_each_get_their_mail(rf, mailoutbox, admins):
    """Another exception type, another line, or (without exception) another logger or
    status: each is a distinct error with its own e-mail."""
    handler = mail_handler()
    request = rf.get("/")
    handler.handle(_error_record(request, _failed(RuntimeError)))
    handler.handle(_error_record(request, _failed(ValueError)))
    try:
        raise RuntimeError("another line")
    except RuntimeError:
        handler.handle(_error_record(request, sys.exc_info()))
    handler.handle(_error_record(request, status_code=500))
    handler.handle(_error_record(request, status_code=503))
    other = _error_record(request)
    other.name = "shop.payments"
    handler.handle(other)
    assert len(mailoutbox) == 6


def test_records_without_exception_are_keyed_by_their_log_call_not_their_text(rf, admins):
    """Two messages of one log call (different paths, different formatted text) are one
    error; the key has a fixed size whatever the message."""
    first = _error_record(rf.get("/a/"), msg="Service Unavailable: %s")
    second = _error_record(rf.get("/" + "b" * 5000 + "/"), msg="Service Unavailable: %s")
    second.msg = "x" * 10_000  # even once a filter has formatted it
    assert admin_mail_key(first) == admin_mail_key(second)
    assert len(admin_mail_key(first)) == len("shop:admin-mail:") + 32
    assert "/a/" not in admin_mail_key(first)


def test_the_next_mail_after_the_window_counts_those_not_sent(rf, mailoutbox, admins):
    """After the window the error is e-mailed again, saying how many were held back."""
    handler = mail_handler()
    for _ in range(4):
        handler.handle(_error_record(rf.get("/"), _failed()))
    assert len(mailoutbox) == 1
    later = time.time() + 301
    with mock.patch.object(locmem, "time", mock.Mock(time=lambda: later)):
        handler.handle(_error_record(rf.get("/"), _failed()))
    assert len(mailoutbox) == 2
    assert mailoutbox[1].body.startswith("3 more report(s) of this error were not e-mailed")
    assert "more report" not in mailoutbox[0].body


def test_workers_share_the_window_through_the_cache(rf, mailoutbox, admins):
    """Two handlers (two workers) with one cache: the second does not send it again."""
    mail_handler().handle(_error_record(rf.get("/"), _failed()))
    mail_handler().handle(_error_record(rf.get("/"), _failed()))
    assert len(mailoutbox) == 1


def test_throttle_zero_sends_every_mail(rf, mailoutbox, admins, settings):
    settings.ADMIN_ERROR_EMAIL_THROTTLE_SECONDS = 0
    handler = mail_handler()
    for _ in range(3):
        handler.handle(_error_record(rf.get("/"), _failed()))
    assert len(mailoutbox) == 3


def test_a_cache_outage_never_swallows_the_report(rf, mailoutbox, admins):
    """If the cache cannot be reached, the e-mail goes out anyway."""
    with mock.patch.object(logscrub.cache, "add", side_effect=ConnectionError("redis down")):
        mail_handler().handle(_error_record(rf.get("/"), _failed()))
    assert len(mailoutbox) == 1


def test_the_throttle_setting_comes_from_the_environment():
    assert django_settings.ADMIN_ERROR_EMAIL_THROTTLE_SECONDS == 300
    example = (ROOT / ".env.example").read_text()
    assert "# ADMIN_ERROR_EMAIL_THROTTLE_SECONDS=300" in example


def boom(request, anything):
    raise RuntimeError(f"failed for {request.path}")


urlpatterns = [path("boom/<str:anything>/", boom)]


@pytest.mark.urls("tests.security.test_logscrub")
def test_through_the_configured_logging_a_500_flood_is_one_mail(
    client, mailoutbox, admins, settings
):
    """End to end (settings.LOGGING, DEBUG off as in production): a stranger requesting a
    failing view on 30 different paths causes one e-mail."""
    settings.DEBUG = False
    client.raise_request_exception = False
    for n in range(30):
        assert client.get(f"/boom/{n}/").status_code == 500
    [mail] = mailoutbox
    assert "RuntimeError" in mail.body


# --- Error reports of requests whose data cannot be parsed ------------------------------------

MANY = "&".join(f"f{i}=1" for i in range(1_200))  # over DATA_UPLOAD_MAX_NUMBER_FIELDS


@pytest.mark.parametrize("where", ["query", "form"])
def test_the_debug_page_of_an_unparseable_request_renders(rf, where):
    """The DEBUG page of Django's 400 for too many fields used to read GET/POST again and
    raise again: the exception escaped the handler, a 500. The data is shown as unreadable."""
    if where == "query":
        request = rf.get(f"/?{MANY}")
    else:
        request = rf.post("/", MANY, content_type="application/x-www-form-urlencoded")
    try:
        request.GET if where == "query" else request.POST  # noqa: B018 - what the view did
    except TooManyFieldsSent:
        response = technical_500_response(request, *sys.exc_info(), status_code=400)
    assert response.status_code == 400
    assert "TooManyFieldsSent" in response.content.decode()


def test_the_error_mail_of_an_unparseable_request_is_sent(rf, mailoutbox, admins):
    """django.security's ERROR line for too many fields is e-mailed like any other (the
    report used to raise inside the handler: no e-mail, and a 500 from the logging call)."""
    request = rf.get(f"/?{MANY}")
    try:
        request.GET  # noqa: B018
    except TooManyFieldsSent:
        rec = logging.LogRecord(
            "django.security.TooManyFieldsSent",
            logging.ERROR,
            __file__,
            1,
            "too many",
            (),
            sys.exc_info(),
        )
    rec.request = request
    mail_handler().handle(rec)
    [mail] = mailoutbox
    assert "(unreadable)" in mail.body and "TooManyFieldsSent" in mail.body


# --- Card numbers in any form, by every path to a log ("Card guard v2") ----------------------
#
# A card number reaches a log as a shopper typed it (dots, no-break spaces, en dashes,
# full-width digits), as a browser or a prober URL-encodes it (once, twice, a UTF-8 sequence
# per character), as a repr escapes it (Django's "Invalid HTTP_HOST header: %r", and the
# unicode_escape Django applies to the path in "Not Found: %s") and as a WSGI server decodes
# header bytes (latin-1). Each path below is taken with each form; `shows_card` is the judge,
# decoding independently of the scrubber.

MASKED = "************4242"
TYPED = {
    "dotted": "4242.4242.4242.4242",
    "nbsp": "4242\u00a04242\u00a04242\u00a04242",
    "narrow-nbsp": "4242\u202f4242\u202f4242\u202f4242",
    "en-dash": "4242\u20134242\u20134242\u20134242",
    "full-width": "\uff14\uff12\uff14\uff12" * 4,
}
URL_ENCODED = {
    "%20": "4242%204242%204242%204242",
    "plus": "4242+4242+4242+4242",
    "%2B": "4242%2B4242%2B4242%2B4242",
    "%2E": "4242%2E4242%2E4242%2E4242",
    "%2520": "4242%25204242%25204242%25204242",
    "%252D": "4242%252D4242%252D4242%252D4242",
    "%25252D": "4242%25252D4242%25252D4242%25252D4242",
    "%C2%A0": "4242%C2%A04242%C2%A04242%C2%A04242",
    "%E2%80%93": "4242%E2%80%934242%E2%80%934242%E2%80%934242",
    "%EF%BC%94": "%EF%BC%94%EF%BC%92%EF%BC%94%EF%BC%92" * 4,
    "%34%32": "%34%32%34%32" * 4,
}
ALL_FORMS = {**TYPED, **URL_ENCODED}


def shows_card(text: str) -> bool:
    """Could a reader of `text` recover CARD? URL-decoded three times, repr escapes and UTF-8
    read as latin-1 undone, every script's digits read as digits and every separator the
    detector knows dropped (stars are no separator: masked numbers stay apart)."""
    from urllib.parse import unquote_plus

    from security.cards import SEPARATORS

    for _ in range(3):
        text = unquote_plus(text)
    text = re.sub(
        r"\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})",
        lambda m: chr(int(m.group(1) or m.group(2), 16)),
        text,
    )

    def utf8(m: re.Match[str]) -> str:
        try:
            return m.group().encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return m.group()

    text = re.sub("[\xc2-\xf4][\x80-\xbf]+", utf8, text)
    text = re.sub(r"\d", lambda m: str(int(m.group())), text)
    text = re.sub(f"[{re.escape(SEPARATORS)}]", "", text)
    return CARD in text


def in_url(form: str) -> str:
    """`form` as a browser puts it in a URL: non-ASCII characters UTF-8 percent-encoded."""
    return form if form.isascii() else quote(form)


def as_header(form: str) -> str:
    """`form` sent as UTF-8 bytes in a header, as a WSGI server decodes it (latin-1)."""
    return form.encode("utf-8").decode("latin-1")


def test_the_judge_sees_every_form():
    """`shows_card` recovers the card from each form as it reaches a log, and not from its
    masked form (else the tests below would prove nothing)."""
    for form in ALL_FORMS.values():
        assert shows_card(form) and shows_card(in_url(form)) and shows_card(as_header(form))
        assert shows_card(form.encode("unicode_escape").decode("ascii"))
    assert not shows_card(f"{MASKED} {MASKED}.{MASKED}\u00a0{MASKED}")


@pytest.mark.parametrize("form", ALL_FORMS.values(), ids=ALL_FORMS.keys())
def test_scrub_masks_every_form(form):
    """Typed or URL-encoded, in a path or a query string, the number is masked and the rest of
    the line kept."""
    line = f"GET /pay/{in_url(form)}/?q={in_url(form)}&page=2 HTTP/1.1"
    out = scrub(line)
    assert not shows_card(out), out
    assert out == f"GET /pay/{MASKED}/?q={MASKED}&page=2 HTTP/1.1"
    for shown in (form, form.encode("unicode_escape").decode("ascii"), as_header(form)):
        assert scrub(f"x '{shown}' y") == f"x '{MASKED}' y", shown


def test_url_decoding_is_bounded_and_leaves_lookalikes():
    """Three rounds at most; an escape of a letter after a number glues it no less than
    before (that number is still masked, from the round before); plain text is untouched."""
    quadruple = "4242%2525252D4242%2525252D4242%2525252D4242"  # four rounds to a dash
    assert scrub(quadruple) == quadruple
    assert scrub(f"x {CARD}%2541 y") == f"x {MASKED}%2541 y"
    assert scrub("100% of 4242 orders, +66 81 234 5678") == "100% of 4242 orders, +66 81 234 5678"


def test_url_decoding_takes_bounded_rounds():
    """Long runs of escapes, half escapes and plus signs are decoded in a bounded number of
    rounds, each one pass of the detector over the text: counted, not timed (the bench times)."""
    from unittest import mock

    from security import logscrub

    for unit in ("%25", "%2", "%E2%80", "+", "%C2%A04242", "\\x", "\xc3"):
        with mock.patch.object(
            logscrub, "find_card_numbers", wraps=logscrub.find_card_numbers
        ) as detector:
            scrub(unit * 20_000)
        assert 1 <= detector.call_count <= 8, (unit, detector.call_count)


class _RecordTexts(logging.Handler):
    """A bare handler (no filter, no formatter): what any handler would get of each record."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append("\n".join(filter(None, [record.getMessage(), record.exc_text])))


@pytest.fixture
def django_logs():
    """A callable returning what the configured console handlers wrote and every record as a
    bare handler got it (records are scrubbed as they are made), while the test runs."""
    streams = {}
    for handler in configured_handlers("") + configured_handlers("django.server"):
        if isinstance(handler, logging.StreamHandler):
            streams[handler] = handler.setStream(io.StringIO())
    bare = _RecordTexts()
    watched = [logging.getLogger(""), logging.getLogger("django.server")]
    for logger in watched:
        logger.addHandler(bare)
    try:
        yield lambda: "\n".join(
            [cast(io.StringIO, h.stream).getvalue() for h in streams] + bare.texts
        )
    finally:
        for logger in watched:
            logger.removeHandler(bare)
        for handler, old in streams.items():
            handler.setStream(old)


@pytest.fixture
def without_card_guard(settings):
    """The card guard answers most of these requests itself; the scrubber is the last line,
    so these tests take the guard away and look at what Django logs."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "cardguard" not in m]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
@pytest.mark.parametrize("form", ALL_FORMS.values(), ids=ALL_FORMS.keys())
def test_not_found_logs_no_card_number(
    client, django_logs, without_card_guard, settings, debug, form
):
    """Django's "Not Found: <path>" (DEBUG off, and the technical 404 in development, which
    logs the same line; the page itself answers the one who sent the number)."""
    settings.DEBUG = debug
    response = client.get(f"/pay/{in_url(form)}/?q={in_url(form)}")
    assert response.status_code == 404
    logged = django_logs()
    assert "Not Found: /pay/" in logged
    assert not shows_card(logged), logged
    assert MASKED in logged


@pytest.mark.parametrize("form", ALL_FORMS.values(), ids=ALL_FORMS.keys())
def test_runserver_access_log_of_a_card_in_the_url_is_masked(django_logs, form):
    """runserver's access line ("django.server"), the request line as it came: percent-encoded,
    or raw bytes read as latin-1 (then unicode-escaped by Django)."""
    from django.core.servers.basehttp import WSGIRequestHandler

    for target in {in_url(form), as_header(form)}:
        handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
        handler.request, handler.client_address = None, ("127.0.0.1", 50000)
        handler.log_message('"%s" %s %s', f"GET /pay/{target}/?q={target} HTTP/1.1", "404", "179")
    logged = django_logs()
    assert '"GET /pay/' in logged and MASKED in logged
    assert not shows_card(logged), logged


HOSTS = {
    **TYPED,
    **{f"{name}-as-latin-1": as_header(form) for name, form in TYPED.items() if not form.isascii()},
    "%20": URL_ENCODED["%20"],
    "%2520": URL_ENCODED["%2520"],
    "plain": CARD,
}


@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
@pytest.mark.parametrize("host", HOSTS.values(), ids=HOSTS.keys())
def test_disallowed_host_logs_and_mails_no_card_number(
    client, django_logs, mailoutbox, settings, debug, host
):
    """ "Invalid HTTP_HOST header: %r" (a repr: a no-break space is written "\\xa0"), its
    traceback and, with DEBUG off, the error e-mail with the request's headers."""
    settings.DEBUG = debug
    settings.ADMINS = ["ops@example.com"]
    response = client.get("/", HTTP_HOST=host)
    assert response.status_code == 400
    logged = django_logs()
    assert "Invalid HTTP_HOST header" in logged and MASKED in logged
    assert not shows_card(logged), logged
    assert len(mailoutbox) == (0 if debug else 1)
    for mail in mailoutbox:
        html = mail.alternatives[0][0] if mail.alternatives else ""
        assert not shows_card(mail.subject + mail.body + str(html))


@pytest.mark.urls("tests.security.test_logscrub")
@pytest.mark.parametrize("form", ALL_FORMS.values(), ids=ALL_FORMS.keys())
def test_a_500_on_a_card_path_logs_and_mails_no_card_number(
    client, django_logs, mailoutbox, admins, settings, without_card_guard, form
):
    """End to end, DEBUG off: the error line, its traceback (the exception quotes the path) and
    the admins' e-mail (path, query string, GET, META) hold the number masked."""
    settings.DEBUG = False
    client.raise_request_exception = False
    response = client.get(
        f"/boom/{in_url(form)}/?q={in_url(form)}",
        HTTP_REFERER=f"https://x.example/?q={in_url(form)}",
    )
    assert response.status_code == 500
    logged = django_logs()
    assert "Internal Server Error: /boom/" in logged and MASKED in logged
    assert not shows_card(logged), logged
    [mail] = mailoutbox
    html = mail.alternatives[0][0] if mail.alternatives else ""
    assert "RuntimeError" in mail.body
    assert not shows_card(mail.subject), mail.subject
    assert not shows_card(mail.body), mail.body
    assert not shows_card(str(html))


@pytest.mark.parametrize("form", ALL_FORMS.values(), ids=ALL_FORMS.keys())
def test_admin_error_mail_with_a_card_in_the_path_and_query(rf, mailoutbox, admins, form):
    """ScrubbingAdminEmailHandler alone: subject, text and HTML reports of a request whose
    path and query string carry the number."""
    handler = ScrubbingAdminEmailHandler(include_html=True)
    handler.addFilter(ScrubFilter())
    request = rf.get(f"/pay/{in_url(form)}/?q={in_url(form)}&page=2")
    try:
        raise RuntimeError(f"failed for {request.get_full_path()}")
    except RuntimeError:
        rec = logging.LogRecord(
            "django.request",
            logging.ERROR,
            __file__,
            1,
            "Internal Server Error: %s",
            (request.get_full_path(),),
            sys.exc_info(),
        )
    rec.request = request
    handler.handle(rec)
    [mail] = mailoutbox
    html = mail.alternatives[0][0] if mail.alternatives else ""
    assert mail.subject.endswith(f"Internal Server Error: /pay/{MASKED}/?q={MASKED}&page=2")
    assert not shows_card(mail.subject) and not shows_card(mail.body), mail.body
    assert not shows_card(str(html))


# Gunicorn's access log, as gunicorn itself writes it: its Logger set up from
# deploy/gunicorn.conf.py (in a process of its own, as before Django is set up: dictConfig
# replaces the root logger's handlers), given requests whose target, User-Agent and Referer
# carry the number. Targets are percent-encoded (gunicorn refuses other bytes there); header
# values are latin-1 as gunicorn decodes them.
_GUNICORN_ACCESS = """
import json, runpy, sys
from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config
from gunicorn.glogging import Logger

conf = runpy.run_path("deploy/gunicorn.conf.py")
cfg = Config()
for name in ("accesslog", "errorlog", "logconfig_dict"):
    cfg.set(name, conf[name])
log = Logger(cfg)
for request in json.load(sys.stdin):
    headers = [("USER-AGENT", request["ua"]), ("REFERER", request["referer"])]
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": request["target"],
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_USER_AGENT": request["ua"],
        "HTTP_REFERER": request["referer"],
    }
    response = SimpleNamespace(status="404 Not Found", sent=179, headers=[])
    log.access(response, SimpleNamespace(headers=headers), environ, timedelta(milliseconds=3))
"""


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_gunicorn_access_log_masks_target_user_agent_and_referer(log_format):
    requests = []
    for form in ALL_FORMS.values():
        encoded = in_url(form)
        requests.append(
            {
                "target": f"/pay/{encoded}/?q={encoded}",
                "ua": f"Mozilla/5.0 (X11; card {as_header(form)})",
                "referer": f"https://shop.example/search/?q={encoded}",
            }
        )
    env = {**os.environ, "LOG_FORMAT": log_format, "PYTHONIOENCODING": "utf-8"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _GUNICORN_ACCESS],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(requests), done.stdout + done.stderr
    for name, line in zip(ALL_FORMS, lines, strict=True):
        if log_format == "json":
            line = json.loads(line)["message"]
        assert line.count(MASKED) == 4, (name, line)  # path, query, Referer, User-Agent
        assert not shows_card(line), (name, line)
        assert '"GET /pay/' in line and "Mozilla/5.0" in line, line
