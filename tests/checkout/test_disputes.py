"""Disputes (checkout/disputes.py): dispute.* events create and update the record from Omise's
copy; paid → disputed → won / lost; staff answer or accept (refusals included); deadlines and
the staff e-mails, each decided once in the outbox (mails.outbox) with the dispute's change,
and sent once (over a real SMTP server in one test, on PostgreSQL with racing threads in
two). Omise is faked in process (tests/fake_omise.py)."""

import io
import logging
import re
import secrets
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone, translation

from checkout import monitoring
from checkout.disputes import (
    DisputeError,
    dispute_accept,
    dispute_apply,
    dispute_message,
    disputes_warn_due,
)
from checkout.events import event_apply
from checkout.models import Dispute, Order, PaymentAttempt
from checkout.omise import OmiseAPIError
from checkout.services import charge_apply
from mails.models import OutboxMail
from mails.outbox import mails_send_due

pytestmark = pytest.mark.django_db
S = Dispute.Status


@pytest.fixture(autouse=True)
def staff_address(settings):
    settings.STAFF_NOTIFY_EMAILS = ["ops@example.com"]
    settings.ADMINS = []


def staff_rows():
    """The outbox's staff mails (the paid order's receipt is the shopper's, queued too)."""
    return OutboxMail.objects.filter(kind__startswith="dispute_")


def staff_messages(smtp_server) -> list:
    return [m for m in smtp_server.messages if "] Dispute" in m["Subject"]]


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
    row = staff_rows().get()
    assert (row.key, row.kind, row.to, row.language, row.status) == (
        f"dispute:{record.dispute_id}:opened",
        "dispute_opened",
        ["ops@example.com"],
        "en",
        OutboxMail.Status.SENT,
    )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "Dispute opened" in mail.outbox[0].subject and order.reference in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        event_apply(event=fake_omise.events("dispute.create")[-1], again=True)
        dispute_apply(dispute=fake_omise.retrieve_dispute(record.dispute_id))
    assert len(mail.outbox) == 1 and Dispute.objects.count() == 1
    assert staff_rows().count() == 1


def test_the_opened_mail_commits_with_the_dispute_or_not_at_all(
    fake_omise, django_capture_on_commit_callbacks
):
    """The mail is decided in the dispute's transaction: if that rolls back, there is no
    record and no mail; applied again later, there is one of each."""
    order = paid_order(fake_omise)
    dispute = fake_omise.open_dispute(order.attempts.get().charge_id)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        dispute_apply(dispute=dispute)
        assert staff_rows().count() == 1
        raise RuntimeError("the transaction failed after the dispute was recorded")
    assert not Dispute.objects.exists() and not staff_rows().exists()
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        dispute_apply(dispute=dispute)
    assert staff_rows().get().status == OutboxMail.Status.SENT and len(mail.outbox) == 1


def test_staff_are_the_admins_unless_named_and_nobody_means_no_mail(
    fake_omise, django_capture_on_commit_callbacks, settings, caplog
):
    """STAFF_NOTIFY_EMAILS, else ADMINS; with neither, the dispute is still recorded and a
    warning says who to set (the outbox refuses a mail to nobody)."""
    settings.STAFF_NOTIFY_EMAILS = []
    settings.ADMINS = ["boss@example.com", "ops@example.com"]
    disputed(fake_omise, django_capture_on_commit_callbacks)
    assert staff_rows().get().to == ["boss@example.com", "ops@example.com"]
    assert mail.outbox[0].to == ["boss@example.com", "ops@example.com"]  # one message

    settings.ADMINS = []
    staff_rows().delete()
    Dispute.objects.all().delete()
    with caplog.at_level(logging.WARNING, logger="checkout.disputes"):
        disputed(fake_omise, django_capture_on_commit_callbacks)
    assert Dispute.objects.count() == 1 and not staff_rows().exists()
    assert "set STAFF_NOTIFY_EMAILS or ADMINS" in caplog.text


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
    row = staff_rows().get(kind="dispute_deadline")
    assert row.key == f"dispute:{record.dispute_id}:deadline"
    assert staff_rows().count() == 2


def test_a_dispute_answered_or_closed_gets_no_deadline_mail(
    fake_omise, django_capture_on_commit_callbacks, settings
):
    _, record = disputed(fake_omise, django_capture_on_commit_callbacks)
    Dispute.objects.update(respond_by=timezone.now() + timedelta(hours=3))
    for status in (S.PENDING, S.WON, S.LOST, S.CLOSED):
        Dispute.objects.update(status=status)
        assert disputes_warn_due() == 0
    assert not staff_rows().filter(kind="dispute_deadline").exists()
    Dispute.objects.update(status=S.OPEN)
    assert disputes_warn_due() == 1  # the same dispute, open: warned


def test_a_staff_mail_the_server_refused_is_sent_later_once_over_smtp(
    fake_omise, django_capture_on_commit_callbacks, smtp_server, settings
):
    """Through a real SMTP server: the server refuses the "dispute opened" mail, the outbox
    keeps it queued, `send_mails` delivers it once: English even when the event arrived in a
    Thai request, to every staff address, with text and HTML parts branded from settings."""
    settings.STAFF_NOTIFY_EMAILS = ["ops@example.com", "owner@example.com"]
    settings.SHOP_NAME = "Doi Crafts"
    settings.DEFAULT_FROM_EMAIL = "Doi Crafts <hello@doi.example>"
    settings.SHOP_ORIGIN = "https://doi.example"
    settings.MAIL_ACCENT_COLOR = "#123456"
    smtp_server.refuse = 1
    with translation.override("th"):
        order, record = disputed(fake_omise, django_capture_on_commit_callbacks)
    OutboxMail.objects.exclude(pk__in=staff_rows()).delete()  # the receipt: not this test's
    row = staff_rows().get()
    assert (row.status, row.attempts) == (OutboxMail.Status.QUEUED, 1)
    assert "451" in row.last_error and smtp_server.messages == []
    OutboxMail.objects.update(next_try_at=timezone.now())
    call_command("send_mails", stdout=open("/dev/null", "w"))  # noqa: SIM115 (cron's run)
    assert mails_send_due() == 0  # sent: nothing more to send
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxMail.Status.SENT, 2)
    (message,) = smtp_server.messages
    assert message["To"] == "ops@example.com, owner@example.com"
    assert message["From"] == "Doi Crafts <hello@doi.example>"
    assert message["Subject"] == f"[Doi Crafts] Dispute opened: ฿1,500.00 on {order.reference}"
    assert message["Content-Language"] == "en"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    admin = f"https://doi.example/admin/checkout/dispute/{record.pk}/change/"
    deadline = timezone.localtime(record.respond_by).strftime("%Y-%m-%d %H:%M")
    dashboard = f"https://dashboard.omise.co/test/disputes/{record.dispute_id}"
    for part in (text, html):
        assert record.dispute_id in part and record.charge_id in part
        assert deadline in part and "DISPUTE_RESPOND_WITHIN_DAYS" in part
        assert "Reason: Services not provided or Merchandise not received." in part
        assert admin in part and dashboard in part
        assert "You receive this e-mail as the shop's staff" in part
        assert "because of an order" not in part  # the shopper's footer is not the staff's
    assert '<html lang="en">' in html and "#123456" in html and "Doi Crafts" in html


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
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reconcile_payments", "--quiet", stdout=out)
    assert "1 dispute deadline warning(s) queued" in out.getvalue()
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


def test_the_staff_templates_are_english_with_no_translation_tags():
    """Staff read English (like the admin): a translation tag here would put their words in the
    shopper's catalogue, and `make check-translations` would ask for a Thai version."""
    from django.conf import settings

    root = Path(settings.BASE_DIR) / "templates" / "mails"
    staff = [root / "dispute.txt", root / "dispute.html", root / "staff_footer.txt"]
    staff += sorted(root.glob("dispute_*/*"))
    assert len(staff) == 9
    for template in staff:
        text = template.read_text(encoding="utf-8")
        assert "i18n" not in text and "translate" not in text, template


# --- races, on PostgreSQL (SQLite serialises every write: these skip there) ---------------


def run_together(count: int, work) -> list:
    """`work(i)` in `count` threads released together, each with its own connection."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def thread(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as error:  # reported to the test, not lost in the thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=thread, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("races need PostgreSQL: pytest --ds=tests.settings_postgres -m postgres")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_dispute_event_racing_sends_staff_one_mail(on_postgresql, fake_omise, smtp_server):
    """Six deliveries of one new dispute applied at the same instant (webhook retries, the
    catch-up, staff's "apply again"): one record, one outbox row, one message over SMTP."""
    order = paid_order(fake_omise)
    dispute = fake_omise.open_dispute(order.attempts.get().charge_id)

    results = run_together(6, lambda i: dispute_apply(dispute=dict(dispute)))

    assert {r.pk for r in results} == {Dispute.objects.get().pk}
    row = staff_rows().get()
    assert (row.key, row.status, row.attempts) == (
        f"dispute:{dispute['id']}:opened",
        OutboxMail.Status.SENT,
        1,
    )
    (message,) = staff_messages(smtp_server)
    assert message["Subject"].startswith("[Lanna Goods] Dispute opened")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deadline_jobs_racing_decide_and_count_one_mail(on_postgresql, fake_omise, smtp_server):
    """Four `reconcile_payments` runs overlapping: one deadline mail, counted once (each run
    re-checks under the dispute's row lock)."""
    order = paid_order(fake_omise)
    dispute = fake_omise.open_dispute(order.attempts.get().charge_id)
    dispute_apply(dispute=dispute)
    Dispute.objects.update(respond_by=timezone.now() + timedelta(hours=5))

    counts = run_together(4, lambda i: disputes_warn_due())

    assert sorted(counts) == [0, 0, 0, 1]
    assert staff_rows().filter(kind="dispute_deadline").count() == 1
    assert [m["Subject"].split(":")[0] for m in staff_messages(smtp_server)] == [
        "[Lanna Goods] Dispute opened",
        "[Lanna Goods] Dispute deadline near",
    ]


@pytest.mark.parametrize("decision", [None, "pending", "lost", "won"])
def test_a_disputed_order_is_refunded_only_once_the_bank_decided_for_the_shop(
    fake_omise, django_capture_on_commit_callbacks, decision
):
    """A chargeback returns the money through the bank: while a dispute is open or answered,
    or once it is lost, a refund would pay the cardholder twice and is refused before Omise is
    asked; a won dispute leaves the order refundable as before."""
    from checkout.refunds import RefundError, refund_create

    order, record = disputed(fake_omise, django_capture_on_commit_callbacks)
    if decision == "pending":
        dispute_message(record=record, message="Delivered on 2 December, signed for.")
    elif decision:
        fake_omise.close_dispute(record.dispute_id, status=decision)
        event_apply(event=fake_omise.events("dispute.close")[-1])
    record.refresh_from_db()
    if decision == "won":
        refund_create(order=order, amount=order.amount, request_token="r-won")
        assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED
        return
    with pytest.raises(RefundError, match="pay them twice"):
        refund_create(order=order, amount=order.amount, request_token="r-" + str(decision))
    assert fake_omise.calls_of("create_refund") == []
