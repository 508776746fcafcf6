"""Secret key use per IP: the first use from an address leaves a notice, as Omise e-mails."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db.models import F

from sandbox.models import KeyUse, Notice
from sandbox.services.common import iso


def record_key_use(*, key: str, ip: str) -> bool:
    """Remember the IP a secret key was used from; True (and a notice) the first time."""
    hint = hmac.new(settings.SECRET_KEY.encode(), key.encode(), hashlib.sha256).hexdigest()[:32]
    use, created = KeyUse.objects.get_or_create(key_hint=hint, ip=ip)
    KeyUse.objects.filter(pk=use.pk).update(count=F("count") + 1)
    if created:
        Notice.objects.create(
            subject="Your secret key was used from a new IP",
            body=(
                f"Your test secret key was used for the first time from IP address {ip} on "
                f"{iso(use.first_seen)}. Omise e-mails this for live keys: if you do not "
                "recognise the address, roll your keys. A fixed outbound IP (OMISE_PROXY_URL) "
                "makes this notice rare and meaningful."
            ),
        )
    return created
