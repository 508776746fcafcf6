"""Properties of the card guard: every generated card number is refused on every carrier, and
every legitimate value the shop posts passes, with a measured false-positive rate of zero.

The generators are plain functions of a `random.Random`, driven by hypothesis (`st.randoms()`)
for the properties and by a seeded Random for the false-positive corpus: one definition of
"a card number" and of "a legitimate value" for both.
"""

import json
import random
from urllib.parse import urlencode

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from security.cardguard import CardGuardMiddleware
from security.cards import find_card_numbers, is_card_number
from tests.generated_cards import (
    LEGITIMATE_FAMILIES,
    card_number,
    card_value,
    failing_long_number,
    json_values,
    legitimate_corpus,
    legitimate_value,
    random_name,
    shop_name,
)

pytestmark = pytest.mark.django_db
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CARRIERS = ["query", "form", "multipart", "json"]


def nested(rnd: random.Random, value, name: str):
    """`{name: value}` buried 0–5 levels deep in objects and lists."""
    document = {name: value}
    for _ in range(rnd.randint(0, 5)):
        document = [document] if rnd.random() < 0.3 else {shop_name(rnd): document}
    return document


def send(carrier: str, name: str, value, rnd: random.Random):
    """The request carrying `name=value` on `carrier`, through the guard; (status, view ran)."""
    factory, ran = RequestFactory(), []

    def view(request):
        ran.append(True)
        return HttpResponse("ok")

    if carrier == "query":
        request = factory.get("/", {name: value})
    elif carrier == "form":
        request = factory.post(
            "/",
            urlencode({name: value, "product": "mug"}),
            content_type="application/x-www-form-urlencoded",
        )
    elif carrier == "multipart":
        request = factory.post("/", {name: value, "product": "mug"})
    else:
        # A JSON number, where it is the same digits (int() would drop a leading zero and
        # turn, say, the id "0656…" into a different, possibly card-shaped, number).
        if rnd.random() < 0.3 and value.isdigit() and not value.startswith("0"):
            value = int(value)
        request = factory.post(
            "/", json.dumps(nested(rnd, value, name)), content_type="application/json"
        )
    response = CardGuardMiddleware(view)(request)
    return response.status_code, bool(ran)


# --- Properties --------------------------------------------------------------------------------


@pytest.mark.parametrize("carrier", CARRIERS)
@PROPERTY
@given(rnd=st.randoms(use_true_random=False))
def test_every_card_number_is_refused_on_every_carrier(carrier, rnd):
    """Any brand, any length, any typing, any field name, any carrier: refused, view not run."""
    assert send(carrier, random_name(rnd), card_value(rnd), rnd) == (400, False)


@pytest.mark.parametrize("carrier", CARRIERS)
@PROPERTY
@given(rnd=st.randoms(use_true_random=False))
def test_legitimate_values_are_never_refused(carrier, rnd):
    """Omise ids, references, phones, postal codes, quantities, times, failing numbers: pass."""
    assert send(carrier, shop_name(rnd), legitimate_value(rnd), rnd) == (200, True)


@PROPERTY
@given(rnd=st.randoms(use_true_random=False))
def test_generated_cards_are_valid_and_lookalikes_are_not(rnd):
    """The generators themselves: cards are valid numbers, long lookalikes are not."""
    assert is_card_number(card_number(rnd))
    assert not is_card_number(failing_long_number(rnd))


def test_false_positive_rate_on_a_generated_corpus_is_zero():
    """20,000 legitimate values (seeded, reproducible): the detector finds no card in any, and
    finds a card in every one of 5,000 generated card values (rates printed with -s)."""
    rnd = random.Random(20250101)
    corpus = [legitimate_value(rnd) for _ in range(20_000)]
    false_positives = [v for v in corpus if list(find_card_numbers(v))]
    cards = [card_value(rnd) for _ in range(5_000)]
    missed = [v for v in cards if not list(find_card_numbers(v))]
    print(
        f"\nfalse positives: {len(false_positives)}/{len(corpus)} "
        f"({len(false_positives) / len(corpus):.4%}); "
        f"missed cards: {len(missed)}/{len(cards)}"
    )
    assert false_positives == []
    assert missed == []


# --- The legitimate corpus (docs/card-guard.md, "What must pass") -------------------------------

CORPUS_SEED = 20261204
CORPUS_SIZE = 110_000  # 10,000 of each of the 11 families, notes (several values) included
# The form field each family is posted in.
FIELD_OF = {
    "thai_id": "tax_id",
    "thai_mobile": "phone",
    "thai_landline": "phone",
    "postcode": "postal_code",
    "order_reference": "reference",
    "date_time": "created",
    "unix_timestamp": "created",
    "omise_id": "omise_token",
    "amount": "amount",
    "quantity": "quantity",
    "note": "note",
}


def corpus_offenders(corpus: list[tuple[str, str]]) -> list[tuple[str, str, list[str]]]:
    """(family, value, the digits found) for each value the detector finds a card number in."""
    found = (
        (family, value, [m.digits for m in find_card_numbers(value)]) for family, value in corpus
    )
    return [offender for offender in found if offender[2]]


def describe(offenders: list[tuple[str, str, list[str]]], total: int) -> str:
    by_family: dict[str, int] = {}
    for family, _, _ in offenders:
        by_family[family] = by_family.get(family, 0) + 1
    first = "\n".join(
        f"  {family}: {value!r} → {digits}" for family, value, digits in offenders[:20]
    )
    return f"{len(offenders)} of {total} refused, by family {by_family}; the first:\n{first}"


def test_the_legitimate_corpus_is_never_refused():
    """110,000 legitimate values (seeded): Thai national and tax ids, mobiles, landlines,
    postcodes, order references, dates and times, Unix timestamps, Omise ids, amounts,
    quantities, and notes holding several of them. The detector finds no card in any."""
    corpus = legitimate_corpus(random.Random(CORPUS_SEED), CORPUS_SIZE)
    assert {family for family, _ in corpus} == set(LEGITIMATE_FAMILIES)
    offenders = corpus_offenders(corpus)
    print(f"\nlegitimate corpus: {describe(offenders, len(corpus))}")
    assert offenders == [], describe(offenders, len(corpus))


def test_a_card_number_among_the_corpus_is_reported():
    """The corpus test can fail: a card number planted among the values, alone or in a note,
    is reported, and the guard refuses it."""
    corpus = legitimate_corpus(random.Random(CORPUS_SEED), 2_000)
    planted = [
        ("planted", "4242 4242 4242 4242"),
        ("planted", "call 081-234-5678, card 5555-5555-5555-4444, deliver to 10200"),
    ]
    corpus[700:700] = planted[:1]
    corpus[1500:1500] = planted[1:]
    reported = [(family, value) for family, value, _ in corpus_offenders(corpus)]
    assert [offender for offender in reported if offender[0] == "planted"] == planted
    for _, value in planted:
        assert send("form", "note", value, random.Random(0)) == (400, False)


def test_the_legitimate_corpus_passes_the_guard():
    """Through CardGuardMiddleware: 3,000 corpus values, each in the form field its family is
    posted in, and 300 JSON bodies holding one value of each family apart, all answered 200."""
    rnd = random.Random(CORPUS_SEED + 1)
    refused = [
        (family, value)
        for family, value in legitimate_corpus(rnd, 3_000)
        if send("form", FIELD_OF[family], value, rnd) != (200, True)
    ]
    factory = RequestFactory()
    for _ in range(300):
        body = json_values(rnd)
        request = factory.post("/", json.dumps(body), content_type="application/json")
        if CardGuardMiddleware(lambda request: HttpResponse("ok"))(request).status_code != 200:
            refused.append(("json", json.dumps(body, ensure_ascii=False)))
    assert refused == [], f"{len(refused)} refused, the first: {refused[:20]}"
