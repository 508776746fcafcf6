"""Manual capture (checkout/capture.py): authorize → capture in full or in part, reverse, expire;
each staff action's refusals (over-capture, capture after expiry, a double click, a second
form) and the webhooks that keep the order in line whoever acted. Omise is faked in process
(tests/fake_omise.py)."""

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from checkout.capture import (
    CaptureError,
    authorizations_to_capture,
    expired_authorizations,
    order_capture,
    order_reverse,
)
from checkout.events import event_apply
from checkout.models import AuthorizationAction, Order, PaymentAttempt
from checkout.omise import OmiseAPIError
from checkout.refunds import RefundError, refund_create, refundable_amount
from checkout.services import charge_apply

pytestmark = pytest.mark.django_db
S = Order.Status
AMOUNT = 100_000


def authorized_order(fake, *, cart_id: str = "") -> Order:
    """An order whose card was authorized with capture=false, as the checkout makes it."""
    order = Order.objects.create(
        amount=AMOUNT,
        currency="THB",
        email="a@example.com",
        name="A",
        country="TH",
        cart_id=cart_id,
    )
    attempt = PaymentAttempt.objects.create(
        order=order, key=secrets.token_urlsafe(16), amount=AMOUNT, currency="THB"
    )
    charge = fake.create_charge(
        amount=AMOUNT,
        currency="THB",
        card=fake.token(),
        capture=False,
        metadata={"order_reference": order.reference, "attempt": attempt.key},
    )
    charge_apply(charge=charge, attempt_id=attempt.pk)
    order.refresh_from_db()
    return order


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("packer", "packer@example.com", is_staff=True)


def token() -> str:
    return secrets.token_urlsafe(16)


def test_an_authorization_waits_in_the_authorized_state_with_its_deadline(fake_omise):
    """capture=false: the order is authorized (not paid), the attempt holds the charge's
    expiry as the capture deadline, and the order is listed to capture."""
    order = authorized_order(fake_omise)
    attempt = order.attempts.get()
    assert (order.status, attempt.status) == (S.AUTHORIZED, PaymentAttempt.Status.AUTHORIZED)
    assert order.authorized_at is not None and order.paid_at is None
    assert attempt.expires_at > timezone.now() + timedelta(days=6)
    assert authorizations_to_capture(within=timedelta(days=8)) == [attempt]
    assert authorizations_to_capture(within=timedelta(days=1)) == []
    assert refundable_amount(order) == 0  # nothing taken, nothing to refund


def test_capture_in_full_pays_the_order_and_records_who(fake_omise, staff):
    order = authorized_order(fake_omise)
    row = order_capture(order=order, requested_by=staff, request_token=token())
    order.refresh_from_db()
    assert (order.status, order.captured_amount, order.charged_amount) == (S.PAID, None, AMOUNT)
    assert (row.kind, row.amount, row.created_by, row.outcome) == ("capture", AMOUNT, staff, "done")
    assert fake_omise.last_call("capture_charge")["amount"] is None  # Omise takes it all
    assert order.paid_at is not None


def test_partial_capture_takes_part_and_refunds_stop_at_what_was_taken(fake_omise, staff):
    """paid 600 of 1,000: the order shows the captured amount; a refund of more is refused,
    a refund of all of it makes the order refunded."""
    order = authorized_order(fake_omise)
    order_capture(order=order, amount=60_000, requested_by=staff, request_token=token())
    order.refresh_from_db()
    assert (order.status, order.captured_amount) == (S.PAID, 60_000)
    assert fake_omise.last_call("capture_charge")["amount"] == 60_000
    assert refundable_amount(order) == 60_000
    with pytest.raises(RefundError, match="more than"):
        refund_create(order=order, amount=60_001, request_token=token())
    refund_create(order=order, amount=60_000, request_token=token())
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (S.REFUNDED, 60_000)


def test_over_capture_is_refused_without_asking_omise(fake_omise, staff):
    order = authorized_order(fake_omise)
    for amount, why in [(AMOUNT + 1, "more than"), (0, "more than zero"), (-5, "more than zero")]:
        with pytest.raises(CaptureError, match=why):
            order_capture(order=order, amount=amount, requested_by=staff, request_token=token())
    with pytest.raises(CaptureError, match="whole number"):
        order_capture(order=order, amount="500", request_token=token())  # type: ignore[arg-type]
    assert fake_omise.calls_of("capture_charge") == []
    assert Order.objects.get().status == S.AUTHORIZED
    assert not AuthorizationAction.objects.exists()


def test_a_double_click_captures_once(fake_omise, staff):
    """The same form twice: one capture at Omise, one row, the same row returned."""
    order = authorized_order(fake_omise)
    same = token()
    first = order_capture(order=order, requested_by=staff, request_token=same)
    second = order_capture(order=order, requested_by=staff, request_token=same)
    assert first == second and len(fake_omise.calls_of("capture_charge")) == 1
    assert AuthorizationAction.objects.count() == 1


def test_a_second_form_after_the_capture_is_refused(fake_omise, staff):
    order = authorized_order(fake_omise)
    order_capture(order=order, requested_by=staff, request_token=token())
    for act in (order_capture, order_reverse):
        with pytest.raises(CaptureError, match="only an authorized order"):
            act(order=order, requested_by=staff, request_token=token())
    assert len(fake_omise.calls_of("capture_charge")) == 1
    assert fake_omise.calls_of("reverse_charge") == []


def test_capture_after_the_deadline_is_refused_before_asking_omise(fake_omise, staff):
    order = authorized_order(fake_omise)
    PaymentAttempt.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(CaptureError, match="expired"):
        order_capture(order=order, requested_by=staff, request_token=token())
    assert fake_omise.calls_of("capture_charge") == []


def test_capture_refused_by_omise_as_expired_moves_the_order_to_expired(fake_omise, staff):
    """Our copy of the deadline said there was time (clocks differ); Omise's hold had passed:
    its refusal is shown and the charge, read again, expires the order."""
    order = authorized_order(fake_omise)
    later = datetime.now(UTC) + timedelta(days=8)
    fake_omise._now = lambda: later
    with pytest.raises(CaptureError, match="expired_charge"):
        order_capture(order=order, requested_by=staff, request_token=token())
    order.refresh_from_db()
    assert order.status == S.EXPIRED
    assert list(expired_authorizations()) == [order]
    assert not AuthorizationAction.objects.exists()  # nothing happened at Omise


def test_reverse_cancels_the_order_and_a_stale_authorized_copy_changes_nothing(fake_omise, staff):
    order = authorized_order(fake_omise)
    stale = fake_omise.retrieve_charge(order.attempts.get().charge_id)
    row = order_reverse(order=order, requested_by=staff, request_token=token())
    order.refresh_from_db()
    assert order.status == S.CANCELLED and row.kind == "reverse"
    charge_apply(charge=stale)  # read before the reversal, applied after it
    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert order.attempts.get().status == PaymentAttempt.Status.REVERSED


def test_a_lost_answer_records_an_unknown_action_and_blocks_a_second_try(fake_omise, staff):
    """The capture happened but its answer was lost: the row says "unknown", a second form
    is refused for now, and the charge.capture webhook pays the order."""
    order = authorized_order(fake_omise)
    fake_omise.fail_next("capture_charge", after=True)
    with pytest.raises(CaptureError, match="did not answer"):
        order_capture(order=order, requested_by=staff, request_token=token())
    assert AuthorizationAction.objects.get().outcome == "unknown"
    with pytest.raises(CaptureError, match="still unanswered"):
        order_capture(order=order, requested_by=staff, request_token=token())
    event_apply(event=fake_omise.events("charge.capture")[-1])
    order.refresh_from_db()
    assert order.status == S.PAID
    assert len(fake_omise.calls_of("capture_charge")) == 1


@pytest.mark.parametrize(
    ("omise_does", "status"),
    [("capture", S.PAID), ("reverse", S.CANCELLED), ("expire", S.EXPIRED)],
)
def test_webhooks_follow_what_was_done_at_omise(fake_omise, omise_does, status):
    """Captured or released in Omise's dashboard, or expired: the event (re-fetched) moves the
    order, whoever acted."""
    order = authorized_order(fake_omise)
    charge_id = order.attempts.get().charge_id
    if omise_does == "capture":
        fake_omise.capture_charge(charge_id)
    elif omise_does == "reverse":
        fake_omise.reverse_charge(charge_id)
    else:
        fake_omise.settle(charge_id, status="expired")
    event = fake_omise.events()[-1]
    assert event["key"] == f"charge.{omise_does}"
    assert event_apply(event=event) is True
    order.refresh_from_db()
    assert order.status == status


def test_omise_refusing_a_reversal_shows_why(fake_omise, staff):
    order = authorized_order(fake_omise)
    fake_omise.fail_next(
        "reverse_charge",
        OmiseAPIError(code="invalid_charge", message="cannot be reversed", http_status=400),
    )
    with pytest.raises(CaptureError, match="invalid_charge"):
        order_reverse(order=order, requested_by=staff, request_token=token())
    assert Order.objects.get().status == S.AUTHORIZED


def test_a_second_authorization_of_a_paid_cart_is_released(
    fake_omise, django_capture_on_commit_callbacks
):
    """Two orders of one cart both authorized (a bank race): the second is marked a duplicate
    and its authorization released, not captured."""
    first = authorized_order(fake_omise, cart_id="cart-1")
    with django_capture_on_commit_callbacks(execute=True):
        second = authorized_order(fake_omise, cart_id="cart-1")
    second.refresh_from_db()
    assert second.duplicate_of == first
    assert second.status == S.CANCELLED
    assert Order.objects.get(pk=first.pk).status == S.AUTHORIZED


@pytest.mark.parametrize(
    "failure",
    [
        OmiseAPIError(code="service_unavailable", message="down", http_status=503),
        None,  # a timeout: the release's outcome unknown
    ],
)
def test_a_duplicate_authorization_whose_release_failed_is_never_captured_and_released_later(
    fake_omise, django_capture_on_commit_callbacks, staff, failure
):
    """The automatic release of a cart's second authorization fails once: staff are not offered
    it to capture, a capture is refused, and reconcile_payments releases it (a new token each
    try; an unanswered one first settles)."""
    from django.core.management import call_command

    first = authorized_order(fake_omise, cart_id="cart-1")
    fake_omise.fail_next("reverse_charge", failure)
    with django_capture_on_commit_callbacks(execute=True):
        second = authorized_order(fake_omise, cart_id="cart-1")
    second.refresh_from_db()
    assert (second.duplicate_of, second.status) == (first, S.AUTHORIZED)
    assert second not in [attempt.order for attempt in authorizations_to_capture()]
    with pytest.raises(CaptureError, match="second authorization"):
        order_capture(order=second, requested_by=staff, request_token=token())
    # An unanswered release blocks another for two minutes; after that, reconcile retries.
    AuthorizationAction.objects.update(created_at=timezone.now() - timedelta(minutes=3))
    call_command("reconcile_payments", "--quiet")
    second.refresh_from_db()
    assert second.status == S.CANCELLED
    assert Order.objects.get(pk=first.pk).status == S.AUTHORIZED


def test_reconcile_asks_about_an_authorization_only_once_its_deadline_passed(fake_omise):
    """Days-old authorizations do not crowd reconcile_payments' batch; one past its deadline
    is asked about, and the order follows the charge to expired."""
    from checkout.reconcile import attempts_to_reconcile, reconcile_attempts

    order = authorized_order(fake_omise)
    PaymentAttempt.objects.update(created_at=timezone.now() - timedelta(days=1))
    assert list(attempts_to_reconcile(older_than=timedelta(0), limit=10)) == []
    later = datetime.now(UTC) + timedelta(days=8)
    fake_omise._now = lambda: later
    PaymentAttempt.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    due = list(attempts_to_reconcile(older_than=timedelta(0), limit=10))
    assert due == [order.attempts.get()]
    assert reconcile_attempts(due) == {PaymentAttempt.Status.EXPIRED: 1}
    assert Order.objects.get().status == S.EXPIRED


@pytest.mark.parametrize(
    ("fields", "captured"),
    [
        ({"amount": AMOUNT, "captured_amount": 60_000}, 60_000),  # the sandbox's reading
        ({"amount": 60_000, "authorized_amount": AMOUNT}, 60_000),  # amount becomes the capture
        ({"amount": AMOUNT, "captured_amount": AMOUNT}, None),  # in full
        ({"amount": 60_000}, "refused"),  # neither field names the authorized amount
    ],
)
def test_a_partial_capture_is_read_from_either_field(fake_omise, fields, captured):
    """Omise's fields after a partial capture are unconfirmed (docs/omise-api.md): both
    readings give the same order; a charge naming another amount is not applied."""
    order = authorized_order(fake_omise)
    charge = fake_omise.capture_charge(order.attempts.get().charge_id, amount=60_000)
    charge.pop("captured_amount"), charge.pop("authorized_amount")
    charge_apply(charge={**charge, **fields})
    order.refresh_from_db()
    if captured == "refused":
        assert order.status == S.AUTHORIZED
    else:
        assert (order.status, order.captured_amount) == (S.PAID, captured)


def test_three_d_secure_then_authorized_only(fake_omise):
    """capture=false through 3-D Secure: pending at the bank, then authorized (not paid) once
    the bank answers; a stale pending copy read before then changes nothing."""
    order = Order.objects.create(
        amount=AMOUNT, currency="THB", email="a@example.com", name="A", country="TH"
    )
    attempt = PaymentAttempt.objects.create(
        order=order, key=secrets.token_urlsafe(16), amount=AMOUNT, currency="THB"
    )
    charge = fake_omise.create_charge(
        amount=AMOUNT,
        currency="THB",
        card=fake_omise.token("4000000000000002"),
        capture=False,
        return_uri="https://shop.example/return/",
        metadata={"order_reference": order.reference, "attempt": attempt.key},
    )
    charge_apply(charge=charge, attempt_id=attempt.pk)
    assert Order.objects.get().status == S.PENDING
    fake_omise.complete_3ds(charge["id"])
    event_apply(event=fake_omise.events("charge.complete")[-1])
    assert Order.objects.get().status == S.AUTHORIZED
    charge_apply(charge=charge)  # the pending copy from before the bank answered
    order.refresh_from_db()
    assert order.status == S.AUTHORIZED
    assert order.attempts.get().status == PaymentAttempt.Status.AUTHORIZED


def test_an_older_copy_of_a_charge_never_lowers_what_was_refunded(fake_omise):
    """Two refunds, then a copy of the charge fetched between them applied last (an event
    fetched before the second refund, a webhook racing the admin's re-read): the order stays
    refunded in full."""
    order = authorized_order(fake_omise)
    order_capture(order=order, request_token=token())
    order.refresh_from_db()
    refund_create(order=order, amount=30_000, request_token="r1")
    stale = fake_omise.retrieve_charge(order.attempts.get().charge_id)
    refund_create(order=order, amount=70_000, request_token="r2")
    charge_apply(charge=stale)
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (S.REFUNDED, AMOUNT)
    assert refundable_amount(order) == 0


def test_the_receipt_after_a_partial_capture_says_what_was_charged(fake_omise):
    from mails.models import OutboxMail

    order = authorized_order(fake_omise)
    order_capture(order=order, amount=40_000, request_token=token())
    receipt = OutboxMail.objects.get(kind="order_confirmation")
    assert (receipt.context["charged"], receipt.context["partly_captured"]) == (40_000, True)
    refund_create(order=Order.objects.get(), amount=40_000, request_token="r")
    notice = OutboxMail.objects.get(kind="refund_notice")
    assert notice.context["charged"] == 40_000
