"""Money is an integer count of the currency's smallest unit (satang for THB), never a float."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Currency:
    code: str
    symbol: str
    exponent: int  # digits after the decimal point: 2 for THB (satang), 0 for JPY


CURRENCIES = {
    c.code: c
    for c in (
        Currency("THB", "฿", 2),
        Currency("JPY", "¥", 0),
        Currency("SGD", "S$", 2),
        Currency("USD", "US$", 2),
    )
}


def format_money(amount: int, currency: str) -> str:
    """Format minor units for people: format_money(129000, "THB") == "฿1,290.00"."""
    cur = CURRENCIES[currency]
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**cur.exponent)
    text = f"{major:,}"
    if cur.exponent:
        text += f".{minor:0{cur.exponent}d}"
    return f"{sign}{cur.symbol}{text}"
