"""Reconciliation: attempts left unsure (a timed-out charge request, a lost webhook) are
settled by asking Omise, never by charging again."""

import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from checkout import monitoring, services
from checkout.models import Order, PaymentAttempt
from checkout.omise import get_client
from tests.shopping import pay

pytestmark = pytest.mark.django_db(transaction=True)


def reconcile_command(*args: str) -> str:
    out = io.StringIO()
    call_command("reconcile_payments", *args, stdout=out)
    return out.getvalue()


def asked_about_payments(sandbox) -> list:
    """Requests to the sandbox, but the event listing every run of the command makes
    (the catch-up of lost webhooks, tests/checkout/test_catchup.py)."""
    return [r for r in sandbox.requests() if r.endpoint != "events.list"]


def age(attempt: PaymentAttempt, delta: timedelta) -> None:
    """Move an attempt back in time (instead of sleeping through the grace period)."""
    PaymentAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - delta)


@pytest.fixture
def timed_out_charge(shop, sandbox, settings):
    """A checkout whose charge was created by Omise but whose answer never arrived in time."""
    settings.OMISE_TIMEOUT_READ = 0.5
    sandbox.fault("charges.create", "stall_after", seconds=2)
    response = pay(shop, sandbox)
    settings.OMISE_TIMEOUT_READ = 30
    return response


# --- the client's list of charges --------------------------------------------------------------
def test_list_charges_filters_by_time_and_pages(sandbox):
    """list_charges sends from/to as ISO 8601 and the sandbox, like Omise, bounds created_at."""
    first = sandbox.client.create_charge(amount=20000, currency="THB", card=sandbox.token())
    second = sandbox.client.create_charge(amount=30000, currency="THB", card=sandbox.token())
    now = timezone.now()
    listing = sandbox.client.list_charges(from_time=now - timedelta(minutes=5), limit=1)
    assert listing["object"] == "list" and listing["total"] == 2
    assert [c["id"] for c in listing["data"]] == [second["id"]]  # newest first by default
    assert [
        c["id"]
        for c in sandbox.client.list_charges(
            from_time=now - timedelta(minutes=5), offset=1, limit=1, order="chronological"
        )["data"]
    ] == [second["id"]]
    assert first["id"] in {c["id"] for c in sandbox.client.list_charges()["data"]}
    assert sandbox.client.list_charges(from_time=now + timedelta(minutes=5))["total"] == 0
    assert sandbox.client.list_charges(to_time=now - timedelta(minutes=5))["total"] == 0
    sent = sandbox.last_request("charges.list")
    assert sent["to"].endswith("Z") and "T" in sent["to"]


@pytest.mark.parametrize("bad", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"order": "random"}])
def test_list_charges_refuses_bad_paging_before_the_request(bad):
    """Out-of-range paging is a ValueError raised locally, not a request to Omise."""
    with pytest.raises(ValueError):
        get_client().list_charges(**bad)


def test_timeouts_come_from_settings(settings):
    """OMISE_TIMEOUT_CONNECT/READ reach the client, and changing them builds a new client."""
    settings.OMISE_TIMEOUT_CONNECT, settings.OMISE_TIMEOUT_READ = 2, 7.5
    client = get_client()
    assert client.timeout == (2.0, 7.5)
    settings.OMISE_TIMEOUT_READ = 0.5
    assert get_client() is not client and get_client().timeout == (2.0, 0.5)


# --- a charge whose creation timed out -----------------------------------------------------------
def test_timed_out_charge_is_found_by_its_attempt_key_and_pays_the_order(
    shop, sandbox, timed_out_charge
):
    """The shopper sees "we are checking"; reconciling finds the charge by the attempt key in its
    metadata and marks the order paid, with no second charge."""
    order = Order.objects.get()
    attempt = order.attempts.get()
    assert timed_out_charge.url == order.get_absolute_url()
    assert (order.status, attempt.status, attempt.charge_id) == ("pending", "unknown", None)
    # The order page reconciles by itself now and then; hold that off to see what it says first.
    cache.set(f"reconcile:{attempt.pk}", 1, 60)
    page = shop.get(order.get_absolute_url())
    assert "We are checking whether your card was charged" in page.text
    assert "Please don't pay again" in page.text

    output = reconcile_command("--older-than", "0")
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == Order.Status.PAID and order.paid_at
    assert attempt.status == "successful" and attempt.charge_id.startswith("chrg_test_")
    assert attempt.charge_id == sandbox.events("charge.create")[-1]["data"]["id"]
    assert len(sandbox.requests("charges.create")) == 1
    assert "1 attempt: 1 successful" in output


def test_the_order_page_itself_settles_a_timed_out_charge(shop, sandbox, timed_out_charge):
    """Without cron, the waiting order page asks Omise and shows the order paid."""
    order = Order.objects.get()
    page = shop.get(order.get_absolute_url())
    assert "your order is paid" in page.text
    assert len(sandbox.requests("charges.create")) == 1


def test_reconcile_twice_changes_nothing_more(shop, sandbox, timed_out_charge):
    """A second run finds nothing unsettled and calls Omise for nothing."""
    reconcile_command("--older-than", "0")
    calls = len(asked_about_payments(sandbox))
    assert "no attempts to reconcile" in reconcile_command("--older-than", "0")
    assert len(asked_about_payments(sandbox)) == calls
    assert Order.objects.get().status == Order.Status.PAID


@pytest.fixture
def never_sent(shop, sandbox, settings):
    """A checkout whose charge request never reached Omise (connection refused)."""
    api_url = settings.OMISE_API_URL
    settings.OMISE_API_URL = "http://127.0.0.1:9/unreachable"
    pay(shop, sandbox)
    settings.OMISE_API_URL = api_url
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == PaymentAttempt.Status.UNKNOWN
    return attempt


def test_no_charge_within_the_grace_period_stays_unknown(sandbox, never_sent):
    """Before the grace period ends, "no charge yet" proves nothing: the order waits."""
    age(never_sent, timedelta(seconds=30))
    services.attempt_reconcile(attempt=PaymentAttempt.objects.get())
    assert PaymentAttempt.objects.get().status == PaymentAttempt.Status.UNKNOWN
    assert Order.objects.get().status == Order.Status.PENDING


def test_no_charge_after_the_grace_period_fails_the_order_not_charged(sandbox, never_sent):
    """After the grace period with no charge carrying the key, the order fails "not charged"
    and the shopper may pay again; nothing was charged."""
    age(never_sent, services.RECONCILE_GRACE + timedelta(seconds=1))
    output = reconcile_command()
    attempt = PaymentAttempt.objects.get()
    assert (attempt.status, attempt.failure_code) == ("failed", "not_charged")
    assert Order.objects.get().status == Order.Status.FAILED
    assert sandbox.requests("charges.create") == []
    assert "1 failed" in output


def test_a_charge_of_another_attempt_is_not_taken(sandbox, never_sent):
    """Charges in the window that carry another attempt's key do not settle this one."""
    sandbox.client.create_charge(
        amount=never_sent.amount,
        currency="THB",
        card=sandbox.token(),
        metadata={"attempt": "someone-else", "order_reference": never_sent.order.reference},
    )
    age(never_sent, services.RECONCILE_GRACE + timedelta(seconds=1))
    reconcile_command()
    assert Order.objects.get().status == Order.Status.FAILED


def test_omise_unreachable_leaves_attempts_for_the_next_run(sandbox, never_sent, settings):
    """If Omise cannot be reached the attempt stays unknown (not failed) and the command
    still exits normally."""
    age(never_sent, timedelta(minutes=10))
    settings.OMISE_API_URL = "http://127.0.0.1:9/unreachable"
    output = reconcile_command()
    assert PaymentAttempt.objects.get().status == PaymentAttempt.Status.UNKNOWN
    assert "1 unknown" in output


def test_young_attempts_are_left_alone(sandbox, never_sent):
    """Attempts younger than --older-than may still be in flight: not asked about."""
    calls = len(asked_about_payments(sandbox))
    assert "no attempts to reconcile" in reconcile_command("--older-than", "600")
    assert len(asked_about_payments(sandbox)) == calls


def test_a_lost_webhook_is_made_up_for(shop, sandbox):
    """A 3-D Secure charge completed at the bank, whose shopper and webhook never came back,
    is settled paid by the command."""
    response = pay(shop, sandbox, "4000000000000002")
    sandbox.complete_3ds({"authorize_uri": response.context["authorize_uri"]})
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == PaymentAttempt.Status.PENDING
    age(attempt, timedelta(minutes=5))
    assert "1 successful" in reconcile_command()
    assert Order.objects.get().status == Order.Status.PAID


def test_a_server_error_on_charge_creation_is_an_unknown_outcome(shop, sandbox):
    """Omise answering 500 to POST /charges may still have charged: the order waits for
    reconciliation ("we are checking") instead of telling the shopper they were not charged."""
    sandbox.fault("charges.create", "status", status=500)
    response = pay(shop, sandbox)
    attempt = PaymentAttempt.objects.get()
    assert attempt.status == PaymentAttempt.Status.UNKNOWN
    assert response.url == attempt.order.get_absolute_url()
    assert "Please don't pay again" in shop.get(response.url).text
    assert Order.objects.get().status == Order.Status.PENDING


def test_a_rate_limited_charge_creation_is_refused_not_charged(shop, sandbox):
    """A 429 means Omise did not process the request: the shopper is told the payment service
    is busy and nothing was charged (not that their card failed), and may simply try again."""
    sandbox.fault("charges.create", "status", status=429)
    response = pay(shop, sandbox)
    assert response.url == "/checkout/"
    attempt = PaymentAttempt.objects.get()
    assert (attempt.status, attempt.failure_code) == (
        PaymentAttempt.Status.FAILED,
        "service_unavailable",
    )
    assert Order.objects.get().status == Order.Status.FAILED
    page = shop.get(response.url).text
    assert "payment service is unavailable" in page and "not charged" in page
    assert "another card" not in page


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_secret_key_is_the_shops_problem_not_the_shoppers(shop, sandbox, caplog, status):
    """Omise refusing the shop's key (401, e.g. rolled; 403, forbidden) shows "service
    unavailable, not charged", logs an error for the merchant, and is no decline on the
    dashboard."""
    sandbox.fault("charges.create", "status", status=status)
    response = pay(shop, sandbox)
    attempt = PaymentAttempt.objects.get()
    assert attempt.failure_code == "service_unavailable"
    if status == 401:  # Omise's code is kept for the merchant (the sandbox's 403 has none)
        assert attempt.failure_message.startswith("authentication_failure")
    assert "payment service is unavailable" in shop.get(response.url).text
    assert any(
        r.levelname == "ERROR" and f"(HTTP {status})" in r.getMessage() for r in caplog.records
    )
    assert monitoring.declines().count() == 0
