"""Injected faults (a test hook): arm a stall or an error status for an endpoint, consumed one
call at a time."""

from __future__ import annotations

from django.db.models import F

from sandbox.models import Fault
from sandbox.services.common import SandboxError


def add_fault(
    *, endpoint: str, kind: str, seconds: float = 0, status: int = 500, count: int = 1
) -> Fault:
    if kind not in Fault.Kind.values:
        raise SandboxError("bad_request", f"kind must be one of {', '.join(Fault.Kind.values)}")
    if not 0 <= float(seconds) <= 30 or not 1 <= int(count) <= 100:
        raise SandboxError("bad_request", "seconds must be 0..30 and count 1..100")
    if kind == Fault.Kind.STATUS and not 400 <= int(status) <= 599:
        raise SandboxError("bad_request", "status must be an HTTP error status")
    return Fault.objects.create(
        endpoint=endpoint,
        kind=kind,
        seconds=float(seconds),
        status=int(status),
        remaining=int(count),
    )


def take_fault(*, endpoint: str) -> Fault | None:
    """The oldest fault armed for this endpoint, consumed by one call (race-free)."""
    for fault in Fault.objects.filter(endpoint=endpoint, remaining__gt=0).order_by("id"):
        if Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(remaining=F("remaining") - 1):
            return fault
    return None
