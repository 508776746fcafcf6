"""Retention: `prune_records` deletes security events and webhook deliveries past their age,
and never a delivery whose event is still to be applied, nor a young row."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from checkout import retention
from checkout.models import WebhookDelivery, WebhookEvent
from security.models import SecurityEvent
from tests.support import PRODUCTION, load_settings

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def event(age: timedelta, kind=SecurityEvent.Kind.CSP_VIOLATION) -> SecurityEvent:
    row = SecurityEvent.objects.create(kind=kind, path="/csp-report/")
    SecurityEvent.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def delivery(age: timedelta, *, event_id: str = "", status: int | None = 200) -> WebhookDelivery:
    row = WebhookDelivery.objects.create(
        event_id=event_id, response_status=status, signature_valid=True, body="{}"
    )
    WebhookDelivery.objects.filter(pk=row.pk).update(received_at=timezone.now() - age)
    return row


def applied(event_id: str) -> str:
    WebhookEvent.objects.create(
        event_id=event_id, key="charge.complete", processed_at=timezone.now()
    )
    return event_id


def prune(*args: str) -> str:
    out = io.StringIO()
    call_command("prune_records", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def ages(settings):
    settings.SECURITY_EVENT_RETENTION_DAYS = 365
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 90


def test_old_security_events_go_young_ones_stay():
    old, young = event(366 * DAY), event(364 * DAY)
    output = prune()
    assert list(SecurityEvent.objects.values_list("pk", flat=True)) == [young.pk]
    assert not SecurityEvent.objects.filter(pk=old.pk).exists()
    assert "deleted 1 security events older than 365 days" in output


def test_old_deliveries_of_applied_events_go_young_ones_stay():
    done = applied("evnt_test_done01")
    old = delivery(91 * DAY, event_id=done)
    duplicate = delivery(91 * DAY, event_id=done, status=200)
    young = delivery(89 * DAY, event_id=done)
    prune()
    left = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert left == {young.pk}
    assert old.pk not in left and duplicate.pk not in left


@pytest.mark.parametrize(
    "status",
    [None, 202, 500, 503],
    ids=["being processed", "queued", "failed, Omise retries", "could not queue"],
)
def test_a_delivery_whose_event_is_not_applied_is_kept_however_old(status):
    """Queued (202), mid-processing (no status yet), or failed in a way Omise retries (5xx):
    the delivery is the only record of an event the shop still has to apply."""
    WebhookEvent.objects.create(event_id="evnt_test_queued1", processed_at=None)
    queued = delivery(400 * DAY, event_id="evnt_test_queued1", status=status)
    never_stored = delivery(400 * DAY, event_id="evnt_test_nothing", status=status)
    output = prune()
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {
        queued.pk,
        never_stored.pk,
    }
    assert "kept 2 older deliveries whose event is not applied yet" in output


def test_a_delivery_refused_for_good_goes_with_its_age():
    """A 4xx (not JSON, an unknown event id) has nothing left to do."""
    delivery(91 * DAY, event_id="", status=400)
    delivery(91 * DAY, event_id="evnt_test_unknown", status=400)
    prune()
    assert not WebhookDelivery.objects.exists()


def test_once_its_event_is_applied_a_kept_delivery_goes():
    kept = delivery(91 * DAY, event_id="evnt_test_late01", status=202)
    prune()
    assert WebhookDelivery.objects.filter(pk=kept.pk).exists()
    applied("evnt_test_late01")
    prune()
    assert not WebhookDelivery.objects.filter(pk=kept.pk).exists()


def test_dry_run_deletes_nothing():
    event(400 * DAY)
    delivery(100 * DAY, event_id=applied("evnt_test_dry001"))
    output = prune("--dry-run")
    assert "would delete 1 security events" in output
    assert "and 1 webhook deliveries" in output
    assert SecurityEvent.objects.count() == 1 and WebhookDelivery.objects.count() == 1


def test_quiet_prints_nothing_when_nothing_went():
    event(DAY)
    assert prune("--quiet") == ""
    event(400 * DAY)
    assert "deleted 1 security events" in prune("--quiet")


def test_batches_delete_everything_expired(monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    for _ in range(5):
        event(400 * DAY)
    keep = event(DAY)
    assert retention.prune().security_events == 5
    assert list(SecurityEvent.objects.values_list("pk", flat=True)) == [keep.pk]


def test_security_events_are_kept_at_least_three_months_whatever_is_set(settings):
    settings.SECURITY_EVENT_RETENTION_DAYS = 30  # a test override; settings refuse it (below)
    recent = event(60 * DAY)
    prune()
    assert SecurityEvent.objects.filter(pk=recent.pk).exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("SECURITY_EVENT_RETENTION_DAYS", "89"), ("WEBHOOK_DELIVERY_RETENTION_DAYS", "6")],
)
def test_settings_refuse_a_retention_too_short(tmp_path, name, value):
    result = load_settings({**PRODUCTION, name: value}, tmp_path)
    assert result.returncode != 0
    assert f"{name} must be at least" in result.stderr


def test_settings_read_the_ages_from_the_environment(tmp_path):
    env = {**PRODUCTION, "SECURITY_EVENT_RETENTION_DAYS": "400"}
    env["WEBHOOK_DELIVERY_RETENTION_DAYS"] = "30"
    result = load_settings(
        env,
        tmp_path,
        "(settings.SECURITY_EVENT_RETENTION_DAYS, settings.WEBHOOK_DELIVERY_RETENTION_DAYS)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(400, 30)"
