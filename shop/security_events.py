"""Recording security events: one call for every control, so each records the same facts."""

from django.http import HttpRequest

from shop.clientip import client_ip
from shop.logscrub import scrub
from shop.models import SecurityEvent


def record_security_event(
    kind: SecurityEvent.Kind, request: HttpRequest | None = None, *, field_name: str = "",
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
        kind=kind, path=path, field_name=field_name[:200], client_ip=ip or None,
        user_agent=agent, detail=detail,
    )
