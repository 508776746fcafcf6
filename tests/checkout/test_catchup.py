"""No event lost (checkout/catchup.py): Omise's events listed since the last one seen, and the
ones whose webhook never arrived applied exactly once, through the same path as a delivery;
the dashboard counts them. Unit tests with the fake Omise, then the sandbox with its
"drop webhooks" switch, the reconcile_payments command and the admin button."""

import io
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from checkout import catchup, monitoring
from checkout.catchup import events_catch_up
from checkout.events import event_apply
from checkout.models import EventCursor, Order, PaymentAttempt, WebhookEvent
from checkout.services import charge_apply
from tests.shopping import pay

LATER = timedelta(minutes=2)  # past the grace left to webhooks on their way


def pending_order(fake) -> tuple[Order, str]:
    """An order waiting for 3-D Secure: (the order, its charge id)."""
    order = Order.objects.create(
        amount=100_000, currency="THB", email="a@example.com", name="A", country="TH"
    )
    attempt = PaymentAttempt.objects.create(
        order=order, key=secrets.token_urlsafe(16), amount=100_000, currency="THB"
    )
    charge = fake.create_charge(
        amount=100_000,
        currency="THB",
        card=fake.token("4000000000000002"),
        return_uri="https://shop.example/return/",
        metadata={"order_reference": order.reference, "attempt": attempt.key},
    )
    charge_apply(charge=charge, attempt_id=attempt.pk)
    return order, charge["id"]


def now_plus(delta: timedelta) -> datetime:
    return datetime.now(UTC) + delta


@pytest.mark.django_db
def test_a_lost_webhook_is_applied_once_by_the_catch_up(fake_omise):
    """The bank confirmed, the charge.complete webhook never came: the catch-up applies it
    (re-fetched by id), marks it as found by catch-up, and a late delivery changes nothing."""
    order, charge_id = pending_order(fake_omise)
    fake_omise.complete_3ds(charge_id)
    outcome = events_catch_up(now=now_plus(LATER))
    assert (outcome["listed"], outcome["applied"]) == (2, 2)  # charge.create, charge.complete
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    complete = fake_omise.events("charge.complete")[-1]
    assert WebhookEvent.objects.get(event_id=complete["id"]).arrival == "catch_up"
    assert fake_omise.last_call("retrieve_event")["event_id"] == complete["id"]
    assert event_apply(event=complete) is False  # the webhook, at last: already applied
    again = events_catch_up(now=now_plus(LATER))
    assert (again["applied"], again["seen"]) == (0, 2)


@pytest.mark.django_db
def test_events_a_webhook_applied_are_not_applied_again(fake_omise):
    _, charge_id = pending_order(fake_omise)
    fake_omise.complete_3ds(charge_id)
    for event in fake_omise.events():
        event_apply(event=event)  # delivered as webhooks
    fetched = len(fake_omise.calls_of("retrieve_event"))
    outcome = events_catch_up(now=now_plus(LATER))
    assert (outcome["applied"], outcome["seen"]) == (0, 2)
    assert len(fake_omise.calls_of("retrieve_event")) == fetched  # nothing fetched again
    assert not WebhookEvent.objects.filter(arrival="catch_up").exists()


@pytest.mark.django_db
def test_young_events_are_left_to_their_webhook_and_the_cursor_waits_for_them(fake_omise):
    order, charge_id = pending_order(fake_omise)
    fake_omise.complete_3ds(charge_id)
    outcome = events_catch_up()  # the events are seconds old
    assert (outcome["young"], outcome["applied"]) == (2, 0)
    assert Order.objects.get().status == Order.Status.PENDING
    assert events_catch_up(now=now_plus(LATER))["applied"] == 2  # found on a later run


@pytest.mark.django_db
def test_an_event_that_fails_to_apply_is_retried_on_the_next_run(fake_omise):
    _, charge_id = pending_order(fake_omise)
    fake_omise.complete_3ds(charge_id)
    fake_omise.fail_next("retrieve_charge", count=2)  # Omise down while applying both
    first = events_catch_up(now=now_plus(LATER))
    assert (first["failed"], first["applied"]) == (2, 0)
    assert EventCursor.objects.get().last_event_at is None  # it did not pass the failures
    second = events_catch_up(now=now_plus(LATER))
    assert second["applied"] == 2
    assert Order.objects.get().status == Order.Status.PAID
    assert EventCursor.objects.get().last_event_at is not None


@pytest.mark.django_db
def test_an_event_that_keeps_failing_stops_holding_the_cursor_after_a_day(fake_omise):
    """One broken event must not pin the cursor for ever (every later lost webhook would wait
    behind it once a run's pages fill): a day on, it is logged as given up and passed."""
    _, charge_id = pending_order(fake_omise)
    a_minute_on = datetime.now(UTC) + timedelta(minutes=1)
    fake_omise._now = lambda: a_minute_on  # the broken event comes a minute after the first
    fake_omise.complete_3ds(charge_id)
    broken = fake_omise.events()[-1]["id"]
    broken_at = datetime.fromisoformat(fake_omise.events()[-1]["created_at"].replace("Z", "+00:00"))
    real_retrieve = fake_omise.retrieve_event

    def retrieve_event(event_id):
        if event_id == broken:
            raise RuntimeError("an event this shop cannot apply")
        return real_retrieve(event_id)

    fake_omise.retrieve_event = retrieve_event
    for _ in range(2):
        assert events_catch_up(now=now_plus(2 * LATER))["failed"] == 1
        assert EventCursor.objects.get().last_event_at < broken_at  # held: retried next run
    outcome = events_catch_up(now=now_plus(catchup.GIVE_UP_AFTER + 2 * LATER))
    assert (outcome["failed"], outcome["abandoned"]) == (0, 1)
    assert EventCursor.objects.get().last_event_at >= broken_at  # passed


@pytest.mark.django_db
def test_the_catch_up_pages_through_a_backlog(fake_omise, monkeypatch):
    monkeypatch.setattr(catchup, "PAGE", 2)
    for _ in range(3):
        _, charge_id = pending_order(fake_omise)
        fake_omise.complete_3ds(charge_id)
    outcome = events_catch_up(now=now_plus(LATER))
    assert outcome["applied"] == 6
    assert len(fake_omise.calls_of("list_events")) == 4  # 2 + 2 + 2 + an empty page
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.PAID}


@pytest.mark.django_db
def test_the_dashboard_counts_events_found_only_by_catch_up(fake_omise):
    _, charge_id = pending_order(fake_omise)
    fake_omise.complete_3ds(charge_id)
    events_catch_up(now=now_plus(LATER))
    ops = monitoring.operations()
    assert (ops["events_by_catch_up_24h"], ops["events_by_catch_up"]) == (2, 2)


# --- over HTTP: the sandbox drops webhooks, reconcile_payments and the admin find them -------


def age_sandbox_events(delta: timedelta) -> None:
    from django.utils import timezone

    from sandbox.models import Event

    Event.objects.update(created_at=timezone.now() - delta)


@pytest.mark.django_db(transaction=True)
def test_dropped_webhooks_are_found_by_reconcile_payments(shop, sandbox):
    sandbox.drop_webhooks()
    response = pay(shop, sandbox, "4000000000000002")
    sandbox.complete_3ds({"authorize_uri": response.context["authorize_uri"]})
    assert {d["error"] for d in sandbox.deliver_webhooks()} == {"dropped"}
    assert Order.objects.get().status == Order.Status.PENDING
    age_sandbox_events(LATER)
    out = io.StringIO()
    call_command("reconcile_payments", stdout=out)
    assert "2 applied (webhook lost)" in out.getvalue()
    assert Order.objects.get().status == Order.Status.PAID
    assert WebhookEvent.objects.filter(arrival="catch_up").count() == 2
    assert sandbox.requests("events.list")[-1].params["order"] == "chronological"


@pytest.mark.django_db(transaction=True)
def test_the_admin_button_catches_up(shop, sandbox, otp_admin_client):
    sandbox.drop_webhooks()
    response = pay(shop, sandbox, "4000000000000002")
    sandbox.complete_3ds({"authorize_uri": response.context["authorize_uri"]})
    sandbox.deliver_webhooks()
    age_sandbox_events(LATER)
    url = reverse("admin:checkout_webhookevent_catch_up")
    assert otp_admin_client.get(url).status_code == 403  # a POST only
    page = otp_admin_client.post(url, follow=True)
    shown = " ".join(str(m) for m in page.context["messages"])
    assert "2 applied (webhook lost)" in shown
    assert Order.objects.get().status == Order.Status.PAID
