"""Money formatting: integers of minor units in, a shopper's price out."""

import pytest

from shop.money import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (129000, "THB", "฿1,290.00"),
        (5, "THB", "฿0.05"),
        (0, "THB", "฿0.00"),
        (1500000000, "THB", "฿15,000,000.00"),
        (-2550, "THB", "-฿25.50"),
        (1290, "JPY", "¥1,290"),
    ],
)
def test_format_money(amount, currency, expected):
    """Minor units are shown with the currency's symbol, thousands separators and exponent."""
    assert format_money(amount, currency) == expected


def test_unknown_currency_is_an_error():
    """A currency the shop does not know is refused rather than shown with a guessed format."""
    with pytest.raises(KeyError):
        format_money(100, "XXX")
