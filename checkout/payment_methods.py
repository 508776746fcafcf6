"""Ways to pay beyond cards: which this shop handles, what Omise.js hands back for them, what
a charge made from one tells the shop, and each method's refund rule.

Omise's pre-built form returns a card token (`tokn_…`) or, for another method chosen in it, a
source (`src_…`) that Omise.js created for the cart's amount. The charge is created from either
the same way (`checkout.services.checkout_submit`), once the server has read the source back
and checked it against the account's capability (`checkout.capability`). Only what the
shopper sees next differs:

- PromptPay (`flow: offline`): the charge is `pending` with a QR code to scan in a banking app
  and an `expires_at`. The order page shows the QR code and waits; `charge.complete` (paid or
  failed) or `charge.expire` settles the order.
- Mobile banking (`mobile_banking_*`, `flow: app_redirect`), wallets (TrueMoney, Rabbit LINE
  Pay, ShopeePay) and installments (`installment_*`, Omise's redirect integration): `pending`
  with an `authorize_uri` (on a phone, a deep link into the bank's app), handled exactly like
  3-D Secure: there, back to the return URL, retrieve the charge.

Thai internet banking (`internet_banking_*`) was discontinued by Omise on 2025-09-30: it is no
longer offered, and orders paid with it keep their label.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _

from checkout.models import PaymentAttempt
from shop.money import format_money

CARD = "card"
SOURCE = "source"  # a source whose type its charge has not told us yet
PROMPTPAY = "promptpay"
TRUEMONEY = "truemoney"
MOBILE_BANKING = {
    "mobile_banking_kbank": _("K PLUS (Kasikorn Bank)"),
    "mobile_banking_scb": _("SCB Easy"),
    "mobile_banking_bay": _("Krungsri (KMA)"),
    "mobile_banking_bbl": _("Bualuang mBanking"),
    "mobile_banking_ktb": _("Krungthai NEXT"),
}
WALLETS = {
    TRUEMONEY: _("TrueMoney Wallet"),
    "rabbit_linepay": _("Rabbit LINE Pay"),
    "shopeepay": _("ShopeePay"),
}
INSTALLMENTS = {
    "installment_bay": _("Krungsri installments"),
    "installment_bbl": _("Bangkok Bank installments"),
    "installment_first_choice": _("Krungsri First Choice installments"),
    "installment_kbank": _("Kasikorn Bank installments"),
    "installment_ktc": _("KTC installments"),
    "installment_scb": _("SCB installments"),
    "installment_ttb": _("TTB installments"),
    "installment_uob": _("UOB installments"),
}
# How Omise's form names the installment choice: it lists the issuers and terms itself.
INSTALLMENT_FORM_NAME = "installment"
# The methods this shop offers beside cards, in the order the form lists them, when the
# account has them (`checkout.capability.Capability.offered`).
OFFERED = [PROMPTPAY, *MOBILE_BANKING, *WALLETS]
# Every source type the shop will charge (installments are chosen in the form by issuer).
HANDLED = frozenset({*OFFERED, *INSTALLMENTS})

# What the pages call each method; an unknown source type is shown by its Omise name.
LABELS = {
    CARD: _("Card"),
    PROMPTPAY: _("PromptPay"),
    **MOBILE_BANKING,
    **WALLETS,
    **INSTALLMENTS,
    # Discontinued; kept so that orders paid with it still say how.
    "internet_banking_bbl": _("Bangkok Bank internet banking"),
    "internet_banking_bay": _("Krungsri internet banking"),
    "internet_banking_ktb": _("Krungthai internet banking"),
    "internet_banking_scb": _("SCB internet banking"),
}


def label(method: str) -> str:
    return str(LABELS.get(method, method.replace("_", " ").capitalize()))


def family(method: str) -> str:
    """card, promptpay, mobile_banking, wallet, installment or other (failure messages and
    refund rules are per family)."""
    if method in (CARD, PROMPTPAY):
        return method
    if method in MOBILE_BANKING:
        return "mobile_banking"
    if method in WALLETS:
        return "wallet"
    if method in INSTALLMENTS:
        return "installment"
    return "other"


# Refunds by family: "partial" (any amount up to what is left) or "full" (the whole amount,
# once). Omise's answer is final; these rules refuse early and tell staff why. Cards: Omise's
# docs. The others are **unconfirmed** (docs/payment-methods.md): the stricter reading is kept,
# so being wrong costs staff a full refund where a partial one would have done, never money.
REFUND_RULES = {
    CARD: "partial",
    "wallet": "partial",
    PROMPTPAY: "full",
    "mobile_banking": "full",
    "installment": "full",
    "other": "full",
}
REFUND_RULE_TEXT = {
    "partial": "full or partial refunds",
    "full": "full refunds only (the whole amount, once)",
}


def refund_rule(method: str) -> str:
    return REFUND_RULES[family(method)]


def refund_refusal(
    method: str, *, amount: int, order_amount: int, refunded: int, currency: str
) -> str:
    """Why staff may not refund `amount` of an order paid with `method`, for staff; "" if they
    may (what is left is checked by checkout.refunds)."""
    if refund_rule(method) == "full" and (refunded or amount != order_amount):
        return (
            f"{label(method)} payments can only be refunded in full, once: refund "
            f"{format_money(order_amount, currency)} or nothing."
        )
    return ""


def apply_charge(attempt: PaymentAttempt, charge: dict) -> None:
    """Copy the payment method, and a PromptPay QR code and expiry, from `charge` onto
    `attempt` (not saved: `checkout.services.charge_apply` saves it under its row lock)."""
    source = charge.get("source") or {}
    if source.get("type"):
        attempt.payment_method = str(source["type"])[:40]
    elif charge.get("card"):
        attempt.payment_method = CARD
    image = (source.get("scannable_code") or {}).get("image") or {}
    pending = attempt.status == PaymentAttempt.Status.PENDING
    # Only while it can still be paid: a settled order page must not show a QR code.
    attempt.qr_code_uri = _web_url(image.get("download_uri")) if pending else ""
    attempt.expires_at = _parse_time(charge.get("expires_at")) or attempt.expires_at


def awaiting_scan(attempt: PaymentAttempt | None) -> bool:
    """True while the shopper should be looking at a QR code to pay."""
    return bool(attempt and attempt.qr_code_uri and attempt.status == PaymentAttempt.Status.PENDING)


def pays_later(attempt: PaymentAttempt) -> bool:
    """True for a method the shopper completes elsewhere, later (a QR code, a bank's app or
    page): its payment instructions and its failure are mailed (checkout.notifications)."""
    return attempt.payment_method not in {CARD, SOURCE, ""}


def _web_url(value) -> str:
    """An http(s) URL as is, anything else as nothing (it ends up in an <img src>)."""
    value = str(value or "")
    return value[:1000] if urlsplit(value).scheme in {"https", "http"} else ""


def _parse_time(value) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
