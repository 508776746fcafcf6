"""Ways to pay beyond cards: what Omise.js hands back for them, and what a charge made from
one tells the shop.

Omise's pre-built form returns a card token (`tokn_…`) or, for another method chosen in it, a
source (`src_…`) that Omise.js created for the cart's amount. The charge is created from either
the same way (`checkout.services.checkout_submit`); only what the shopper sees next differs:

- PromptPay (`flow: offline`): the charge is `pending` with a QR code to scan in a banking app
  and an `expires_at`. The order page shows the QR code and waits; `charge.complete` (paid or
  failed) or `charge.expire` settles the order.
- Redirect methods (internet banking, TrueMoney…): `pending` with an `authorize_uri`, handled
  exactly like 3-D Secure (to the bank, back to the return URL, retrieve the charge).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _

from checkout.models import PaymentAttempt

CARD = "card"
SOURCE = "source"  # a source whose type its charge has not told us yet
PROMPTPAY = "promptpay"
# What the pages call each method; an unknown source type is shown by its Omise name.
LABELS = {
    CARD: _("Card"),
    PROMPTPAY: "PromptPay",
    "internet_banking_bbl": _("Bangkok Bank internet banking"),
    "truemoney": _("TrueMoney Wallet"),
}
# The methods this shop offers in Omise's form besides cards (`otherPaymentMethods`).
OTHER_PAYMENT_METHODS = [PROMPTPAY, "internet_banking_bbl"]


def label(method: str) -> str:
    return str(LABELS.get(method, method.replace("_", " ").capitalize()))


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
