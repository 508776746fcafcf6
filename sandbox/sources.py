"""The payment methods beyond cards that the sandbox models, what its `GET /capability`
advertises, and the PromptPay QR code image.

Flows, as Omise names them:

- `offline` — PromptPay. The charge stays `pending` with a QR code
  (`charge.source.scannable_code.image.download_uri`) until the shopper pays it in a banking
  app; in test mode `mark_as_paid` / `mark_as_failed` play the shopper, and an unpaid charge
  expires at its `expires_at`.
- `app_redirect` — mobile banking (`mobile_banking_*`): the charge is `pending` with an
  `authorize_uri` that, on a phone, opens the bank's app. Here it leads to a page that plays
  the app (Pay / Cancel / Let it time out), then back to `return_uri`.
- `redirect` — wallets (TrueMoney, Rabbit LINE Pay, ShopeePay) and installments
  (`installment_*`, the redirect integration): the same page plays the wallet's or the card
  issuer's page.

Thai internet banking (`internet_banking_*`) was discontinued by Omise on 2025-09-30: a source
of that type is refused, and charges made with it before stay readable.

The QR code is not a real PromptPay (EMVCo) payload: it encodes the URL of the sandbox's
"banking app" page for the charge, where Pay and Fail buttons settle it (docs/sandbox.md).
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import qrcode
import qrcode.image.svg
from django.conf import settings

OFFLINE, REDIRECT, APP_REDIRECT = "offline", "redirect", "app_redirect"

MOBILE_BANKING = {
    "mobile_banking_kbank": "K PLUS (Kasikorn Bank)",
    "mobile_banking_scb": "SCB Easy",
    "mobile_banking_bay": "Krungsri (KMA)",
    "mobile_banking_bbl": "Bualuang mBanking",
    "mobile_banking_ktb": "Krungthai NEXT",
}
WALLETS = {
    "truemoney": "TrueMoney Wallet",
    "rabbit_linepay": "Rabbit LINE Pay",
    "shopeepay": "ShopeePay",
}
# Installments, the redirect integration: issuer → the terms (months) Omise's docs list.
INSTALLMENTS = {
    "installment_bay": ("Krungsri", (3, 4, 6, 9, 10)),
    "installment_bbl": ("Bangkok Bank", (3, 4, 5, 6, 7, 8, 9, 10)),
    "installment_first_choice": ("Krungsri First Choice", (3, 4, 6, 9, 10, 12, 18, 24, 36)),
    "installment_kbank": ("Kasikorn Bank", (3, 4, 6, 10)),
    "installment_ktc": ("Krungthai Card (KTC)", (3, 4, 5, 6, 7, 8, 9, 10)),
    "installment_scb": ("Siam Commercial Bank", (3, 4, 6, 9, 10)),
    "installment_ttb": ("TMBThanachart Bank (TTB)", (3, 4, 6, 10)),
    "installment_uob": ("UOB", (3, 4, 6, 10)),
}

# type → flow
FLOWS = {
    "promptpay": OFFLINE,
    **dict.fromkeys(MOBILE_BANKING, APP_REDIRECT),
    **dict.fromkeys(WALLETS, REDIRECT),
    **dict.fromkeys(INSTALLMENTS, REDIRECT),
}
# What the sandbox's pages call each method (the card frame's picker, the hand-off page).
LABELS = {
    "promptpay": "PromptPay",
    **MOBILE_BANKING,
    **WALLETS,
    **{name: f"{issuer} installments" for name, (issuer, _) in INSTALLMENTS.items()},
}
# Every method the sandbox can advertise; SANDBOX_PAYMENT_METHODS picks some of them.
ALL_METHODS = ("card", *FLOWS)
# How long a PromptPay QR code can be paid when the charge sets no `expires_at`.
# Unconfirmed: Omise documents an expiry per charge; 24 hours is this sandbox's choice.
DEFAULT_OFFLINE_EXPIRY = timedelta(hours=24)
# How long a bank's app or a wallet waits for the shopper. Unconfirmed: this sandbox's choice.
DEFAULT_OFFSITE_EXPIRY = timedelta(minutes=15)
# A Thai mobile number as TrueMoney takes it: 0 then 9 digits (06/08/09…), or +66 and 9 digits.
THAI_MOBILE = re.compile(r"^(?:0|\+66)[689]\d{8}$")


def enabled_methods() -> list[str]:
    """The methods this sandbox account has (SANDBOX_PAYMENT_METHODS, default: all)."""
    chosen = getattr(settings, "SANDBOX_PAYMENT_METHODS", None)
    if chosen is None:
        return list(ALL_METHODS)
    return [name for name in ALL_METHODS if name in set(chosen)]


def installment_min_amount() -> int:
    """`limits.installment_amount.min` of this sandbox account, in satang."""
    return int(getattr(settings, "SANDBOX_INSTALLMENT_MIN_AMOUNT", 200000))


def zero_interest_installments() -> bool:
    """Whether the merchant pays the installments' interest (an account setting at Omise)."""
    return bool(getattr(settings, "SANDBOX_ZERO_INTEREST_INSTALLMENTS", False))


def installment_terms_for(source_type: str, amount: int) -> list[int]:
    """The terms of an issuer open to `amount`: each month at least the installment minimum."""
    if source_type not in INSTALLMENTS or source_type not in enabled_methods():
        return []
    minimum = installment_min_amount()
    return [term for term in INSTALLMENTS[source_type][1] if amount >= minimum * term]


def qr_svg(data: str) -> bytes:
    """A QR code of `data` as a standalone SVG document (no Pillow needed)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
