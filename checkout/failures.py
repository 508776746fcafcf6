"""What to tell a shopper for each Omise failure code: what happened and what to do next.
Messages never blame the shopper and never reveal why a fraud check failed. Each is translated
(gettext_lazy here, rendered in the shopper's language when shown)."""

from django.utils.translation import gettext_lazy as _

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


def shopper_message(code: str | None, *, method: str = "card") -> str:
    """The message for a failure `code`; `method` is the attempt's payment method."""
    if not code:
        return ""
    if method and method != "card":
        return str(SOURCE_MESSAGES.get(code, SOURCE_DEFAULT))
    return str(MESSAGES.get(code, DEFAULT))
