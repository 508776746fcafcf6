"""The card detector (security/cards.py) against a reference that enumerates every window.

The reference reads the rules of the module docstring in the plainest way: it walks the text
character by character into stretches, tries every window of whole groups, and keeps the
longest valid one from the leftmost group. The detector must find exactly what it finds, on
text hypothesis builds from digits of several scripts, every kind of separator, letters,
identifiers and real card numbers typed in any grouping.
"""

import random
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from security.cards import (
    BRANDS,
    MAX_DIGITS,
    MAX_SEPARATOR_RUN,
    MIN_DIGITS,
    SEPARATORS,
    card_brand,
    find_card_numbers,
    is_card_number,
    is_thai_national_id,
    luhn_ok,
)

DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
DOTS = ".\u00b7\u2024\u2027\ufe52\uff0e"


# --- The reference ---------------------------------------------------------------------------


def _digit(char: str) -> str | None:
    return str(unicodedata.decimal(char)) if char.isdecimal() else None


def _ref_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _ref_thai_id(digits: str) -> bool:
    if len(digits) != 13:
        return False
    check = (11 - sum(int(d) * (13 - i) for i, d in enumerate(digits[:12])) % 11) % 10
    return check == int(digits[12])


def _ref_is_card(digits: str) -> bool:
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return False
    fits = any(
        low <= digits[: len(low)] <= high and len(digits) in lengths
        for ranges, lengths in BRANDS.values()
        for low, high in ranges
    )
    return fits and _ref_luhn(digits) and not _ref_thai_id(digits)


def _word(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def reference(text: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) of every card number, by enumeration."""
    found = []
    i, n = 0, len(text)
    while i < n:
        if _digit(text[i]) is None:
            i += 1
            continue
        # A stretch: groups of digits joined by at most MAX_SEPARATOR_RUN separators.
        groups, j = [], i
        while True:
            k = j
            while k < n and _digit(text[k]) is not None:
                k += 1
            groups.append((j, k))
            s = k
            while s < n and s - k < MAX_SEPARATOR_RUN + 1 and text[s] in SEPARATORS:
                s += 1
            if s < n and s - k <= MAX_SEPARATOR_RUN and _digit(text[s]) is not None and s > k:
                j = s
                continue
            break
        start, end = groups[0][0], groups[-1][1]
        i = end
        if sum(b - a for a, b in groups) < MIN_DIGITS:
            continue
        found.extend(_ref_windows(text, groups, start, end))
    return found


def _ref_blocked(text: str, index: int, step: int) -> bool:
    if not 0 <= index < len(text):
        return False
    if text[index] in DASHES:
        index += step
        return 0 <= index < len(text) and _word(text[index])
    return _word(text[index])


def _ref_windows(text, groups, start, end):
    def gap(a, b):
        return text[groups[a][1] : groups[b][0]]

    first, last = 0, len(groups) - 1
    if _ref_blocked(text, start - 1, -1) or (start > 0 and text[start - 1] == "+"):
        first = 1
        while first <= last and gap(first - 1, first) in set(DASHES):
            first += 1
    if _ref_blocked(text, end, +1):
        last -= 1
        while last >= first and gap(last, last + 1) in set(DASHES):
            last -= 1
    digits = ["".join(_digit(c) for c in text[a:b]) for a, b in groups]
    out, i = [], first
    while i <= last:
        best = None
        joints = set(DASHES) | set(DOTS)
        id_end = None
        if i == 0 or gap(i - 1, i) not in joints:
            windows = []  # (digits, end group) of every window from group i
            for k in range(i, last + 1):
                if k + 1 < len(groups) and gap(k, k + 1) in joints:
                    continue  # a window ends at a token's edge
                windows.append(("".join(digits[i : k + 1]), k))
            for window, k in windows:
                if len(window) == 13 and _ref_thai_id(window):
                    id_end = k  # an ID: no window of 13 digits or fewer from here is a card
            wide = groups[i][1] - groups[i][0] == 5
            # A security code after the number: a window may also end before a token's last
            # group of 3 or 4 digits after a single dash or dot, number and code at most
            # MAX_DIGITS digits; the match then spans the code.
            if not wide:
                for window, k in list(windows):
                    code = len(digits[k]) in (3, 4) and k > i and gap(k - 1, k) in joints
                    if code and len(window) <= MAX_DIGITS:
                        windows.append((window[: -len(digits[k])], k))
            for window, k in sorted(windows, key=lambda entry: len(entry[0])):
                if id_end is not None and len(window) <= 13:
                    continue
                if wide and k != i:
                    continue  # a group of five digits is a number alone
                if _ref_is_card(window):
                    best = (groups[i][0], groups[k][1], window)
        if best:
            out.append(best)
            while i <= last and groups[i][0] < best[1]:
                i += 1
        elif id_end is not None:
            i = id_end + 1
        else:
            i += 1
    return out


def found(text: str) -> list[tuple[int, int, str]]:
    return [(m.start, m.end, m.digits) for m in find_card_numbers(text)]


# --- Generators --------------------------------------------------------------------------------

SCRIPTS = {
    "ascii": "0123456789",
    "full-width": "０１２３４５６７８９",
    "thai": "๐๑๒๓๔๕๖๗๘๙",
    "arabic-indic": "٠١٢٣٤٥٦٧٨٩",
    "persian": "۰۱۲۳۴۵۶۷۸۹",
    "devanagari": "०१२३४५६७८९",
    "bengali": "০১২৩৪৫৬৭৮৯",
    "lao": "໐໑໒໓໔໕໖໗໘໙",
}
SEPARATOR_SAMPLES = " \u00a0\u202f\u3000\t\n\r" + DASHES + DOTS + "\u00ad\u200b\u2060\ufeff"


def brand_number(rnd: random.Random, brand: str) -> str:
    """A valid number of `brand`: a prefix from its ranges, a length it allows, Luhn-valid."""
    ranges, lengths = BRANDS[brand]
    low, high = rnd.choice(ranges)
    prefix = str(rnd.randint(int(low), int(high))).zfill(len(low))
    while True:
        length = rnd.choice(sorted(lengths))
        body = prefix + "".join(rnd.choice("0123456789") for _ in range(length - len(prefix) - 1))
        for check in "0123456789":
            if luhn_ok(body + check) and card_brand(body + check) and is_card_number(body + check):
                return body + check


def typed(rnd: random.Random, digits: str) -> str:
    """`digits` as a person might type them: a script, groups of any size, any separators."""
    script = SCRIPTS[rnd.choice(sorted(SCRIPTS))]
    chars = [script[int(d)] if rnd.random() < 0.8 else d for d in digits]
    out, i = [], 0
    while i < len(chars):
        # The first group is never of five digits (read as a postcode, not a card's start).
        sizes = [1, 2, 3, 4, 4, 4, 5, 6, len(chars)] if out else [1, 2, 3, 4, 4, 6, 8, len(chars)]
        size = rnd.choice(sizes)
        out.append("".join(chars[i : i + size]))
        i += size
    separator = "".join(rnd.choice(SEPARATOR_SAMPLES) for _ in range(rnd.randint(1, 2)))
    return separator.join(out)


ALPHABET = "0123456789" + "๔๒４２" + " \u00a0.-\u2013\t" + "abxyz_+:/,"
texts = st.text(st.sampled_from(ALPHABET), max_size=120)


# --- The detector agrees with the reference ------------------------------------------------------


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_the_detector_finds_what_the_reference_finds(text):
    assert found(text) == reference(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rnd=st.randoms(use_true_random=False), before=texts, after=texts)
def test_typed_card_numbers_in_any_text_agree_with_the_reference(rnd, before, after):
    number = brand_number(rnd, rnd.choice(sorted(BRANDS)))
    text = f"{before} {typed(rnd, number)} {after}"
    assert found(text) == reference(text)


@pytest.mark.parametrize("brand", sorted(BRANDS))
def test_every_network_is_found_in_every_script_and_grouping(brand):
    """200 numbers of each network, typed in a random script, grouping and separators."""
    rnd = random.Random(brand)
    for _ in range(200):
        number = brand_number(rnd, brand)
        text = f"my card {typed(rnd, number)} thanks"
        assert [digits for _, _, digits in found(text)] == [number], (brand, text)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_digits_of_each_script_alone_or_mixed_with_ascii(script):
    digits = SCRIPTS[script]
    native = "".join(digits[int(d)] for d in "4242424242424242")
    mixed = "".join(digits[int(d)] if n % 2 else d for n, d in enumerate("4242424242424242"))
    for text in (native, mixed, f"{native[:8]} {native[8:]}"):
        assert [m.digits for m in find_card_numbers(text)] == ["4242424242424242"], text


@pytest.mark.parametrize("separator", list(SEPARATOR_SAMPLES) + ["  ", " - ", "\r\n", ". "])
def test_every_separator_joins_groups(separator):
    text = separator.join(["4242", "4242", "4242", "4242"])
    assert [m.digits for m in find_card_numbers(f"pay {text} now")] == ["4242424242424242"]


def test_a_group_of_five_digits_starts_no_separated_number():
    """A 5-digit postcode followed by a phone number is no card, whatever Luhn says."""
    assert found("60200 073689625") == [] == reference("60200 073689625")
    assert found("57483 070440581") == []
    assert [m.digits for m in find_card_numbers("4242424242424242 123")] == ["4242424242424242"]


def test_more_separators_in_a_row_than_allowed_split_the_number():
    text = (" " * (MAX_SEPARATOR_RUN + 1)).join(["4242", "4242", "4242", "4242"])
    assert found(text) == []


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111110",  # Visa 19
        "411111111111111118",  # Visa 18
        "5555555555554444",  # Mastercard
        "2223000048400011",  # Mastercard 2-series
        "6759649826438453",  # Maestro 16
        "675964982643",  # Maestro 12
        "2200000000000004",  # Mir
        "6521000000000006",  # RuPay / Discover range
        "9792000000000001",  # Troy
        "5061000000000007",  # Verve
        "6362970000000005",  # Elo
        "6062820000000009",  # Hipercard
        "5019000000000007",  # Dankort
    ],
)
def test_networks_the_old_table_missed(number):
    if not luhn_ok(number):  # make the sample valid, whatever its last digit
        number = number[:-1] + next(d for d in "0123456789" if luhn_ok(number[:-1] + d))
    assert is_card_number(number), number
    assert [m.digits for m in find_card_numbers(f"card {number}")] == [number]


# --- What is not a card number ---------------------------------------------------------------


def thai_id(rnd: random.Random) -> str:
    body = str(rnd.randint(1, 8)) + "".join(rnd.choice("0123456789") for _ in range(11))
    check = (11 - sum(int(d) * (13 - i) for i, d in enumerate(body)) % 11) % 10
    return body + str(check)


def test_thai_national_ids_are_ids_even_when_luhn_and_a_prefix_fit():
    rnd = random.Random(13)
    ids = [thai_id(rnd) for _ in range(20_000)]
    assert all(is_thai_national_id(n) for n in ids)
    # Some of them do look like 13-digit Visa or Maestro numbers: they still pass.
    lookalikes = [n for n in ids if luhn_ok(n) and card_brand(n)]
    assert lookalikes
    for number in lookalikes:
        for text in (
            number,
            f"{number[0]}-{number[1:5]}-{number[5:10]}-{number[10:12]}-{number[12]}",
        ):
            assert found(f"tax id {text}") == [], text


@pytest.mark.parametrize(
    "text",
    [
        "tokn_test_4242424242424242",
        "LG-4242424242424242",
        "4242424242424242x",
        "+4242424242424242",
        "+66 81 234 5678 10200",
        "LG-2025-4242-4242-4242-4242",
        "081-234-5678 081-234-5678 10200",  # a window may not start inside a dashed token
        "1,290.00 1,530.00 2,400.00 12,000.00",
        "2026-12-04 10:30:00",
        "1733300000000",
        "4242 4242 4242 4241",  # Luhn fails
    ],
)
def test_identifiers_phones_and_lookalikes_are_not_cards(text):
    assert found(text) == [], text
    assert reference(text) == []


def test_the_reference_itself_can_fail():
    """A sanity check of the oracle: it finds a card, and misses nothing the rules allow."""
    assert reference("pay 4242 4242 4242 4242 now") == [(4, 23, "4242424242424242")]
    assert reference("LG-4242424242424242") == []


@pytest.mark.parametrize("pattern", ["4242 ", "4 ", "2001 ", "42-", "4\u00a0", "４２ "])
def test_the_work_per_group_is_bounded_whatever_the_text(pattern):
    """Linear time, counted rather than timed: each group start asks for its lengths once and
    tries at most one Luhn sum per length a network allows (8 at most, 12 to 19 digits)."""
    from unittest import mock

    from security import cards

    text = pattern * 20_000
    groups = len(cards._GROUP.findall(text))
    with (
        mock.patch.object(cards, "_lengths_at", wraps=cards._lengths_at) as lengths,
        mock.patch.object(
            cards._LuhnSums, "ok", autospec=True, side_effect=cards._LuhnSums.ok
        ) as sums,
    ):
        list(find_card_numbers(text))
    assert lengths.call_count <= groups
    assert sums.call_count <= 8 * groups


def test_thirteen_digit_barcodes_are_not_visa_cards():
    """Visa no longer issues 13-digit numbers, and EAN-13 barcodes of German goods (prefixes
    40-44) are Luhn-valid one time in ten: a shop's product data must pass."""
    rnd = random.Random(40)
    for _ in range(2_000):
        body = str(rnd.randint(40, 44)) + "".join(rnd.choice("0123456789") for _ in range(10))
        barcode = body + next(d for d in "0123456789" if luhn_ok(body + d))
        assert found(f"EAN {barcode}") == [], barcode


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u202a", "\u202c", "\u2066", "\u2069"])
def test_bidi_marks_from_a_right_to_left_app_join_groups(mark):
    text = f"{mark} ".join(["4242", "4242", "4242", "4242"])
    assert [m.digits for m in find_card_numbers(text)] == ["4242424242424242"]


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("4242-4242-4242-4242-123", "4242424242424242"),
        ("4242424242424242-123", "4242424242424242"),
        ("4242.4242.4242.4242.123", "4242424242424242"),
        ("5555\u20135555\u20135555\u20134444\u2013321", "5555555555554444"),
        ("3782-822463-10005-1234", "378282246310005"),  # American Express: a 4-digit code
        ("๔๒๔๒๔๒๔๒๔๒๔๒๔๒๔๒-๑๒๓", "4242424242424242"),
    ],
)
def test_a_security_code_dashed_after_the_number_is_found_and_masked_with_it(text, digits):
    [match] = find_card_numbers(text)
    assert (match.start, match.end, match.digits) == (0, len(text), digits)


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242-1234",  # 20 digits in one token: an id
        "4242424242424242123",  # glued: not told from a 19-digit id
        "4242-4242-4242-4242-12",  # two digits are no security code
        "4242 4242 4242 4242.123abc",  # "123" is glued to what follows: no code of this number
        "1-2345-67890-12-3",  # a Thai ID as printed
        "0-1055-61234-56-7",
    ],
)
def test_tokens_that_only_look_like_a_number_and_its_code_are_not(text):
    assert list(find_card_numbers(text)) == []


def test_many_stretches_in_one_long_region_are_each_read_once():
    """A long run of the first pass holds many stretches parted by letters such as é (a byte of
    another script may be a digit or separator): each is found and judged by the rules once,
    and the one card number among them is found."""
    from unittest import mock

    from security import cards

    text = "4242 4242 4242 4241é" * 300 + "4242 4242 4242 4242é" + "4242 4242 4242 4241é" * 300
    with mock.patch.object(cards, "_find_in_stretch", wraps=cards._find_in_stretch) as judged:
        assert [m.digits for m in find_card_numbers(text)] == ["4242424242424242"]
    assert judged.call_count == 601
    assert found(text) == reference(text)
