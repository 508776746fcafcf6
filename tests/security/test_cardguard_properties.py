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
    card_number,
    card_value,
    failing_long_number,
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
