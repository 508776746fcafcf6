"""Card field names: the names real card forms give their number, security-code and expiry
fields, told apart from the shop's legitimate ones.

Pure Python over strings (no Django), used by the card guard (`security/cardguard.py`) and
the log scrubber (`security/logscrub.py`). `is_card_field(name)` recognises `card_number`,
`cardNumber`, `cc-number`, `card[number]`, `cvv`, `CVC2`, `cardCode`, `card[cvc]`,
`cvv_code`, `security_code`, `expiration_month`, `exp_year`, `cc-exp`, … in snake, kebab,
camel, bracket and upper-case spellings, with or without an index (`card_number_1`), but not
`card` holding a `tokn_` id, `omise_token`, `card_last_digits` or Omise's boolean
`security_code_check`. `card_number_part(name)` names the fields a card number may be split
over (`card1`…`card4`, `cc_1`, `ccnum[0]`, `card[number][1]`): the guard joins their digits.

The rules, and why each ambiguous name is or is not a card field, are in docs/card-guard.md
("Field names").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Letters and digits apart: `card1` is [card, 1], `cvv2` [cvv, 2].
_WORDS = re.compile(r"[a-z]+|[0-9]+")
_CARD_CONTEXT = {"card", "cc", "creditcard", "debitcard", "paymentcard"}
_NUMBER_WORDS = {"number", "num", "no", "nr", "pan"}
# An index is one or two digits at the end of a name (`card_4`, `ccnum[0]`, `cvv2`); a longer
# run is no index (`exp_2030`, `card_4242…`).
_MAX_INDEX_DIGITS = 2
# How many trailing words a spelling may span (`credit card verification value` is four).
_MAX_SPELLING_WORDS = 5

# The joined words a field name ends with. Card prefix: card, cc, creditcard, debitcard…
_CARD = r"(?:(?:credit|debit|payment)?card|cc)"
# Security codes: each brand's own name, with an optional 2 (the digit is split off as an
# index and also accepted here), and an optional word for "code" or "number" after it.
_CODE_NAMES = r"(?:cvv|cvc|ccv|csc|cvn|cvd|cav|cvvc)2?"
_CODE_TAIL = r"(?:code|number|num|no|nr|value|val|digits)?"
_SECURITY_CODE = re.compile(
    rf"{_CARD}?{_CODE_NAMES}{_CODE_TAIL}"  # cvv, CVC2, cc-csc, card_cvv, cvv_code, cvcNumber
    rf"|{_CARD}?(?:security|sec)code"  # security_code, securityCode, card[security_code]
    rf"|{_CARD}(?:security|sec)(?:number|num|no|value)"  # card_security_number, not an SSN
    rf"|{_CARD}code"  # cardCode, card_code, card[code], creditCardCode
    rf"|{_CARD}(?:cid|pin)"  # card_cid, card[cid], cardPin: Amex's CID in card context
    rf"|{_CARD}(?:verification|verify|verif)(?:code|value|number|num|no|val)?"
)
# Only directly inside a card object (`{"card": {"cid": …}}`): alone these are other things
# (`cid` an analytics client or campaign id, `verification_code` an e-mail or 2FA code).
_CONTEXT_CODE = re.compile(r"cid|pin|(?:verification|verify)(?:code|value|number|num|no)?")
_EXPIRY = re.compile(
    rf"{_CARD}?(?:exp|expiry|expiration|expire|expir|expdt)"
    r"(?:date|dt|month|year|mm|yy|yyyy|mmyy|mmyyyy|yymm|mo|mon|yr|m|y){0,2}"
    rf"|{_CARD}(?:month|year|mm|yy|yyyy|mmyy|mmyyyy)"  # card[month], cc_year, cardMM
    rf"|{_CARD}?(?:validthru|validthrough|goodthru|goodthrough)(?:date|month|year|mm|yy)?"
    rf"|{_CARD}(?:validuntil|validto)(?:date|month|year|mm|yy)?"
)
_JOINED_NUMBER = re.compile(rf"{_CARD}(?:number|num|no|nr|pan)")

# Words a field holding part of a card number may have after its card word: `card_number_1`,
# `cc_part_2`, `card[number][group][3]`, `card_digits_second`. Not `first` nor `last`:
# Omise's `first_digits`, `last_digits` and the shop's `card_last_digits` are no part of one.
_PART_WORDS = _NUMBER_WORDS | {
    "part",
    "group",
    "block",
    "segment",
    "seg",
    "field",
    "box",
    "chunk",
    "piece",
    "digits",
    "second",
    "third",
    "fourth",
    "start",
    "middle",
    "end",
    "rest",
}
# The words a card number's part starts from: card, cc, pan, and the joined spellings.
_PART_CONTEXT = _CARD_CONTEXT | {"pan"}
_PART_LEADING = {"credit", "debit", "payment"}

CardFieldKind = Literal["number", "security_code", "expiry"]


def name_words(name: str) -> list[str]:
    """`cardNumber` → [card, number]; `card[number]`, `cc-number` → [card|cc, number];
    `card1` → [card, 1]; `CVV2` → [cvv, 2]."""
    return _WORDS.findall(_CAMEL.sub(" ", name).lower())


def _without_index(words: list[str]) -> tuple[list[str], int | None]:
    """The words without a trailing index, and the index (`card_number_2` → 2)."""
    if words and words[-1].isdigit() and len(words[-1]) <= _MAX_INDEX_DIGITS:
        return words[:-1], int(words[-1])
    return words, None


def _ends_with(pattern: re.Pattern[str], words: list[str]) -> bool:
    """Do the last one to five words, joined, spell `pattern` (whole words only)?"""
    return any(
        pattern.fullmatch("".join(words[-k:]))
        for k in range(1, min(len(words), _MAX_SPELLING_WORDS) + 1)
    )


def _has_card_word(words: Iterable[str]) -> bool:
    return any(w in _CARD_CONTEXT or _JOINED_NUMBER.fullmatch(w) for w in words)


# Names (with their enclosing JSON names) up to this many characters are remembered; real forms
# use short names. A longer one is judged afresh, so names an attacker makes up cannot fill
# the cache with megabytes each.
CACHED_NAME_LENGTH = 200


def _short(name: str, context: tuple[str, ...]) -> bool:
    return len(name) + sum(map(len, context)) <= CACHED_NAME_LENGTH


@lru_cache(maxsize=2048)  # forms repeat the same few names on every request
def _is_card_field_cached(name: str, context: tuple[str, ...]) -> CardFieldKind | None:
    return card_field_kind(name, context)


def card_field_kind_memo(name: str, context: tuple[str, ...]) -> CardFieldKind | None:
    """`card_field_kind`, remembered for the short names real forms use."""
    if not _short(name, context):
        return card_field_kind(name, context)
    return _is_card_field_cached(name, context)


def is_card_field_memo(name: str, context: tuple[str, ...]) -> bool:
    """`is_card_field`, remembered for the short names real forms use."""
    return card_field_kind_memo(name, context) is not None


def _names_security_code(words: list[str], parent: str = "") -> bool:
    """cvv, CVC2, security_code, cc-csc, cardCode, card[cid] … (not `security_code_check`)."""
    words, _index = _without_index(words)
    if not words:
        return False
    if _ends_with(_SECURITY_CODE, words):
        return True
    return bool(
        parent and _CONTEXT_CODE.fullmatch("".join(words)) and _has_card_word(name_words(parent))
    )


def _names_number(words: list[str], context: Iterable[str] = ()) -> bool:
    """card_number, cc-number, cardNumber, creditCardNumber, ccnum, card[number], card_no_2 …;
    a bare `number` only inside a card object."""
    words, _index = _without_index(words)
    if not words:
        return False
    if _JOINED_NUMBER.fullmatch("".join(words)) or _ends_with(_JOINED_NUMBER, words[-3:]):
        return True
    return words[-1] in _NUMBER_WORDS and (
        _has_card_word(words[:-1]) or any(_has_card_word(name_words(c)) for c in context)
    )


def names_number_or_code(words: list[str]) -> bool:
    """number, card_number, ccNum, cvv, security_code, cardCode … but not phone_number."""
    if not words:
        return False
    return words == ["number"] or _names_security_code(words) or _names_number(words)


def _names_expiry(words: list[str]) -> bool:
    """exp, expiry, expiration_month, exp_year, cc-exp-month, expiryDate, exp_mm_yy,
    card[month] …"""
    words, _index = _without_index(words)
    return bool(words) and _ends_with(_EXPIRY, words)


def card_field_kind(name: str, context: Iterable[str] = ()) -> CardFieldKind | None:
    """What card field `name` names ("number", "security_code", "expiry"), or None.

    `context` holds the names of enclosing JSON objects, innermost last (`{"card": {"number":
    …}}`): Omise.js' own bare `number` counts under a card at any depth, `cid`, `pin` and
    `verification_code` only directly inside one.
    """
    context = tuple(context)
    words = name_words(name)
    if not words:
        return None
    if _names_security_code(words, context[-1] if context else ""):
        return "security_code"
    if _names_expiry(words):
        return "expiry"
    if _names_number(words, context):
        return "number"
    return None


def is_card_field(name: str, context: Iterable[str] = ()) -> bool:
    """Is `name` the name of a card number, security code or expiry field?

    `context` holds the names of enclosing JSON objects (`{"card": {"number": …}}`), so that
    Omise.js' own bare `number` counts only under a card. Bare `number`, `card`, `token`,
    `cid`, `verification_code`, `expires_at`, `security_code_check`, `card_last_digits` are
    not card fields.
    """
    return card_field_kind(name, context) is not None


# --- Card numbers split over several fields ----------------------------------------------------


def card_number_part(name: str, parent: str = "") -> tuple[tuple[str, ...], int | None] | None:
    """Could the field `name` hold a card number or a part of one? Then (its base, its index):
    `card3` → ((card,), 3), `card_number_1` → ((card, number), 1), `ccnum[0]` → ((ccnum,), 0),
    `card[number][2]` → ((card, number), 2), `cc` → ((cc,), None); else None.

    The name must have a card word (card, cc, pan, ccnum, cardNumber…), here or in `parent`,
    the name of the JSON object directly around it (`{"card": {"1": …}}`), and after it only
    number and part words (number, part, group, block, digits…) and an index: so neither
    `card_last_digits`, `card_brand`, `phone_number`, `quantity_2` nor `postal_code` is one,
    and neither is a security-code or expiry field (`cvv`, `card_exp_month`).
    """
    words, index = _without_index(name_words(name))
    if parent:
        words = [*name_words(parent), *words]
    if not words or _names_security_code(words) or _names_expiry(words):
        return None
    start = next(
        (i for i, w in enumerate(words) if w in _PART_CONTEXT or _JOINED_NUMBER.fullmatch(w)),
        None,
    )
    if start is None:
        return None
    base = words[start:]
    if all(w in _PART_WORDS or w in _PART_CONTEXT or w in _PART_LEADING for w in base[1:]):
        return tuple(base), index
    return None


@lru_cache(maxsize=2048)
def _card_number_part_cached(name: str, parent: str) -> tuple[tuple[str, ...], int | None] | None:
    return card_number_part(name, parent)


def card_number_part_memo(name: str, parent: str = "") -> tuple[tuple[str, ...], int | None] | None:
    """`card_number_part`, remembered for the short names real forms use."""
    if not _short(name, (parent,)):
        return card_number_part(name, parent)
    return _card_number_part_cached(name, parent)
