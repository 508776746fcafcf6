"""Types of the card guard's compiled first pass (security/_cardscan.c), an optional build:
security/cards.py falls back to its pure-Python search where the module is missing."""

from collections.abc import Iterable

def candidates(text: str, /) -> list[int]:
    """The first positions of the stretches of digits, spaces and dashes in `text` that could
    hold a card number (raises TypeError for anything but a str)."""

def any_candidate(fields: Iterable[tuple[str, list[str] | tuple[str, ...]]], /) -> bool:
    """Whether any name or value of the (name, values) pairs holds a stretch `candidates`
    would name (True for an item that is no str)."""
