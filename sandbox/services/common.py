"""What every sandbox resource shares: `SandboxError`, Omise-style ids and times, the
sandbox's URLs, parameter parsing (booleans, ISO 8601 times) and Omise's list object."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone


class SandboxError(Exception):
    """Becomes `{"object": "error", "code", "message", "location"}` with `status`."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def as_json(self) -> dict:
        return {
            "object": "error",
            "location": f"https://www.omise.co/api-errors#{self.code.replace('_', '-')}",
            "code": self.code,
            "message": self.message,
        }


_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str) -> str:
    """`chrg_test_5x…`: Omise's prefix, the test-mode infix, 19 random base-36 characters."""
    return f"{prefix}_test_" + "".join(secrets.choice(_ALPHABET) for _ in range(19))


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def sandbox_url(path: str) -> str:
    """An absolute URL on the sandbox's origin (the one the browser sees as "Omise")."""
    return settings.SANDBOX_ORIGIN.rstrip("/") + path


def as_bool(value, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in {"true", "1", "yes", "on"}


def parse_time(value, name: str) -> datetime | None:
    """An ISO 8601 list bound (`2024-05-01T09:30:00Z`); a zone-less one is taken as UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise SandboxError("bad_request", f"{name} must be an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def paginate(queryset: QuerySet, *, params: dict, serialize) -> dict:
    """Omise's list object; `limit` at most 100, `order` chronological by default."""
    try:
        offset = max(0, int(params.get("offset", 0)))
        limit = min(100, max(1, int(params.get("limit", 20))))
    except (TypeError, ValueError):
        raise SandboxError("bad_request", "offset and limit must be integers") from None
    order = params.get("order") or "chronological"
    if order not in {"chronological", "reverse_chronological"}:
        raise SandboxError("bad_request", "order must be chronological or reverse_chronological")
    # `from`/`to` (ISO 8601) bound created_at, inclusive, as Omise's lists do.
    since, until = parse_time(params.get("from"), "from"), parse_time(params.get("to"), "to")
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lte=until)
    queryset = queryset.order_by("created_at" if order == "chronological" else "-created_at")
    total = queryset.count()
    return {
        "object": "list",
        "data": [serialize(item) for item in queryset[offset : offset + limit]],
        "limit": limit,
        "offset": offset,
        "total": total,
        "order": order,
        "from": iso(since) if since else "1970-01-01T00:00:00Z",
        "to": iso(until or timezone.now()),
        "location": None,
    }
