"""Omise's amount and currency rules for charges and sources (satang, THB only)."""

from __future__ import annotations

from sandbox.services.common import SandboxError

THB_MIN, THB_MAX = 2000, 15_000_000  # satang, from omise-api.md
SUPPORTED_CURRENCIES = {"thb"}


def validate_amount(amount, currency) -> tuple[int, str]:
    if isinstance(amount, bool) or not str(amount).lstrip("-").isdigit():
        raise SandboxError("invalid_charge", "amount must be an integer")
    amount = int(amount)
    currency = str(currency or "").lower()
    if currency not in SUPPORTED_CURRENCIES:
        raise SandboxError("invalid_charge", "currency is currently not supported")
    if amount < THB_MIN:
        raise SandboxError(
            "invalid_charge", f"amount must be greater than or equal to ฿20 ({THB_MIN} satangs)"
        )
    if amount > THB_MAX:
        raise SandboxError(
            "invalid_charge", f"amount must be less than or equal to ฿150,000 ({THB_MAX} satangs)"
        )
    return amount, currency
