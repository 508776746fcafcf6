"""The shopping cart: product ids and quantities in the session, prices always from the database.

The session holds only `{"<product id>": quantity}`. Anything else found there (a tampered
cookie session, an old format, a product since deactivated) is dropped on read rather than
trusted, and totals are computed from current database prices on every read.
"""

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _

from shop.models import Product

SESSION_KEY = "cart"
CHECKOUT_ID_KEY = "cart_checkout_id"  # shared by every order made from this cart
MAX_QUANTITY = 20  # per line: enough for a real shopper, small enough to stop abuse
MAX_LINES = 50


class CartError(ValueError):
    """A cart change that cannot be made; the message is written for the shopper."""


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def subtotal(self) -> int:
        return self.product.price * self.quantity


def parse_quantity(raw: object) -> int:
    """Turn form input into a quantity in 1..MAX_QUANTITY, or raise CartError saying why."""
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise CartError(_("Please enter a quantity between 1 and %(max)s.") % {"max": MAX_QUANTITY})
    quantity = int(text)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise CartError(_("Please enter a quantity between 1 and %(max)s.") % {"max": MAX_QUANTITY})
    return quantity


class Cart:
    """A session-backed cart. Construct one per request: `Cart(request.session)`."""

    def __init__(self, session):
        self.session = session
        self._quantities = self._clean(session.get(SESSION_KEY))
        self._lines: list[CartLine] | None = None

    @staticmethod
    def _clean(raw: object) -> dict[str, int]:
        """Keep only well-formed entries: digit-string ids mapped to in-range integer counts."""
        if not isinstance(raw, dict):
            return {}
        cleaned = {}
        for key, value in list(raw.items())[:MAX_LINES]:
            if (
                isinstance(key, str)
                and key.isascii()
                and key.isdigit()
                and len(key) < 19
                and type(value) is int
                and 1 <= value <= MAX_QUANTITY
            ):
                cleaned[key] = value
        return cleaned

    def _save(self) -> None:
        self.session[SESSION_KEY] = self._quantities
        self._lines = None

    def quantity_of(self, product: Product) -> int:
        return self._quantities.get(str(product.pk), 0)

    def add(self, product: Product, quantity: int) -> None:
        """Add to what is already in the cart, refusing to pass MAX_QUANTITY."""
        self._check_sellable(product)
        new_quantity = self.quantity_of(product) + quantity
        if new_quantity > MAX_QUANTITY:
            raise CartError(
                _("You can buy at most %(max)s of “%(name)s” in one order.")
                % {"max": MAX_QUANTITY, "name": product.display_name}
            )
        self.set(product, new_quantity)

    def set(self, product: Product, quantity: int) -> None:
        self._check_sellable(product)
        if not 1 <= quantity <= MAX_QUANTITY:
            raise CartError(
                _("Please enter a quantity between 1 and %(max)s.") % {"max": MAX_QUANTITY}
            )
        key = str(product.pk)
        if key not in self._quantities and len(self._quantities) >= MAX_LINES:
            raise CartError(
                _("A cart holds at most %(max)s different products.") % {"max": MAX_LINES}
            )
        self._quantities[key] = quantity
        self._save()
        # Made with the first line and saved with it, before any checkout page: two tabs (or
        # two racing requests) of this session then share it, so their orders are one cart's.
        self.checkout_id()

    def remove(self, product: Product) -> None:
        self._quantities.pop(str(product.pk), None)
        self._save()

    def clear(self) -> None:
        """Empty the cart (once it is paid): the next cart gets a checkout id of its own."""
        self._quantities = {}
        self.session.pop(SESSION_KEY, None)
        self.session.pop(CHECKOUT_ID_KEY, None)
        self._lines = None

    def checkout_id(self, *, create: bool = True) -> str:
        """The id every order made from this cart carries (`Order.cart_id`), so that one cart
        is paid at most once however many times its checkout is tried. Made when the cart gets
        its first line (a cart kept from before then gets one on its first checkout page)."""
        value = self.session.get(CHECKOUT_ID_KEY)
        if isinstance(value, str) and 16 <= len(value) <= 64 and value.isascii():
            return value
        if not create:
            return ""
        value = secrets.token_urlsafe(24)
        self.session[CHECKOUT_ID_KEY] = value
        return value

    @staticmethod
    def _check_sellable(product: Product) -> None:
        if not product.active:
            raise CartError(
                _("“%(name)s” is no longer available.") % {"name": product.display_name}
            )
        if product.currency != settings.SHOP_CURRENCY:
            raise CartError(
                _("“%(name)s” cannot be bought in this shop's currency.")
                % {"name": product.display_name}
            )

    @property
    def lines(self) -> list[CartLine]:
        """The lines with current products, in one query; unknown or inactive ones are dropped."""
        if self._lines is None and not self._quantities:
            self._lines = []  # most page views: no cart, so no query at all
        if self._lines is None:
            products = Product.objects.active().filter(
                pk__in=[int(k) for k in self._quantities], currency=settings.SHOP_CURRENCY
            )
            self._lines = [
                CartLine(product=p, quantity=self._quantities[str(p.pk)]) for p in products
            ]
        return self._lines

    def __iter__(self) -> Iterator[CartLine]:
        return iter(self.lines)

    def __len__(self) -> int:
        """The number of items (sum of quantities), as shown on the cart badge."""
        return sum(line.quantity for line in self.lines)

    @property
    def total(self) -> int:
        return sum(line.subtotal for line in self.lines)

    @property
    def currency(self) -> str:
        return settings.SHOP_CURRENCY

    @property
    def fingerprint(self) -> str:
        """A digest of what the shopper is shown: each line's product, unit price and quantity.

        The checkout page carries it (with the total and currency) into its form, so that the
        server can refuse to charge for a cart that changed since the page was shown: a price
        edited meanwhile, or an item added in another tab.
        """
        return lines_fingerprint(self.lines, self.currency)


def lines_fingerprint(lines: list[CartLine], currency: str) -> str:
    """The fingerprint of these lines (see `Cart.fingerprint`): 32 hex digits."""
    text = ";".join(
        f"{line.product.pk}:{line.product.price}:{line.quantity}"
        for line in sorted(lines, key=lambda line: line.product.pk)
    )
    return hashlib.sha256(f"{currency}|{text}".encode()).hexdigest()[:32]
