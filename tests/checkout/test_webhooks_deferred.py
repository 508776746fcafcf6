"""Deferred webhook processing: verify and queue at once, apply in a worker, exactly once."""

from types import SimpleNamespace

import pytest
from django.core.management import call_command

from checkout.models import Order, WebhookDelivery, WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deferred(settings):
    settings.WEBHOOK_PROCESSING = "deferred"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def test_events_are_queued_once_and_applied_by_the_worker(deferred, sandbox, pending_3ds):
    """Deliveries answer 202 (first) or 200 (duplicates) at once; the worker then applies the
    event once and the order is paid."""
    _, charge = pending_3ds
    sandbox.complete_3ds(charge)
    deliveries = sandbox.deliver_webhooks(duplicate=3)
    assert sorted({d["status_code"] for d in deliveries}) == [200, 202]
    assert Order.objects.get().status == Order.Status.PENDING  # nothing applied yet
    assert not WebhookEvent.objects.filter(processed_at__isnull=False).exists()

    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    assert Order.objects.get().status == Order.Status.PAID
    events = WebhookEvent.objects.all()
    assert events.count() == 2 and all(e.processed_at and e.key for e in events)
    assert WebhookDelivery.objects.filter(outcome="queued").count() == 2


def test_forged_deliveries_are_refused_before_anything_is_queued(deferred, client, sandbox):
    """Verification still happens in the request: a bad signature is 401 and queues nothing."""
    body = b'{"object": "event", "id": "evnt_test_abcdefghij"}'
    response = client.post(
        "/webhooks/omise/",
        data=body,
        content_type="application/json",
        headers={"Omise-Signature": "0" * 64, "Omise-Signature-Timestamp": "1"},
    )
    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0


def test_a_failing_task_leaves_the_order_for_reconciliation(
    deferred, sandbox, pending_3ds, monkeypatch
):
    """A task that fails is recorded by the worker; reconciling then settles the order."""
    _, charge = pending_3ds
    sandbox.complete_3ds(charge)
    sandbox.deliver_webhooks()

    def broken(**_):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr("checkout.events._apply", broken)
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    assert Order.objects.get().status == Order.Status.PENDING
    monkeypatch.undo()
    call_command("reconcile_payments", "--older-than", "0", "--quiet")
    assert Order.objects.get().status == Order.Status.PAID


def test_an_event_that_cannot_be_queued_is_not_marked_queued(
    deferred, sandbox, pending_3ds, monkeypatch
):
    """If queueing fails, the answer is 503 (Omise retries) and no row claims the event."""
    _, charge = pending_3ds
    sandbox.complete_3ds(charge)

    def broken(**_):
        raise RuntimeError("queue down")

    monkeypatch.setattr("checkout.tasks.apply_webhook_event", SimpleNamespace(enqueue=broken))
    deliveries = sandbox.deliver_webhooks()
    assert {d["status_code"] for d in deliveries} == {503}
    assert WebhookEvent.objects.count() == 0
    monkeypatch.undo()
    again = sandbox.deliver_webhooks(event_ids=[event["id"] for event in sandbox.events()])
    assert {d["status_code"] for d in again} == {202}  # Omise's retry is queued
