"""Failure messages per method (checkout/failures.py): each family says what happened in the
bank's app, the wallet or at the card issuer; an unknown code still gets a sensible message; a
card keeps its own wording."""

import pytest

from checkout.failures import METHOD_MESSAGES, SOURCE_DEFAULT, shopper_message


@pytest.mark.parametrize(
    ("method", "code", "words"),
    [
        ("mobile_banking_kbank", "expired", "not confirmed in your banking app in time"),
        ("mobile_banking_scb", "payment_cancelled", "You cancelled the payment"),
        ("truemoney", "insufficient_balance", "wallet balance was not enough"),
        ("shopeepay", "expired", "not confirmed in your wallet in time"),
        ("truemoney", "invalid_phone_number", "did not recognise this phone number"),
        ("installment_kbank", "payment_rejected", "did not approve the installment plan"),
        ("promptpay", "expired", "QR code expired"),
        ("card", "insufficient_fund", "insufficient funds"),
    ],
)
def test_each_method_says_what_happened(method, code, words):
    assert words in shopper_message(code, method=method)


@pytest.mark.parametrize("method", ["mobile_banking_bbl", "rabbit_linepay", "installment_uob"])
def test_an_unknown_code_gets_the_general_message(method):
    assert shopper_message("some_new_code", method=method) == SOURCE_DEFAULT


def test_every_method_message_says_nothing_was_charged():
    """Every method message tells the shopper they were not charged."""
    for messages in METHOD_MESSAGES.values():
        for message in messages.values():
            assert "not charged" in str(message), message
