"""The order's state machine: the moves it allows, and a refusal for every other one; and
charge_apply following it, with Omise faked in process (tests/fake_omise.py)."""

import secrets

import pytest

from checkout.models import InvalidTransition, Order, PaymentAttempt
from checkout.services import charge_apply

S = Order.Status
ALLOWED = {
    (S.PENDING, S.PAID),
    (S.PENDING, S.FAILED),
    (S.PENDING, S.EXPIRED),
    # A charge that succeeds after all (a late 3-D Secure pass, a reconcile) wins.
    (S.FAILED, S.PAID),
    (S.EXPIRED, S.PAID),
    (S.PAID, S.PARTIALLY_REFUNDED),
    (S.PAID, S.REFUNDED),
    (S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED),
    (S.PARTIALLY_REFUNDED, S.REFUNDED),
    # Manual capture: authorized, then captured, released (cancelled) or left to expire. A
    # "not charged" verdict of ours gives way to an authorization found afterwards.
    (S.PENDING, S.AUTHORIZED),
    (S.FAILED, S.AUTHORIZED),
    (S.AUTHORIZED, S.PAID),
    (S.AUTHORIZED, S.CANCELLED),
    (S.AUTHORIZED, S.EXPIRED),
}
EVERY_MOVE = [(before, after) for before in S.values for after in S.values]


def order_in(status: str) -> Order:
    return Order(
        status=status, amount=100_000, currency="THB", email="a@example.com", name="A", country="TH"
    )


def test_the_allowed_moves_are_exactly_these():
    """The table in the model allows the moves above and no other: a paid order never fails,
    a refunded one never changes again."""
    assert {(b, a) for b, a in EVERY_MOVE if order_in(b).can_become(a)} == ALLOWED


@pytest.mark.parametrize(("before", "after"), sorted(ALLOWED))
def test_an_allowed_move_changes_the_status(before, after):
    """transition_to makes an allowed move (the caller saves it under its lock)."""
    order = order_in(before)
    order.transition_to(after)
    assert order.status == after


@pytest.mark.parametrize(("before", "after"), [move for move in EVERY_MOVE if move not in ALLOWED])
def test_every_other_move_raises_and_changes_nothing(before, after):
    """An invalid move raises InvalidTransition naming it, and the status stays as it was."""
    order = order_in(before)
    with pytest.raises(InvalidTransition, match=f"{before} → {after}"):
        order.transition_to(after)
    assert order.status == before


# --- the same table, through charge_apply: what Omise says moves the order, or cannot --------
# The test card whose charge is created in each state (docs/sandbox.md).
CARD_FOR = {
    "successful": "4242424242424242",
    "failed": "4111111111140011",
    "pending": "4000000000000002",
}  # 3-D Secure: pending until the bank answers


def paid_through(fake, statuses: list[str]) -> tuple[Order, list[str]]:
    """An order whose charge Omise reports in these states, one after another (the first is the
    charge as created), each copy applied by charge_apply as a webhook or a return would:
    (the order, its status after each copy)."""
    first, *later = statuses
    order = Order.objects.create(
        amount=100_000, currency="THB", email="a@example.com", name="A", country="TH"
    )
    attempt = PaymentAttempt.objects.create(
        order=order, key=secrets.token_urlsafe(16), amount=100_000, currency="THB"
    )
    charge = fake.create_charge(
        amount=100_000,
        currency="THB",
        card=fake.token(CARD_FOR[first]),
        return_uri="https://shop.example/return/",
        metadata={"order_reference": order.reference, "attempt": attempt.key},
    )
    assert charge["status"] == first
    charge_apply(charge=charge, attempt_id=attempt.pk)
    order.refresh_from_db()
    path = [order.status]
    for status in later:
        fake.settle(charge["id"], status=status)
        charge_apply(charge=fake.retrieve_charge(charge["id"]))
        order.refresh_from_db()
        path.append(order.status)
    return order, path


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("statuses", "path"),
    [
        (["successful"], [S.PAID]),
        (["failed"], [S.FAILED]),
        (["pending"], [S.PENDING]),
        (["pending", "successful"], [S.PENDING, S.PAID]),
        (["pending", "failed"], [S.PENDING, S.FAILED]),
        (["pending", "expired"], [S.PENDING, S.EXPIRED]),
        (["pending", "reversed"], [S.PENDING, S.FAILED]),
        # A charge that succeeds after all wins over a failure or expiry we had applied.
        (["pending", "failed", "successful"], [S.PENDING, S.FAILED, S.PAID]),
        (["pending", "expired", "successful"], [S.PENDING, S.EXPIRED, S.PAID]),
        # A paid order never fails, expires or goes back to pending, whatever a late copy says.
        (["successful", "failed"], [S.PAID, S.PAID]),
        (["successful", "expired"], [S.PAID, S.PAID]),
        (["successful", "pending"], [S.PAID, S.PAID]),
    ],
)
def test_charge_apply_moves_the_order_only_along_the_table(fake_omise, statuses, path):
    """Each charge state Omise reports moves the order as the table allows, and no further."""
    order, seen = paid_through(fake_omise, statuses)
    assert seen == path
    assert all((b, a) in ALLOWED for b, a in zip(seen, seen[1:], strict=False) if b != a)
    assert len(fake_omise.calls_of("retrieve_charge")) == len(statuses) - 1


@pytest.mark.django_db
def test_charge_apply_refunds_and_then_the_order_never_changes_again(fake_omise):
    """paid → partially refunded → refunded, from the charge's refunded_amount; a refunded
    order stays refunded whatever a late copy of the charge says."""
    order, _ = paid_through(fake_omise, ["successful"])
    charge_id = order.attempts.get().charge_id
    fake_omise.create_refund(charge_id, amount=40_000)
    charge_apply(charge=fake_omise.retrieve_charge(charge_id))
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (S.PARTIALLY_REFUNDED, 40_000)
    fake_omise.create_refund(charge_id, amount=60_000)
    charge_apply(charge=fake_omise.retrieve_charge(charge_id))
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (S.REFUNDED, 100_000)
    charge_apply(charge=fake_omise.settle(charge_id, status="failed"))
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (S.REFUNDED, 100_000)
