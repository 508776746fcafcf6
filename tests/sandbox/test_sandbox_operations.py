"""The sandbox's merchant operations: capture=false, capture in full and in part, reverse,
authorization expiry, disputes (test mode's POST /charges/{id}/disputes, the dashboard's
buttons, PATCH, accept), events listed with paging and a bound, and the switch that drops
webhooks. Through the shop's own client over HTTP, as production code calls Omise."""

from datetime import timedelta

import pytest
from django.utils import timezone

from checkout.omise import OmiseAPIError
from sandbox.models import Charge, Dispute, Event

pytestmark = pytest.mark.django_db(transaction=True)


def authorize(sandbox, amount: int = 100_000) -> dict:
    return sandbox.client.create_charge(
        amount=amount, currency="THB", card=sandbox.token(), capture=False
    )


def refused(call) -> OmiseAPIError:
    with pytest.raises(OmiseAPIError) as caught:
        call()
    return caught.value


def test_capture_false_authorizes_with_a_deadline(sandbox):
    charge = authorize(sandbox)
    assert (charge["status"], charge["authorized"], charge["paid"]) == ("pending", True, False)
    assert (charge["capturable"], charge["reversible"], charge["refundable"]) == (
        True,
        True,
        False,
    )
    assert charge["authorized_amount"] == 100_000 and charge["captured_amount"] == 0
    assert charge["expires_at"] > timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def test_capture_in_full_and_then_never_again(sandbox):
    charge = authorize(sandbox)
    captured = sandbox.client.capture_charge(charge["id"])
    assert (captured["status"], captured["paid"], captured["captured_amount"]) == (
        "successful",
        True,
        100_000,
    )
    assert refused(lambda: sandbox.client.capture_charge(charge["id"])).code == "failed_capture"
    assert [e["key"] for e in sandbox.events()][-1] == "charge.capture"


def test_partial_capture_limits_refunds_to_what_was_taken(sandbox):
    charge = authorize(sandbox)
    over = refused(lambda: sandbox.client.capture_charge(charge["id"], amount=100_001))
    assert over.code == "failed_capture"
    captured = sandbox.client.capture_charge(charge["id"], amount=40_000)
    assert (captured["amount"], captured["authorized_amount"], captured["captured_amount"]) == (
        100_000,
        100_000,
        40_000,
    )
    too_much = refused(lambda: sandbox.client.create_refund(charge["id"], amount=40_001))
    assert too_much.code == "failed_refund"
    assert sandbox.client.create_refund(charge["id"], amount=40_000)["amount"] == 40_000


def test_reverse_releases_and_a_released_charge_cannot_be_captured(sandbox):
    charge = authorize(sandbox)
    reversed_ = sandbox.client.reverse_charge(charge["id"])
    assert (reversed_["status"], reversed_["reversed"], reversed_["paid"]) == (
        "reversed",
        True,
        False,
    )
    assert refused(lambda: sandbox.client.capture_charge(charge["id"])).code == "failed_capture"
    assert refused(lambda: sandbox.client.reverse_charge(charge["id"])).code == "invalid_charge"


def test_an_authorization_past_its_hold_expires_and_cannot_be_captured(sandbox):
    charge = authorize(sandbox)
    Charge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert refused(lambda: sandbox.client.capture_charge(charge["id"])).code == "expired_charge"
    expired = sandbox.client.retrieve_charge(charge["id"])
    assert (expired["status"], expired["authorized"]) == ("expired", False)
    assert sandbox.events("charge.expire")


def test_disputes_open_answer_accept_and_list(sandbox):
    paid = sandbox.client.create_charge(amount=50_000, currency="THB", card=sandbox.token())
    dispute = sandbox.open_dispute(paid["id"])
    assert (dispute["object"], dispute["status"], dispute["charge"], dispute["amount"]) == (
        "dispute",
        "open",
        paid["id"],
        50_000,
    )
    assert dispute["id"].startswith("dspt_test_")
    assert sandbox.client.retrieve_charge(paid["id"])["dispute"]["id"] == dispute["id"]
    answered = sandbox.client.update_dispute(dispute["id"], message="Delivered, signed.")
    assert (answered["status"], answered["message"]) == ("pending", "Delivered, signed.")
    not_open = refused(lambda: sandbox.client.accept_dispute(dispute["id"]))
    assert not_open.code == "bad_request"
    other = sandbox.open_dispute(
        sandbox.client.create_charge(amount=20_000, currency="THB", card=sandbox.token())["id"]
    )
    assert sandbox.client.accept_dispute(other["id"])["status"] == "lost"
    closed = sandbox._http.get(f"{sandbox.api_url}/disputes/closed", timeout=10).json()
    assert [d["id"] for d in closed["data"]] == [other["id"]]
    assert [e["key"] for e in sandbox.events() if e["key"].startswith("dispute.")] == [
        "dispute.create",
        "dispute.update",
        "dispute.create",
        "dispute.close",
    ]


def test_only_a_paid_charge_can_be_disputed_once(sandbox):
    charge = authorize(sandbox)
    with pytest.raises(AssertionError, match="only a paid charge"):
        sandbox.open_dispute(charge["id"])
    paid = sandbox.client.create_charge(amount=20_000, currency="THB", card=sandbox.token())
    sandbox.open_dispute(paid["id"])
    with pytest.raises(AssertionError, match="already disputed"):
        sandbox.open_dispute(paid["id"])
    missing = refused(lambda: sandbox.client.retrieve_dispute("dspt_test_doesnotexist00000"))
    assert (missing.code, missing.http_status) == ("not_found", 404)


def test_the_dashboard_opens_and_decides_a_dispute(sandbox, client):
    paid = sandbox.client.create_charge(amount=20_000, currency="THB", card=sandbox.token())
    page = client.get("/sandbox/")
    assert f"/sandbox/charges/{paid['id']}/dispute".encode() in page.content
    client.post(f"/sandbox/charges/{paid['id']}/dispute")
    dispute = Dispute.objects.get()
    assert dispute.status == "open"
    client.post(f"/sandbox/disputes/{dispute.id}/close", {"status": "won"})
    dispute.refresh_from_db()
    assert dispute.status == "won" and dispute.closed_at is not None
    client.post(f"/sandbox/disputes/{dispute.id}/close", {"status": "lost"})  # decided already
    assert Dispute.objects.get().status == "won"


def test_events_are_listed_in_pages_from_a_time(sandbox):
    for _ in range(3):
        sandbox.client.create_charge(amount=20_000, currency="THB", card=sandbox.token())
    first = sandbox.client.list_events(limit=2, offset=0)
    second = sandbox.client.list_events(limit=2, offset=2)
    assert (first["total"], len(first["data"]), len(second["data"])) == (3, 2, 1)
    assert first["order"] == "chronological"
    Event.objects.filter(id=first["data"][0]["id"]).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    recent = sandbox.client.list_events(from_time=timezone.now() - timedelta(hours=1))
    assert first["data"][0]["id"] not in [e["id"] for e in recent["data"]]
    assert recent["total"] == 2


def test_the_switch_drops_webhooks_and_the_dashboard_turns_it_off(sandbox, client):
    client.post("/sandbox/switches", {"drop_webhooks": "on"})
    assert b"Webhooks are dropped" in client.get("/sandbox/").content
    sandbox.client.create_charge(amount=20_000, currency="THB", card=sandbox.token())
    assert [d["error"] for d in sandbox.deliver_webhooks()] == ["dropped"]
    client.post("/sandbox/switches", {"drop_webhooks": "off"})
    sandbox.client.create_charge(amount=20_000, currency="THB", card=sandbox.token())
    assert [d["status_code"] for d in sandbox.deliver_webhooks()] == [200]
