"""What the merchant's Omise account can take, from Omise's Capability API (`GET /capability`).

Threats:

- Offering a way to pay that the account cannot take: the shopper presses a button that fails
  after the order exists (Thai internet banking, discontinued on 2025-09-30, is the example).
  The checkout offers only the methods the capability lists for this cart's amount and
  currency (`Capability.offered`).
- Trusting the browser's choice. A source is created in the shopper's browser with the public
  key: anyone can make one of any type, installment term or phone number. Before charging a
  source the server reads it back from Omise (`GET /sources/{id}`) and `source_refusal` checks
  it against the capability, whatever the page offered (`checkout.services.cart_charge`).

The capability is read with the secret key and cached (`OMISE_CAPABILITY_CACHE_SECONDS`,
default an hour). It is refreshed on a schedule (`manage.py omise_capability --refresh`, from
cron), on demand from the admin ("Payment methods"), and when the cached copy is older than
that. When Omise cannot be reached the last good copy stays in use (kept 30 days); without
one, the shop offers cards only: a method that needs enabling is never offered blind.

Installments (docs/payment-methods.md): the terms come from each method's
`installment_terms`, who pays the interest from `zero_interest_installments`, and the minimum
monthly amount from `limits.installment_amount.min` (as Omise's own plugins read it;
**unconfirmed** whether Omise means it per month or per order: per month is the stricter
reading, so being wrong offers fewer plans, never one Omise refuses).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from checkout import payment_methods
from checkout.omise import OmiseError, get_client

logger = logging.getLogger(__name__)

CACHE_KEY = "omise:capability"
# How long a copy is kept for when Omise cannot be reached (the "last good copy").
KEEP_SECONDS = 30 * 24 * 3600
# After a failed read, Omise is not asked again for this long (a checkout must not wait on a
# service that is down, page after page).
RETRY_AFTER_SECONDS = 60
RETRY_KEY = "omise:capability:retry-after"
# Without any copy: cards only, within Omise's THB limits.
FALLBACK = {
    "object": "capability",
    "limits": {"charge_amount": {"min": 2000, "max": 15_000_000}},
    "payment_methods": [{"name": payment_methods.CARD, "currencies": ["THB"]}],
    "zero_interest_installments": False,
}
# What the shopper is told when the source cannot be read back from Omise (nothing charged).
SOURCE_UNREADABLE = _("The payment form did not complete. Please choose how to pay again.")
SERVICE_DOWN = _(
    "We could not reach the payment service and you were not charged. Please try again in a "
    "few minutes."
)
# TrueMoney takes the wallet's Thai mobile number: 0 then 9 digits, or +66 then 9.
THAI_MOBILE = re.compile(r"^(?:0|\+66)[689]\d{8}$")


class Origin:
    OMISE = "omise"  # read from Omise within the cache period
    LAST_GOOD = "last good copy"  # older, kept while Omise cannot be reached
    FALLBACK = "fallback"  # never read: cards only


@dataclass(frozen=True)
class Method:
    name: str
    currencies: frozenset[str]
    installment_terms: tuple[int, ...] = ()


@dataclass(frozen=True)
class Capability:
    methods: dict[str, Method] = field(default_factory=dict)
    charge_min: int = 2000
    charge_max: int = 15_000_000
    installment_min: int = 0  # minimum monthly amount, minor units
    zero_interest_installments: bool = False
    fetched_at: datetime | None = None
    origin: str = Origin.FALLBACK

    @classmethod
    def from_json(
        cls, data: dict, *, fetched_at: datetime | None = None, origin: str = Origin.OMISE
    ) -> Capability:
        """Read Omise's capability object; anything malformed raises ValueError."""
        if not isinstance(data, dict) or not isinstance(data.get("payment_methods"), list):
            raise ValueError("not a capability object")
        limits = data.get("limits") or {}
        charge = limits.get("charge_amount") or {}
        methods = {}
        for entry in data["payment_methods"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            terms = entry.get("installment_terms") or ()
            methods[entry["name"]] = Method(
                name=entry["name"],
                currencies=frozenset(str(c).upper() for c in entry.get("currencies") or ()),
                installment_terms=tuple(sorted({int(t) for t in terms if int(t) > 0})),
            )
        return cls(
            methods=methods,
            charge_min=int(charge.get("min") or 0),
            charge_max=int(charge.get("max") or 10**12),
            installment_min=int((limits.get("installment_amount") or {}).get("min") or 0),
            zero_interest_installments=bool(data.get("zero_interest_installments")),
            fetched_at=fetched_at,
            origin=origin,
        )

    def accepts(self, name: str, *, amount: int, currency: str) -> bool:
        """Does the account take method `name` for this amount and currency?"""
        method = self.methods.get(name)
        return (
            method is not None
            and currency.upper() in method.currencies
            and self.charge_min <= amount <= self.charge_max
        )

    def installment_terms(self, name: str, *, amount: int, currency: str) -> list[int]:
        """The months an installment method offers for this amount: each month at least the
        account's minimum monthly amount."""
        if not self.accepts(name, amount=amount, currency=currency):
            return []
        method = self.methods[name]
        return [t for t in method.installment_terms if amount >= self.installment_min * t]

    def offered(self, *, amount: int, currency: str) -> list[str]:
        """What the checkout offers beside cards, as Omise's form names them: each method this
        shop handles and the account takes for this cart, and "installment" when one issuer
        has a plan open to it."""
        names = [
            name
            for name in payment_methods.OFFERED
            if self.accepts(name, amount=amount, currency=currency)
        ]
        if any(
            self.installment_terms(name, amount=amount, currency=currency)
            for name in payment_methods.INSTALLMENTS
        ):
            names.append(payment_methods.INSTALLMENT_FORM_NAME)
        return names


def capability_get() -> Capability:
    """The account's capability: the cached copy while it is fresh, else a new read, else the
    last good copy, else cards only. Never raises for Omise being down."""
    stored = cache.get(CACHE_KEY)
    fresh_for = settings.OMISE_CAPABILITY_CACHE_SECONDS
    if stored and _age_seconds(stored) < fresh_for:
        return _parse(stored, Origin.OMISE)
    if cache.get(RETRY_KEY) is None:
        try:
            return capability_refresh()
        except OmiseError as error:
            logger.warning("Could not read Omise's capability (%s); using the last copy", error)
            cache.set(RETRY_KEY, 1, RETRY_AFTER_SECONDS)
    if stored:
        return _parse(stored, Origin.LAST_GOOD)
    return Capability.from_json(FALLBACK, origin=Origin.FALLBACK)


def capability_refresh() -> Capability:
    """Read the capability from Omise now and cache it. Raises OmiseError when Omise cannot be
    reached or answers something that is not a capability (the cached copy is kept)."""
    data = get_client().capability()
    now = datetime.now(UTC)
    try:
        capability = Capability.from_json(data, fetched_at=now)
    except (ValueError, TypeError) as error:
        raise OmiseError(f"Omise's capability could not be read: {error}") from None
    cache.set(CACHE_KEY, {"data": data, "fetched_at": now.isoformat()}, KEEP_SECONDS)
    cache.delete(RETRY_KEY)
    return capability


def _age_seconds(stored: dict) -> float:
    try:
        fetched = datetime.fromisoformat(stored["fetched_at"])
    except (KeyError, TypeError, ValueError):
        return float("inf")
    return (datetime.now(UTC) - fetched).total_seconds()


def _parse(stored: dict, origin: str) -> Capability:
    try:
        fetched = datetime.fromisoformat(stored["fetched_at"])
        return Capability.from_json(stored["data"], fetched_at=fetched, origin=origin)
    except (KeyError, TypeError, ValueError):
        return Capability.from_json(FALLBACK, origin=Origin.FALLBACK)


def source_refusal(capability: Capability, source: dict, *, amount: int, currency: str) -> str:
    """Why this source (as Omise returned it) must not be charged for this cart, for the
    shopper; "" when it may. Checked on the server whatever the page offered."""
    source_type = str(source.get("type") or "")
    try:
        same_amount = int(source.get("amount")) == amount  # type: ignore[arg-type]
    except (TypeError, ValueError):
        same_amount = False
    if not same_amount or str(source.get("currency") or "").upper() != currency.upper():
        return str(_("The payment was prepared for another amount. Please choose how to pay."))
    if source_type not in payment_methods.HANDLED or not capability.accepts(
        source_type, amount=amount, currency=currency
    ):
        return str(
            _(
                "This way to pay is not available for this order. You were not charged; "
                "please choose another."
            )
        )
    if source_type in payment_methods.INSTALLMENTS:
        term = source.get("installment_term")
        terms = capability.installment_terms(source_type, amount=amount, currency=currency)
        if not isinstance(term, int) or isinstance(term, bool) or term not in terms:
            return str(
                _(
                    "This installment plan is not available for this order. You were not "
                    "charged; please choose another plan or way to pay."
                )
            )
    if source_type == payment_methods.TRUEMONEY and not valid_thai_mobile(
        source.get("phone_number")
    ):
        return str(
            _(
                "Please enter the mobile number of your TrueMoney Wallet (for example "
                "081 234 5678). You were not charged."
            )
        )
    return ""


def valid_thai_mobile(value) -> bool:
    """A Thai mobile number, spaces and dashes allowed: 08x xxx xxxx or +66 8x xxx xxxx."""
    text = re.sub(r"[\s-]", "", str(value or ""))
    return bool(THAI_MOBILE.match(text))


@dataclass(frozen=True)
class MethodRow:
    """One method of the account, as the admin and `omise_check` show it."""

    name: str
    label: str
    currencies: str
    terms: str  # installments: the months the account offers
    offered: bool  # does this shop offer it (a method it handles, not discontinued)?
    refunds: str  # the refund rule staff must keep


def describe(capability: Capability) -> list[MethodRow]:
    """The account's methods, cards first, for people: what the shop offers of them, each
    installment's terms, each method's refund rule."""
    rows = []
    for name, method in sorted(capability.methods.items(), key=lambda item: item[0] != "card"):
        rows.append(
            MethodRow(
                name=name,
                label=payment_methods.label(name),
                currencies=", ".join(sorted(method.currencies)),
                terms=", ".join(str(t) for t in method.installment_terms),
                offered=name == payment_methods.CARD or name in payment_methods.HANDLED,
                refunds=payment_methods.REFUND_RULE_TEXT[payment_methods.refund_rule(name)],
            )
        )
    return rows


def summary(capability: Capability) -> str:
    """Limits and who pays the installments' interest, in a line."""
    interest = "the merchant" if capability.zero_interest_installments else "the shopper"
    return (
        f"charges {capability.charge_min}–{capability.charge_max} minor units; installments "
        f"at least {capability.installment_min} a month, interest paid by {interest}"
    )
