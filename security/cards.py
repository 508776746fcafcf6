"""The card detector: card numbers in any text, and the names card forms give their fields.

Pure Python over strings (no Django), shared by the card guard (`security/cardguard.py`),
which refuses requests carrying card data, and the log scrubber (`security/logscrub.py`),
which masks card numbers in every log record. Neither imports the other.

* `find_card_numbers(text)` finds card numbers inside any text: runs of 13–19 ASCII digits,
  optionally split by single spaces or dashes, that pass the Luhn check and carry a known
  brand prefix and length (Visa, Mastercard incl. the 2-series, Amex, JCB, UnionPay, Diners,
  Discover). It works left to right in time linear in the text (no backtracking blow-up).
  A first pass names the stretches of digits worth judging: compiled from security/_cardscan.c
  where a C compiler was at hand at install time, in Python otherwise; both lead to the same
  findings (tests/security/test_cardguard_compiled.py), the compiled one about ten times faster.
* `is_card_field(name)` recognises the names real card forms give their fields
  (`card_number`, `cardNumber`, `cc-number`, `card[number]`, `cvv`, `security_code`,
  `expiration_month`, `exp_year`, …), but not the shop's legitimate ones (`card` holding a
  `tokn_` id, `omise_token`, `card_last_digits`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

# --- Card numbers ------------------------------------------------------------------------------

MIN_DIGITS, MAX_DIGITS = 13, 19

# Brand → (prefix ranges as (low, high) over the first N digits, allowed lengths).
# Ranges are inclusive and compared on a prefix of the same width as the bounds.
BRANDS: dict[str, tuple[tuple[tuple[str, str], ...], frozenset[int]]] = {
    "visa": ((("4", "4"),), frozenset({13, 16, 19})),
    "mastercard": ((("51", "55"), ("2221", "2720")), frozenset({16})),
    "amex": ((("34", "34"), ("37", "37")), frozenset({15})),
    "jcb": ((("3528", "3589"),), frozenset(range(16, 20))),
    "unionpay": ((("62", "62"),), frozenset(range(16, 20))),
    "diners": (
        (("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")),
        frozenset(range(14, 20)),
    ),
    "discover": ((("6011", "6011"), ("644", "649"), ("65", "65")), frozenset(range(16, 20))),
}

# A run of digit groups joined by at most one space or dash, at least 13 digits long. Each
# repetition consumes "digit" or "separator digit" with no overlap between the alternatives,
# so the engine never backtracks more than the 13-digit minimum: linear in the text.
_RUN = re.compile(r"[0-9](?:[ -]?[0-9]){12,}")
# The first pass in Python (`_python_candidates`, used where security/_cardscan.c is not built),
# with C-speed builtins: each character is mapped to "0" if it can be part of a card number as
# printed (a digit, a space, a dash) and to "x" otherwise; a card number then lies in a run of
# at least 13 "0"s, which bytes.find locates (a needle of one byte value skips fast over
# prose). Only runs that really hold a window (checked by a regex) reach the precise rules.
_CLASSES = bytes(ord("0") if chr(i) in "0123456789 -" else ord("x") for i in range(256))
_MIN_RUN = b"0" * 13
# A window's own shape, checked by that regex at each run.
# Only at the start of a group of digits: a number starts with a group (13 plain digits, or a
# printed group of four); inside a group, no window starts.
_WINDOW = re.compile(r"(?<![0-9])(?:[0-9]{13}|[0-9]{4}[ -][0-9](?:[ -]?[0-9]){8})")
# The rest of a stretch of digits, spaces and dashes, from a given position.
_STRETCH_TAIL = re.compile(r"[0-9 -]*")
_DIGITS = "0123456789"
_STRETCH_CHARS = "0123456789 -"
_GROUP = re.compile(r"[0-9]+")


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number satisfies."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The brand whose prefix and length match these digits, or None (no Luhn check here)."""
    for brand, (ranges, lengths) in BRANDS.items():
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            if low <= digits[: len(low)] <= high:
                return brand
    return None


def is_card_number(digits: str) -> bool:
    """True for 13–19 plain digits with a known brand prefix and length and a valid Luhn sum."""
    return (
        MIN_DIGITS <= len(digits) <= MAX_DIGITS
        and digits.isascii()
        and digits.isdigit()
        and card_brand(digits) is not None
        and luhn_ok(digits)
    )


@dataclass(frozen=True)
class CardMatch:
    start: int  # span in the scanned text, separators included
    end: int
    digits: str  # the number without separators

    @property
    def last4(self) -> str:
        return self.digits[-4:]


def _is_word_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _joined_to_word(text: str, index: int, step: int) -> bool:
    """Is the character at `index` a word character, or a dash followed (in the direction of
    `step`) by one? Out of range is not."""
    if not 0 <= index < len(text):
        return False
    if text[index] == "-":
        index += step
        return 0 <= index < len(text) and _is_word_char(text[index])
    return _is_word_char(text[index])


def find_card_numbers(text: str) -> Iterator[CardMatch]:
    """Every card number in `text`, left to right, non-overlapping.

    A candidate is a whole-group window of a digit run (so "4242 4242 4242 4242 123", a
    number followed by its CVV, is still found). A number split by separators must start with
    a group of four digits, as every brand prints it (4-4-4-4, Amex 4-6-5, Diners 4-6-4):
    this keeps "3 34000 0812345678" (quantity, postcode, phone) from being read as one number.
    A window that touches a letter, digit or underscore, or is joined to one by a dash, is
    part of an identifier (`tokn_…`, `LG-2025…`); one right after a `+` is an international
    phone number: neither is a card number. A plain run of more than 19 digits is an id.
    """
    positions = _candidates(text)
    # The compiled pass answers most text with an empty list: nothing to judge, no generator.
    return _find_at(text, positions) if positions else iter(())


def _find_at(text: str, positions: Iterable[int]) -> Iterator[CardMatch]:
    """The card numbers in the stretches around `positions` (the first pass's, one per
    stretch, in ascending order)."""
    for position in positions:
        start, end = _stretch_around(text, position, position + 1)
        yield from _find_in_stretch(text, start, end)


def _shape(text: str) -> bytes:
    """`text` as character classes, one byte per character. latin-1 with "replace" keeps one
    byte per character (anything else becomes "?", which is no digit), so positions line up."""
    return text.encode("latin-1", "replace").translate(_CLASSES)


def _python_candidates(text: str) -> Iterator[int]:
    """Positions in `text` where a card-number window starts: one per stretch of digits,
    spaces and dashes that holds one (the stretch is then examined whole)."""
    shape = _shape(text)
    found = shape.find(_MIN_RUN)
    while found != -1:
        end = shape.find(b"x", found)  # the stretch ends at the next other character
        if end == -1:
            end = len(shape)
        window = _WINDOW.search(text, found, end)
        if window:
            yield window.start()
        found = shape.find(_MIN_RUN, end)


try:
    # The same first pass in C (security/_cardscan.c), built by `pip install -e .`: it skips most
    # prose unread and also drops stretches whose windows all fail the Luhn check, so the rules
    # below judge a handful of stretches where the Python search hands them thousands.
    from security import _cardscan
except ImportError:  # built without a C compiler: the Python search, same findings
    _compiled_candidates: Callable[[str], list[int]] | None = None
    _compiled_any_candidate: Callable[[Iterable[tuple[str, list[str]]]], bool] | None = None
else:
    _compiled_candidates = getattr(_cardscan, "candidates", None)
    # Missing from a module built before the C source gained it: forms are then joined and
    # searched whole, still compiled (the system check shop.W002 says to rebuild).
    _compiled_any_candidate = getattr(_cardscan, "any_candidate", None)

_candidates: Callable[[str], Iterable[int]] = _compiled_candidates or _python_candidates


def fields_need_judging(lists: Iterable[tuple[str, list[str]]]) -> bool:
    """False when the compiled first pass finds nothing worth judging in a form's names and
    values, read where they are; True otherwise (and always without the compiled pass)."""
    return _compiled_any_candidate is None or bool(_compiled_any_candidate(lists))


def _stretch_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The whole stretch of digits, spaces and dashes around a candidate, digit to digit."""
    while start > 0 and text[start - 1] in _STRETCH_CHARS:
        start -= 1
    tail = _STRETCH_TAIL.match(text, end)
    assert tail is not None  # "[0-9 -]*" matches anywhere, if only the empty string
    end = tail.end()
    while text[start] not in _DIGITS:
        start += 1
    while text[end - 1] not in _DIGITS:
        end -= 1
    return start, end


def _find_in_stretch(text: str, start: int, end: int) -> Iterator[CardMatch]:
    stretch = text[start:end]
    if len(stretch) - stretch.count(" ") - stretch.count("-") < MIN_DIGITS:
        return  # e.g. "12 - 34 - 56 - 78": long enough, but too few digits
    for run in _RUN.finditer(text, start, end):
        groups = [(g.start(), g.end()) for g in _GROUP.finditer(text, run.start(), run.end())]
        run_start, run_end = run.start(), run.end()
        start_blocked = _joined_to_word(text, run_start - 1, -1) or (
            run_start > 0 and text[run_start - 1] == "+"
        )
        end_blocked = _joined_to_word(text, run_end, +1)
        # Groups chained by dashes to a blocked start or end belong to that identifier too:
        # in "LG-20254256-4533 0742286081" no window may start at 4533.
        first_free = 0
        if start_blocked:
            first_free = 1
            while first_free < len(groups) and text[groups[first_free][0] - 1] == "-":
                first_free += 1
        last_free = len(groups) - 1
        if end_blocked:
            last_free -= 1
            while last_free >= 0 and text[groups[last_free][1]] == "-":
                last_free -= 1
        i = 0
        while i < len(groups):
            found = None
            if i >= first_free:
                digits = ""
                # A separated number starts with a 4-digit group; otherwise only the group
                # itself can be a (plain) number.
                last = (
                    last_free + 1 if groups[i][1] - groups[i][0] == 4 else min(i + 1, last_free + 1)
                )
                # At most 19 digits per window, so this inner loop is bounded: linear overall.
                for j in range(i, last):
                    digits += text[groups[j][0] : groups[j][1]]
                    if len(digits) > MAX_DIGITS:
                        break
                    if len(digits) < MIN_DIGITS:
                        continue
                    if card_brand(digits) and luhn_ok(digits):
                        # Keep extending: the longest valid window from this group wins,
                        # so a log mask covers all of a 19-digit number, not a lucky head.
                        found = CardMatch(groups[i][0], groups[j][1], digits)
            if found:
                yield found
                # continue after this number; its groups cannot start another one
                while i < len(groups) and groups[i][0] < found.end:
                    i += 1
            else:
                i += 1


def first_card_number(text: str) -> CardMatch | None:
    return next(find_card_numbers(text), None)


def might_hold_card_number(text: str) -> bool:
    """Does the first pass name any stretch worth the precise rules? It reads the whole text:
    where the numbers themselves are wanted, find_card_numbers costs no more."""
    return next(iter(_candidates(text)), None) is not None
