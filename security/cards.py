"""The card detector: card numbers in any text, as people type them.

Pure Python over strings (no Django, no compiled code), shared by the card guard
(`security/cardguard.py`), which refuses requests carrying card data, and the log scrubber
(`security/logscrub.py`), which masks card numbers in every log record. Neither imports the
other. Field names are `security/card_fields.py`'s business.

`find_card_numbers(text)` finds, left to right and without overlap, every card number in a
text:

* **Digits of any script.** Python knows each decimal digit's value: full-width `４２４２`,
  Thai `๔๒๔๒`, Arabic-Indic, Persian, Devanagari, Bengali, Lao… count like ASCII digits, alone
  or mixed with them.
* **Any grouping, any separator.** Groups of digits joined by up to `MAX_SEPARATOR_RUN`
  separators: any Unicode whitespace (space, NBSP, narrow NBSP, ideographic space, tab,
  newline…), any dash or hyphen (en and em dash, minus sign, soft hyphen…), dots, and the
  invisible joiners a paste can carry (zero-width space, word joiner, BOM).
* **A window of whole groups** of 12 to 19 digits (a card number followed by its CVV is still
  found) whose prefix and length belong to a card network in `BRANDS` and whose Luhn sum holds.
  The longest valid window from a group wins, so a mask covers all of a 19-digit number.
* **A security code typed after the number** with a single dash or dot
  (`4242-4242-4242-4242-123`, `4242424242424242.123`): a window may also end before a token's
  last group of 3 or 4 digits, when number and code together are at most 19 digits (a longer
  run is an id); the match then spans the code too, so a log's mask hides it. A code glued to
  the number (`4242424242424242123`) is not told from an id of that length: not a card.

What is not a card number, whatever its digits:

* A stretch joined to an identifier: touching an ASCII letter, digit or underscore, or joined to
  one by a dash (`tokn_…`, `LG-2025…`); and groups chained by dashes to it.
* A window right after `+`: an international phone number.
* Part of a token joined by single dashes or dots (`081-234-5678`, `1-2345-67890-12-3`,
  `1.290.00`): a window starts and ends at a token's edges, never inside one.
* A 13-digit number that is a valid Thai national or tax ID (its 13th digit is the mod-11 check
  of the first twelve), however it is grouped, and every shorter window inside it: shoppers
  give it for tax invoices, and 13-digit cards are all but extinct. A longer card number that
  starts like one is still a card. Numbers of 11 digits or fewer (phones, postcodes,
  timestamps) are below the minimum.

Linear time: a first pass in C-speed builtins keeps only the runs of digits and separators in
which a window can start (`_regions`); one regular expression whose repetitions cannot overlap
(a digit, or a bounded run of separators then a digit) finds each stretch once; within a
stretch each group start tries at most one window per allowed length, looked up in constant
time. docs/card-guard.md has the brand table with its sources, the rules, the legitimate corpus
and the measurements.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from operator import mul

MIN_DIGITS, MAX_DIGITS = 12, 19
# Separators allowed in a row between two groups ("4242 - 4242", "4242\r\n4242").
MAX_SEPARATOR_RUN = 4

# --- The card networks ---------------------------------------------------------------------
# Brand → (prefix ranges, lengths). A range (low, high) is compared on the number's first
# len(low) digits, inclusive. From the public IIN ranges (ISO/IEC 7812 issuer identification
# numbers as the networks publish them; docs/card-guard.md lists the sources).
_ALL = range(12, 20)
BRANDS: dict[str, tuple[tuple[tuple[str, str], ...], frozenset[int]]] = {
    "visa": ((("4", "4"),), frozenset({16, 17, 18, 19})),
    "mastercard": ((("51", "55"), ("2221", "2720")), frozenset(range(16, 20))),
    "amex": ((("34", "34"), ("37", "37")), frozenset({15})),
    "jcb": ((("3528", "3589"),), frozenset(range(16, 20))),
    "unionpay": ((("62", "62"), ("8100", "8171")), frozenset(range(14, 20))),
    "diners": (
        (("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")),
        frozenset(range(14, 20)),
    ),
    "discover": ((("6011", "6011"), ("644", "649"), ("65", "65")), frozenset(range(16, 20))),
    "maestro": (
        (
            ("5018", "5018"),
            ("5020", "5020"),
            ("5038", "5038"),
            ("5893", "5893"),
            ("6304", "6304"),
            ("6759", "6759"),
            ("6761", "6763"),
        ),
        frozenset(_ALL),
    ),
    "mir": ((("2200", "2204"),), frozenset(range(16, 20))),
    "rupay": (
        (("60", "60"), ("65", "65"), ("81", "82"), ("508", "508"), ("353", "353"), ("356", "356")),
        frozenset({16}),
    ),
    "troy": ((("65", "65"), ("9792", "9792")), frozenset({16})),
    "verve": (
        (("506099", "506198"), ("507865", "507964"), ("650002", "650027")),
        frozenset({16, 18, 19}),
    ),
    "elo": (
        (
            ("401178", "401179"),
            ("431274", "431274"),
            ("438935", "438935"),
            ("451416", "451416"),
            ("457393", "457393"),
            ("457631", "457632"),
            ("504175", "504175"),
            ("506699", "506778"),
            ("509000", "509999"),
            ("627780", "627780"),
            ("636297", "636297"),
            ("636368", "636368"),
            ("650031", "650033"),
            ("650035", "650051"),
            ("650405", "650439"),
            ("650485", "650538"),
            ("650541", "650598"),
            ("650700", "650718"),
            ("650720", "650727"),
            ("650901", "650978"),
            ("651652", "651679"),
            ("655000", "655019"),
            ("655021", "655058"),
        ),
        frozenset({16}),
    ),
    "hipercard": (
        (("384100", "384100"), ("384140", "384140"), ("384160", "384160"), ("606282", "606282")),
        frozenset({13, 16, 19}),
    ),
    "dankort": ((("5019", "5019"),), frozenset({16})),
    "interpayment": ((("636", "636"),), frozenset(range(16, 20))),
    "instapayment": ((("637", "639"),), frozenset({16})),
    "lankapay": ((("357111", "357111"),), frozenset({16})),
    "uzcard": ((("8600", "8600"),), frozenset({16})),
    "humo": ((("9860", "9860"),), frozenset({16})),
    "gpn": (
        (("1946", "1946"), ("50", "50"), ("56", "56"), ("58", "58"), ("60", "63")),
        frozenset({16, 18, 19}),
    ),
    "borica": ((("2205", "2205"),), frozenset({16})),
}


def _expand(low: str, high: str) -> Iterator[str]:
    width = len(low)
    for value in range(int(low), int(high) + 1):
        yield str(value).zfill(width)


# Every prefix of every range → the brands (with their lengths) it opens: a number's brands are
# the entries of its first 1…7 digits, seven dictionary lookups.
_PREFIXES: dict[str, list[tuple[str, frozenset[int]]]] = {}
for _brand, (_ranges, _lengths) in BRANDS.items():
    for _low, _high in _ranges:
        for _prefix in _expand(_low, _high):
            _PREFIXES.setdefault(_prefix, []).append((_brand, _lengths))
_LONGEST_PREFIX = max(map(len, _PREFIXES))
_LENGTHS: dict[str, frozenset[int]] = {
    prefix: frozenset().union(*(lengths for _, lengths in entries))
    for prefix, entries in _PREFIXES.items()
}


def _lengths_for(digits: str, start: int = 0) -> frozenset[int]:
    """The lengths a card number starting at `digits[start:]` may have, by its prefix."""
    found: frozenset[int] = frozenset()
    for width in range(1, _LONGEST_PREFIX + 1):
        lengths = _LENGTHS.get(digits[start : start + width])
        if lengths:
            found = found | lengths
    return found


# The lengths by a window's first four digits, remembered; the few 4-digit
# prefixes that longer ranges (Elo, Verve, Hipercard…) refine are looked up digit by digit.
_SHALLOW = 4


@cache  # at most the 10,000 four-digit prefixes, each computed on first sight
def _lengths_by_4(prefix: str) -> tuple[int, ...]:
    return tuple(sorted(_lengths_for(prefix), reverse=True))


_DEEPER = frozenset(prefix[:_SHALLOW] for prefix in _LENGTHS if len(prefix) > _SHALLOW)


def _lengths_at(digits: str, start: int) -> tuple[int, ...]:
    """`_lengths_for(digits, start)`, longest first: one lookup for most prefixes."""
    prefix = digits[start : start + _SHALLOW]
    if prefix in _DEEPER:
        return tuple(sorted(_lengths_for(digits, start), reverse=True))
    return _lengths_by_4(prefix)


def card_brand(digits: str) -> str | None:
    """The network of these digits (most specific prefix first), or None; no Luhn check."""
    for width in range(min(_LONGEST_PREFIX, len(digits)), 0, -1):
        for brand, lengths in _PREFIXES.get(digits[:width], ()):
            if len(digits) in lengths:
                return brand
    return None


_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number satisfies (ASCII digits)."""
    data = digits.encode("ascii")
    return (sum(data[-1::-2]) + sum(data[-2::-2].translate(_DOUBLED)) - 48 * len(data)) % 10 == 0


def is_thai_national_id(digits: str) -> bool:
    """13 ASCII digits whose last is the mod-11 check digit of the first twelve: a Thai
    national ID, which is also the tax ID of a person (and, starting with 0, of a company)."""
    if len(digits) != 13 or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(int(d) * (13 - i) for i, d in enumerate(digits[:12]))
    return (11 - total % 11) % 10 == int(digits[12])


def is_card_number(digits: str) -> bool:
    """True for 12–19 ASCII digits of a known network's prefix and length with a valid Luhn
    sum, unless they are a Thai national ID."""
    return (
        MIN_DIGITS <= len(digits) <= MAX_DIGITS
        and digits.isascii()
        and digits.isdigit()
        and len(digits) in _lengths_for(digits)
        and luhn_ok(digits)
        and not is_thai_national_id(digits)
    )


# --- Reading text ----------------------------------------------------------------------------

_WHITESPACE = "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Soft hyphen, zero-width joiners, BOM, and the bidi marks a copy from a right-to-left app
# carries (LRM, RLM, embeddings, overrides, isolates).
_INVISIBLE = "\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
_DASH_CHARS = (
    "\\-\u058a\u05be\u1400\u1806\u2010-\u2015\u2053\u207b\u208b\u2212\u2e17\u2e1a\u2e3a\u2e3b"
    "\u2e40\u301c\u3030\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d"
)
_DOTS = ".\u00b7\u2024\u2027\u30fb\ufe52\uff0e\uff65"
_SEPARATOR_CLASS = f"[{_WHITESPACE}{_INVISIBLE}{_DASH_CHARS}{_DOTS}]"
# A stretch: digits joined by short runs of separators, at least MIN_DIGITS digits. Each
# repetition is "separators, then a digit": the two never overlap, so no backtracking blow-up.
_STRETCH = re.compile(rf"\d(?:{_SEPARATOR_CLASS}{{0,{MAX_SEPARATOR_RUN}}}\d){{{MIN_DIGITS - 1},}}")
_GROUP = re.compile(r"\d+")
_SEPARATOR = re.compile(_SEPARATOR_CLASS)
_DASH = re.compile(f"[{_DASH_CHARS}]")
# Every separator character, for callers that build text the detector must not join.
SEPARATORS = (
    "".join(chr(code) for code in range(0x3100) if _SEPARATOR.fullmatch(chr(code)))
    + "\ufe31\ufe32\ufe52\ufe58\ufe63\ufeff\uff0d\uff0e\uff65"
)


_DASHES = frozenset(char for char in SEPARATORS if _DASH.fullmatch(char))
_DASHED_TOKEN = re.compile(rf"\d+(?:[{_DASH_CHARS}]\d+)*")
_SINGLE_JOINT = re.compile(rf"(?<=\d)[{_DASH_CHARS}{_DOTS}](?=\d)")
_JOINTS = _DASHES | frozenset(_DOTS)


class _Normalise(dict):
    """`str.translate` table of a stretch: a digit of any script → its ASCII digit, a
    separator → nothing. Filled on first sight of each character (stretches hold few kinds)."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        value: str | None = char
        if _SEPARATOR.fullmatch(char):
            value = None
        elif char.isdecimal():
            value = str(unicodedata.decimal(char))
        self[code] = value
        return value


_NORMALISE = _Normalise()


@dataclass(frozen=True)
class CardMatch:
    start: int  # span in the scanned text, separators included
    end: int
    digits: str  # the number in ASCII digits, without separators

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
    if _DASH.fullmatch(text[index]):
        index += step
        return 0 <= index < len(text) and _is_word_char(text[index])
    return _is_word_char(text[index])


def find_card_numbers(text: str) -> Iterator[CardMatch]:
    """Every card number in `text`, left to right, non-overlapping (see the module docstring)."""
    for start, end in _regions(text):
        for stretch in _STRETCH.finditer(text, start, end):
            yield from _find_in_stretch(text, stretch.start(), stretch.end())


# The first pass, in C-speed builtins: the text's UTF-8 bytes as classes, "0" for what can be
# part of a stretch (an ASCII digit or separator, and any non-ASCII byte, since a digit or
# separator of another script is one) and "x" for the rest; a stretch lies in a run of at
# least MIN_DIGITS "0"s, which bytes.find locates, skipping prose at memchr speed.
_MAYBE = frozenset(b"0123456789\t\n\v\f\r\x1c\x1d\x1e\x1f -.") | frozenset(range(0x80, 0x100))
_CLASSES = bytes(ord("0") if byte in _MAYBE else ord("x") for byte in range(256))
_MIN_RUN = b"0" * MIN_DIGITS


# What a window of a card number must start with, as a bytes pattern over the run: a digit
# that starts a group (no digit, letter, "_" or "+" before it, nor a dash after one: an
# identifier's or a phone's), is some network's first digit (not 0 or 7), does not start a group
# of exactly five digits (a postcode: such a group starts no separated number), and has at least
# MIN_DIGITS digits from it in the stretch. Any byte of another script stands for a digit (a
# separator of another script is then counted as one: the test only ever lets more through).
_ANY_DIGIT = rb"[0-9\x80-\xff]"
_ASCII_SEPARATOR = rb"[\t\n\v\f\r\x1c-\x1f .-]"
_WINDOW_START = re.compile(
    rb"(?<![A-Za-z0-9_+])(?<![A-Za-z0-9_]-)["
    + "".join(sorted({prefix[0] for prefix in _LENGTHS})).encode()  # a network's first digit
    + rb"\x80-\xff]"
    + rb"(?![0-9]{4}(?!"
    + _ANY_DIGIT
    + rb"))"
    + rb"(?:"
    + _ASCII_SEPARATOR
    + rb"{0,4}"
    + _ANY_DIGIT
    + rb"){%d}" % (MIN_DIGITS - 1)
)


def _regions(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) in `text` of each run of characters that could hold a card number."""
    data = text.encode("utf-8", "surrogatepass")
    shape = data.translate(_CLASSES)
    ascii = len(data) == len(text)
    find, window_start, min_run = (
        shape.find,
        _WINDOW_START.search,
        _MIN_RUN,
    )  # ~1000 runs a 256 KiB form
    found = find(min_run)
    byte_at = char_at = 0  # a cursor mapping byte offsets to characters, forward only
    while found != -1:
        stop = find(b"x", found)
        if stop == -1:
            stop = len(shape)
        if not window_start(data, found, stop):
            pass  # no window can start here: "-20250101-0042" after "LG", a phone and postcode
        elif ascii:
            yield found, stop
        else:
            char_at += len(data[byte_at:found].decode("utf-8", "surrogatepass"))
            start = char_at
            char_at += len(data[found:stop].decode("utf-8", "surrogatepass"))
            byte_at = stop
            yield start, char_at
        found = find(min_run, stop)


def _find_in_stretch(text: str, start: int, end: int) -> Iterator[CardMatch]:
    if _DASHED_TOKEN.fullmatch(text, start, end) and (
        _joined_to_word(text, start - 1, -1)
        or _joined_to_word(text, end, +1)
        or (start > 0 and text[start - 1] == "+")
    ):
        return  # one dashed token glued to an identifier or a "+": all of it is theirs
    raw = text[start:end]
    joined = raw if raw.isascii() and raw.isdigit() else raw.translate(_NORMALISE)
    groups = [group.span() for group in _GROUP.finditer(text, start, end)]
    # cum[k]: digits before group k; a window of groups i..j is joined[cum[i]:cum[j + 1]].
    cum = list(accumulate((b - a for a, b in groups), initial=0))
    # Where a window may end: after a group not joined to the next by a single dash or dot.
    ends = set(cum)
    # Single dashes or dots between two digits: the joints inside a token, where no window
    # starts or ends (found by one regex pass; most stretches have none).
    joints = {joint.start() for joint in _SINGLE_JOINT.finditer(text, start, end)}
    if joints:
        ends.difference_update(cum[k + 1] for k, (_, b) in enumerate(groups) if b in joints)
    # Where a window may also end: before a token's last group of 3 or 4 digits joined by a
    # single dash or dot, a security code typed after the number (4242-…-4242-123). Mapped to
    # the token's end: number and code together are at most MAX_DIGITS digits (more is an id).
    code_ends = {
        cum[k]: cum[k + 1]
        for k in range(1, len(groups))
        if groups[k][0] - 1 in joints and cum[k + 1] in ends and cum[k + 1] - cum[k] in _CODE_SIZES
    }
    first, last = 0, len(groups) - 1
    if _joined_to_word(text, start - 1, -1) or (start > 0 and text[start - 1] == "+"):
        first = 1  # the first group belongs to what precedes it, and so do groups dashed to it
        while first <= last and _dashed(text, groups[first - 1][1], groups[first][0]):
            first += 1
    if _joined_to_word(text, end, +1):
        last -= 1
        while last >= first and _dashed(text, groups[last][1], groups[last + 1][0]):
            last -= 1
    last_stop = cum[last + 1] if last >= 0 else 0  # no window ends past the last free group
    luhn: _LuhnSums | None = None
    i = first
    # A window needs MIN_DIGITS digits up to the last group that may end one.
    while i <= last and last_stop - cum[i] >= MIN_DIGITS:
        offset = cum[i]
        limit = last_stop
        found = None
        # No number starts or ends inside a token joined by single dashes or dots
        # (081-234-5678, 1-2345-67890-12-3, 290.00): a token is a number whole or not at all.
        skip_to = 0  # a Thai ID found from here: its digits are no card's
        # Nor does a separated number start with a group of five digits: no network prints
        # one (4-4-4-4, 4-6-5, 4-6-4, 8-8 as people split it), and a postcode before a phone
        # number is no card. Such a group is a number on its own or not at all.
        alone = cum[i + 1] if groups[i][1] - groups[i][0] == 5 else 0
        if groups[i][0] - 1 not in joints:
            id_stop = offset + 13
            is_id = id_stop <= limit and id_stop in ends and _thai_id_at(joined, offset)
            for length in _lengths_at(joined, offset):
                stop = offset + length
                if length <= 13 and is_id:
                    skip_to = id_stop  # no shorter window of an ID is a card either
                    break
                if stop > limit or (alone and stop != alone):
                    continue
                if stop not in ends and not (
                    stop in code_ends
                    and code_ends[stop] - offset <= MAX_DIGITS
                    and code_ends[stop] <= limit  # a code glued to what follows is theirs
                ):
                    continue
                luhn = luhn or _LuhnSums(joined)  # built once a window is worth a sum
                if luhn.ok(offset, stop):
                    # The group it ends with; after a security code, the code's group, so
                    # that a mask covers the code too.
                    k = bisect_left(cum, stop) - 1 if stop in ends else bisect_right(cum, stop) - 1
                    found = CardMatch(groups[i][0], groups[k][1], joined[offset:stop])
                    break  # the longest valid window from this group
            else:
                skip_to = id_stop if is_id else 0
        if found:
            yield found
            while i <= last and groups[i][0] < found.end:
                i += 1  # its groups cannot start another number
        elif skip_to:
            while i <= last and cum[i] < skip_to:
                i += 1
        else:
            i += 1


# The lengths of a security code (3; 4 for American Express).
_CODE_SIZES = (3, 4)

_VALUE = bytes.maketrans(b"0123456789", bytes(range(10)))
_DOUBLED_VALUE = bytes.maketrans(b"0123456789", bytes([0, 2, 4, 6, 8, 1, 3, 5, 7, 9]))


class _LuhnSums:
    """The Luhn sum of any window of a digit string in constant time, from prefix sums of
    its digits and of their doubles, split by position parity (built in C-speed passes)."""

    def __init__(self, digits: str):
        data = digits.encode("ascii")
        plain, doubled = data.translate(_VALUE), data.translate(_DOUBLED_VALUE)
        # By the parity of a window's last digit: (its plain digits, its doubled digits).
        self.sums = [
            (self._prefix(plain, parity), self._prefix(doubled, 1 - parity)) for parity in (0, 1)
        ]

    @staticmethod
    def _prefix(values: bytes, parity: int) -> list[int]:
        kept = bytearray(len(values))
        kept[parity::2] = values[parity::2]
        return list(accumulate(kept, initial=0))

    def ok(self, start: int, stop: int) -> bool:
        """Luhn over digits[start:stop]: the last digit, and every second one back from it,
        count plain; the others doubled."""
        plain, doubled = self.sums[(stop - 1) % 2]
        return (plain[stop] - plain[start] + doubled[stop] - doubled[start]) % 10 == 0


_WEIGHTS = tuple(range(13, 1, -1))


def _thai_id_at(digits: str, start: int) -> bool:
    """`is_thai_national_id(digits[start:start + 13])`, on ASCII digits known to be there."""
    data = digits[start : start + 13].encode("ascii")
    total = sum(map(mul, data[:12], _WEIGHTS)) - 48 * 90  # 90: the weights' sum
    return (11 - total % 11) % 10 == data[12] - 48


def _dashed(text: str, gap_start: int, gap_end: int) -> bool:
    """Are two neighbouring groups joined by exactly one dash (an identifier's own joint)?"""
    return gap_end - gap_start == 1 and text[gap_start] in _DASHES


def first_card_number(text: str) -> CardMatch | None:
    return next(find_card_numbers(text), None)


# A stretch's first MIN_DIGITS digits: whether one exists, without reading the rest of it.
_STRETCH_START = re.compile(
    rf"\d(?:{_SEPARATOR_CLASS}{{0,{MAX_SEPARATOR_RUN}}}\d){{{MIN_DIGITS - 1}}}"
)


def might_hold_card_number(text: str) -> bool:
    """Might `text` hold a card number: a stretch of at least MIN_DIGITS digits, in a run where
    a window can start (the first pass)? A regex search per run, each stopping at the twelfth
    digit: where the numbers themselves are wanted, find_card_numbers costs no more."""
    return any(_STRETCH_START.search(text, start, end) for start, end in _regions(text))
