"""Card field names: the names real card forms give their number, security-code and expiry
fields, told apart from the shop's legitimate ones.

Pure Python over strings (no Django), used by the card guard (`security/cardguard.py`) and
the log scrubber (`security/logscrub.py`). `is_card_field(name)` recognises `card_number`,
`cardNumber`, `cc-number`, `card[number]`, `cvv`, `security_code`, `expiration_month`,
`exp_year`, …, but not `card` holding a `tokn_` id, `omise_token` or `card_last_digits`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORDS = re.compile(r"[a-z0-9]+")
_CARD_CONTEXT = {"card", "cc", "creditcard", "debitcard", "paymentcard"}
_CVV_WORDS = {"cvv", "cvv2", "cvc", "cvc2", "csc", "cvn", "cvd", "securitycode", "cardcode"}
_NUMBER_WORDS = {"number", "num", "no", "nr", "pan"}
_EXPIRY_WORDS = {
    "exp",
    "expiry",
    "expiration",
    "expire",
    "expdate",
    "expirydate",
    "expirationdate",
    "expmonth",
    "expyear",
    "expirymonth",
    "expiryyear",
    "expirationmonth",
    "expirationyear",
}
_EXPIRY_PARTS = {"month", "year", "date", "mm", "yy", "yyyy", "mmyy"}
_JOINED_NUMBER = re.compile(r"(credit|debit)?(card|cc)(number|num|no|nr|pan)")


def name_words(name: str) -> list[str]:
    """`cardNumber` → [card, number]; `card[number]`, `cc-number` → [card|cc, number]."""
    return _WORDS.findall(_CAMEL.sub(" ", name).lower())


# Names (with their enclosing JSON names) up to this many characters are remembered; real forms
# use short names. A longer one is judged afresh, so names an attacker makes up cannot fill
# the cache with megabytes each.
CACHED_NAME_LENGTH = 200


@lru_cache(maxsize=2048)  # forms repeat the same few names on every request
def _is_card_field_cached(name: str, context: tuple[str, ...]) -> bool:
    return is_card_field(name, context)


def is_card_field_memo(name: str, context: tuple[str, ...]) -> bool:
    """`is_card_field`, remembered for the short names real forms use."""
    if len(name) > CACHED_NAME_LENGTH or (
        context and len(name) + sum(map(len, context)) > CACHED_NAME_LENGTH
    ):
        return is_card_field(name, context)
    return _is_card_field_cached(name, context)


def _names_security_code(words: list[str]) -> bool:
    """cvv, cvc2, security_code, cc-csc, cardCode … (but not `security_code_check`)."""
    return (
        words[-1] in _CVV_WORDS
        or words[-2:] == ["security", "code"]
        or "".join(words).endswith("securitycode")
    )


def names_number_or_code(words: list[str]) -> bool:
    """number, card_number, ccNum, cvv, security_code … but not phone_number."""
    if not words:
        return False
    return (
        words == ["number"]
        or _names_security_code(words)
        or bool(_JOINED_NUMBER.fullmatch("".join(words[-3:])))
    )


def _names_expiry(words: list[str]) -> bool:
    """exp, expiry, expiration_month, exp_year, cc-exp-month, expiryDate …"""
    if not words:
        return False
    return words[-1] in _EXPIRY_WORDS or (
        words[-1] in _EXPIRY_PARTS and len(words) > 1 and words[-2] in _EXPIRY_WORDS
    )


def is_card_field(name: str, context: Iterable[str] = ()) -> bool:
    """Is `name` the name of a card number, security code or expiry field?

    `context` holds the names of enclosing JSON objects (`{"card": {"number": …}}`), so that
    Omise.js' own bare `number` counts only under a card. Bare `number`, `card`, `token`,
    `expires_at`, `security_code_check`, `card_last_digits` are not card fields.
    """
    words = name_words(name)
    if not words:
        return False
    last = words[-1]
    joined = "".join(words)
    if _names_security_code(words):
        return True
    if _names_expiry(words):
        return True
    # Number: card_number, cc-number, cardNumber, creditCardNumber, ccnum, card[number] …
    if _JOINED_NUMBER.fullmatch(joined) or _JOINED_NUMBER.fullmatch("".join(words[-3:])):
        return True
    return last in _NUMBER_WORDS and (
        any(w in _CARD_CONTEXT for w in words[:-1])
        or any(w in _CARD_CONTEXT for c in context for w in name_words(c))
    )
