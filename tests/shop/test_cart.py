"""The session cart: arithmetic, bounds, and distrust of whatever the session holds."""

import pytest
from django.contrib.sessions.backends.signed_cookies import SessionStore

from shop.cart import MAX_LINES, MAX_QUANTITY, SESSION_KEY, Cart, CartError, parse_quantity
from tests.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def session():
    return SessionStore()


def test_totals_are_computed_from_database_prices(session):
    """Line subtotals and the total are integer satang from current prices, not stored ones."""
    mug = make_product(price=45000)
    tea = make_product(price=32000)
    cart = Cart(session)
    cart.add(mug, 2)
    cart.add(tea, 1)
    assert Cart(session).total == 2 * 45000 + 32000
    mug.price = 50000
    mug.save()
    assert Cart(session).total == 2 * 50000 + 32000
    assert len(Cart(session)) == 3


def test_adding_twice_accumulates_quantity(session):
    """Adding a product already in the cart increases its quantity."""
    mug = make_product()
    Cart(session).add(mug, 2)
    Cart(session).add(mug, 3)
    assert Cart(session).quantity_of(mug) == 5


def test_quantity_cannot_pass_the_maximum(session):
    """Adding beyond MAX_QUANTITY is refused and leaves the cart as it was."""
    mug = make_product()
    Cart(session).add(mug, MAX_QUANTITY - 1)
    with pytest.raises(CartError, match="at most"):
        Cart(session).add(mug, 2)
    assert Cart(session).quantity_of(mug) == MAX_QUANTITY - 1


def test_set_and_remove(session):
    """Setting replaces the quantity; removing drops the line."""
    mug = make_product()
    cart = Cart(session)
    cart.add(mug, 2)
    cart.set(mug, 7)
    assert Cart(session).quantity_of(mug) == 7
    Cart(session).remove(mug)
    assert Cart(session).lines == []


@pytest.mark.parametrize("bad", [0, -1, MAX_QUANTITY + 1, 10**30])
def test_set_refuses_out_of_range_quantities(session, bad):
    """Zero, negative and huge quantities are refused with a shopper-readable message."""
    mug = make_product()
    with pytest.raises(CartError, match="between 1 and"):
        Cart(session).set(mug, bad)


@pytest.mark.parametrize(
    "raw", ["", "abc", "-3", "0", "1.5", "1e3", "٣", "99999999999999999999999", " ", "21", None]
)
def test_parse_quantity_refuses_bad_input(raw):
    """Form input that is not a whole number from 1 to MAX_QUANTITY is refused, not coerced."""
    with pytest.raises(CartError):
        parse_quantity(raw)


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), (" 3 ", 3), ("020", 20)])
def test_parse_quantity_accepts_whole_numbers(raw, expected):
    """Whole numbers in range are accepted, surrounding blanks ignored."""
    assert parse_quantity(raw) == expected


def test_inactive_products_cannot_be_added_and_drop_out(session):
    """An inactive product is refused, and one deactivated after adding no longer counts."""
    gone = make_product(active=False)
    with pytest.raises(CartError, match="no longer available"):
        Cart(session).add(gone, 1)
    mug = make_product(price=45000)
    Cart(session).add(mug, 1)
    mug.active = False
    mug.save()
    assert Cart(session).total == 0
    assert Cart(session).lines == []


def test_products_in_another_currency_are_refused(session):
    """The cart holds one currency; a product priced in another cannot be mixed in."""
    yen = make_product(currency="JPY", price=1000)
    with pytest.raises(CartError, match="currency"):
        Cart(session).add(yen, 1)


def test_number_of_lines_is_bounded(session):
    """A cart holds at most MAX_LINES different products."""
    cart = Cart(session)
    for _ in range(MAX_LINES):
        cart.add(make_product(), 1)
    with pytest.raises(CartError, match="at most"):
        cart.add(make_product(), 1)


@pytest.mark.parametrize(
    "tampered",
    [
        "not a dict",
        ["1", 2],
        {"1": "2"},
        {"1": 2.5},
        {"1": True},
        {"1": -4},
        {"1": 10**40},
        {"abc": 1},
        {"-1": 1},
        {"1" * 40: 1},
        {"999999": 1},
    ],
)
def test_tampered_session_data_is_dropped(session, tampered):
    """Whatever a tampered or stale session holds, the cart reads as empty rather than failing."""
    session[SESSION_KEY] = tampered
    cart = Cart(session)
    assert cart.lines == []
    assert cart.total == 0
    assert len(cart) == 0


def test_valid_entries_survive_next_to_tampered_ones(session):
    """Good lines are kept when bad ones beside them are dropped."""
    mug = make_product(price=45000)
    session[SESSION_KEY] = {str(mug.pk): 2, "x": 1, "7": "lots"}
    assert Cart(session).total == 90000


def test_clear_empties_the_cart(session):
    """Clearing removes every line and the session key."""
    Cart(session).add(make_product(), 1)
    Cart(session).clear()
    assert SESSION_KEY not in session
