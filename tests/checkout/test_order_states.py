"""The order's state machine: the moves it allows, and a refusal for every other one."""

import pytest

from checkout.models import InvalidTransition, Order

S = Order.Status
ALLOWED = {
    (S.PENDING, S.PAID), (S.PENDING, S.FAILED), (S.PENDING, S.EXPIRED),
    # A charge that succeeds after all (a late 3-D Secure pass, a reconcile) wins.
    (S.FAILED, S.PAID), (S.EXPIRED, S.PAID),
    (S.PAID, S.PARTIALLY_REFUNDED), (S.PAID, S.REFUNDED),
    (S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED), (S.PARTIALLY_REFUNDED, S.REFUNDED),
}
EVERY_MOVE = [(before, after) for before in S.values for after in S.values]


def order_in(status: str) -> Order:
    return Order(status=status, amount=100_000, currency="THB", email="a@example.com",
                 name="A", country="TH")


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


@pytest.mark.parametrize(("before", "after"),
                         [move for move in EVERY_MOVE if move not in ALLOWED])
def test_every_other_move_raises_and_changes_nothing(before, after):
    """An invalid move raises InvalidTransition naming it, and the status stays as it was."""
    order = order_in(before)
    with pytest.raises(InvalidTransition, match=f"{before} → {after}"):
        order.transition_to(after)
    assert order.status == before
