"""Card validation and the test cards of Omise's test mode (see docs/sandbox.md).

A card's *behaviour* is decided when it is tokenized, so the number itself never needs to be
kept: only the behaviour, brand, last digits and a keyed fingerprint are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date

from django.conf import settings

SUCCESS = "success"
THREE_DS = "3ds"  # enrolled: the 3-D Secure page lets the shopper pass or fail
THREE_DS_ENROLLMENT_FAILS = "3ds_enrollment_fails"
THREE_DS_VALIDATION_FAILS = "3ds_validation_fails"
DECLINE_PREFIX = "decline:"

# From omise-api.md's table, plus one sandbox-defined card for a 3-D Secure that can pass.
TEST_CARDS: dict[str, str] = {
    "4242424242424242": SUCCESS,
    "5555555555554444": SUCCESS,
    "3530111333300000": SUCCESS,
    "4111111111140011": DECLINE_PREFIX + "insufficient_fund",
    "4111111111130012": DECLINE_PREFIX + "stolen_or_lost_card",
    "4111111111120013": DECLINE_PREFIX + "failed_processing",
    "4111111111110014": DECLINE_PREFIX + "payment_rejected",
    "4111111111190016": DECLINE_PREFIX + "failed_fraud_check",
    "4111111111180017": DECLINE_PREFIX + "invalid_account_number",
    "4111111111160001": DECLINE_PREFIX + "invalid_security_code",
    "4111111111150002": THREE_DS_ENROLLMENT_FAILS,
    "4111111111140003": THREE_DS_VALIDATION_FAILS,
    "4000000000000002": THREE_DS,  # sandbox-defined, documented in docs/sandbox.md
}

FAILURE_MESSAGES = {
    "insufficient_fund": "insufficient funds in the account or the card has reached the "
    "credit limit",
    "stolen_or_lost_card": "card was lost or stolen",
    "failed_processing": "the payment was not processed",
    "payment_rejected": "the payment was rejected by the issuer or the acquirer",
    "failed_fraud_check": "card was marked as fraudulent",
    "invalid_account_number": "invalid account number",
    "invalid_security_code": "the security code was invalid or the card didn't pass preauth",
}

# Omise's advice to the merchant on some declines (`merchant_advice_code`, `merchant_advice`):
# the sandbox's own wording, to show where the shop displays it. Omise's codes and texts are
# not published in full (docs/omise-api.md).
MERCHANT_ADVICE = {
    "insufficient_fund": ("retry_later", "The issuer may approve a retry in a few days."),
    "stolen_or_lost_card": ("do_not_retry", "Do not retry this card."),
    "failed_fraud_check": ("do_not_retry", "Do not retry this card."),
    "payment_rejected": ("ask_customer", "Ask the customer to contact their bank."),
}
# What an issuer that failed 3-D Secure enrollment would have wanted (`missing_3ds_fields`).
MISSING_3DS_FIELDS = ["cardholder_email", "cardholder_phone_number", "billing_address"]

_BRANDS = [  # (pattern on the number, brand as Omise names it)
    (re.compile(r"^4"), "Visa"),
    (re.compile(r"^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))"), "MasterCard"),
    (re.compile(r"^35(2[89]|[3-8]\d)"), "JCB"),
    (re.compile(r"^3[47]"), "American Express"),
    (re.compile(r"^(62)"), "UnionPay"),
]


@dataclass(frozen=True)
class CardCheck:
    errors: list[str]
    brand: str | None
    number: str  # digits only; the caller must not keep it


def brand_of(number: str) -> str | None:
    for pattern, brand in _BRANDS:
        if pattern.match(number):
            return brand
    return None


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def check_card(fields: dict, *, today: date) -> CardCheck:
    """Omise-style validation; messages are joined with " and " into one invalid_card error."""
    errors: list[str] = []
    number = re.sub(r"[\s-]", "", str(fields.get("number") or ""))
    brand = brand_of(number) if number.isdigit() else None
    if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
        errors.append("number is invalid")
    if number.isdigit() and brand is None:
        errors.append("brand not supported (unknown)")
    if not str(fields.get("name") or "").strip():
        errors.append("name can't be blank")
    month, year = _int(fields.get("expiration_month")), _int(fields.get("expiration_year"))
    if month is None or not 1 <= month <= 12:
        errors.append("expiration month is not between 1 and 12")
    if year is None:
        errors.append("expiration year is invalid")
    elif year < 100:  # two-digit years as typed in forms
        year += 2000
    if month and year and 1 <= month <= 12 and (year, month) < (today.year, today.month):
        errors.append("expiration date cannot be in the past")
    code = str(fields.get("security_code") or "").strip()
    if not re.fullmatch(r"\d{3,4}", code):
        errors.append("security code is invalid")
    return CardCheck(errors=errors, brand=brand, number=number)


def behaviour_of(number: str) -> str:
    """What a charge with this card does. Any other valid number succeeds."""
    return TEST_CARDS.get(number, SUCCESS)


def fingerprint(number: str) -> str:
    """A keyed hash: the same card gives the same fingerprint, and it reveals nothing."""
    key = hashlib.sha256(f"sandbox-fingerprint:{settings.SECRET_KEY}".encode()).digest()
    digest = hmac.new(key, number.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest[:32]).decode()
