"""The monitoring dashboard: its numbers against a known set of events, its SVG charts, and
its access (a verified 2FA staff session only)."""

import secrets
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from checkout import monitoring, svgchart
from checkout.models import Order, PaymentAttempt, WebhookDelivery
from security.models import SecurityEvent

pytestmark = pytest.mark.django_db

# 14:30 on 10 March in the shop's zone (Asia/Bangkok): the "now" of the known events.
NOW = timezone.make_aware(datetime(2026, 3, 10, 14, 30))
URL = reverse("admin:checkout_monitoring")
SVG = "{http://www.w3.org/2000/svg}"


def attempt(
    status,
    ago,
    *,
    ip="198.51.100.1",
    email="a@example.com",
    code="",
    authorize_uri="",
    fingerprint="",
    method="card",
):
    order = Order.objects.create(
        amount=50000, currency="THB", email=email, name="A", country="TH", client_ip=ip
    )
    row = PaymentAttempt.objects.create(
        order=order,
        key=secrets.token_urlsafe(8),
        amount=50000,
        currency="THB",
        status=status,
        failure_code=code,
        authorize_uri=authorize_uri,
        card_fingerprint=fingerprint,
        payment_method=method,
    )
    PaymentAttempt.objects.filter(pk=row.pk).update(created_at=NOW - ago)


def security_event(kind, ago):
    row = SecurityEvent.objects.create(kind=kind, path="/checkout/")
    SecurityEvent.objects.filter(pk=row.pk).update(created_at=NOW - ago)


def delivery(status, ago):
    row = WebhookDelivery.objects.create(response_status=status)
    WebhookDelivery.objects.filter(pk=row.pk).update(received_at=NOW - ago)


@pytest.fixture
def known_events():
    """Chosen events around NOW: each number below is counted by hand from this list."""
    minutes, hours, days = (
        (lambda n: timedelta(minutes=n)),
        (lambda n: timedelta(hours=n)),
        (lambda n: timedelta(days=n)),
    )
    S = PaymentAttempt.Status
    # Payments: 14:20 and 12:30 today, three days ago, and one outside the 14 days.
    attempt(S.SUCCESSFUL, minutes(10))
    attempt(S.SUCCESSFUL, hours(2))
    attempt(S.SUCCESSFUL, days(3))
    attempt(S.SUCCESSFUL, days(20))
    # Declines: a card tester at 14:10 with two cards, one at 09:30, one two days ago.
    attempt(
        S.FAILED,
        minutes(20),
        ip="203.0.113.9",
        email="tester@example.com",
        code="insufficient_fund",
        fingerprint="fp-1",
    )
    attempt(
        S.FAILED,
        minutes(20),
        ip="203.0.113.9",
        email="tester@example.com",
        code="stolen_or_lost_card",
        fingerprint="fp-2",
    )
    attempt(S.FAILED, hours(5), ip="198.51.100.1", code="payment_rejected")
    attempt(S.FAILED, days(2), ip="192.0.2.50", email="b@example.com", code="failed_processing")
    # Not declines: "not charged" is our own verdict, not the bank's.
    attempt(S.FAILED, hours(1), code="not_charged")
    # 3-D Secure: waiting 30 min (abandoned), waiting 5 min (not yet), expired 30 h ago.
    attempt(S.PENDING, minutes(30), authorize_uri="https://bank.example/3ds")
    attempt(S.PENDING, minutes(5), authorize_uri="https://bank.example/3ds")
    attempt(S.EXPIRED, hours(30))
    # A PromptPay QR code left unpaid: expired, but no 3-D Secure was abandoned.
    attempt(S.EXPIRED, hours(3), method="promptpay")
    # Security events: two card-guard refusals and a velocity block at 13:30, CSP two days ago.
    K = SecurityEvent.Kind
    security_event(K.CARD_DATA_REFUSED, hours(1))
    security_event(K.CARD_DATA_REFUSED, hours(1))
    security_event(K.VELOCITY_BLOCK, hours(1))
    for _ in range(3):
        security_event(K.CSP_VIOLATION, days(2))
    security_event(K.LOGIN_FAILURE, hours(1))  # shown in its own list, not on the dashboard
    # Webhook deliveries: failures at 13:30 and 11:30, a success, an old failure.
    delivery(401, hours(1))
    delivery(500, hours(3))
    delivery(200, hours(1))
    delivery(400, days(20))


def test_summary_of_the_last_24_hours(known_events):
    """Totals over 24 hours, the decline rate and the 3-D Secure abandonment."""
    summary = monitoring.summary(hours=24, now=NOW)
    assert {k: summary[k] for k, _ in monitoring.SERIES} == {
        "payments": 2,
        "declines": 3,
        "abandoned_3ds": 1,
        "card_guard": 2,
        "velocity_blocks": 1,
        "csp_reports": 0,
        "webhook_failures": 2,
        "webhook_rejections": 0,
        "duplicate_payments": 0,
    }
    assert summary["decline_rate"] == pytest.approx(3 / 5)
    assert summary["attempts"] == 9  # the expired PromptPay QR code is an attempt, not abandoned
    assert summary["abandoned_3ds_rate"] == pytest.approx(1 / 9)


def test_summary_of_the_last_14_days(known_events):
    """The 14-day totals include the older events and leave out those of 20 days ago."""
    summary = monitoring.summary(hours=24 * 14, now=NOW)
    assert {k: summary[k] for k, _ in monitoring.SERIES} == {
        "payments": 3,
        "declines": 4,
        "abandoned_3ds": 2,
        "card_guard": 2,
        "velocity_blocks": 1,
        "csp_reports": 3,
        "webhook_failures": 2,
        "webhook_rejections": 0,
        "duplicate_payments": 0,
    }
    assert summary["decline_rate"] == pytest.approx(4 / 7)


def test_hourly_series(known_events):
    """24 hourly buckets in the shop's zone, the current hour last, each event in its hour."""
    hourly = monitoring.hourly_series(now=NOW)
    assert len(hourly) == 24
    assert timezone.localtime(hourly[-1].start).strftime("%d %H:%M") == "10 14:00"
    assert timezone.localtime(hourly[0].start).strftime("%d %H:%M") == "09 15:00"
    by_hour = {timezone.localtime(b.start).strftime("%H"): b for b in hourly}
    now_hour = by_hour["14"]
    assert (now_hour.payments, now_hour.declines, now_hour.abandoned_3ds) == (1, 2, 1)
    assert by_hour["14"].decline_rate == pytest.approx(2 / 3)
    assert (
        by_hour["13"].card_guard,
        by_hour["13"].velocity_blocks,
        by_hour["13"].webhook_failures,
    ) == (2, 1, 1)
    assert by_hour["12"].payments == 1 and by_hour["11"].webhook_failures == 1
    assert by_hour["09"].declines == 1
    assert sum(b.payments for b in hourly) == 2 and by_hour["10"].decline_rate is None


def test_daily_series(known_events):
    """14 daily buckets by calendar date, today last."""
    daily = monitoring.daily_series(now=NOW)
    assert [timezone.localtime(b.start).day for b in daily] == list(range(25, 29)) + list(
        range(1, 11)
    )
    today, yesterday, two_days_ago = daily[-1], daily[-2], daily[-3]
    assert (today.payments, today.declines, today.abandoned_3ds) == (2, 3, 1)
    assert yesterday.abandoned_3ds == 1  # expired 30 h ago: 9 March, 08:30
    assert (two_days_ago.declines, two_days_ago.csp_reports) == (1, 3)
    assert daily[-4].payments == 1
    assert sum(b.payments for b in daily) == 3


def test_top_ips_and_emails_by_declines(known_events):
    """The card tester's IP and email come first, with the number of distinct cards."""
    ips = monitoring.top_decline_ips(hours=24 * 14, now=NOW)
    assert ips[0] == {"value": "203.0.113.9", "declines": 2, "cards": 2}
    assert {row["value"] for row in ips} == {"203.0.113.9", "198.51.100.1", "192.0.2.50"}
    emails = monitoring.top_decline_emails(hours=24, now=NOW)
    assert emails == [
        {"value": "tester@example.com", "declines": 2, "cards": 2},
        {"value": "a@example.com", "declines": 1, "cards": 0},
    ]


def test_empty_database_has_no_rates():
    """With no attempts the rates are None (shown as "–"), not a division by zero."""
    summary = monitoring.summary(hours=24, now=NOW)
    assert summary["decline_rate"] is None and summary["abandoned_3ds_rate"] is None


# --- charts ---------------------------------------------------------------------------------
def test_bar_chart_is_well_formed_accessible_svg():
    """The chart parses as XML, is labelled by its title and a description listing the values,
    draws one bar per value scaled to a round maximum, and escapes its text."""
    markup = svgchart.bar_chart(
        title="Declines <& friends>", labels=["a", "b", "c"], values=[0, 5, 10]
    )
    root = ET.fromstring(str(markup))  # noqa: S314 - our own markup
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(f"{SVG}title").get("id") == title_id
    assert root.find(f"{SVG}title").text == "Declines <& friends>"
    assert root.find(f"{SVG}desc").get("id") == desc_id
    assert root.find(f"{SVG}desc").text == "a: 0, b: 5, c: 10"
    heights = [float(r.get("height")) for r in root.iter(f"{SVG}rect")]
    assert heights[0] == 0 and heights[2] == pytest.approx(2 * heights[1])
    assert "style=" not in markup


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (49, 50), (51, 100)]
)
def test_axis_maximum_is_round(value, ceiling):
    """The chart's top is the next 1, 2 or 5 times a power of ten, and never 0."""
    assert svgchart.nice_ceiling(value) == ceiling


def test_bar_chart_refuses_mismatched_or_negative_data():
    """Labels and values must pair up; counts cannot be negative."""
    with pytest.raises(ValueError):
        svgchart.bar_chart(title="x", labels=["a"], values=[1, 2])
    with pytest.raises(ValueError):
        svgchart.bar_chart(title="x", labels=["a"], values=[-1])


# --- the page -----------------------------------------------------------------------------------
def test_dashboard_shows_numbers_and_charts(otp_admin_client):
    """A verified admin sees the totals, 14 charts that parse as SVG, and the top lists."""
    attempt(PaymentAttempt.Status.FAILED, timedelta(0), ip="203.0.113.77", code="insufficient_fund")
    PaymentAttempt.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    page = otp_admin_client.get(URL)
    assert page.status_code == 200
    assert page.context["summary_24h"]["declines"] == 1
    assert "203.0.113.77" in page.text and "100%" in page.text
    charts = page.context["charts"] + page.context["daily_charts"]
    assert len(charts) == 2 * len(monitoring.SERIES)
    for chart in charts:
        ET.fromstring(str(chart))  # noqa: S314 - our own markup
    assert 'style="' not in page.text and "<script>" not in page.text
    assert "admin-extra/admin-extra.css" in page.text


def test_dashboard_requires_a_verified_admin_session(client, django_user_model):
    """Anonymous visitors and password-only staff sessions are sent to the login page."""
    login = reverse("admin:login")
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(login)
    staff = django_user_model.objects.create_user("pw-only", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(login)
