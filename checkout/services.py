"""The payment flow, top to bottom. Views and the webhook call these functions; nothing else
changes an order's payment state.

1. `checkout_submit`  — the shopper pressed Pay: within the payer's velocity limits
   (`checkout.velocity`, card testing), `cart_charge` checks that the cart is still the one the
   page showed, ends any earlier attempt of this cart still pending (`cart_settle_earlier`),
   creates the order and its attempt (once per idempotency key), then the charge from the
   one-time card token or source. `attempt_returned` (back from the bank) and
   `attempt_settled_seen` count later outcomes against the same limits.
2. `charge_apply`     — whatever Omise says about a charge (the create response, the 3-D Secure
   return, a webhook, a reconcile) goes through here, under row locks, so the outcome is the
   same whichever arrives first.
3. `attempt_reconcile` — when we don't know what happened (a timeout), ask Omise; never charge
   again blindly.

One cart, one payment: every order made from a cart shares its `cart_id`. A new attempt ends
the cart's pending ones at Omise first, and if a bank still completes one of them anyway, the
payment that arrives second is marked `duplicate_of` the first and refunded in full
(`checkout.refunds.duplicate_refund`, told by the `duplicate_payment` signal), for the
merchant to see and the shopper to be told.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from checkout import capability, notifications, payment_methods, signals, velocity
from checkout.ids import is_omise_id
from checkout.models import Order, OrderItem, PaymentAttempt
from checkout.omise import OmiseAPIError, OmiseError, OmiseNetworkError, get_client
from security.events import record_security_event
from security.models import SecurityEvent
from shop.cart import Cart, lines_fingerprint
from shop.money import format_money

logger = logging.getLogger(__name__)

# Omise's charge limits per currency, in minor units (THB: ฿20.00 to ฿150,000.00).
AMOUNT_LIMITS = {"THB": (2000, 15_000_000)}
# Attempt states Omise will not move out of on its own (refunds aside).
SETTLED = {
    PaymentAttempt.Status.SUCCESSFUL,
    PaymentAttempt.Status.FAILED,
    PaymentAttempt.Status.EXPIRED,
    PaymentAttempt.Status.REVERSED,
}
# Order states in which an order holds the cart's one payment (an authorization holds it too:
# the money is reserved on the shopper's card until captured or released).
HOLDS_PAYMENT = {Order.Status.AUTHORIZED, Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED}
# Attempt states that come after "waiting for the shopper or the bank": a copy of the charge
# that says pending is older than any of them.
PAST_PENDING = SETTLED | {PaymentAttempt.Status.AUTHORIZED}
# HTTP statuses with which Omise refuses the shop rather than the card: bad keys, rate limits.
SERVICE_REFUSALS = frozenset({401, 403, 429})
# How long a charge whose creation timed out may take to show up before we call it "not charged".
RECONCILE_GRACE = timedelta(minutes=2)


class CheckoutError(Exception):
    """The checkout cannot go ahead; the message is written for the shopper."""


class CartChanged(CheckoutError):
    """The cart is no longer what the checkout page showed: nothing was charged."""


class CartAlreadyPaid(CheckoutError):
    """Another order of this cart holds its payment; `order` is that order."""

    def __init__(self, order: Order):
        self.order = order
        super().__init__(
            _(
                "This cart has already been paid with order %(reference)s: you were not "
                "charged again."
            )
            % {"reference": order.reference}
        )


class CartPaymentPending(CheckoutError):
    """An earlier payment of this cart is still in progress and could not be ended."""

    def __init__(self, order: Order):
        self.order = order
        super().__init__(
            _(
                "Your earlier payment for this cart (order %(reference)s) is still in "
                "progress. Finish it, or wait until it expires, before paying another way."
            )
            % {"reference": order.reference}
        )


class MethodRefused(CheckoutError):
    """The source is of a type, plan or phone number the account does not take for this cart
    (`checkout.capability.source_refusal`): nothing was created or charged."""


class VelocityBlocked(CheckoutError):
    """The payer is over a velocity limit (card testing): `block` says which and for how long.
    Raised before any order or charge, or, when a charge reveals a blocked card, with the
    `attempt` that revealed it."""

    def __init__(self, block: velocity.Block, attempt: PaymentAttempt | None = None):
        self.block, self.attempt = block, attempt
        super().__init__(_("Too many payment attempts. Please try again later."))


@dataclass(frozen=True)
class ShownCart:
    """What the checkout page showed: its total, currency and the cart's fingerprint."""

    total: int
    currency: str
    fingerprint: str


@dataclass(frozen=True)
class Buyer:
    """The non-card fields of the checkout form (already validated)."""

    email: str
    name: str
    country: str
    phone: str = ""
    street1: str = ""
    street2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""


def checkout_submit(
    *,
    cart: Cart,
    buyer: Buyer,
    shown: ShownCart,
    token: str = "",
    source: str = "",
    attempt_key: str,
    client_ip: str,
    return_url,
    payer: velocity.Identity,
) -> PaymentAttempt:
    """`cart_charge` within the velocity limits of `payer` (card testing): a payer over a limit
    is refused before any order or charge, and the attempt's outcome settles the points it was
    charged. Raises VelocityBlocked, or whatever `cart_charge` raises."""
    if block := velocity.check(identity=payer, attempt_key=attempt_key):
        raise VelocityBlocked(block)
    attempt = cart_charge(
        cart=cart,
        buyer=buyer,
        shown=shown,
        token=token,
        source=source,
        attempt_key=attempt_key,
        client_ip=client_ip,
        return_url=return_url,
    )
    if block := velocity.record(identity=payer, attempt=attempt):
        raise VelocityBlocked(block, attempt)  # the card it revealed is blocked
    return attempt


def attempt_returned(*, attempt: PaymentAttempt, payer: velocity.Identity) -> PaymentAttempt:
    """The shopper is back from the bank (3-D Secure, a redirect method): confirm the attempt
    by retrieving its charge, and count its outcome (a failed 3-D Secure is a decline too).
    Raises VelocityBlocked when the card it revealed is blocked."""
    if attempt_needs_reconcile(attempt):  # a reload of a settled return asks no one
        attempt = attempt_reconcile(attempt=attempt)
    if block := velocity.record(identity=payer, attempt=attempt):
        raise VelocityBlocked(block, attempt)
    return attempt


def attempt_settled_seen(*, attempt: PaymentAttempt | None, payer: velocity.Identity) -> None:
    """A payment that settled after the checkout (3-D Secure confirmed later, a PromptPay QR
    code paid), seen from the shopper's own page: it gives back its decline's points."""
    if attempt is not None and attempt.status in {
        PaymentAttempt.Status.SUCCESSFUL,
        PaymentAttempt.Status.AUTHORIZED,
    }:
        velocity.record(identity=payer, attempt=attempt)


def cart_charge(
    *,
    cart: Cart,
    buyer: Buyer,
    shown: ShownCart,
    token: str = "",
    source: str = "",
    attempt_key: str,
    client_ip: str,
    return_url,
) -> PaymentAttempt:
    """Turn the cart into an order and charge the card token or the source (PromptPay, a
    bank…), exactly one of them, exactly once per `attempt_key`, for exactly what the page
    showed (`shown`): a cart changed since (a price, another tab) raises CartChanged.

    `return_url(attempt)` builds the absolute return URL (3-D Secure, redirect methods) for an
    attempt. A repeated call with the same key (double click, refreshed POST, a race) returns
    the first attempt without calling Omise again. Raises CartAlreadyPaid or
    CartPaymentPending when another order of the cart holds or may still take its payment.
    """
    if source and not token:
        if not is_omise_id("src", source):
            raise CheckoutError(
                _("The payment form did not complete. Please choose how to pay again.")
            )
    elif source or not is_omise_id("tokn", token):
        raise CheckoutError(_("The card form did not complete. Please enter your card again."))
    lines = cart.lines
    amount, currency = cart.total, cart.currency
    if problem := _cart_problem(lines, amount, currency):
        # A key already used (a repeat after the cart was emptied) still finds its attempt;
        # otherwise the unique key finds it when the attempt is inserted below.
        if existing := attempt_by_key(key=attempt_key):
            return existing
        raise CheckoutError(problem)
    if shown != ShownCart(amount, currency, lines_fingerprint(lines, currency)):
        raise CartChanged(
            _(
                "Your cart changed since this page was shown: the total is now %(total)s. "
                "Please check it and pay again; you were not charged."
            )
            % {"total": format_money(amount, currency)}
        )
    if source:
        # Whatever the browser sent: a type, plan or phone number the account takes.
        source_check(source=source, amount=amount, currency=currency)
    cart_id = cart.checkout_id()
    try:
        cart_settle_earlier(cart_id=cart_id, attempt_key=attempt_key)
    except (CartAlreadyPaid, CartPaymentPending):
        # The same key again (a double click, a race past the view): its own attempt may be
        # what paid the cart, or holds it. Otherwise the unique key finds it on insert below.
        if existing := attempt_by_key(key=attempt_key):
            return existing
        raise

    try:
        with transaction.atomic():
            order = Order.objects.create(
                amount=amount,
                currency=currency,
                client_ip=client_ip or None,
                cart_id=cart_id,
                language=get_language() or settings.LANGUAGE_CODE,  # the shopper's, for mails
                **buyer.__dict__,
            )
            items = OrderItem.objects.bulk_create(
                [
                    OrderItem(
                        order=order,
                        product=line.product,
                        name=line.product.name,
                        sku=line.product.slug,
                        unit_price=line.product.price,
                        quantity=line.quantity,
                    )
                    for line in lines
                ]
            )
            attempt = PaymentAttempt.objects.create(
                order=order,
                key=attempt_key,
                amount=amount,
                currency=currency,
                # A source's type (PromptPay…) is known once its charge is (charge_apply).
                payment_method=payment_methods.CARD if token else payment_methods.SOURCE,
            )
    except IntegrityError:
        # A request with the same key came first (a repeat, or won the race): its attempt is
        # the one, and this order was rolled back.
        return PaymentAttempt.objects.select_related("order").get(key=attempt_key)

    try:
        charge = get_client().create_charge(
            amount=amount,
            currency=currency,
            # Omise takes exactly one; a source fixes the amount, which must be the cart's.
            card=token or None,
            source=None if token else source,
            description=_description(order, items),
            ip=client_ip or None,
            return_uri=return_url(attempt),
            metadata=_metadata(order, attempt, items),
            # OMISE_CAPTURE=manual: cards are authorized only, captured from the admin.
            # Sources cannot be authorized only: they are always charged in full.
            capture=not (token and settings.OMISE_CAPTURE == "manual"),
        )
    except OmiseAPIError as error:
        if error.http_status in SERVICE_REFUSALS:
            # Omise refused *us* (a wrong or rolled key, a rate limit): nothing was charged, and
            # it is no fault of the shopper's card. The merchant must hear of a key problem.
            log = logger.error if error.http_status in (401, 403) else logger.warning
            log(
                "Omise refused the charge request for %s: %s (HTTP %s)",
                order.reference,
                error.code,
                error.http_status,
            )
            return _attempt_refused(
                attempt, code="service_unavailable", message=f"{error.code}: {error.message}"
            )
        if error.http_status < 500:
            # Omise refused the request (bad or used token, invalid card…): it was not
            # processed, so nothing was charged.
            return _attempt_refused(attempt, code=error.code, message=error.message)
        # A server error on Omise's side says nothing about whether the charge was made.
        logger.warning(
            "Charge creation for %s failed at Omise (%s); reconciling", order.reference, error.code
        )
        return _attempt_unknown(attempt)
    except OmiseNetworkError:
        # The charge may or may not exist. Keep the attempt open and find out by retrieving.
        logger.warning("Charge creation for %s had no answer; reconciling", order.reference)
        return _attempt_unknown(attempt)

    # The charge id is stored before anything can redirect the shopper away: in the same
    # transaction that applies the charge (one commit, not two), or on its own if that failed.
    try:
        return charge_apply(charge=charge, attempt_id=attempt.pk, items=items) or attempt
    except Exception:
        try:
            PaymentAttempt.objects.filter(pk=attempt.pk, charge_id__isnull=True).update(
                charge_id=charge["id"]
            )
        except Exception:
            logger.exception("Could not store charge %s for %s", charge["id"], order.reference)
        raise


def source_check(*, source: str, amount: int, currency: str) -> None:
    """Read the source back from Omise and refuse one the account's capability does not allow
    for this cart (type, installment term, TrueMoney's phone number), whatever the browser
    sent. Raises MethodRefused, or CheckoutError when Omise cannot tell us (nothing charged)."""
    try:
        data = get_client().retrieve_source(source)
    except OmiseAPIError as error:
        unreadable = error.http_status == 404
        raise CheckoutError(
            str(capability.SOURCE_UNREADABLE if unreadable else capability.SERVICE_DOWN)
        ) from None
    except OmiseNetworkError:
        raise CheckoutError(str(capability.SERVICE_DOWN)) from None
    refusal = capability.source_refusal(
        capability.capability_get(), data, amount=amount, currency=currency
    )
    if refusal:
        logger.info("Source %s refused: %s (%s)", source, data.get("type"), refusal)
        raise MethodRefused(refusal)


def charge_apply(
    *,
    charge: dict,
    attempt_id: int | None = None,
    superseded: bool = False,
    items: list[OrderItem] | None = None,
) -> PaymentAttempt | None:
    """Bring the attempt and its order in line with `charge` (a charge object from Omise).

    The one place an order's payment state changes. Rows are locked attempt-then-order, so the
    3-D Secure return and a webhook racing for the same charge serialise, and the result does
    not depend on which comes first. Returns None for a charge that belongs to no attempt.

    `attempt_id`: the attempt that has just created this charge (checkout_submit); its charge id
    is stored in this transaction, whether or not the charge can be applied.
    `superseded`: the shop itself ended this attempt because the shopper chose to pay another
    way (`attempt_end`): no "payment failed" mail for it.
    `items`: the order's items, when the caller has just made them (its mails need not read
    them again).
    """
    metadata = charge.get("metadata") or {}
    with transaction.atomic():
        # The attempt and its order, both locked by one statement: PostgreSQL locks a joined
        # row's tables in the order of the FROM clause, the attempt's first.
        attempts = PaymentAttempt.objects.select_related("order").select_for_update()
        # The attempt that has just created this charge is locked by its key, and the charge
        # id written with the rest below (one UPDATE), or alone if the charge is not applied:
        # kept whatever follows, a charge that cannot be applied is still this attempt's.
        attempt = attempts.filter(
            **({"pk": attempt_id} if attempt_id is not None else {"charge_id": charge["id"]})
        ).first()
        new_id = False
        if attempt is not None and attempt.charge_id != charge["id"]:
            attempt.charge_id, new_id = charge["id"], True
        if attempt is None and metadata.get("attempt"):
            # A charge whose creation timed out: we never learned its id until now.
            attempt = attempts.filter(key=metadata["attempt"], charge_id__isnull=True).first()
            if attempt is not None:
                attempt.charge_id = charge["id"]
        if attempt is None:
            logger.warning("Charge %s matches no payment attempt; ignored", charge.get("id"))
            return None
        order = attempt.order
        if not _charge_matches(charge, order, attempt):
            if new_id:
                attempt.save(update_fields=["charge_id", "updated_at"])
            return attempt

        status = _attempt_status(charge)
        if _stale(attempt.status, status):
            # An older copy of the charge (read before a newer one was applied): what we
            # already know is later. Never move a settled attempt back to pending.
            logger.info("Charge %s: stale %s copy ignored", charge["id"], status)
            if new_id:
                attempt.save(update_fields=["charge_id", "updated_at"])
            attempt.order = order
            return attempt
        attempt.status = status
        attempt.failure_code = charge.get("failure_code") or ""
        attempt.failure_message = (charge.get("failure_message") or "")[:255]
        attempt.merchant_advice = str(charge.get("merchant_advice") or "")[:255]
        attempt.merchant_advice_code = str(charge.get("merchant_advice_code") or "")[:64]
        missing = charge.get("missing_3ds_fields")
        attempt.missing_3ds_fields = [str(f)[:64] for f in missing][:20] if missing else []
        attempt.authorize_uri = (
            charge.get("authorize_uri") or "" if attempt.status == attempt.Status.PENDING else ""
        )
        card = charge.get("card") or {}
        attempt.card_brand = card.get("brand") or ""
        attempt.card_last_digits = (card.get("last_digits") or "")[-4:]
        attempt.card_fingerprint = card.get("fingerprint") or ""
        payment_methods.apply_charge(attempt, charge)  # method; PromptPay's QR code and expiry
        attempt.save()

        refunded_before = order.refunded_amount
        _order_follow(order, attempt, charge)
        # The shopper's mails, decided in this transaction: each once, whoever applies first.
        notifications.order_mails_queue(
            order=order,
            attempt=attempt,
            refunded_before=refunded_before,
            superseded=superseded,
            items=items,
        )
        attempt.order = order
        return attempt


def cart_settle_earlier(*, cart_id: str, attempt_key: str = "") -> None:
    """Make sure no other order of this cart can still be paid before a new attempt starts.

    The attempt of `attempt_key` itself is left alone: a submission racing its own double
    click finds it by the unique key when it inserts, and answers with it.

    A paid order of the cart raises CartAlreadyPaid. Each attempt still pending (the shopper
    left 3-D Secure or a QR code, or opened the checkout again in another tab) is ended at
    Omise (`attempt_end`); one that cannot be ended raises CartPaymentPending, so the shopper
    finishes or waits for it instead of paying twice.
    """
    if not cart_id:
        return
    # One query: the cart's attempts whose order holds its payment, or still unsettled.
    attempts = list(
        PaymentAttempt.objects.filter(order__cart_id=cart_id)
        .filter(
            Q(order__status__in=HOLDS_PAYMENT, order__duplicate_of__isnull=True)
            | ~Q(status__in=SETTLED)
        )
        .select_related("order")
        .order_by("pk")
    )
    if paid := _first_holding_payment(a.order for a in attempts):
        raise CartAlreadyPaid(paid)
    unsettled = [a for a in attempts if a.status not in SETTLED and a.key != attempt_key]
    for attempt in unsettled:
        attempt = attempt_end(attempt=attempt)
        if attempt.status == PaymentAttempt.Status.SUCCESSFUL:
            raise CartAlreadyPaid(attempt.order)
        if attempt.status not in SETTLED:
            raise CartPaymentPending(attempt.order)


def _first_holding_payment(orders: Iterable[Order]) -> Order | None:
    """Of these orders, the first to hold their cart's payment, as `cart_paid_order` orders
    them (paid first, by time; an authorization, not paid yet, after)."""
    holding = [o for o in orders if o.status in HOLDS_PAYMENT and o.duplicate_of_id is None]
    return min(holding, key=lambda o: (o.paid_at is None, o.paid_at, o.pk), default=None)


def attempt_and_paid_order(*, key: str, cart_id: str) -> tuple[PaymentAttempt | None, Order | None]:
    """The attempt a checkout page's key made (with its order), and the order holding the
    cart's payment: what the checkout asks before anything else, in one query."""
    mine = Q(key=key) if key else None
    held = (
        Q(order__cart_id=cart_id, order__status__in=HOLDS_PAYMENT, order__duplicate_of=None)
        if cart_id
        else None
    )
    wanted = mine | held if mine and held else mine or held
    if wanted is None:
        return None, None
    attempts = list(PaymentAttempt.objects.filter(wanted).select_related("order"))
    own = next((a for a in attempts if key and a.key == key), None)
    in_cart = (a.order for a in attempts if cart_id and a.order.cart_id == cart_id)
    return own, _first_holding_payment(in_cart)


def cart_paid_order(*, cart_id: str) -> Order | None:
    """The order holding this cart's payment, if one does."""
    if not cart_id:
        return None
    return (
        Order.objects.filter(cart_id=cart_id, status__in=HOLDS_PAYMENT, duplicate_of__isnull=True)
        .order_by("paid_at", "pk")
        .first()
    )


def cart_pending_order(*, cart_id: str) -> Order | None:
    """The newest order of this cart whose payment is still in progress, if any."""
    if not cart_id:
        return None
    return (
        Order.objects.filter(cart_id=cart_id, status=Order.Status.PENDING).order_by("-pk").first()
    )


def attempt_end(*, attempt: PaymentAttempt) -> PaymentAttempt:
    """Ask Omise to end a pending attempt, and apply what the charge then says (the shopper is
    paying the cart another way: no "payment failed" mail).

    A pending charge is expired (3-D Secure never finished, a QR code not scanned); one that
    is authorized but not captured is reversed. Where Omise refuses (the charge moved on, or
    the method cannot be ended), the charge is read as it is. An attempt whose charge is not
    known yet is reconciled first. Omise unreachable: the attempt is returned as it was.
    """
    if not attempt.charge_id:
        attempt = attempt_reconcile(attempt=attempt)
        if not attempt.charge_id:
            return attempt
    client = get_client()
    try:
        try:
            charge = client.expire_charge(attempt.charge_id)
        except OmiseAPIError:
            charge = client.retrieve_charge(attempt.charge_id)
            if charge.get("status") == "pending" and charge.get("authorized"):
                charge = client.reverse_charge(attempt.charge_id)
    except OmiseError:
        logger.warning("Could not end attempt %s of %s", attempt.pk, attempt.order.reference)
        return attempt
    return charge_apply(charge=charge, superseded=True) or attempt


def attempt_reconcile(*, attempt: PaymentAttempt) -> PaymentAttempt:
    """Ask Omise what became of an attempt we are unsure about, and apply the answer.

    With a charge id: retrieve it. Without one (creation timed out): look for a charge carrying
    this attempt's key in its metadata among recent charges; if none appears within the grace
    period, the card was not charged and the order fails so the shopper can try again.
    """
    client = get_client()
    try:
        if attempt.charge_id:
            return charge_apply(charge=client.retrieve_charge(attempt.charge_id)) or attempt
        charge, complete = _find_charge_by_attempt_key(client, attempt)
        if charge is not None:
            return charge_apply(charge=charge) or attempt
    except OmiseError:
        logger.warning("Reconciling %s failed; will retry", attempt.order.reference)
        return attempt
    # Only a full search that found nothing proves "not charged": a busy shop whose window
    # holds more charges than we page through stays undecided rather than failing a paid order.
    if complete and timezone.now() - attempt.created_at > RECONCILE_GRACE:
        return _attempt_refused(attempt, code="not_charged", message="No charge was created.")
    return attempt


# Pages of 100 charges searched for a timed-out creation before giving up for this round.
RECONCILE_MAX_PAGES = 20


def _find_charge_by_attempt_key(client, attempt: PaymentAttempt) -> tuple[dict | None, bool]:
    """The charge whose metadata carries this attempt's key, and whether the search was complete.

    The window runs from a minute before the attempt (clock skew between us and Omise) to a
    minute after the grace period: the charge, if any, was created while our request waited.
    """
    since = attempt.created_at - timedelta(minutes=1)
    until = attempt.created_at + RECONCILE_GRACE + timedelta(minutes=1)
    for page in range(RECONCILE_MAX_PAGES):
        # Oldest first: the charge, if any, was created moments after the attempt.
        listing = client.list_charges(
            from_time=since, to_time=until, offset=page * 100, limit=100, order="chronological"
        )
        data = listing.get("data") or []
        for charge in data:
            if (charge.get("metadata") or {}).get("attempt") == attempt.key:
                return charge, True
        if len(data) < 100:
            return None, True
    logger.warning("Charge search for attempt %s stopped after %d pages", attempt.pk, page + 1)
    return None, False


def attempt_by_key(*, key: str) -> PaymentAttempt | None:
    """The attempt a checkout page's key made, with its order; None if it made none yet."""
    return PaymentAttempt.objects.filter(key=key).select_related("order").first()


def attempt_needs_reconcile(attempt: PaymentAttempt) -> bool:
    return attempt.status not in SETTLED


# --- helpers ---------------------------------------------------------------------------------


def _cart_problem(lines, amount: int, currency: str) -> str:
    """Why this cart cannot be paid for, for the shopper; "" if it can."""
    if not lines:
        return _("Your cart is empty.")
    low, high = AMOUNT_LIMITS.get(currency, (1, 10**12))
    if not low <= amount <= high:
        return _("Payments must be between %(low)s and %(high)s. Please adjust your cart.") % {
            "low": format_money(low, currency),
            "high": format_money(high, currency),
        }
    return ""


def _attempt_refused(attempt: PaymentAttempt, *, code: str, message: str) -> PaymentAttempt:
    """Record that no charge exists for this attempt and fail its order (if still pending)."""
    with transaction.atomic():
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        if attempt.charge_id:
            # A charge turned up meanwhile (a webhook won the race): its state stands.
            return PaymentAttempt.objects.select_related("order").get(pk=attempt.pk)
        order = Order.objects.select_for_update().get(pk=attempt.order_id)
        attempt.status = PaymentAttempt.Status.FAILED
        attempt.failure_code, attempt.failure_message = code[:64], message[:255]
        attempt.save()
        if order.can_become(Order.Status.FAILED):
            order.transition_to(Order.Status.FAILED)
            order.save()
        attempt.order = order
        return attempt


def _attempt_unknown(attempt: PaymentAttempt) -> PaymentAttempt:
    """Mark an attempt whose charge may or may not exist; reconciling will tell."""
    PaymentAttempt.objects.filter(pk=attempt.pk, status=PaymentAttempt.Status.CREATING).update(
        status=PaymentAttempt.Status.UNKNOWN
    )
    attempt.refresh_from_db()
    return attempt


def _stale(known: str, seen: str) -> bool:
    """Is a charge copy saying `seen` older than the attempt's `known` state? Pending comes
    before authorized, which comes before captured, reversed or expired. (Failed is no later
    than authorized: our own "not charged" verdict may meet a charge found afterwards.)"""
    if known in PAST_PENDING and seen not in PAST_PENDING:
        return True
    return seen == PaymentAttempt.Status.AUTHORIZED and known in SETTLED - {
        PaymentAttempt.Status.FAILED
    }


def _attempt_status(charge: dict) -> str:
    status = charge.get("status")
    if status == "pending" and charge.get("authorized") and not charge.get("paid"):
        return PaymentAttempt.Status.AUTHORIZED  # approved with capture=false
    if status in PaymentAttempt.Status.values and status != PaymentAttempt.Status.AUTHORIZED:
        return status
    logger.warning("Unknown charge status %r on %s", status, charge.get("id"))
    return PaymentAttempt.Status.UNKNOWN


def _order_follow(order: Order, attempt: PaymentAttempt, charge: dict) -> None:
    """Move the order to the state the charge implies, if the state machine allows it."""

    def state() -> tuple:
        return (order.status, order.refunded_amount, order.captured_amount, order.authorized_at)

    before = state()
    status = attempt.status
    targets: dict[str, Order.Status] = {
        PaymentAttempt.Status.AUTHORIZED: Order.Status.AUTHORIZED,
        PaymentAttempt.Status.SUCCESSFUL: Order.Status.PAID,
        PaymentAttempt.Status.FAILED: Order.Status.FAILED,
        PaymentAttempt.Status.EXPIRED: Order.Status.EXPIRED,
        # An authorization released (staff cancelled the order) is a cancellation; a charge
        # reversed while it waited for the bank (cart_settle_earlier) is a failed payment.
        PaymentAttempt.Status.REVERSED: Order.Status.CANCELLED
        if order.status == Order.Status.AUTHORIZED
        else Order.Status.FAILED,
    }
    target = targets.get(status)
    if status == PaymentAttempt.Status.SUCCESSFUL:
        order.captured_amount = _partly_captured(charge, order)
    refunded = int(charge.get("refunded_amount") or charge.get("refunded") or 0)
    if status == PaymentAttempt.Status.SUCCESSFUL and refunded:
        charged = order.charged_amount
        # Refunds only add up: an older copy of the charge (an event fetched before the last
        # refund, applied after it) never lowers what is recorded.
        order.refunded_amount = max(order.refunded_amount or 0, min(refunded, charged))
        target = (
            Order.Status.REFUNDED
            if order.refunded_amount >= charged
            else Order.Status.PARTIALLY_REFUNDED
        )
        if order.can_become(Order.Status.PAID):  # paid and refunded before we heard it was paid
            _mark_paid(order)
    if target is not None and target != order.status:
        if order.can_become(target):
            if target == Order.Status.PAID:
                _mark_paid(order)
            elif target == Order.Status.AUTHORIZED:
                order.transition_to(target)
                order.authorized_at = order.authorized_at or timezone.now()
                _claim_cart(order)
            else:
                order.transition_to(target)
        else:
            # e.g. a late "failed" for a paid order: the payment that happened stands.
            logger.info("Order %s stays %s (charge says %s)", order.reference, order.status, status)
    if state() != before:  # nothing to write otherwise
        order.save()


def _partly_captured(charge: dict, order: Order) -> int | None:
    """What a partial capture took (`captured_amount` below the amount), else None. Should
    Omise report it as a smaller `amount` instead (unconfirmed), that is read the same way."""
    captured = charge.get("captured_amount")
    if captured is None and charge.get("authorized_amount") == order.amount:
        captured = charge.get("amount")
    if isinstance(captured, int) and not isinstance(captured, bool) and 0 < captured < order.amount:
        return captured
    return None


def _mark_paid(order: Order) -> None:
    # An authorized order already holds its cart's payment: capturing it claims nothing new.
    claimed = order.status == Order.Status.AUTHORIZED
    order.transition_to(Order.Status.PAID)
    order.paid_at = order.paid_at or timezone.now()
    if not claimed:
        _claim_cart(order)


def _claim_cart(order: Order) -> None:
    """The order now holds its cart's payment (paid or authorized): if another order of the
    cart already did, this one is a duplicate, refunded or released (`duplicate_payment`)."""
    if not order.cart_id:
        return
    # Every order of the cart takes its root's row lock here, so two payments of one cart
    # arriving together are judged one after the other: the second sees the first paid.
    Order.objects.select_for_update().filter(cart_id=order.cart_id).order_by("pk").values(
        "pk"
    ).first()
    first = cart_paid_order(cart_id=order.cart_id)
    if first is None or first.pk == order.pk:
        return
    order.duplicate_of = first
    logger.error(
        "Order %s paid for a cart already paid by %s: refunding it",
        order.reference,
        first.reference,
    )
    record_security_event(
        SecurityEvent.Kind.DUPLICATE_PAYMENT,
        order=order.reference,
        paid_first=first.reference,
        amount=order.amount,
        currency=order.currency,
    )
    # Refunded once the mark is committed (checkout.refunds listens).
    transaction.on_commit(lambda: signals.duplicate_payment.send(sender=Order, order_id=order.pk))


def _charge_matches(charge: dict, order: Order, attempt: PaymentAttempt) -> bool:
    """Refuse to act on a charge that is not for this order's amount, currency and reference."""
    metadata = charge.get("metadata") or {}
    problems = []
    if metadata.get("order_reference") != order.reference:
        problems.append("reference")
    currency = charge.get("currency", "").upper()  # Omise answers in lower case
    # After a partial capture, `amount` may become the captured amount (unconfirmed:
    # docs/omise-api.md); `authorized_amount` still says what the shopper agreed to.
    amounts = {charge.get("amount"), charge.get("authorized_amount")}
    if attempt.amount not in amounts or currency != attempt.currency:
        problems.append("amount or currency")
    if problems:
        logger.error(
            "Charge %s does not match order %s (%s); not applied",
            charge.get("id"),
            order.reference,
            ", ".join(problems),
        )
        return False
    return True


def _description(order: Order, items: list[OrderItem]) -> str:
    lines = ", ".join(str(item) for item in items)
    return f"{settings.SHOP_NAME} order {order.reference}: {lines}"[:255]


def _metadata(order: Order, attempt: PaymentAttempt, items: list[OrderItem]) -> dict:
    """What Omise's fraud scoring and a merchant's reconciliation need, no card data."""
    metadata = {
        "order_reference": order.reference,
        "attempt": attempt.key,
        "email": order.email,
        "customer_name": order.name,
        "billing_country": order.country,
        "item_count": sum(item.quantity for item in items),
        "items": [
            {"sku": i.sku, "name": i.name, "quantity": i.quantity, "unit_price": i.unit_price}
            for i in items
        ],
    }
    # The card is tokenized in Omise's frame, so the shop cannot put the billing address on the
    # token; it goes with the charge instead (required for US/CA shoppers by the form).
    address = {
        "street1": order.street1,
        "street2": order.street2,
        "city": order.city,
        "state": order.state,
        "postal_code": order.postal_code,
        "country": order.country,
        "phone_number": order.phone,
    }
    if order.street1:
        metadata["billing_address"] = {name: value for name, value in address.items() if value}
    return metadata
