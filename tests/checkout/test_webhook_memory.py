"""What the webhook receiver remembers (checkout/webhooks.py KNOWN): a duplicate or a replay of
what this worker already knows costs no query, and nothing is remembered that could turn out
false: not a state read before its transaction committed, not "queued" as "applied"."""

import base64
import secrets
import time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout import webhooks
from checkout.models import WebhookDelivery, WebhookEvent
from tests.shopping import sign

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/webhooks/omise/"
NOW = int(time.time())  # signatures are accepted for five minutes: the tests take seconds


@pytest.fixture
def secret(settings):
    settings.OMISE_WEBHOOK_SECRET = base64.b64encode(secrets.token_bytes(32)).decode()
    return settings.OMISE_WEBHOOK_SECRET


@pytest.fixture
def deferred(settings, secret):
    settings.WEBHOOK_PROCESSING = "deferred"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    return secret


def body(event_id: str = "evnt_test_remember1") -> bytes:
    return f'{{"object": "event", "id": "{event_id}", "key": "charge.complete"}}'.encode()


def deliver(client, secret: str, payload: bytes, timestamp: int | None = None):
    headers = {**sign(payload, secret, timestamp), "X-Forwarded-Proto": "https"}
    return client.post(URL, data=payload, content_type="application/json", headers=headers)


def sql_of(client, secret, payload, timestamp=None) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        answer = deliver(client, secret, payload, timestamp)
    return answer.status_code, [q["sql"] for q in captured]


def test_a_replayed_delivery_of_a_queued_event_costs_no_query(client, deferred):
    first, sql = sql_of(client, deferred, body(), timestamp=NOW)
    assert first == 202 and any("INSERT" in q for q in sql)
    # The same signed delivery again (a replay within its five minutes): known twice over.
    status, sql = sql_of(client, deferred, body(), timestamp=NOW)
    assert (status, sql) == (200, [])
    assert WebhookDelivery.objects.count() == 1


def test_a_retry_of_a_queued_event_is_stored_without_reading_the_event(client, deferred):
    deliver(client, deferred, body(), timestamp=NOW)
    status, sql = sql_of(client, deferred, body(), timestamp=NOW + 1)  # signed anew: a retry
    assert status == 200
    assert not any("webhookevent" in q for q in sql)  # its state is known
    assert WebhookDelivery.objects.get(signature_digest__isnull=False, outcome__contains="dup")


def test_a_worker_that_never_saw_the_event_reads_it(client, deferred):
    deliver(client, deferred, body(), timestamp=NOW)
    webhooks.KNOWN.forget()  # another worker, or this one after a restart
    status, sql = sql_of(client, deferred, body(), timestamp=NOW)
    assert status == 200
    assert any("signature_digest" in q for q in sql) and any("webhookevent" in q for q in sql)


def test_a_failed_enqueue_is_not_remembered(client, deferred, monkeypatch):
    """The row and the task roll back together: the event is still new for the next delivery."""

    def broken(**_):
        raise RuntimeError("queue down")

    monkeypatch.setattr(webhooks, "apply_webhook_event", SimpleNamespace(enqueue=broken))
    assert deliver(client, deferred, body(), timestamp=NOW).status_code == 503
    assert webhooks.KNOWN.get("event", "evnt_test_remember1") is None
    monkeypatch.undo()
    assert deliver(client, deferred, body(), timestamp=NOW + 1).status_code == 202
    assert WebhookEvent.objects.count() == 1


def test_inline_never_takes_a_queued_event_for_an_applied_one(client, secret, monkeypatch):
    """A worker that remembers an event as queued still reads it before answering "applied":
    inline, an event that is not applied yet is applied now."""
    WebhookEvent.objects.create(event_id="evnt_test_remember1", processed_at=None)
    webhooks.KNOWN.remember("event", "evnt_test_remember1", False)
    applied = []
    monkeypatch.setattr(
        webhooks,
        "_apply_now",
        lambda event_id: applied.append(event_id) or webhooks.Outcome(200, "applied"),
    )
    assert deliver(client, secret, body()).status_code == 200
    assert applied == ["evnt_test_remember1"]


def test_the_memory_is_bounded_oldest_first():
    facts = webhooks._Facts(size=2)
    facts.remember("delivery", "a")
    facts.remember("delivery", "b")
    facts.remember("delivery", "a")  # known already: nothing goes
    facts.remember("event", "c", False)
    assert facts.get("delivery", "a") is None
    assert facts.get("delivery", "b") is True and facts.get("event", "c") is False
