"""What to tell a shopper for each Omise failure code: what happened and what to do next.
Messages never blame the shopper and never reveal why a fraud check failed. Each is translated
(gettext_lazy here, rendered in the shopper's language when shown)."""

from django.utils.translation import gettext_lazy as _

from checkout import payment_methods

DEFAULT = _("Your payment did not go through and you were not charged. Please try another card.")

MESSAGES = {
    "insufficient_fund": _(
        "Your card was declined for insufficient funds. You were not charged; "
        "please try another card."
    ),
    "stolen_or_lost_card": _(
        "Your card was declined. Please contact your bank or use another card."
    ),
    "failed_processing": _(
        "The payment could not be processed. You were not charged; please try "
        "again or use another card."
    ),
    "payment_rejected": _(
        "Your bank rejected the payment. You were not charged; please use another card."
    ),
    "failed_fraud_check": _(
        "We could not accept this payment. You were not charged; please use "
        "another card or contact us."
    ),
    "invalid_account_number": _(
        "Your bank did not recognise this card number. Please check it or use another card."
    ),
    "invalid_security_code": _(
        "The security code was not accepted. Please check the 3 or 4 digits "
        "on your card and try again."
    ),
    "confirmed_amount_mismatch": _(
        "The payment amount could not be confirmed. You were not charged; please try again."
    ),
    "failed_3ds": _(
        "Your bank could not verify this payment (3-D Secure). You were not charged; "
        "please try again or use another card."
    ),
    "authentication_failure": _(
        "Your bank could not verify this payment (3-D Secure). You were not "
        "charged; please try again or use another card."
    ),
    "invalid_card": _("The card details were not accepted. Please check them and try again."),
    "used_token": _("Your card entry expired. Please press Pay and enter your card again."),
    "not_charged": _(
        "We could not reach the payment service and you were not charged. Please try again."
    ),
    "service_unavailable": _(
        "The payment service is unavailable right now. You were not "
        "charged; please try again in a few minutes."
    ),
    "expired": _("The payment was not completed in time. You were not charged; please try again."),
}


# Failures on the payment service's side, not the card's or the bank's: the shopper was not
# charged and did nothing wrong, so they count neither as declines on the dashboard nor
# against the velocity limits.
NOT_A_DECLINE = frozenset({"not_charged", "service_unavailable"})

# PromptPay and banks: there is no card to "try another" of.
SOURCE_DEFAULT = _(
    "The payment did not go through and you were not charged. Please try again or choose "
    "another way to pay."
)
SOURCE_MESSAGES = {
    "service_unavailable": MESSAGES["service_unavailable"],
    "expired": _(
        "The QR code expired before a payment arrived. You were not charged; please start again."
    ),
}


_CANCELLED = _(
    "You cancelled the payment, so you were not charged. Please try again or choose another "
    "way to pay."
)
# Per family of methods (checkout.payment_methods.family): what happened in the bank's app, the
# wallet or at the card issuer, and what to do next.
METHOD_MESSAGES = {
    "mobile_banking": {
        "payment_cancelled": _CANCELLED,
        "expired": _(
            "The payment was not confirmed in your banking app in time. You were not charged; "
            "please start again."
        ),
        "timeout": _(
            "The payment was not confirmed in your banking app in time. You were not charged; "
            "please start again."
        ),
        "insufficient_fund": _(
            "Your bank account did not have enough funds for this payment. You were not "
            "charged; please choose another way to pay."
        ),
        "payment_rejected": _(
            "Your bank did not accept the payment. You were not charged; please try again or "
            "choose another way to pay."
        ),
    },
    "wallet": {
        "payment_cancelled": _CANCELLED,
        "expired": _(
            "The payment was not confirmed in your wallet in time. You were not charged; "
            "please start again."
        ),
        "timeout": _(
            "The payment was not confirmed in your wallet in time. You were not charged; "
            "please start again."
        ),
        "insufficient_balance": _(
            "Your wallet balance was not enough for this payment. You were not charged; please "
            "top up or choose another way to pay."
        ),
        "invalid_phone_number": _(
            "Your wallet did not recognise this phone number. You were not charged; please "
            "check it and try again."
        ),
        "payment_rejected": _(
            "Your wallet did not accept the payment. You were not charged; please choose "
            "another way to pay."
        ),
    },
    "installment": {
        "payment_cancelled": _CANCELLED,
        "expired": _(
            "The installment plan was not confirmed in time. You were not charged; please "
            "start again."
        ),
        "payment_rejected": _(
            "Your card issuer did not approve the installment plan. You were not charged; "
            "please choose another plan, card or way to pay."
        ),
        "insufficient_fund": _(
            "Your card's credit limit was not enough for this installment plan. You were not "
            "charged; please choose another way to pay."
        ),
    },
}


def shopper_message(code: str | None, *, method: str = "card") -> str:
    """The message for a failure `code`; `method` is the attempt's payment method."""
    if not code:
        return ""
    if method and method != "card":
        by_method = METHOD_MESSAGES.get(payment_methods.family(method), {})
        return str(by_method.get(code) or SOURCE_MESSAGES.get(code, SOURCE_DEFAULT))
    return str(MESSAGES.get(code, DEFAULT))
