"""Card tokens (the vault): `POST /tokens` validates the card and keeps only what a token may."""

from __future__ import annotations

import logging

from django.utils import timezone

from sandbox import cards
from sandbox.models import Token
from sandbox.services.common import SandboxError, iso, new_id

logger = logging.getLogger(__name__)


def create_token(*, card: dict) -> dict:
    """Validate card fields as Omise does and keep only what a token may keep."""
    check = cards.check_card(card, today=timezone.localdate())
    if check.errors:
        raise SandboxError("invalid_card", " and ".join(check.errors))
    year = int(card["expiration_year"])
    token = Token.objects.create(
        id=new_id("tokn"),
        behaviour=cards.behaviour_of(check.number),
        card={
            "object": "card",
            "id": new_id("card"),
            "livemode": False,
            "location": None,
            "deleted": False,
            "street1": card.get("street1") or None,
            "street2": card.get("street2") or None,
            "city": card.get("city") or None,
            "state": card.get("state") or None,
            "phone_number": card.get("phone_number") or None,
            "postal_code": card.get("postal_code") or None,
            "country": (card.get("country") or "th").lower(),
            "financing": "credit",
            "bank": "Sandbox Bank",
            "brand": check.brand,
            "fingerprint": cards.fingerprint(check.number),
            "first_digits": None,
            "last_digits": check.number[-4:],
            "name": str(card["name"]).strip(),
            "expiration_month": int(card["expiration_month"]),
            "expiration_year": year + 2000 if year < 100 else year,
            "security_code_check": True,
            "tokenization_method": None,
            "created_at": iso(timezone.now()),
        },
    )
    logger.info("sandbox token %s created (%s •••• %s)", token.id, check.brand, check.number[-4:])
    return token_json(token)


def token_json(token: Token) -> dict:
    return {
        "object": "token",
        "id": token.id,
        "livemode": False,
        "location": f"https://vault.omise.co/tokens/{token.id}",
        "used": token.used,
        "charge_status": "unknown",
        "card": token.card,
        "created_at": iso(token.created_at),
    }
