"""Retention: security events and raw webhook deliveries are kept for a configured age, then
deleted (`manage.py prune_records`, from cron), so the two tables that grow with every request
a stranger sends stop growing.

What is still needed is never deleted, however old:

- a delivery whose event has not been applied yet (no applied `WebhookEvent` for its id) and
  that was not refused for good: it is still being processed, queued, or failed in a way Omise
  retries (a 5xx). One refused with a 4xx (not JSON, an unknown event id) has nothing left to
  do and goes with its age.
- security events younger than `SECURITY_EVENT_RETENTION_DAYS`, which may not be set below
  `MIN_SECURITY_EVENT_DAYS` (three months: PCI DSS v4.0 10.5.1 asks for audit history to stay
  at hand that long, and a year in all).

`WebhookEvent` rows (one per Omise event, the record that it was applied once) are kept: they
are the guard against applying an event twice, and are a fraction of the deliveries.

Rows go in batches of `BATCH` (oldest first), each its own short DELETE by primary key, so a
first run over a year of rows never holds a long lock on a table the shop writes to.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from checkout.models import WebhookDelivery, WebhookEvent
from security.models import SecurityEvent

BATCH = 5000
MIN_SECURITY_EVENT_DAYS = 90


@dataclass(frozen=True)
class Pruned:
    security_events: int
    webhook_deliveries: int
    deliveries_kept: int  # older than the age, but still needed


def security_events_expired(*, days: int | None = None) -> QuerySet:
    """Security events older than the retention age."""
    days = max(days or settings.SECURITY_EVENT_RETENTION_DAYS, MIN_SECURITY_EVENT_DAYS)
    return SecurityEvent.objects.filter(created_at__lt=timezone.now() - timedelta(days=days))


def deliveries_expired(*, days: int | None = None) -> QuerySet:
    """Webhook deliveries older than the retention age (needed or not)."""
    days = days or settings.WEBHOOK_DELIVERY_RETENTION_DAYS
    return WebhookDelivery.objects.filter(received_at__lt=timezone.now() - timedelta(days=days))


def still_needed() -> Q:
    """A delivery whose event is not applied yet, unless it was refused for good (4xx)."""
    applied = WebhookEvent.objects.filter(event_id=OuterRef("event_id"), processed_at__isnull=False)
    refused = Q(response_status__gte=400, response_status__lt=500)
    return ~Exists(applied) & ~refused


def prune(*, dry_run: bool = False) -> Pruned:
    """Delete what has expired and is not needed; with `dry_run`, only count it."""
    events = security_events_expired()
    deliveries = deliveries_expired()
    kept = deliveries.filter(still_needed()).count()
    deliveries = deliveries.exclude(still_needed())
    if dry_run:
        return Pruned(events.count(), deliveries.count(), kept)
    return Pruned(_delete(events), _delete(deliveries), kept)


def _delete(queryset: QuerySet) -> int:
    deleted = 0
    while ids := list(queryset.order_by("pk").values_list("pk", flat=True)[:BATCH]):
        count, _ = queryset.model.objects.filter(pk__in=ids).delete()
        deleted += count
    return deleted
