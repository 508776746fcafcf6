"""JSON log lines (LOG_FORMAT=json): one object per line, and still no card number or key."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from config.logformat import JsonFormatter
from security.logscrub import ScrubFilter

CARD = "4242424242424242"
MASKED = "************4242"
SECRET = "skey_test_5fakeabcdefghijklmn"


def log_through(*, filtered: bool, emit) -> list[dict]:
    """Run `emit(logger)` into a handler with the JSON formatter; returns the parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    if filtered:
        handler.addFilter(ScrubFilter())
    logger = logging.getLogger(f"tests.logformat.{filtered}")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    return [json.loads(line) for line in lines]


def test_each_record_is_one_json_object_with_time_level_logger_and_message():
    """A multi-line message still makes exactly one line of JSON with the four fields."""
    [entry] = log_through(
        filtered=True, emit=lambda log: log.warning("two\nlines for %s", "order LG-1")
    )
    assert entry["level"] == "WARNING" and entry["logger"] == "tests.logformat.True"
    assert entry["message"] == "two\nlines for order LG-1"
    assert entry["time"].endswith("+00:00") and "T" in entry["time"]
    assert "exception" not in entry


@pytest.mark.parametrize("filtered", [True, False], ids=["with ScrubFilter", "without"])
def test_message_and_exception_are_scrubbed(filtered):
    """A card number and a secret key in the arguments and in an exception are masked in the
    JSON, with the handler's ScrubFilter and even without it."""

    def emit(log):
        try:
            raise ValueError(f"card {CARD} key {SECRET}")
        except ValueError:
            log.exception(
                "charge failed for %s with %s", CARD, SECRET, extra={"expected_card_data": True}
            )

    [entry] = log_through(filtered=filtered, emit=emit)
    text = json.dumps(entry)
    assert CARD not in text and SECRET not in text
    assert MASKED in entry["message"] and "[redacted]" in entry["message"]
    assert "ValueError: card " + MASKED in entry["exception"]
    assert "Traceback" in entry["exception"]


def test_stack_info_is_included_and_scrubbed():
    """A record logged with stack_info carries the stack, scrubbed."""
    [entry] = log_through(filtered=False, emit=lambda log: log.info("here", stack_info=True))
    assert "Stack (most recent call last)" in entry["stack"]


def run_django(code: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}
    environment.update(DJANGO_SETTINGS_MODULE="tests.settings", **env)
    return subprocess.run(  # noqa: S603 - this interpreter, with code from this file
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


def test_log_format_json_makes_the_shops_console_log_json():
    """With LOG_FORMAT=json the configured console handler writes scrubbed JSON lines."""
    result = run_django(
        "import logging; "
        "logging.getLogger('checkout').warning('paid with %s', '4242 4242 4242 4242')",
        LOG_FORMAT="json",
    )
    assert result.returncode == 0, result.stderr
    [entry] = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert entry["logger"] == "checkout" and entry["level"] == "WARNING"
    assert entry["message"] == "paid with " + MASKED
    assert "4242 4242 4242 4242" not in result.stderr


def test_plain_is_the_default_and_other_formats_are_refused():
    """Without LOG_FORMAT lines are plain text; an unknown format stops the app at start."""
    plain = run_django("import logging; logging.getLogger('checkout').warning('hello')")
    assert plain.returncode == 0 and "WARNING checkout hello" in plain.stderr
    wrong = run_django("pass", LOG_FORMAT="xml")
    assert wrong.returncode != 0 and "LOG_FORMAT must be 'plain' or 'json'" in wrong.stderr


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_gunicorn_follows_log_format(log_format):
    """deploy/gunicorn.conf.py writes gunicorn's access and error lines as scrubbed JSON under
    LOG_FORMAT=json (one format from the whole process), and as plain text otherwise."""
    code = (
        "import logging.config, runpy; "
        "config = runpy.run_path('deploy/gunicorn.conf.py')['logconfig_dict']; "
        "logging.config.dictConfig(config); "
        "logging.getLogger('gunicorn.access').info("
        "'%s', 'GET /search?q=4242+4242+4242+4242 HTTP/1.1'); "
        "logging.getLogger('gunicorn.error').error('worker %s exited', 7)"
    )
    result = run_django(code, LOG_FORMAT=log_format)
    assert result.returncode == 0, result.stderr
    lines = [*result.stdout.splitlines(), *result.stderr.splitlines()]
    assert "4242+4242" not in result.stdout + result.stderr
    if log_format == "json":
        entries = {entry["logger"]: entry for entry in map(json.loads, lines)}
        assert entries["gunicorn.access"]["message"] == "GET /search?q=" + MASKED + " HTTP/1.1"
        assert entries["gunicorn.error"]["level"] == "ERROR"
    else:
        assert len(lines) == 2 and not any(line.startswith("{") for line in lines)
