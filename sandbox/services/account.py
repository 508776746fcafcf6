"""The account object (`GET /account`): the test account these keys belong to."""

from __future__ import annotations

import hashlib

from django.conf import settings

from sandbox.services.amounts import SUPPORTED_CURRENCIES


def account_json() -> dict:
    digest = hashlib.sha256(f"acct:{settings.OMISE_SECRET_KEY}".encode()).hexdigest()
    return {
        "object": "account",
        "id": "acct_test_" + digest[:19],
        "livemode": False,
        "location": "/account",
        "email": "sandbox@example.test",
        "currency": "thb",
        "supported_currencies": sorted(SUPPORTED_CURRENCIES),
        "country": "TH",
        "api_version": "2019-05-29",
        "webhook_uri": getattr(settings, "SANDBOX_WEBHOOK_URL", ""),
        "created_at": "2019-05-29T00:00:00Z",
    }
