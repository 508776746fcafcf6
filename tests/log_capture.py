"""A pytest plugin: the whole test run fails if any log record carries an Omise test card.

Why: the checkout, the sandbox and the card guard handle Omise's test card numbers all through
the suite. If any code logs one (a debug line in the sandbox's vault, an exception message
quoting a request), this proves it, even when the log scrubber would have masked the output:
the code must never log a card number in the first place; the scrubber is the second line.

How:
* At session start every record is observed where the logging module hands it to handlers
  (`Logger.callHandlers`), so loggers that do not propagate to the root (django.server,
  gunicorn.*) and records that a handler's filter later rewrites are all seen raw. A handler
  on the root logger alone would miss both.
* The root logger is lowered to DEBUG for the run (a debug print is the typical leak); the
  handlers settings installed keep their previous threshold, so the terminal is unchanged.
* Each record's message, exception text and stack are checked at once (nothing is kept but the
  offenders) for the test cards of docs/omise-api.md with any separator, in any script's digits
  or encoding (URL escapes, double and triple; a repr's escapes; UTF-8 read as latin-1), and for
  any card number the card guard's detector (security.cards.find_card_numbers) finds in the
  text or in any of those decodings.
* At the end of the session, any offender is listed (masked) and the run's exit status is 1.

A test that logs a card number on purpose (to exercise the scrubber) passes
`extra={"expected_card_data": True}`.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from urllib.parse import unquote_plus

# Omise's test cards (docs/omise-api.md): the numbers the whole suite sends around.
TEST_CARDS = frozenset(
    {
        "4242424242424242",
        "5555555555554444",
        "3530111333300000",
        "4111111111140011",
        "4111111111130012",
        "4111111111120013",
        "4111111111110014",
        "4111111111190016",
        "4111111111180017",
        "4111111111160001",
        "4111111111150002",
        "4111111111140003",
    }
)
_formatter = logging.Formatter()


def record_text(record: logging.LogRecord) -> str:
    """Everything a formatter could write from this record: message, exception, stack."""
    try:
        text = record.getMessage()
    except Exception:
        text = f"{record.msg} {record.args!r}"
    if record.exc_info and record.exc_info[0] is not None:
        text += "\n" + _formatter.formatException(record.exc_info)
    if record.exc_text:
        text += "\n" + record.exc_text
    if record.stack_info:
        text += "\n" + record.stack_info
    return text


def cards_in(text: str) -> set[str]:
    """The card numbers in `text`: Omise's test cards however they are typed (any separator the
    detector knows, digits of any script) or encoded (URL escapes to three rounds, a repr's
    escapes, UTF-8 read as latin-1), and any other number the card guard's detector finds."""
    from security.cards import find_card_numbers
    from security.logscrub import decoded_views

    # The scrubber's own decoded views, and URL decoding by the standard library besides: a
    # bug in the scrubber's decoder must not hide a leak from the check of the scrubber.
    views = [text, *decoded_views(text)]
    decoded = text
    for _ in range(3):
        if "%" not in decoded and "+" not in decoded:
            break
        decoded, previous = unquote_plus(decoded), decoded
        if decoded == previous:
            break
        views.append(decoded)
    found = set()
    for view in views:
        squeezed = _squeezed(view)
        found.update(card for card in TEST_CARDS if card in squeezed)
        found.update(match.digits for match in find_card_numbers(view))
    return found


_DIGIT = re.compile(r"\d")


def _squeezed(text: str) -> str:
    """`text` without the detector's separators, its digits (any script) in ASCII."""
    text = text.translate(_separator_table())
    if not text.isascii():
        text = _DIGIT.sub(lambda m: str(int(m.group())), text)
    return text


@lru_cache(maxsize=1)
def _separator_table() -> dict[int, None]:
    from security.cards import SEPARATORS

    return dict.fromkeys(map(ord, SEPARATORS + "+"))


class CardLogCollector:
    """Observes every record handed to handlers; keeps only those carrying a test card."""

    def __init__(self):
        self.seen = 0
        self._count_lock = threading.Lock()  # live-server threads log too: no lost counts
        self.offenders: list[tuple[str, str, str]] = []  # (test id, logger, last 4 digits)
        self.current_test = "(outside a test)"
        self._original = None

    def check(self, record: logging.LogRecord) -> None:
        with self._count_lock:
            self.seen += 1
        if getattr(record, "expected_card_data", False):
            return
        for card in cards_in(record_text(record)):
            self.offenders.append((self.current_test, record.name, card[-4:]))

    def install(self) -> None:
        original = self._original = logging.Logger.callHandlers
        collector = self

        def call_handlers(logger, record):
            collector.check(record)
            return original(logger, record)

        logging.Logger.callHandlers = call_handlers
        root = logging.getLogger()
        for handler in root.handlers:
            if handler.level == logging.NOTSET:
                handler.setLevel(root.getEffectiveLevel())
        root.setLevel(logging.DEBUG)

    def uninstall(self) -> None:
        if self._original is not None:
            logging.Logger.callHandlers = self._original


collector = CardLogCollector()


def pytest_sessionstart(session):
    collector.install()


def pytest_runtest_logstart(nodeid, location):
    collector.current_test = nodeid


def pytest_sessionfinish(session, exitstatus):
    collector.uninstall()
    if collector.offenders:
        lines = [
            f"  {test}: logger {name!r} logged card ****{last4}"
            for test, name, last4 in collector.offenders
        ]
        print("\nCard numbers were logged (tests/log_capture.py):\n" + "\n".join(lines))
        session.exitstatus = 1
