"""Card numbers as people type them, and the values the shop legitimately posts, generated.

Plain functions of a `random.Random`: hypothesis drives them (`st.randoms()`) in the property
tests and a seeded Random builds the false-positive corpus, so both use one definition of "a
card number" and of "a legitimate value".
"""

import random
import string

from security.cards import BRANDS


def luhn_complete(body: str) -> str:
    """`body` plus the check digit that makes it pass Luhn."""
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char)
        if position % 2 == 0:  # these are doubled once the check digit is appended
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return body + str((10 - total % 10) % 10)


def card_number(rnd: random.Random) -> str:
    """A valid number of a random brand, prefix range and length."""
    ranges, lengths = BRANDS[rnd.choice(sorted(BRANDS))]
    low, high = rnd.choice(ranges)
    prefix = str(rnd.randint(int(low), int(high))).zfill(len(low))
    length = rnd.choice(sorted(lengths))
    body = prefix + "".join(rnd.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return luhn_complete(body)


def typed(rnd: random.Random, digits: str) -> str:
    """As a person types it: plain, in groups of four, 4-6-rest (Amex, Diners), or a first
    group of four then split anywhere, by spaces or dashes (mixed too)."""
    style = rnd.choice(["plain", "fours", "four_six", "random"])
    if style == "plain":
        return digits
    separator = rnd.choice(" -")
    if style == "fours":
        return separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))
    if style == "four_six":
        return separator.join([digits[:4], digits[4:10], digits[10:]])
    cuts = [4, *sorted(rnd.sample(range(5, len(digits)), rnd.randint(0, 4)))]
    parts = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    return "".join(
        part + (rnd.choice(" -") if i < len(parts) - 1 else "") for i, part in enumerate(parts)
    )


def card_value(rnd: random.Random) -> str:
    """A card number, typed, alone or inside some text."""
    before = rnd.choice(["", "", "card: ", "paid with ", "(", "cc=", "note\n"])
    after = rnd.choice(["", "", " exp 12/30", ".", ")", " 123", "\nthanks"])
    return before + typed(rnd, card_number(rnd)) + after


def random_name(rnd: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "_-[]"
    return rnd.choice(string.ascii_letters) + "".join(
        rnd.choice(alphabet) for _ in range(rnd.randint(0, 15))
    )


def base36(rnd: random.Random, size: int) -> str:
    return "".join(rnd.choice(string.digits + string.ascii_lowercase) for _ in range(size))


def failing_long_number(rnd: random.Random) -> str:
    """13–19 digits that are not a card: a valid-looking brand number with a wrong check
    digit, a Luhn-valid number without a card prefix, or an id longer than 19 digits."""
    kind = rnd.choice(["bad_luhn", "no_prefix", "too_long"])
    if kind == "bad_luhn":
        valid = card_number(rnd)
        return valid[:-1] + str((int(valid[-1]) + rnd.randint(1, 9)) % 10)
    if kind == "no_prefix":
        first = rnd.choice("01789")
        length = rnd.randint(13, 19)
        return luhn_complete(first + "".join(rnd.choice(string.digits) for _ in range(length - 2)))
    return "".join(rnd.choice(string.digits) for _ in range(rnd.randint(20, 30)))


def legitimate_value(rnd: random.Random) -> str:
    """What the shop's own forms and Omise post: ids, references, phones, codes, times."""
    kind = rnd.choice(
        [
            "omise_id",
            "order_ref",
            "phone",
            "postal",
            "quantity",
            "timestamp",
            "iso_time",
            "long_id",
            "amount",
        ]
    )
    if kind == "omise_id":
        prefix = rnd.choice(["tokn", "chrg", "src", "evnt", "cust", "card", "rfnd"])
        return f"{prefix}_{rnd.choice(['test_', ''])}{base36(rnd, rnd.randint(10, 22))}"
    if kind == "order_ref":
        return f"LG-{rnd.randint(20200101, 20351231)}-{rnd.randint(0, 9999):04d}"
    if kind == "phone":
        local = f"0{rnd.choice('689')}{rnd.randint(0, 99999999):08d}"
        return rnd.choice(
            [
                local,
                f"{local[:3]}-{local[3:6]}-{local[6:]}",
                f"{local[:3]} {local[3:6]} {local[6:]}",
                f"+66 {local[1:3]} {local[3:6]} {local[6:]}",
                f"+{rnd.randint(1, 999)}{rnd.randint(10**9, 10**12 - 1)}",  # E.164, up to 15 digits
            ]
        )
    if kind == "postal":
        return f"{rnd.randint(10000, 99999)}"
    if kind == "quantity":
        return str(rnd.randint(1, 20))
    if kind == "timestamp":
        seconds = rnd.randint(1_500_000_000, 2_000_000_000)
        return str(rnd.choice([seconds, seconds * 1000, seconds * 1_000_000]))
    if kind == "iso_time":
        return (
            f"{rnd.randint(2000, 2099)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            f"{rnd.choice([' ', 'T'])}{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}"
        )
    if kind == "long_id":
        return failing_long_number(rnd)
    return str(rnd.randint(2000, 15_000_000))  # satang


SHOP_NAMES = [
    "product",
    "quantity",
    "next",
    "omise_token",
    "omise_source",
    "card",
    "source",
    "phone",
    "postal_code",
    "order",
    "reference",
    "created",
    "id",
    "note",
    "email",
    "amount",
    "charge",
    "csrfmiddlewaretoken",
    "card_last_digits",
]


def shop_name(rnd: random.Random) -> str:
    return rnd.choice(SHOP_NAMES) + rnd.choice(["", "", "_2", "[0]"])
