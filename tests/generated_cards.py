"""Card numbers as people type them, and the values the shop legitimately posts, generated.

Plain functions of a `random.Random`: hypothesis drives them (`st.randoms()`) in the property
tests and a seeded Random builds the false-positive corpus, so both use one definition of "a
card number" and of "a legitimate value".
"""

import random
import string

from security.cards import BRANDS, is_thai_national_id


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
    """A valid number of a random brand, prefix range and length (never a 13-digit number that
    is also a valid Thai national ID, which the detector rightly leaves alone)."""
    while True:
        ranges, lengths = BRANDS[rnd.choice(sorted(BRANDS))]
        low, high = rnd.choice(ranges)
        prefix = str(rnd.randint(int(low), int(high))).zfill(len(low))
        length = rnd.choice(sorted(lengths))
        body = prefix + "".join(rnd.choice(string.digits) for _ in range(length - len(prefix) - 1))
        number = luhn_complete(body)
        if not is_thai_national_id(number):
            return number


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
        first = rnd.choice("07")  # no network's prefix starts with 0 or 7
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


# --- The legitimate corpus: what must pass -----------------------------------------------------
#
# Each family as people write it, one value per form field (a single-line field holds one
# value; a JSON body holds its values apart), plus free-text notes holding several values with
# punctuation or words between them. docs/card-guard.md ("What must pass") lists the families
# and the rule that lets each pass; tests/security/test_cardguard_properties.py runs them.

THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


def thai_digits(text: str) -> str:
    """`text` with its ASCII digits written as Thai digits (๐–๙), as Thai keyboards type them."""
    return text.translate(THAI_DIGITS)


def thai_id_check_digit(first12: str) -> str:
    """The Thai mod-11 check digit of a national or tax id's first 12 digits."""
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return str((11 - total % 11) % 10)


def _luhn_valid(digits: str) -> bool:
    return luhn_complete(digits[:-1]) == digits


def thai_id_digits(rnd: random.Random, *, card_shaped: bool = False) -> str:
    """13 digits with a valid mod-11 check digit: a person's national id (first digit 1–8) or
    a juristic person's tax id (0, then the registering office and year). `card_shaped`: one
    that also passes Luhn and starts with 4, 5 or 6 (a Visa-13 or Maestro-13 shape, about 4 % of
    persons' ids), the case the Thai-id rule exists for."""
    while True:
        if rnd.random() < 0.25 and not card_shaped:
            first12 = (
                "0"
                + rnd.choice(["105", "107", "994", "125", "135"])
                + "".join(rnd.choice(string.digits) for _ in range(8))
            )
        else:
            first = rnd.choice("456" if card_shaped else "12345678")
            first12 = first + "".join(rnd.choice(string.digits) for _ in range(11))
        digits = first12 + thai_id_check_digit(first12)
        if not card_shaped or _luhn_valid(digits):
            return digits


def thai_id_written(rnd: random.Random) -> str:
    """A Thai national id or tax id as printed on ID cards and tax invoices (1-2345-67890-12-3:
    groups of 1, 4, 5, 2, 1), plain, or spaced; a share card-shaped (Luhn-valid, card prefix)."""
    d = thai_id_digits(rnd, card_shaped=rnd.random() < 0.2)
    groups = [d[0], d[1:5], d[5:10], d[10:12], d[12]]
    return rnd.choice(
        [
            d,
            "-".join(groups),
            " ".join(groups),
            "–".join(groups),  # en dash, pasted from a word processor
            "\u00a0".join(groups),  # no-break spaces, pasted from a PDF invoice
        ]
    )


def thai_id(rnd: random.Random) -> str:
    """A Thai national or tax id, written, alone or labelled as on a tax-invoice form."""
    label = rnd.choice(["", "", "", "Tax ID: ", "เลขประจำตัวผู้เสียภาษี ", "เลขบัตรประชาชน ", "TIN "])
    branch = rnd.choice(["", "", "", " (สำนักงานใหญ่)", " สาขา 00001"])
    return label + thai_id_written(rnd) + branch


def thai_mobile(rnd: random.Random) -> str:
    """A Thai mobile number: 06/08/09 and 8 digits, local or +66, spaced as people do."""
    local = f"0{rnd.choice('689')}{rnd.randint(0, 99999999):08d}"
    other = f"0{rnd.choice('689')}{rnd.randint(0, 99999999):08d}"
    a, b, c = local[1:3], local[3:6], local[6:]
    return rnd.choice(
        [
            local,
            f"0{a}-{b}-{c}",
            f"0{a} {b} {c}",
            f"0{a}.{b}.{c}",
            f"0{a[0]}-{a[1]}{b}-{c}",  # 08-1234-5678
            f"+66{a}{b}{c}",
            f"+66 {a} {b} {c}",
            f"+66-{a}-{b}-{c}",
            f"(+66) {a}-{b}-{c}",
            f"+66 (0) {a} {b} {c}",
            f"66{a}{b}{c}",  # the + forgotten: 11 digits
            f"0{a}-{b}-{c}, {other[:3]}-{other[3:6]}-{other[6:]}",  # two numbers, one field
            f"{local} / {other}",
            f"Tel. 0{a}-{b}-{c}",
            f"โทร 0{a} {b} {c}",
        ]
    )


def thai_landline(rnd: random.Random) -> str:
    """A Thai landline: Bangkok 02 and 7 digits, provinces 0xx and 6 digits, with extensions
    and the business-card range form (02-123-4567-9: lines 4567 to 4569)."""
    if rnd.random() < 0.6:
        area, b, c = "02", f"{rnd.randint(0, 999):03d}", f"{rnd.randint(0, 9999):04d}"
    else:
        area = "0" + rnd.choice(["32", "34", "38", "42", "43", "44", "53", "54", "73", "76", "77"])
        b, c = f"{rnd.randint(0, 999):03d}", f"{rnd.randint(0, 999):03d}"
    number = area + b + c
    return rnd.choice(
        [
            f"{area} {b} {c}",
            f"{area}-{b}-{c}",
            f"{area}{b}{c}",
            f"0 {number[1:5]} {number[5:]}",  # the official 0 2123 4567, 0 5312 3456
            f"+66 {area[1:]} {b} {c}",
            f"{area}-{b}-{c} ext. {rnd.randint(1, 9999)}",
            f"{area}-{b}-{c} ต่อ {rnd.randint(1, 999)}",
            f"{area}-{b}-{c}-{rnd.randint(0, 9)}",
            f"{area} {b} {c} Fax {area} {b} {rnd.randint(0, 10 ** len(c) - 1):0{len(c)}d}",
        ]
    )


def postcode(rnd: random.Random) -> str:
    """A Thai postcode: province 10–96, then three digits."""
    return f"{rnd.randint(10, 96)}{rnd.randint(0, 999):03d}"


ORDER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # checkout.models.new_reference


def order_reference(rnd: random.Random) -> str:
    """A shop order reference (checkout.models.new_reference: LG- and 8 of its alphabet), as
    generated, as a shopper retypes it, and in the older dated form LG-20250101-0042."""
    body = "".join(rnd.choice(ORDER_ALPHABET) for _ in range(8))
    if rnd.random() < 0.1:
        body = "".join(rnd.choice("23456789") for _ in range(8))  # all digits: it happens
    return rnd.choice(
        [
            f"LG-{body}",
            f"LG-{body}",
            f"lg-{body.lower()}",
            f"LG{body}",
            f"#LG-{body}",
            f"LG-{rnd.randint(20200101, 20351231)}-{rnd.randint(0, 9999):04d}",
        ]
    )


def iso_date_time(rnd: random.Random) -> str:
    """A date or time: ISO 8601, datetime-local, d/m/y, Buddhist-era years (2569 = 2026),
    compact, times alone."""
    year = rnd.randint(2000, 2040)
    be = year + 543
    m, d = rnd.randint(1, 12), rnd.randint(1, 28)
    hh, mm, ss = rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59)
    offset = rnd.choice(["+07:00", "Z", "+00:00", "+0700"])
    micro = rnd.randint(0, 999999)
    return rnd.choice(
        [
            f"{year}-{m:02d}-{d:02d}",
            f"{year}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}{offset}",
            f"{year}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{micro:06d}{offset}",
            f"{year}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}",  # <input type="datetime-local">
            f"{year}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}:{ss:02d}",
            f"{year}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}:{ss:02d}.{rnd.randint(0, 999):03d}",
            f"{d:02d}/{m:02d}/{year}",
            f"{d}/{m}/{be}",
            f"{d:02d}/{m:02d}/{be} {hh:02d}:{mm:02d}",
            f"{d:02d}.{m:02d}.{year}",
            f"{d:02d}-{m:02d}-{be}",
            f"{be}-{m:02d}-{d:02d}",
            f"{d} ธ.ค. {be}",
            f"{d} ธ.ค. {be} {hh:02d}.{mm:02d} น.",
            f"{d} December {year}, {hh:02d}:{mm:02d}",
            f"{year}{m:02d}{d:02d}",
            f"{year}{m:02d}{d:02d}{hh:02d}{mm:02d}{ss:02d}",
            f"{hh:02d}:{mm:02d}:{ss:02d}",
            f"{hh:02d}:{mm:02d}",
            f"{hh:02d}.{mm:02d} น.",
        ]
    )


def unix_timestamp(rnd: random.Random) -> str:
    """Unix time, 2001–2033: 10 digits of seconds, 13 of milliseconds (JavaScript's
    Date.now()), seconds with milliseconds after a dot."""
    seconds = rnd.randint(1_000_000_000, 1_999_999_999)
    return rnd.choice(
        [
            str(seconds),
            str(seconds * 1000 + rnd.randint(0, 999)),
            f"{seconds}.{rnd.randint(0, 999):03d}",
        ]
    )


OMISE_PREFIXES = ("chrg", "tokn", "src", "evnt", "rfnd", "cust", "card")  # checkout.ids + two


def omise_id(rnd: random.Random) -> str:
    """An Omise object id (checkout.ids: prefix, test_ in test mode, 6–64 lower-case letters and
    digits, Omise's own about 19, often starting with 5); a share digit-heavy, to lean on the
    rule that digits joined to letters belong to an identifier."""
    prefix = rnd.choice(OMISE_PREFIXES)
    mode = rnd.choice(["test_", ""])
    if rnd.random() < 0.15:
        body = "".join(rnd.choice(string.digits) for _ in range(rnd.randint(12, 24)))
        body = body + base36(rnd, rnd.randint(0, 6))
    else:
        body = rnd.choice("56") + base36(rnd, rnd.choice([18, 18, 18, rnd.randint(5, 63)]))
    return f"{prefix}_{mode}{body}"


def amount(rnd: random.Random) -> str:
    """A price or total: baht with or without separators and currency, satang (the Omise
    amount), decimals."""
    baht = rnd.choice([rnd.randint(1, 9999), rnd.randint(1, 999_999), rnd.randint(1, 99_999_999)])
    satang = rnd.choice([0, 0, 50, rnd.randint(0, 99)])
    return rnd.choice(
        [
            str(baht),
            f"{baht:,}.{satang:02d}",
            f"฿{baht:,}.{satang:02d}",
            f"฿{baht:,}",
            str(baht * 100 + satang),  # satang
            f"{baht}.{satang:02d} THB",
            f"THB {baht:,}.{satang:02d}",
            f"{baht:,} บาท",
            f"{baht}.{satang:02d}",
        ]
    )


def quantity(rnd: random.Random) -> str:
    n = rnd.choice([rnd.randint(1, 9), rnd.randint(1, 99), rnd.randint(1, 1000)])
    return rnd.choice([str(n), str(n), f"x{n}", f"{n} ชิ้น", f"{n} pcs"])


def _one_of_each(rnd: random.Random) -> dict[str, str]:
    first12 = rnd.choice("0123") + "".join(rnd.choice(string.digits) for _ in range(11))
    return {
        "phone": thai_mobile(rnd),
        "landline": thai_landline(rnd),
        "id": thai_id_written(rnd),
        "id_plain": first12 + thai_id_check_digit(first12),
        "post": postcode(rnd),
        "ref": order_reference(rnd),
        "date": iso_date_time(rnd),
        "amount": amount(rnd),
        "qty": quantity(rnd),
        "ts": unix_timestamp(rnd),
        "omise": omise_id(rnd),
    }


NOTE_TEMPLATES = [
    "call {phone}, tax id {id}, deliver to {post}",
    "โทร {phone} ก่อนส่ง, เลขผู้เสียภาษี {id} ({post})",
    "Order {ref} paid {amount} on {date}",
    "ใบกำกับภาษี: {id}, โทร. {landline}",
    "qty {qty}; total {amount}; ref {ref}",
    "Deliver to: 99/1 ซ.สุขุมวิท 24, แขวงคลองตัน, กรุงเทพฯ {post}. Tel: {phone}",
    "{ref} / {omise} / {amount}",
    "Please invoice company tax ID {id_plain}, branch 00000 — contact {landline}.",
    "Refund {omise}: {amount} ({date})",
    "received {ts}, order {ref}, qty {qty}",
    "Ship before {date}; if nobody home call {phone} or {landline}.",
    "ID {id}; mobile {phone}; postcode {post}; amount {amount}",
]


def free_text_note(rnd: random.Random) -> str:
    """A free-text note holding several values, with punctuation or words between them, as a
    shopper or staff member writes one."""
    return rnd.choice(NOTE_TEMPLATES).format(**_one_of_each(rnd))


def json_values(rnd: random.Random) -> dict[str, str]:
    """A JSON body's values, each apart (a webhook's or a form app's): one of each family."""
    return _one_of_each(rnd)


# Family → generator. Human-typed families are also written in Thai digits now and then.
LEGITIMATE_FAMILIES = {
    "thai_id": thai_id,
    "thai_mobile": thai_mobile,
    "thai_landline": thai_landline,
    "postcode": postcode,
    "order_reference": order_reference,
    "date_time": iso_date_time,
    "unix_timestamp": unix_timestamp,
    "omise_id": omise_id,
    "amount": amount,
    "quantity": quantity,
    "note": free_text_note,
}
TYPED_BY_PEOPLE = {
    "thai_id",
    "thai_mobile",
    "thai_landline",
    "postcode",
    "date_time",
    "amount",
    "quantity",
    "note",
}


def legitimate_corpus(rnd: random.Random, size: int) -> list[tuple[str, str]]:
    """`size` (family, value) pairs, the families in turn; one in twenty human-typed values in
    Thai digits."""
    families = list(LEGITIMATE_FAMILIES)
    corpus = []
    for i in range(size):
        family = families[i % len(families)]
        value = LEGITIMATE_FAMILIES[family](rnd)
        if family in TYPED_BY_PEOPLE and rnd.random() < 0.05:
            value = thai_digits(value)
        corpus.append((family, value))
    return corpus
