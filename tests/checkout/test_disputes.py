"""Disputes (checkout/disputes.py): dispute.* events create and update the record from Omise's
copy; paid → disputed → won / lost; staff answer or accept (refusals included); deadlines and
the staff e-mails, each sent once through the task queue (checkout/staffmail.py). Omise is
faked in process (tests/fake_omise.py)."""

import re
import secrets
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from checkout import monitoring
from checkout.disputes import (
    DisputeError,
    dispute_accept,
    dispute_message,
    disputes_warn_due,
)
from checkout.events import event_apply
from checkout.models import Dispute, Order, PaymentAttempt, StaffMail
from checkout.omise import OmiseAPIError
from checkout.services import charge_apply
from checkout.staffmail import staff_mail_send, staff_mail_send_unsent

pytestmark = pytest.mark.django_db
S = Dispute.Status


@pytest.fixture(autouse=True)
def staff_address(settings):
    settings.STAFF_NOTIFY_EMAILS = ["ops@example.com"]
    settings.ADMINS = []


def paid_order(fake) -> Order:
    order = Order.objects.create(
        amount=150_000, currency="THB", email="a@example.com", name="A", country="TH"
    )
    attempt = PaymentAttempt.objects.create(
        order=order, key=secrets.token_urlsafe(16), amount=150_000, currency="THB"
    )
    charge = fake.create_charge(
        amount=150_000,
        currency="THB",
        card=fake.token(),
        metadata={"order_reference": order.reference, "attempt": attempt.key},
    )
    charge_apply(charge=charge, attempt_id=attempt.pk)
    order.refresh_from_db()
    return order


def disputed(fake, django_capture_on_commit_callbacks) -> tuple[Order, Dispute]:
    order = paid_order(fake)
    dispute = fake.open_dispute(order.attempts.get().charge_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert event_apply(event=fake.events("dispute.create")[-1]) is True
    return order, Dispute.objects.get(dispute_id=dispute["id"])


def test_a_dispute_event_creates_the_record_and_tells_staff_once(
    fake_omise, django_capture_on_commit_callbacks, settings
):
    """paid → disputed: the record is Omise's copy (re-fetched, not the event's body), linked
    to the order, with a deadline; one e-mail, however often the event is applied again."""
    settings.DISPUTE_RESPOND_WITHIN_DAYS = 10
    order, record = disputed(fake_omise, django_capture_on_commit_callbacks)
    assert fake_omise.last_call("retrieve_dispute")["dispute_id"] == record.dispute_id
    assert (record.order, record.status, record.amount, record.currency) == (
        order,
        S.OPEN,
        150_000,
        "THB",
    )
    assert record.reason_code == "goods_or_services_not_provided"
    assert record.respond_by == record.opened_at + timedelta(days=10)
    assert Order.objects.get().status == Order.Status.PAID  # a dispute is not a refund
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "Dispute opened" in mail.outbox[0].subject and order.reference in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        event_apply(event=fake_omise.events("dispute.create")[-1], again=True)
    assert len(mail.outbox) == 1 and Dispute.objects.count() == 1


@pytest.mark.parametrize("decision", [S.WON, S.LOST])
def test_the_banks_decision_closes_the_dispute(
    fake_omise, django_capture_on_commit_callbacks, decision
):
    """disputed → won / lost, from a dispute.close event (re-fetched)."""
    _, record = disputed(fake_omise, django_capture_on_commit_callbacks)
    fake_omise.close_dispute(record.dispute_id, status=decision)
    event_apply(event=fake_omise.events("dispute.close")[-1])
    record.refresh_from_db()
    assert (record.status, record.is_open) == (decision, False)
    assert record.closed_at is not None


def test_an_unknown_dispute_event_key_is_applied_by_re_fetching(
    fake_omise, django_capture_on_commit_callbacks
):
    """The exact keys are unconfirmed: any dispute.* event re-fetches the dispute."""
    _, record = disputed(fake_omise, django_capture_on_commit_callbacks)
    fake_omise.close_dispute(record.dispute_id, status="won")
    event = {**fake_omise.events("dispute.close")[-1], "key": "dispute.something_new"}
    event_apply(event=event)
    assert Dispute.objects.get().status == S.WON


def test_staff_answer_goes_to_omise_and_the_dispute_is_pending(
    fake_omise, django_capture_on_commit_callbacks
):
    _, record = disputed(fake_omise, django_capture_on_commit_callbacks)
    record = dispute_message(record=record, message="Delivered on 3 May, signed by the buyer.")
    assert fake_omise.last_call("update_dispute")["message"].startswith("Delivered")
    assert (record.status, record.message[:9]) == (S.PENDING, "Delivered")


def test_answers_that_cannot_be_sent_are_refused(fake_omise, django_capture_on_commit_callbacks):
    _, record = disputed(fake_omise, django_capture_on_commit_callbacks)
    for message, why in [("", "Write"), ("   ", "Write"), ("x" * 2001, "limited")]:
        with pytest.raises(DisputeError, match=why):
            dispute_message(record=record, message=message)
    assert fake_omise.calls_of("update_dispute") == []
    fake_omise.fail_next(
        "update_dispute",
        OmiseAPIError(code="bad_request", message="dispute is closed", http_status=400),
    )
    with pytest.raises(DisputeError, match="bad_request"):
        dispute_message(record=record, message="Our answer")
    fake_omise.fail_next("accept_dispute")
    with pytest.raises(DisputeError, match="did not answer"):
        dispute_accept(record=record)


def test_accepting_loses_the_dispute_and_a_closed_one_takes_nothing_more(
    fake_omise, django_capture_on_commit_callbacks
):
    _, record = disputed(fake_omise, django_capture_on_commit_callbacks)
    record = dispute_accept(record=record)
    assert record.status == S.LOST
    with pytest.raises(DisputeError, match="only an open one"):
        dispute_accept(record=record)
    with pytest.raises(DisputeError, match="takes no answer"):
        dispute_message(record=record, message="Too late")
    assert len(fake_omise.calls_of("accept_dispute")) == 1


def test_a_near_deadline_is_mailed_once(fake_omise, django_capture_on_commit_callbacks, settings):
    settings.DISPUTE_WARN_DAYS = 2
    _, record = disputed(fake_omise, django_capture_on_commit_callbacks)
    assert disputes_warn_due() == 0  # seven days left
    Dispute.objects.update(respond_by=timezone.now() + timedelta(hours=30))
    with django_capture_on_commit_callbacks(execute=True):
        assert disputes_warn_due() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert disputes_warn_due() == 0
    subjects = [m.subject for m in mail.outbox]
    assert len(subjects) == 2 and "deadline near" in subjects[1]
    assert re.search(r"deadline to answer is in (29|30) hours", mail.outbox[1].body)


def test_mail_that_failed_to_send_is_sent_later_and_only_once(
    fake_omise, django_capture_on_commit_callbacks, monkeypatch
):
    """The mail server is down when the dispute opens: the row stays unsent, the next
    reconcile sends it, and claiming prevents a second send."""

    def down(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr("checkout.staffmail.send_mail", down)
    disputed(fake_omise, django_capture_on_commit_callbacks)  # the task fails (recorded)
    row = StaffMail.objects.get()
    assert row.sent_at is None and mail.outbox == []
    monkeypatch.undo()
    assert staff_mail_send_unsent() == 1
    assert staff_mail_send(mail_id=row.pk) is False  # already sent: not again
    assert len(mail.outbox) == 1


def test_the_dashboard_counts_open_disputes_and_the_rate(
    fake_omise, django_capture_on_commit_callbacks
):
    paid_order(fake_omise)
    disputed(fake_omise, django_capture_on_commit_callbacks)
    ops = monitoring.operations()
    assert (ops["open_disputes"], ops["disputes_opened"]) == (1, 1)
    assert ops["dispute_rate"] == pytest.approx(1 / 2)
    assert [d.status for d in ops["soonest_disputes"]] == [S.OPEN]


def test_reconcile_payments_warns_of_deadlines(
    fake_omise, django_capture_on_commit_callbacks, settings
):
    disputed(fake_omise, django_capture_on_commit_callbacks)
    Dispute.objects.update(respond_by=timezone.now() - timedelta(hours=1))
    call_command("reconcile_payments", "--quiet")
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[Lanna Goods] Dispute opened",
        "[Lanna Goods] Dispute deadline near",
    ]
    assert "is past" in mail.outbox[1].body


def test_a_dispute_omise_does_not_know_is_acknowledged_and_recorded_nowhere(fake_omise):
    """An event naming a dispute that Omise answers 404 for changes nothing (and is not
    retried forever); Omise being down raises, so the delivery is retried."""
    order = paid_order(fake_omise)
    event = fake_omise._event(
        "dispute.create",
        {"object": "dispute", "id": "dspt_test_unknown000000", "charge": "chrg_test_x"},
    )
    assert event_apply(event=event) is True
    assert not Dispute.objects.exists() and Order.objects.get() == order
    fake_omise.fail_next(
        "retrieve_dispute", OmiseAPIError(code="internal_error", message="x", http_status=500)
    )
    other = fake_omise._event("dispute.update", {"object": "dispute", "id": "dspt_test_other0000"})
    with pytest.raises(OmiseAPIError):
        event_apply(event=other)
