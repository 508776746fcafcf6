"""The whole-run log scan (tests/log_capture.py) is active and catches what it should.

The proof itself is the run: every test of the suite (checkout, sandbox, card guard…) logs
through the collector, and the session fails if any record carried an Omise test card. These
tests prove that the collector is installed and that it would catch a leak.
"""

import logging
import sys
from unittest import mock

from tests import log_capture
from tests.log_capture import CardLogCollector, cards_in


def make_record(msg, *args, exc_info=None, sinfo=None):
    return logging.LogRecord(
        "sandbox.vault", logging.DEBUG, __file__, 1, msg, args, exc_info, sinfo=sinfo
    )


def test_collector_observes_every_logger_for_this_run():
    """The plugin is loaded: records of every logger, an unconfigured one's DEBUG lines and a
    non-propagating one's included, reach the collector. Watched by name, since a server
    thread of an earlier test may log at the same moment."""
    seen, check = [], log_capture.collector.check

    def spy(record):
        seen.append(record.name)
        check(record)

    nobody = logging.getLogger("some.module.nobody.configured")
    nobody.setLevel(logging.DEBUG)
    with mock.patch.object(log_capture.collector, "check", spy):
        nobody.debug("a debug line")
        logging.getLogger("django.server").warning("a non-propagating logger")
    assert {"some.module.nobody.configured", "django.server"} <= set(seen)


def test_a_logged_test_card_is_caught_in_any_spacing():
    """Message, arguments, exception text and stack are all checked, spaced or dashed."""
    collector = CardLogCollector()
    collector.check(make_record("token for %s", "4242 4242 4242 4242"))
    collector.check(make_record("dashed 5555-5555-5555-4444"))
    try:
        raise ValueError("card 3530111333300000 declined")
    except ValueError:
        collector.check(make_record("charge failed", exc_info=sys.exc_info()))
    collector.check(make_record("x", sinfo="  number = '4111111111140011'"))
    assert [last4 for _, _, last4 in collector.offenders] == ["4242", "4444", "0000", "0011"]


def test_clean_records_and_deliberate_ones_pass():
    """Last digits, tokens and a record marked expected_card_data are not offenders."""
    collector = CardLogCollector()
    collector.check(make_record("card ending 4242, token tokn_test_5xp6ca7ud"))
    deliberate = make_record("scrubber test 4242424242424242")
    deliberate.expected_card_data = True
    collector.check(deliberate)
    assert collector.offenders == [] and collector.seen == 2


def test_cards_in_finds_card_numbers_not_long_ids():
    """The scan finds Omise's test cards in any spacing or URL encoding and any other valid
    card number, but not a long number that is no card (no brand, or a failed Luhn sum)."""
    text = (
        "4111-1111-1115-0002 and 4000000000000002, q=4242+4242+4242+4242&n=%35555"
        "555555554444; order 1234567890123456, ref 4242424242424241"
    )
    assert cards_in(text) == {
        "4111111111150002",
        "4000000000000002",
        "4242424242424242",
        "5555555555554444",
    }
