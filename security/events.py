"""Recording security events: one call for every control, so each records the same facts."""

import hashlib
import time

from django.core.cache import cache
from django.http import HttpRequest

from security.clientip import client_bucket, client_ip
from security.logscrub import scrub
from security.models import SecurityEvent

# What a stranger can make us record per client address (an IPv6 /64 counts as one) and
# minute; refusals beyond it are answered as usual but leave no row.
EVENTS_PER_MINUTE = 10


def record_security_event(
    kind: SecurityEvent.Kind,
    request: HttpRequest | None = None,
    *,
    field_name: str = "",
    **detail,
) -> SecurityEvent:
    """Store a security event with the request's path, client IP and user agent."""
    path = ip = agent = ""
    if request is not None:
        # Scrubbed: a card number or key can sit in a URL path or a forged user agent too.
        path = scrub(request.path)[:500]
        ip = client_ip(request)
        agent = scrub(request.META.get("HTTP_USER_AGENT", ""))[:500]
    return SecurityEvent.objects.create(
        kind=kind,
        path=path,
        field_name=field_name[:200],
        client_ip=ip or None,
        user_agent=agent,
        detail=detail,
    )


def record_security_event_limited(
    kind: SecurityEvent.Kind,
    request: HttpRequest,
    *,
    per_minute: int = EVENTS_PER_MINUTE,
    **detail,
) -> SecurityEvent | None:
    """`record_security_event` for refusals anyone can trigger at will: at most `per_minute`
    rows per kind and client address a minute, so a flood of junk cannot fill the table."""
    bucket = client_bucket(request)
    digest = hashlib.sha256(f"{kind}:{bucket}".encode()).hexdigest()[:32]
    key = f"security-events:{digest}:{int(time.time() // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=120)
        count = 1
    if count > per_minute:
        return None
    return record_security_event(kind, request, **detail)
