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


def test_cards_in_finds_the_new_forms():
    """Typed with dots, no-break or narrow no-break spaces, en dashes or full-width digits;
    URL-encoded once, twice or three times, `+` for a space, UTF-8 escapes; repr-escaped (as
    Django writes "Invalid HTTP_HOST header: %r" and the path of "Not Found"); UTF-8 read as
    latin-1 (a header value in gunicorn's access log): each is found, a test card or not."""
    forms = [
        "4242.4242.4242.4242",
        "4242\u00a04242\u00a04242\u00a04242",
        "4242\u202f4242\u202f4242\u202f4242",
        "4242\u20134242\u20134242\u20134242",
        "\uff14\uff12\uff14\uff12" * 4,
        "q=4242%204242%204242%204242",
        "q=4242%2B4242%2B4242%2B4242",
        "/pay/4242%25204242%25204242%25204242/",
        "/pay/4242%252D4242%252D4242%252D4242/",
        "/pay/4242%25252D4242%25252D4242%25252D4242/",
        "q=4242%2E4242%2E4242%2E4242",
        "q=4242%C2%A04242%C2%A04242%C2%A04242",
        "q=4242%E2%80%934242%E2%80%934242%E2%80%934242",
        "q=" + "%EF%BC%94%EF%BC%92%EF%BC%94%EF%BC%92" * 4,
        "Not Found: /pay/4242\\xa04242\\xa04242\\xa04242/",
        "Not Found: /pay/4242\\u20134242\\u20134242\\u20134242/",
        "Not Found: /pay/" + "\\uff14\\uff12\\uff14\\uff12" * 4 + "/",
        "Invalid HTTP_HOST header: '4242\\xa04242\\xa04242\\xa04242'.",
        '"Mozilla/5.0 (card 4242\u00c2\u00a04242\u00c2\u00a04242\u00c2\u00a04242)"',
    ]
    for form in forms:
        assert cards_in(form) == {"4242424242424242"}, form
    # Not a test card: found by the detector in the decoded text all the same.
    assert cards_in("q=4000%25200000%25200000%25200002") == {"4000000000000002"}
    # Masked numbers stay masked, however many: stars are no separator.
    assert cards_in("************4242 ************4242.************4242") == set()


def test_a_logged_new_form_is_an_offender():
    """The collector reports a record whose message carries one of them."""
    collector = CardLogCollector()
    collector.check(make_record("Not Found: %s", "/pay/4242%C2%A04242%C2%A04242%C2%A04242/"))
    collector.check(make_record("host %r", "4242\u00a04242\u00a04242\u00a04242"))
    assert [last4 for _, _, last4 in collector.offenders] == ["4242", "4242"]
