"""The numbers of the monitoring dashboard, computed from the database for a time window.

What each number means (and what a spike of it usually is: see docs/operations.md):

- payments: payment attempts whose charge succeeded.
- declines: attempts that failed at Omise or the bank (card declined, 3-D Secure failed,
  token refused). Not counted: "not_charged", our own verdict on a charge that never existed.
- decline rate: declines / (payments + declines). Card testing shows as a jump of this.
- 3-D Secure abandoned: attempts still waiting at the bank more than `ABANDONED_AFTER` after
  they started, plus attempts whose charge expired there (the shopper never came back).
- card-guard refusals, velocity blocks, CSP reports: `SecurityEvent`s of those kinds.
- webhook failures: webhook deliveries answered with a status of 400 or more (bad
  signatures, unknown events, processing errors that Omise will retry).

Buckets are in the shop's time zone; attempts count in the bucket they were created in.
Functions take `now` so tests (and the curious) can look at any window.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from checkout.capture import authorizations_to_capture
from checkout.failures import NOT_A_DECLINE
from checkout.models import Dispute, Order, PaymentAttempt, WebhookDelivery, WebhookEvent
from checkout.payment_methods import CARD
from security.models import SecurityEvent

ABANDONED_AFTER = timedelta(minutes=15)

# (attribute, label) of each series, in the dashboard's order.
SERIES = [
    ("payments", "Payments"),
    ("declines", "Declines"),
    ("abandoned_3ds", "3-D Secure abandoned"),
    ("card_guard", "Card-guard refusals"),
    ("velocity_blocks", "Velocity blocks"),
    ("csp_reports", "CSP reports"),
    ("webhook_failures", "Webhook failures"),
    ("webhook_rejections", "Unverified webhooks"),
    ("duplicate_payments", "Carts paid twice"),
]


@dataclass
class Bucket:
    """Counts for one period starting at `start` (an aware datetime in the shop's zone)."""

    start: datetime
    payments: int = 0
    declines: int = 0
    abandoned_3ds: int = 0
    card_guard: int = 0
    velocity_blocks: int = 0
    csp_reports: int = 0
    webhook_failures: int = 0
    webhook_rejections: int = 0
    duplicate_payments: int = 0

    @property
    def decline_rate(self) -> float | None:
        """Declines as a share of charges that got an answer; None when there were none."""
        tried = self.payments + self.declines
        return self.declines / tried if tried else None


# --- the querysets behind each number ---------------------------------------------------------


def payments() -> QuerySet:
    return PaymentAttempt.objects.filter(status=PaymentAttempt.Status.SUCCESSFUL)


def declines() -> QuerySet:
    return PaymentAttempt.objects.filter(status=PaymentAttempt.Status.FAILED).exclude(
        failure_code__in=NOT_A_DECLINE
    )


def abandoned_3ds(now: datetime) -> QuerySet:
    waiting_too_long = Q(
        status=PaymentAttempt.Status.PENDING, created_at__lt=now - ABANDONED_AFTER
    ) & ~Q(authorize_uri="")
    # Cards only: an unpaid PromptPay QR code also expires, but no bank page was abandoned.
    cards = Q(payment_method__in=["", CARD])
    return PaymentAttempt.objects.filter(
        cards & (waiting_too_long | Q(status=PaymentAttempt.Status.EXPIRED))
    )


def security_events(kind: str) -> QuerySet:
    return SecurityEvent.objects.filter(kind=kind)


def webhook_failures() -> QuerySet:
    return WebhookDelivery.objects.filter(response_status__gte=400)


def _sources(now: datetime) -> dict[str, tuple[QuerySet, str]]:
    """Each series: its queryset and the timestamp field it is bucketed by."""
    return {
        "payments": (payments(), "created_at"),
        "declines": (declines(), "created_at"),
        "abandoned_3ds": (abandoned_3ds(now), "created_at"),
        "card_guard": (security_events(SecurityEvent.Kind.CARD_DATA_REFUSED), "created_at"),
        "velocity_blocks": (security_events(SecurityEvent.Kind.VELOCITY_BLOCK), "created_at"),
        "csp_reports": (security_events(SecurityEvent.Kind.CSP_VIOLATION), "created_at"),
        "webhook_failures": (webhook_failures(), "received_at"),
        # Refused before being stored (bad signature, not JSON…): only the event remains. A
        # steady count here while Omise's dashboard shows deliveries: the secret is wrong.
        "webhook_rejections": (security_events(SecurityEvent.Kind.WEBHOOK_REJECTED), "created_at"),
        # A second payment for a cart already paid (a bank race), refunded automatically.
        "duplicate_payments": (security_events(SecurityEvent.Kind.DUPLICATE_PAYMENT), "created_at"),
    }


# --- series and summaries ---------------------------------------------------------------------


def hourly_series(*, now: datetime | None = None, hours: int = 24) -> list[Bucket]:
    """One bucket per hour for the last `hours` hours, the current (partial) hour last."""
    now = now or timezone.now()
    last = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    starts = [last - timedelta(hours=n) for n in range(hours - 1, -1, -1)]
    return _series(starts, TruncHour, now)


def daily_series(*, now: datetime | None = None, days: int = 14) -> list[Bucket]:
    """One bucket per day (shop's time zone) for the last `days` days, today last."""
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    # Day starts by calendar date, not by 24 h steps: a DST change would shift the latter.
    starts = [
        timezone.make_aware(datetime.combine(today.date() - timedelta(days=n), datetime.min.time()))
        for n in range(days - 1, -1, -1)
    ]
    return _series(starts, TruncDay, now)


def _series(starts: list[datetime], trunc, now: datetime) -> list[Bucket]:
    buckets = {start: Bucket(start=start) for start in starts}
    zone = timezone.get_current_timezone()
    for name, (queryset, stamp) in _sources(now).items():
        counts = (
            queryset.filter(**{f"{stamp}__gte": starts[0], f"{stamp}__lte": now})
            .annotate(bucket=trunc(stamp, tzinfo=zone))
            .values("bucket")
            # COUNT(*): read from the (kind or status, time) index alone, not from each row.
            .annotate(n=Count("*"))
            .values_list("bucket", "n")
        )
        for start, n in counts:
            bucket = buckets.get(timezone.localtime(start, zone))
            if bucket is not None:
                setattr(bucket, name, n)
    return list(buckets.values())


def summary(*, hours: int, now: datetime | None = None) -> dict:
    """Totals over the last `hours` hours, with the decline rate and 3-D Secure abandonment."""
    now = now or timezone.now()
    since = now - timedelta(hours=hours)
    totals = {
        name: queryset.filter(**{f"{stamp}__gte": since, f"{stamp}__lte": now}).count()
        for name, (queryset, stamp) in _sources(now).items()
    }
    tried = totals["payments"] + totals["declines"]
    attempts = PaymentAttempt.objects.filter(created_at__gte=since, created_at__lte=now).count()
    return {
        **totals,
        "hours": hours,
        "attempts": attempts,
        "decline_rate": totals["declines"] / tried if tried else None,
        "abandoned_3ds_rate": totals["abandoned_3ds"] / attempts if attempts else None,
    }


def top_decline_ips(*, hours: int, limit: int = 10, now: datetime | None = None) -> list[dict]:
    """The client IPs with the most declines: several cards from one IP is card testing."""
    return _top_declines("order__client_ip", hours=hours, limit=limit, now=now)


def top_decline_emails(*, hours: int, limit: int = 10, now: datetime | None = None) -> list[dict]:
    """The buyer emails with the most declines."""
    return _top_declines("order__email", hours=hours, limit=limit, now=now)


def _top_declines(key: str, *, hours: int, limit: int, now: datetime | None) -> list[dict]:
    now = now or timezone.now()
    rows = (
        declines()
        .filter(created_at__gte=now - timedelta(hours=hours), created_at__lte=now)
        .exclude(**{f"{key}__isnull": True})
        .values(key)
        .annotate(
            declines=Count("id"),
            cards=Count("card_fingerprint", distinct=True, filter=~Q(card_fingerprint="")),
        )
        .order_by("-declines", key)[:limit]
    )
    return [{"value": row[key], "declines": row["declines"], "cards": row["cards"]} for row in rows]


# --- merchant operations: authorizations, disputes, lost webhooks, Omise's advice ------------


def operations(*, now: datetime | None = None, days: int = 14) -> dict:
    """The dashboard's operations panel (docs/operations.md):

    - to_capture: authorized orders whose deadline (the charge's expires_at) is within
      `CAPTURE_SOON`, soonest first; expired_authorizations: orders whose authorization lapsed
      uncaptured in the last `days`.
    - open_disputes (with the soonest deadlines), disputes opened in the last `days`, and the
      dispute rate: disputes opened / payments, both over the last `days` (card schemes watch
      this ratio; around 1% is where they start to act).
    - events_by_catch_up: Omise events that reached us only by listing them (the webhook never
      came), over 24 hours and `days`: more than a few means the endpoint is failing.
    - advised_declines: recent declines with Omise's advice to the merchant, for staff.
    """
    now = now or timezone.now()
    since = now - timedelta(days=days)
    # By when Omise opened them (a dispute found late by the catch-up counts in its own week).
    opened = Dispute.objects.filter(opened_at__gte=since, opened_at__lte=now).count()
    paid = payments().filter(created_at__gte=since, created_at__lte=now).count()
    open_disputes = Dispute.objects.filter(status__in=Dispute.OPEN_STATUSES).select_related("order")
    catch_up = WebhookEvent.objects.filter(arrival="catch_up", created_at__lte=now)
    return {
        "days": days,
        "to_capture": authorizations_to_capture(now=now)[:20],
        "expired_authorizations": Order.objects.filter(
            status=Order.Status.EXPIRED,
            authorized_at__isnull=False,
            updated_at__gte=since,
        ).count(),
        "open_disputes": open_disputes.count(),
        "soonest_disputes": list(open_disputes.order_by("respond_by")[:10]),
        "disputes_opened": opened,
        "dispute_rate": opened / paid if paid else None,
        "events_by_catch_up_24h": catch_up.filter(
            created_at__gte=now - timedelta(hours=24)
        ).count(),
        "events_by_catch_up": catch_up.filter(created_at__gte=since).count(),
        "advised_declines": list(
            declines()
            .filter(created_at__gte=since, created_at__lte=now)
            .exclude(merchant_advice="", missing_3ds_fields=[])
            .select_related("order")
            .order_by("-created_at")[:20]
        ),
    }
