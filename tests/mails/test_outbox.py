"""The outbox: one row per key, sent once, retried when the mail server fails."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from mails.models import OutboxMail
from mails.outbox import mail_queue, mails_send_due
from mails.sending import mail_message, mail_send

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = {
    "reference": "LG-TEST1234",
    "name": "Malee Sukjai",
    "order_path": "/orders/LG-TEST1234/secret/",
    "status": "paid",
    "amount": 153000,
    "currency": "THB",
    "items": [
        {"name": "Silk Scarf", "quantity": 1, "unit_price": 129000, "subtotal": 129000},
        {"name": "Rice Soap & Co", "quantity": 2, "unit_price": 12000, "subtotal": 24000},
    ],
    "payment_method": "card",
    "method_label": "Card",
    "card_brand": "Visa",
    "card_last_digits": "4242",
    "expires_at": "",
    "failure_message": "",
    "paid_at": "2026-12-06T04:00:00+00:00",
}


def queue(key="order:LG-TEST1234:order_confirmation", language="en", **context):
    with transaction.atomic():
        mail_queue(
            key=key,
            kind="order_confirmation",
            to="malee@example.com",
            language=language,
            context={**ORDER, **context},
        )


def test_a_key_is_queued_and_sent_once(smtp_server):
    queue()
    queue()  # the same decision again (a webhook after the return): nothing more
    assert OutboxMail.objects.count() == 1
    assert len(smtp_server.messages) == 1
    row = OutboxMail.objects.get()
    assert row.status == OutboxMail.Status.SENT and row.attempts == 1 and row.sent_at
    assert not mail_send(key=row.key).sent  # sent already: a second task sends nothing
    assert len(smtp_server.messages) == 1


def test_a_mail_decided_in_a_rolled_back_transaction_is_never_sent(smtp_server):
    with pytest.raises(RuntimeError), transaction.atomic():
        mail_queue(
            key="order:LG-X:order_confirmation",
            kind="order_confirmation",
            to="malee@example.com",
            language="en",
            context=ORDER,
        )
        raise RuntimeError("the payment's transaction failed")
    assert not OutboxMail.objects.exists() and smtp_server.messages == []


def test_the_receipt_has_text_and_html_parts_over_smtp(smtp_server, settings):
    settings.SHOP_NAME = "Doi Crafts"
    settings.DEFAULT_FROM_EMAIL = "Doi Crafts <hello@doi.example>"
    settings.SHOP_ORIGIN = "https://doi.example"
    settings.MAIL_ACCENT_COLOR = "#123456"
    queue()
    (message,) = smtp_server.messages
    assert message["To"] == "malee@example.com"
    assert message["From"] == "Doi Crafts <hello@doi.example>"
    assert message["Subject"] == "Your receipt for order LG-TEST1234 · Doi Crafts"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "https://doi.example/orders/LG-TEST1234/secret/" in part
        assert "Visa ending in 4242" in part
        assert "฿1,530.00" in part and "฿240.00" in part
    assert "Rice Soap & Co" in text  # plain text is not HTML-escaped
    assert "Rice Soap &amp; Co" in html and "#123456" in html and "Doi Crafts" in html


def test_a_thai_shoppers_mail_is_in_thai(smtp_server):
    queue(language="th", name="มาลี")
    (message,) = smtp_server.messages
    assert message["Subject"].startswith("ใบเสร็จสำหรับคำสั่งซื้อ LG-TEST1234")
    assert message["Content-Language"] == "th"
    text = message.get_body(("plain",)).get_content()
    assert "สวัสดีคุณมาลี" in text and "ธันวาคม" in text  # Thai month name
    assert '<html lang="th">' in message.get_body(("html",)).get_content()


def test_a_failing_mail_server_is_retried_later_not_lost(smtp_server, settings):
    smtp_server.refuse = 1
    queue()  # the checkout's commit: the server refuses, nobody waits for it
    row = OutboxMail.objects.get()
    assert row.status == OutboxMail.Status.QUEUED and row.attempts == 1
    assert "451" in row.last_error and row.next_try_at > timezone.now()
    assert mails_send_due() == 0  # not due yet
    OutboxMail.objects.update(next_try_at=timezone.now())
    call_command("send_mails", stdout=open("/dev/null", "w"))  # noqa: SIM115 (cron's run)
    row.refresh_from_db()
    assert row.status == OutboxMail.Status.SENT and row.attempts == 2
    assert len(smtp_server.messages) == 1


def test_a_mail_is_given_up_after_its_attempts(smtp_server, settings):
    settings.MAIL_MAX_ATTEMPTS = 2
    smtp_server.refuse = 5
    queue()
    OutboxMail.objects.update(next_try_at=timezone.now())
    mails_send_due()
    row = OutboxMail.objects.get()
    assert row.status == OutboxMail.Status.FAILED and row.attempts == 2
    assert smtp_server.messages == []


def test_a_claim_left_by_a_dead_worker_is_sent_again_later(settings):
    queue()  # sent through the test's locmem backend
    assert len(mail.outbox) == 1
    OutboxMail.objects.update(status=OutboxMail.Status.QUEUED)  # as if never sent
    OutboxMail.objects.update(
        status=OutboxMail.Status.SENDING, claimed_at=timezone.now() - timedelta(minutes=5)
    )
    assert mails_send_due() == 0  # still within its claim: another worker may be sending
    OutboxMail.objects.update(claimed_at=timezone.now() - timedelta(hours=1))
    assert mails_send_due() == 1 and len(mail.outbox) == 2


def test_a_mail_carries_no_card_number_even_if_given_one(settings):
    queue(card_last_digits="4242", card_brand="Visa")
    message = mail_message(OutboxMail.objects.get())
    body = message.body + message.alternatives[0].content
    assert "4242424242424242" not in body and "Visa ending in 4242" in body


def test_with_a_queue_and_worker_the_mail_waits_for_the_worker_and_retries(smtp_server, settings):
    """Production's database queue: the payment's commit only queues the task (no SMTP in the
    request); the worker sends; a refusal queues the retry for later (run_after)."""
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    queue()
    assert smtp_server.messages == [] and DBTaskResult.objects.count() == 1

    smtp_server.refuse = 1
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    row = OutboxMail.objects.get()
    assert row.status == OutboxMail.Status.QUEUED and smtp_server.messages == []
    retry = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert retry.run_after is not None and retry.run_after >= row.next_try_at

    OutboxMail.objects.update(next_try_at=timezone.now())
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    row.refresh_from_db()
    assert row.status == OutboxMail.Status.SENT and len(smtp_server.messages) == 1


def test_a_mail_to_several_addresses_is_one_message_and_nobody_is_refused(smtp_server):
    """Staff mails go to every address at once; a mail to nobody is a programming error,
    refused before anything is written."""
    with transaction.atomic():
        mail_queue(
            key="order:LG-TEST1234:order_confirmation",
            kind="order_confirmation",
            to=["ops@example.com", "owner@example.com"],
            language="en",
            context=ORDER,
        )
    (message,) = smtp_server.messages
    assert message["To"] == "ops@example.com, owner@example.com"
    assert OutboxMail.objects.get().to == ["ops@example.com", "owner@example.com"]
    for nobody in ([], "", ["ops@example.com", ""]):
        with pytest.raises(ValueError, match="no recipient"), transaction.atomic():
            mail_queue(key=f"x:{nobody!r}", kind="x", to=nobody, language="en", context={})
    assert OutboxMail.objects.count() == 1
