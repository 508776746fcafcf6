"""The compiled first pass (security/_cardscan.c) leads to the same card numbers as the Python one.

Either way the card guard's rules are judged in Python; a first pass only names the stretches
worth judging, and the C one fewer of them, faster. Both are held to a reference that hands the
rules every stretch of digits, spaces and dashes: on every text below they find what it finds,
so neither pass can drop a card number the rules would report.
"""

import random
import re
import string
from unittest import mock

import pytest
from django.http import QueryDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from security import cardguard, cards
from tests.generated_cards import (
    card_number,
    card_value,
    legitimate_value,
    typed,
)
from tests.support import skip_or_fail

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Characters of one, two and four bytes each: Python stores a str in the narrowest that fits,
# and the C search has a loop for each.
WIDE = {"latin-1": "", "two bytes": "ก", "four bytes": "😀"}


@pytest.fixture(scope="module")
def compiled():
    if cards._compiled_candidates is None:
        skip_or_fail(
            "security/_cardscan.c is not built (`pip install -e .` needs a C compiler); "
            "the card guard runs its Python search"
        )
    return cards._compiled_candidates


def found(text: str, candidates) -> list[cards.CardMatch]:
    with mock.patch.object(cards, "_candidates", candidates):
        return list(cards.find_card_numbers(text))


def every_stretch(text: str) -> list[int]:
    """The reference first pass: the first digit of every stretch, passing nothing over."""
    return [stretch.start() for stretch in re.finditer(r"[0-9][0-9 -]*", text)]


def assert_same_findings(text: str, compiled) -> None:
    expected = found(text, every_stretch)
    assert found(text, compiled) == expected, text
    assert found(text, cards._python_candidates) == expected, text


def mixed_text(rnd: random.Random) -> str:
    """Card numbers, the shop's legitimate values, digits, words and glue, jumbled."""
    pieces = [
        lambda: card_value(rnd),
        lambda: typed(rnd, card_number(rnd)),
        lambda: legitimate_value(rnd),
        lambda: legitimate_value(rnd),
        lambda: "".join(rnd.choice(string.digits) for _ in range(rnd.randint(1, 24))),
        lambda: rnd.choice(["pay", "LG", "tokn_", "+", "_", "x", "ก", "€", "😀", "\u00a0"]),
    ]
    glue = ["", " ", "-", "  ", " - ", "\n", ", "]
    return "".join(rnd.choice(pieces)() + rnd.choice(glue) for _ in range(rnd.randint(1, 12)))


def test_the_guard_uses_the_compiled_search_when_it_is_built(compiled):
    """With security/_cardscan.c built, the guard's first pass is the compiled one, forms'
    screen included."""
    assert cards._candidates is compiled
    assert cards._compiled_any_candidate is not None


@pytest.mark.parametrize("kind", WIDE)
def test_compiled_candidates_are_the_starts_of_stretches_that_could_hold_a_card(compiled, kind):
    """The compiled pass names the first digit of each stretch worth judging, in text of every
    character width, and no stretch whose windows cannot be card numbers."""
    lead = WIDE[kind]
    text = f"{lead}pay 4242-4242 4242 4242 or call 0812345678 ref 1234567890123 ok 4111111111111111"
    assert compiled(text) == [len(lead) + 4, len(text) - 16]
    # 4533 074228608 passes Luhn; that it belongs to the order reference is judged in Python.
    assert compiled(f"{lead}LG-20254256-4533 074228608") == [len(lead) + 3]
    assert compiled(f"{lead}" + "0812345678 " * 3) == []  # phones: no window starts with 0
    assert compiled(f"{lead}4242 4242 4242 4241") == []  # fails Luhn


def test_compiled_candidates_take_only_text(compiled):
    """Bytes are refused with a clear error, not read as characters."""
    with pytest.raises(TypeError, match="takes a str"):
        compiled(b"4242424242424242")


@PROPERTY
@given(st.randoms(use_true_random=False))
def test_compiled_and_python_searches_find_the_same_card_numbers(compiled, rnd):
    """Card numbers of every brand and layout among the shop's own values, digits and words:
    the same findings, at the same places, with either first pass."""
    assert_same_findings(mixed_text(rnd), compiled)


@PROPERTY
@given(st.text(alphabet="0123456789 -+_aก😀\n", max_size=120))
def test_compiled_and_python_searches_agree_on_any_digits_and_separators(compiled, text):
    """Random digits, separators and glue characters (dense with Luhn-valid windows): the
    same findings with either first pass."""
    assert_same_findings(text, compiled)


@pytest.mark.parametrize("kind", WIDE)
def test_compiled_and_python_searches_agree_on_adversarial_input(compiled, kind):
    """100 KB of digit groups and separators, where every group starts windows."""
    rnd = random.Random(11)
    text = WIDE[kind] + "".join(
        f"{rnd.randint(0, 99999):0{rnd.choice((4, 4, 5))}d}{rnd.choice([' ', '-', '  '])}"
        for _ in range(20_000)
    )
    assert_same_findings(text, compiled)


@pytest.mark.parametrize("kind", WIDE)
def test_the_passes_find_a_card_wherever_the_probes_fall(compiled, kind):
    """A card number at each offset in prose (the compiled pass probes every 13th character),
    at the very end of the text, after a group that makes the run too long, or among stretches
    long enough but short of 13 digits."""
    lead = WIDE[kind]
    for card in ("4242424242424242", "4242 4242 4242 4242", "3782-822463-10005"):
        for offset in range(26):
            assert_same_findings(f"{lead}{'word ' * 3}{'x' * offset} {card} done", compiled)
            assert_same_findings(f"{lead}{'x' * offset} {card}", compiled)  # ends the text
    for offset in range(26):  # a stretch of exactly 13 characters: one probe can catch it
        assert found(f"{lead}{'x' * offset}(4222222222222)", compiled) != []
    for text in (
        "14242424242424242",
        "4242 4242 4242 4242 4242",
        "1234 5678 9012 3 4242",
        "12-34-56-78-90-12 4242424242424242",
        "0" * 12 + "  ---  4111111111111111",
        "4242424242424242424242",
        "4242 4242 4242 4242 123",
    ):
        assert_same_findings(lead + text, compiled)


# --- A form's names and values where they are: any_candidate --------------------------------


@pytest.fixture(scope="module")
def any_candidate(compiled):
    return cards._compiled_any_candidate


def random_form(rnd: random.Random) -> list[tuple[str, list[str]]]:
    """(name, values) pairs as QueryDict.lists() yields them: mixed text in names and values,
    some names with several values, some with none."""
    return [
        (
            mixed_text(rnd) if rnd.random() < 0.2 else f"field{n}",
            [mixed_text(rnd) for _ in range(rnd.choice((0, 1, 1, 1, 2, 3)))],
        )
        for n in range(rnd.randint(0, 6))
    ]


@PROPERTY
@given(st.randoms(use_true_random=False))
def test_any_candidate_reads_every_name_and_value_of_a_form(any_candidate, compiled, rnd):
    """True exactly when some name or value holds a stretch the compiled pass names."""
    form = random_form(rnd)
    expected = any(compiled(name) or any(map(compiled, values)) for name, values in form)
    assert any_candidate(iter(form)) is expected
    # ...which is what searching all of them joined, one per line, would say.
    joined = "\n".join([name for name, _ in form] + [v for _, values in form for v in values])
    assert expected is bool(compiled(joined))


@PROPERTY
@given(st.randoms(use_true_random=False))
def test_scanning_a_form_finds_the_same_with_or_without_the_compiled_pass(compiled, rnd):
    """scan_fields reports the same finding whether the compiled pass screens the form first
    or the Python search reads it all."""
    fields = QueryDict(mutable=True)
    for name, values in random_form(rnd):
        fields.setlistdefault(name).extend(values)
    with (
        mock.patch.object(cards, "_compiled_any_candidate", None),
        mock.patch.object(cards, "_candidates", cards._python_candidates),
    ):
        expected = cardguard.scan_fields(fields, "form")
    assert cardguard.scan_fields(fields, "form") == expected


def test_any_candidate_leaves_what_it_cannot_read_to_the_full_search(any_candidate):
    """A name or value that is no str, values that are a bare str (not a list), or an entry
    that is no (name, values) pair: True, so Python judges them. Nothing at all: False."""
    assert any_candidate([("note", [4242424242424242])]) is True
    assert any_candidate([("note", "hi")]) is True
    assert any_candidate([(42, ["hi"])]) is True
    assert any_candidate([("note", ["hi"], "extra")]) is True
    assert any_candidate([("note", ["hi"]), ("card", [])]) is False
    assert any_candidate([]) is False


def test_any_candidate_passes_on_an_error_from_the_form(any_candidate):
    """An error raised while the form is read reaches the caller, not a silent False."""

    def pairs():
        yield "note", ["hi"]
        raise RuntimeError("broken form")

    class BrokenValues(list):
        def __iter__(self):
            raise RuntimeError("broken values")

    with pytest.raises(RuntimeError, match="broken form"):
        any_candidate(pairs())
    with pytest.raises(RuntimeError, match="broken values"):
        any_candidate([("note", BrokenValues(["hi"]))])
    with pytest.raises(TypeError):
        any_candidate(42)
