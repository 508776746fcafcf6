"""Events and webhooks: recording an event, listing it, signing it as Omise does and
delivering it to the shop (in the background after each change, or on demand)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time

import requests
from django.conf import settings
from django.db import close_old_connections, connection

from sandbox.models import Delivery, Event, Switches
from sandbox.services.common import SandboxError, iso, new_id, paginate

logger = logging.getLogger(__name__)


def event_json(event: Event) -> dict:
    return {
        "object": "event",
        "id": event.id,
        "livemode": False,
        "location": f"/events/{event.id}",
        "key": event.key,
        "created_at": iso(event.created_at),
        "data": event.data,
        "webhook_deliveries": [
            {"object": "webhook_delivery", "uri": d.url, "status": d.status_code}
            for d in event.deliveries.all()
        ],
    }


def record_event(*, key: str, data: dict) -> Event:
    event = Event.objects.create(id=new_id("evnt"), key=key, data=data)
    if getattr(settings, "SANDBOX_WEBHOOK_DELIVERY", "async") == "async":
        # After the API response has gone out, like Omise; no extra process needed.
        threading.Thread(target=_deliver_soon, args=(event.id,), daemon=True).start()
    return event


def list_events(*, params: dict) -> dict:
    return paginate(Event.objects.all(), params=params, serialize=event_json)


def get_event(event_id: str) -> Event:
    event = Event.objects.filter(id=event_id).first()
    if event is None:
        raise SandboxError("not_found", f"event {event_id} was not found", 404)
    return event


def sign(*, body: bytes, timestamp: str) -> str:
    """Omise's scheme: hex HMAC-SHA256 of `timestamp.body`, key = base64-decoded secret."""
    key = base64.b64decode(settings.OMISE_WEBHOOK_SECRET)
    return hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def deliver(event: Event, *, url: str | None = None) -> Delivery:
    """POST one signed event to the shop and record the attempt, whatever happens."""
    url = url or settings.SANDBOX_WEBHOOK_URL
    if Switches.current().drop_webhooks:  # the dashboard's switch: the shop never hears of it
        Event.objects.filter(id=event.id).update(delivered=True)
        logger.info("sandbox webhook %s %s dropped (switch)", event.key, event.id)
        return Delivery.objects.create(event=event, url=url, status_code=None, error="dropped")
    body = json.dumps(event_json(event), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    status, error = None, ""
    session = requests.Session()
    session.trust_env = False  # straight to the shop, never through an environment proxy
    try:
        response = session.post(
            url,
            data=body,
            timeout=(3, 10),
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Omise-Sandbox-Webhooks/1.0",
                "Omise-Signature": sign(body=body, timestamp=timestamp),
                "Omise-Signature-Timestamp": timestamp,
            },
        )
        status = response.status_code
    except requests.RequestException as exc:
        error = type(exc).__name__
    finally:
        session.close()
    Event.objects.filter(id=event.id).update(delivered=True)
    logger.info("sandbox webhook %s %s -> %s", event.key, event.id, status or error)
    return Delivery.objects.create(event=event, url=url, status_code=status, error=error)


def deliver_pending(
    *, event_ids: list[str] | None = None, duplicate: int = 1, reverse_order: bool = False
) -> list[Delivery]:
    """Deliver events now: the undelivered ones, or exactly `event_ids` (redelivery allowed),
    each `duplicate` times, oldest first unless `reverse_order`."""
    if event_ids:
        by_id = {e.id: e for e in Event.objects.filter(id__in=event_ids)}
        missing = [i for i in event_ids if i not in by_id]
        if missing:
            raise SandboxError("not_found", f"event {missing[0]} was not found", 404)
        events = sorted(by_id.values(), key=lambda e: e.seq)
    else:
        events = list(Event.objects.filter(delivered=False).order_by("seq"))
    if reverse_order:
        events.reverse()
    duplicate = max(1, min(int(duplicate), 10))
    return [deliver(event) for event in events for _ in range(duplicate)]


def delivery_json(delivery: Delivery) -> dict:
    return {
        "event": delivery.event_id,
        "key": delivery.event.key,
        "url": delivery.url,
        "status_code": delivery.status_code,
        "error": delivery.error,
        "attempted_at": iso(delivery.attempted_at),
    }


def _deliver_soon(event_id: str) -> None:
    time.sleep(0.5)
    close_old_connections()
    try:
        event = Event.objects.filter(id=event_id, delivered=False).first()
        if event is not None:
            deliver(event)
    except Exception:  # a background thread has nobody to report to but the log
        logger.exception("sandbox webhook delivery of %s failed", event_id)
    finally:
        connection.close()
