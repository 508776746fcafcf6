"""The Omise webhook receiver: verified, re-fetched, stored raw, applied exactly once."""

import base64
import json
import time
from urllib.parse import urlsplit

import pytest

from checkout import services
from checkout.models import Order, PaymentAttempt, WebhookDelivery, WebhookEvent
from sandbox.services.events import record_event
from security.models import SecurityEvent
from tests.shopping import event_body, pay, sign

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/webhooks/omise/"


def post(client, body: bytes, headers: dict, content_type="application/json", **extra):
    return client.post(URL, data=body, content_type=content_type, headers=headers, **extra)


def test_webhook_before_the_shopper_returns_pays_the_order(shop, sandbox, pending_3ds):
    """charge.complete delivered before the shopper is back settles the order; the late return
    then finds it paid and changes nothing."""
    attempt, charge = pending_3ds
    back = sandbox.complete_3ds(charge, authorize=True)
    deliveries = sandbox.deliver_webhooks()
    assert {d["status_code"] for d in deliveries} == {200}
    assert Order.objects.get().status == Order.Status.PAID
    landing = shop.get(urlsplit(back).path)
    assert landing.url == attempt.order.get_absolute_url()
    assert Order.objects.get().status == Order.Status.PAID


def test_duplicate_deliveries_apply_once(sandbox, pending_3ds):
    """The same event delivered three times is applied once and acknowledged every time."""
    _, charge = pending_3ds
    sandbox.complete_3ds(charge)
    deliveries = sandbox.deliver_webhooks(duplicate=3)
    assert {d["status_code"] for d in deliveries} == {200}
    complete = [e for e in WebhookEvent.objects.all() if e.key == "charge.complete"]
    assert len(complete) == 1 and complete[0].processed_at
    outcomes = WebhookDelivery.objects.filter(event_id=complete[0].event_id)
    assert sorted(outcomes.values_list("outcome", flat=True)) == [
        "applied",
        "duplicate: already applied",
        "duplicate: already applied",
    ]


def test_out_of_order_deliveries_end_in_the_right_state(sandbox, pending_3ds):
    """charge.complete arriving before charge.create still ends with the order paid."""
    _, charge = pending_3ds
    sandbox.complete_3ds(charge)
    sandbox.deliver_webhooks(reverse=True)
    assert Order.objects.get().status == Order.Status.PAID
    assert WebhookEvent.objects.filter(processed_at__isnull=False).count() == 2


def test_the_body_is_not_believed_only_the_fetched_event(client, settings, sandbox, pending_3ds):
    """A signed body claiming success for a charge that is still pending changes nothing:
    the receiver acts on what the API returns."""
    _, charge = pending_3ds
    event = sandbox.events("charge.create")[-1]
    event["data"] = {**event["data"], "status": "successful", "paid": True, "authorized": True}
    body = json.dumps(event).encode()
    response = post(client, body, sign(body, settings.OMISE_WEBHOOK_SECRET))
    assert response.status_code == 200
    assert Order.objects.get().status == Order.Status.PENDING


def test_forged_signature_is_refused_and_recorded(client, settings, sandbox, pending_3ds):
    """A delivery signed with another secret is refused (401), stored, and raised as an event."""
    _, charge = pending_3ds
    sandbox.complete_3ds(charge)
    body = event_body(sandbox, "charge.complete")
    forged = sign(body, base64.b64encode(b"not-the-webhook-secret").decode())
    response = post(client, body, forged)
    assert response.status_code == 401
    assert Order.objects.get().status == Order.Status.PENDING
    assert not WebhookDelivery.objects.exists()  # nothing unverified is stored
    event = SecurityEvent.objects.get(kind=SecurityEvent.Kind.WEBHOOK_REJECTED)
    assert event.detail == {"reason": "signature mismatch", "status": 401}


@pytest.mark.parametrize("age", [301, 3600, -360])  # future: margin for the request's own time
def test_stale_or_future_timestamps_are_refused(client, settings, sandbox, pending_3ds, age):
    """A correctly signed delivery more than five minutes old (or ahead) is refused: replay."""
    _, charge = pending_3ds
    sandbox.complete_3ds(charge)
    body = event_body(sandbox, "charge.complete")
    headers = sign(body, settings.OMISE_WEBHOOK_SECRET, int(time.time()) - age)
    response = post(client, body, headers)
    assert response.status_code == 401
    assert json.loads(response.content)["result"] == "stale timestamp"
    assert Order.objects.get().status == Order.Status.PENDING


@pytest.mark.parametrize(
    "headers", [{}, {"Omise-Signature": "abc"}, {"Omise-Signature-Timestamp": "1"}]
)
def test_missing_signature_headers_are_refused(client, sandbox, headers):
    """Without both signature headers nothing is processed."""
    body = json.dumps({"object": "event", "id": "evnt_test_abcdefghij"}).encode()
    assert post(client, body, headers).status_code == 401


def test_either_signature_passes_during_a_secret_rotation(client, settings, sandbox, pending_3ds):
    """While a secret rolls, the header holds two signatures; the one that matches is enough."""
    _, charge = pending_3ds
    sandbox.complete_3ds(charge)
    body = event_body(sandbox, "charge.complete")
    headers = sign(body, settings.OMISE_WEBHOOK_SECRET)
    old = sign(
        body,
        base64.b64encode(b"the-old-secret").decode(),
        int(headers["Omise-Signature-Timestamp"]),
    )
    headers["Omise-Signature"] = f"{old['Omise-Signature']},{headers['Omise-Signature']}"
    assert post(client, body, headers).status_code == 200
    assert Order.objects.get().status == Order.Status.PAID


def test_unknown_event_id_is_refused(client, settings, sandbox):
    """A validly signed event that Omise does not know is answered 400 and applies nothing."""
    body = json.dumps(
        {
            "object": "event",
            "id": "evnt_test_doesnotexist1",
            "key": "charge.complete",
            "data": {"object": "charge", "id": "chrg_test_zzzzzzzzzz"},
        }
    ).encode()
    response = post(client, body, sign(body, settings.OMISE_WEBHOOK_SECRET))
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_an_event_of_an_unknown_key_is_stored_and_acknowledged(shop, sandbox, pending_3ds):
    """A genuine event the shop has no handler for (a customer, say) is verified, stored and
    answered 200, so Omise stops retrying it; no order changes."""
    event = record_event(
        key="customer.create",
        data={"object": "customer", "id": "cust_test_5unknown0001", "email": "a@example.com"},
    )
    [delivery] = sandbox.deliver_webhooks(event_ids=[event.id])
    assert delivery["status_code"] == 200
    stored = WebhookEvent.objects.get(event_id=event.id)
    assert stored.key == "customer.create" and stored.processed_at is not None
    assert stored.data["data"]["id"] == "cust_test_5unknown0001"
    assert Order.objects.get().status == Order.Status.PENDING


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'{"id": 42}', b'{"id": "evnt_../x"}', b"\xff\xfe"]
)
def test_malformed_bodies_are_400(client, settings, sandbox, body):
    """Bodies that are not an event with a valid id are answered 400, never 500."""
    response = post(client, body, sign(body, settings.OMISE_WEBHOOK_SECRET))
    assert response.status_code == 400
    assert WebhookDelivery.objects.get().response_status == 400


def test_wrong_content_type_is_415(client, settings, sandbox):
    """Only JSON is accepted."""
    body = b"id=evnt_test_abcdefghij"
    headers = sign(body, settings.OMISE_WEBHOOK_SECRET)
    response = post(client, body, headers, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_oversized_body_is_413(client, settings, sandbox):
    """A body beyond 64 KiB is refused before it is parsed."""
    body = json.dumps({"id": "evnt_test_abcdefghij", "pad": "x" * 70_000}).encode()
    response = post(client, body, sign(body, settings.OMISE_WEBHOOK_SECRET))
    assert response.status_code == 413


def test_plain_http_is_refused_where_https_is_required(client, settings, sandbox):
    """Outside development the receiver answers only over HTTPS."""
    settings.WEBHOOK_REQUIRE_HTTPS = True
    body = b"{}"
    assert post(client, body, sign(body, settings.OMISE_WEBHOOK_SECRET)).status_code == 403
    response = post(client, body, sign(body, settings.OMISE_WEBHOOK_SECRET), secure=True)
    assert response.status_code == 400  # got past the HTTPS check to the body


def test_only_post_is_allowed(client):
    """The receiver answers GET with 405."""
    assert client.get(URL).status_code == 405


def test_processing_error_answers_500_and_the_retry_applies(sandbox, pending_3ds, monkeypatch):
    """A failure while applying rolls back and answers 5xx; Omise's retry then applies cleanly."""
    _, charge = pending_3ds
    sandbox.complete_3ds(charge)
    real_apply = services.charge_apply
    calls = []

    def flaky(*, charge):
        calls.append(charge["id"])
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return real_apply(charge=charge)

    monkeypatch.setattr("checkout.events.charge_apply", flaky)
    first = sandbox.deliver_webhooks(event_ids=[sandbox.events("charge.complete")[-1]["id"]])
    assert first[0]["status_code"] == 500
    assert Order.objects.get().status == Order.Status.PENDING
    assert not WebhookEvent.objects.filter(processed_at__isnull=False).exists()
    again = sandbox.deliver_webhooks(event_ids=[sandbox.events("charge.complete")[-1]["id"]])
    assert again[0]["status_code"] == 200
    assert Order.objects.get().status == Order.Status.PAID


def test_a_late_failure_never_overwrites_a_paid_order(shop, sandbox):
    """Once paid, an order stays paid whatever a later 'failed' charge state claims."""
    pay(shop, sandbox)
    attempt = PaymentAttempt.objects.get()
    charge = sandbox.client.retrieve_charge(attempt.charge_id)
    services.charge_apply(
        charge={**charge, "status": "failed", "paid": False, "failure_code": "payment_rejected"}
    )
    assert Order.objects.get().status == Order.Status.PAID


def test_charges_for_another_amount_are_not_applied(shop, sandbox):
    """A charge whose amount does not match the order's is logged, never marks it paid."""
    pay(shop, sandbox, "4000000000000002")
    attempt = PaymentAttempt.objects.get()
    charge = sandbox.client.retrieve_charge(attempt.charge_id)
    services.charge_apply(charge={**charge, "status": "successful", "amount": 100})
    assert Order.objects.get().status == Order.Status.PENDING


def test_refund_event_updates_the_order(shop, sandbox):
    """refund.create reconciles the refunded amount from the charge, once."""
    pay(shop, sandbox)
    attempt = PaymentAttempt.objects.get()
    sandbox.client.create_refund(attempt.charge_id, amount=50000)
    sandbox.deliver_webhooks(duplicate=2)
    order = Order.objects.get()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 50000)


def test_an_older_pending_copy_never_moves_a_settled_attempt_back(shop, sandbox, pending_3ds):
    """A pending copy of the charge read before the paid one was applied changes nothing."""
    attempt, pending_copy = pending_3ds
    sandbox.complete_3ds(pending_copy)
    services.charge_apply(charge=sandbox.client.retrieve_charge(attempt.charge_id))
    services.charge_apply(charge=pending_copy)  # arrives late
    attempt.refresh_from_db()
    assert attempt.status == PaymentAttempt.Status.SUCCESSFUL and not attempt.authorize_uri
    assert Order.objects.get().status == Order.Status.PAID


def test_a_refunded_charge_settles_an_order_marked_failed(shop, sandbox):
    """An order failed locally whose charge was in fact paid and then refunded ends refunded,
    with the refunded amount and a paid time."""
    pay(shop, sandbox)
    attempt = PaymentAttempt.objects.get()
    Order.objects.update(status=Order.Status.FAILED, paid_at=None)
    refund = sandbox.client.create_refund(attempt.charge_id, amount=Order.objects.get().amount)
    assert refund["object"] == "refund"
    services.charge_apply(charge=sandbox.client.retrieve_charge(attempt.charge_id))
    order = Order.objects.get()
    assert order.status == Order.Status.REFUNDED
    assert order.refunded_amount == order.amount and order.paid_at is not None


def test_reloading_a_settled_return_asks_omise_nothing(shop, sandbox):
    """Once the attempt is settled, its return URL answers from the shop's own records."""
    pay(shop, sandbox)
    attempt = PaymentAttempt.objects.get()
    calls = len(sandbox.requests())
    response = shop.get(f"/orders/{attempt.order.reference}/return/{attempt.return_token}/")
    assert response.status_code == 302
    assert len(sandbox.requests()) == calls


# --- Nothing unverified is stored ----------------------------------------------------------

SIGNED_EVENT = json.dumps({"object": "event", "id": "evnt_test_abcdefghij"}).encode()


def _unsigned(body, secret):
    return {}


def _forged(body, secret):
    return sign(body, base64.b64encode(b"someone-else").decode())


def _stale(body, secret):
    return sign(body, secret, int(time.time()) - 3600)


@pytest.mark.parametrize("headers", [_unsigned, _forged, _stale])
@pytest.mark.parametrize(
    "body",
    [
        SIGNED_EVENT,
        # What a stranger would like to plant: card numbers behind NBSPs, in UTF-16, twice keyed.
        '{"id": "evnt_test_abcdefghij", "n": "4242\u00a04242\u00a04242\u00a04242"}'.encode(),
        '{"id": "evnt_test_abcdefghij", "n": "4242424242424242"}'.encode("utf-16"),
        b'{"id": "evnt_test_abcdefghij", "n": "4242", "n": "4242424242424242"}',
        b"x" * 60_000,
    ],
)
def test_unverified_deliveries_store_nothing(client, settings, sandbox, headers, body):
    """However it is dressed, a delivery without our signature leaves no WebhookDelivery row,
    only a security event that holds neither the body nor anything read from it."""
    response = post(client, body, headers(body, settings.OMISE_WEBHOOK_SECRET))
    assert response.status_code in {400, 401}  # 400: the card guard saw the number first
    assert not WebhookDelivery.objects.exists()
    assert not WebhookEvent.objects.exists()
    for event in SecurityEvent.objects.all():  # at most a card guard's last four digits
        assert "42424242" not in json.dumps(event.detail).replace("\\u00a0", "")
        assert "4242 4242" not in json.dumps(event.detail, ensure_ascii=False)


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=xyz",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json; charset=utf-16",
        "application/json; charset=latin-1",
        "application/jsonp",
    ],
)
def test_anything_but_json_in_utf8_is_415(client, settings, sandbox, content_type):
    """Multipart, forms, text and JSON declared in another charset: 415, never a 500, and
    nothing stored."""
    body = SIGNED_EVENT
    if content_type.startswith("multipart"):
        body = (
            b'--xyz\r\nContent-Disposition: form-data; name="id"\r\n\r\n'
            b"evnt_test_abcdefghij\r\n--xyz--\r\n"
        )
    response = post(
        client, body, sign(body, settings.OMISE_WEBHOOK_SECRET), content_type=content_type
    )
    assert response.status_code in {400, 415}  # 400: the charset guard answered first
    assert not WebhookDelivery.objects.exists()


def test_json_declared_utf8_in_any_spelling_passes(client, settings, sandbox):
    body = b'{"id": "evnt_test_doesnotexist1"}'
    for content_type in (
        "application/json",
        "application/json; charset=UTF-8",
        "application/json;charset=utf8",
    ):
        response = post(
            client, body, sign(body, settings.OMISE_WEBHOOK_SECRET), content_type=content_type
        )
        assert response.status_code == 400  # verified and parsed: Omise knows no such event
        assert json.loads(response.content)["result"] == "unknown event id"


@pytest.mark.parametrize(
    "body, reason",
    [
        (
            b'{"id": "evnt_test_abcdefghij", "id": "evnt_test_zzzzzzzzzz"}',
            "malformed JSON: a key appears twice",
        ),
        (
            b'{"id": "evnt_test_abcdefghij", "data": {"object": "charge", "object": "refund"}}',
            "malformed JSON: a key appears twice",
        ),
        (b'{"id": "evnt_test_abcdefghij", "amount": NaN}', "malformed JSON"),
        (b'\xef\xbb\xbf{"id": "evnt_test_abcdefghij"}', "malformed JSON"),
        ('{"id": "evnt_test_abcdefghij"}'.encode("utf-16"), "body is not UTF-8"),
    ],
)
def test_signed_bodies_that_parsers_could_read_two_ways_are_400(
    client, settings, sandbox, body, reason
):
    """Even signed, a body is read one way only: UTF-8, each key once, standard JSON."""
    response = post(client, body, sign(body, settings.OMISE_WEBHOOK_SECRET))
    assert response.status_code == 400
    assert json.loads(response.content)["result"] == reason
    assert WebhookDelivery.objects.get().response_status == 400
    assert not WebhookEvent.objects.exists()


def test_a_signed_body_is_stored_with_card_numbers_masked(rf, settings, sandbox):
    """Straight to the view (no card guard in front), a signed body holding a card number is
    stored masked: the detector runs on every body kept."""
    from checkout.views import omise_webhook

    body = b'{"id": "evnt_test_doesnotexist1", "note": "4242 4242 4242 4242"}'
    request = rf.post(
        URL,
        data=body,
        content_type="application/json",
        headers=sign(body, settings.OMISE_WEBHOOK_SECRET),
    )
    assert omise_webhook(request).status_code == 400  # unknown event at Omise
    stored = WebhookDelivery.objects.get().body
    assert "4242 4242 4242" not in stored and stored.endswith('4242"}')


def test_rejections_are_recorded_a_few_a_minute_per_address(client, settings, sandbox):
    """A flood of forged deliveries is answered every time but leaves a bounded number of
    security events per client address."""
    from security.events import EVENTS_PER_MINUTE

    for _ in range(EVENTS_PER_MINUTE + 15):
        assert post(client, SIGNED_EVENT, {}).status_code == 401
    rejected = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.WEBHOOK_REJECTED)
    assert rejected.count() == EVENTS_PER_MINUTE
    assert post(client, SIGNED_EVENT, {}, REMOTE_ADDR="203.0.113.9").status_code == 401
    assert rejected.count() == EVENTS_PER_MINUTE + 1  # another address has its own budget


@pytest.mark.parametrize(
    "timestamp", ["9" * 400, "-" + "9" * 400, "\u0661" * 10, "1e9", " 1", "0x10", ""]
)
def test_a_hostile_timestamp_is_refused_not_a_500(client, sandbox, timestamp):
    """Huge, signed, other-script or non-decimal timestamps: 401, nothing stored."""
    headers = {"Omise-Signature": "x", "Omise-Signature-Timestamp": timestamp}
    assert post(client, SIGNED_EVENT, headers).status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_a_replayed_delivery_is_answered_but_stored_once(client, settings, sandbox, pending_3ds):
    """The same signed delivery sent again within the five minutes its timestamp allows (a
    captured request replayed): answered like a duplicate, applied once, one row kept."""
    _, charge = pending_3ds
    sandbox.complete_3ds(charge)
    body = event_body(sandbox, "charge.complete")
    now = int(time.time())
    headers = sign(body, settings.OMISE_WEBHOOK_SECRET, now)
    answers = [post(client, body, headers).status_code for _ in range(20)]
    assert answers == [200] * 20
    assert WebhookDelivery.objects.count() == 1
    assert WebhookDelivery.objects.get().outcome == "applied"
    assert Order.objects.get().status == Order.Status.PAID
    # The same signature written another way (case, spaces, a second signature) is the same
    # delivery: the stored-once rule follows what the signature covers, not the header's text.
    signature = headers["Omise-Signature"]
    for variant in [
        signature.upper(),
        f" {signature} ",
        f"{signature},",
        f",{signature}",
        f"{signature}, {'0' * 64}",
        f"{'f' * 64},{signature}",
    ]:
        assert post(client, body, {**headers, "Omise-Signature": variant}).status_code == 200
    assert WebhookDelivery.objects.count() == 1
    # Omise's own retry is signed anew (another timestamp): a row of its own.
    post(client, body, sign(body, settings.OMISE_WEBHOOK_SECRET, now - 30))
    assert WebhookDelivery.objects.count() == 2


def test_stored_headers_are_masked_and_cut_short(client, settings, sandbox):
    """The signature covers the body, not the User-Agent or X-Forwarded-For a proxy passes on:
    a card number there is masked and a long value is cut before it is stored."""
    body = b'{"id": "evnt_test_doesnotexist2"}'
    headers = {
        **sign(body, settings.OMISE_WEBHOOK_SECRET),
        "User-Agent": "Omise/2019 4242 4242 4242 4242 " + "x" * 5000,
        "X-Forwarded-For": ", ".join(["203.0.113.9"] * 1000),
    }
    post(client, body, headers)
    stored = WebhookDelivery.objects.get().headers
    assert "4242 4242 4242" not in stored["User-Agent"] and "4242" in stored["User-Agent"]
    assert max(len(value) for value in stored.values()) <= 300
    assert set(stored) <= {
        "Content-Type",
        "Content-Length",
        "User-Agent",
        "Omise-Signature",
        "Omise-Signature-Timestamp",
        "X-Forwarded-For",
        "X-Forwarded-Proto",
    }


def test_an_oversized_signature_header_is_refused(client, settings, sandbox):
    """Two signatures at most (a secret rotation): a longer header is no Omise delivery."""
    body = b'{"id": "evnt_test_doesnotexist3"}'
    headers = sign(body, settings.OMISE_WEBHOOK_SECRET)
    headers["Omise-Signature"] = ",".join([headers["Omise-Signature"]] + ["0" * 64] * 50)
    response = post(client, body, headers)
    assert response.status_code == 401 and not WebhookDelivery.objects.exists()
