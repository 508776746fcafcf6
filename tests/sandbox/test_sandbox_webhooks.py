"""Webhooks from the sandbox: events on state changes, signed as Omise signs them, delivered on
demand (manual mode), duplicated or out of order when a test asks, every attempt recorded."""

import base64
import hashlib
import hmac
import http.server
import json
import threading

import pytest
import requests

pytestmark = pytest.mark.django_db(transaction=True)


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append({"headers": dict(self.headers), "body": body})
        self.server.arrived.set()
        self.send_response(self.server.answer)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(sandbox, settings):
    """A stand-in shop webhook endpoint that records what it gets and answers `answer`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received, server.answer, server.arrived = [], 200, threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SANDBOX_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield server
    server.shutdown()
    server.server_close()


def paid_charge(sandbox, **kwargs):
    return sandbox.client.create_charge(
        amount=20000, currency="THB", card=sandbox.token(), **kwargs
    )


def test_nothing_is_delivered_until_asked_in_manual_mode(sandbox, receiver):
    """In manual mode events wait; the hook then delivers each pending event once."""
    paid_charge(sandbox)
    assert receiver.received == []
    deliveries = sandbox.deliver_webhooks()
    assert [(d["key"], d["status_code"]) for d in deliveries] == [("charge.create", 200)]
    assert len(receiver.received) == 1
    assert sandbox.deliver_webhooks() == []  # nothing pending any more


def test_delivery_is_signed_the_omise_way(sandbox, receiver, settings):
    """Omise-Signature is hex HMAC-SHA256 of `timestamp.body` keyed with the base64-decoded
    webhook secret; the body is the event, whose data is the charge."""
    charge = paid_charge(sandbox)
    sandbox.deliver_webhooks()
    (delivery,) = receiver.received
    timestamp = delivery["headers"]["Omise-Signature-Timestamp"]
    assert timestamp.isdigit()
    key = base64.b64decode(settings.OMISE_WEBHOOK_SECRET)
    expected = hmac.new(
        key, timestamp.encode() + b"." + delivery["body"], hashlib.sha256
    ).hexdigest()
    assert delivery["headers"]["Omise-Signature"] == expected
    event = json.loads(delivery["body"])
    assert (event["object"], event["key"], event["livemode"]) == ("event", "charge.create", False)
    assert event["data"]["id"] == charge["id"] and event["data"]["object"] == "charge"
    assert sandbox.client.retrieve_event(event["id"])["data"] == event["data"]


def test_duplicates_and_reverse_order_on_demand(sandbox, receiver):
    """duplicate=2 sends each event twice; reverse=True sends the newest first."""
    charge = paid_charge(sandbox, capture=False)
    sandbox.client.capture_charge(charge["id"])
    sandbox.deliver_webhooks(duplicate=2, reverse=True)
    keys = [json.loads(r["body"])["key"] for r in receiver.received]
    assert keys == ["charge.capture", "charge.capture", "charge.create", "charge.create"]


def test_chosen_events_can_be_redelivered(sandbox, receiver):
    """event_ids delivers exactly those events, even already delivered ones."""
    paid_charge(sandbox)
    sandbox.deliver_webhooks()
    event_id = sandbox.events()[0]["id"]
    sandbox.deliver_webhooks(event_ids=[event_id])
    assert [json.loads(r["body"])["id"] for r in receiver.received] == [event_id, event_id]
    with pytest.raises(AssertionError, match="not_found"):
        sandbox.deliver_webhooks(event_ids=["evnt_test_doesnotexist"])


def test_every_attempt_is_recorded_even_failures(sandbox, receiver, settings):
    """A 500 from the shop and an unreachable shop are both recorded on the event."""
    receiver.answer = 500
    paid_charge(sandbox)
    sandbox.deliver_webhooks()
    settings.SANDBOX_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    sandbox.deliver_webhooks(event_ids=[sandbox.events()[0]["id"]])
    attempts = [(d.status_code, d.error) for d in sandbox.deliveries()]
    assert attempts == [(500, ""), (None, "ConnectionError")]
    assert [d["status"] for d in sandbox.events()[0]["webhook_deliveries"]] == [None, 500]


def test_refund_and_reverse_events(sandbox, receiver):
    """Refunds emit `refund.create` (data: the refund); reversals `charge.reverse`."""
    charge = paid_charge(sandbox)
    sandbox.client.create_refund(charge["id"], amount=5000)
    held = paid_charge(sandbox, capture=False)
    sandbox.client.reverse_charge(held["id"])
    keys = [(e["key"], e["data"]["object"]) for e in sandbox.events()]
    assert keys == [
        ("charge.create", "charge"),
        ("refund.create", "refund"),
        ("charge.create", "charge"),
        ("charge.reverse", "charge"),
    ]


def test_async_mode_delivers_without_being_asked(sandbox, receiver, settings):
    """In async mode (make run) a background thread delivers shortly after the response."""
    settings.SANDBOX_WEBHOOK_DELIVERY = "async"
    paid_charge(sandbox)
    assert receiver.arrived.wait(timeout=10), "no webhook arrived"
    assert json.loads(receiver.received[0]["body"])["key"] == "charge.create"


def test_hooks_need_the_secret_key(sandbox):
    """The test hooks refuse callers without the secret key."""
    response = requests.post(
        f"{sandbox.sandbox_url}/sandbox/test/webhooks/deliver", json={}, timeout=5
    )
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failure"
