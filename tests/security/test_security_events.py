"""Security events: one record per refusal, with the facts a merchant needs."""

import pytest
from django.test import RequestFactory

from security.events import record_security_event
from security.models import SecurityEvent

pytestmark = pytest.mark.django_db


def test_event_records_request_facts():
    """An event keeps path, field, client IP, user agent and details."""
    request = RequestFactory().post(
        "/cart/add/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="curl/8"
    )
    event = record_security_event(
        SecurityEvent.Kind.CARD_DATA_REFUSED, request, field_name="number", last4="4242"
    )
    event.refresh_from_db()
    assert (event.path, event.field_name, event.client_ip, event.user_agent) == (
        "/cart/add/",
        "number",
        "203.0.113.5",
        "curl/8",
    )
    assert event.detail == {"last4": "4242"}


def test_event_without_request():
    """Events raised outside a request (a command, a webhook job) still record."""
    event = record_security_event(SecurityEvent.Kind.WEBHOOK_REJECTED, reason="bad signature")
    assert event.client_ip is None and event.path == ""


def test_admin_cannot_edit_events(admin_client):
    """Events are evidence: the admin shows them but offers no add or change."""
    from django.contrib import admin

    model_admin = admin.site._registry[SecurityEvent]
    assert not model_admin.has_add_permission(None)
    assert not model_admin.has_change_permission(None)
