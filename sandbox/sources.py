"""The payment methods beyond cards that the sandbox models, and the PromptPay QR code image.

Two flows, as Omise names them:

- `offline` — PromptPay. The charge stays `pending` with a QR code
  (`charge.source.scannable_code.image.download_uri`) until the shopper pays it in a banking
  app; in test mode `mark_as_paid` / `mark_as_failed` play the shopper, and an unpaid charge
  expires at its `expires_at`.
- `redirect` — internet banking (Bangkok Bank here). The charge is `pending` with an
  `authorize_uri`, exactly like 3-D Secure: the shopper goes to the bank and back to
  `return_uri`.

The QR code is not a real PromptPay (EMVCo) payload: it encodes the URL of the sandbox's
"banking app" page for the charge, where Pay and Fail buttons settle it (docs/sandbox.md).
"""

from __future__ import annotations

import io
from datetime import timedelta

import qrcode
import qrcode.image.svg

OFFLINE, REDIRECT = "offline", "redirect"
# type → flow. Omise offers many more (TrueMoney, mobile banking, installments…).
FLOWS = {
    "promptpay": OFFLINE,
    "internet_banking_bbl": REDIRECT,
}
# What the sandbox's pages call each method (the card frame's picker, the bank page).
LABELS = {
    "promptpay": "PromptPay",
    "internet_banking_bbl": "Bangkok Bank internet banking",
}
# How long a PromptPay QR code can be paid when the charge sets no `expires_at`.
# Unconfirmed: Omise documents an expiry per charge; 24 hours is this sandbox's choice.
DEFAULT_OFFLINE_EXPIRY = timedelta(hours=24)


def qr_svg(data: str) -> bytes:
    """A QR code of `data` as a standalone SVG document (no Pillow needed)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
