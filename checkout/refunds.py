"""Refunds: full or partial, asked for by staff, applied from Omise's own numbers.

Rules a refund must keep:

- Only a paid (or partly refunded) order can be refunded, and never for more than is left:
  `order.amount - order.refunded_amount`, in integer minor units.
- A double click, a resubmitted form or two staff members at once never refund twice: the
  charge's attempt and the order are locked (in `charge_apply`'s order: attempt, then order)
  while we decide and ask Omise, and each refund form carries a one-time `request_token`
  stored on the `Refund` row (unique), so a second submission finds the first one's row.
- A refund whose answer never came (a timeout) keeps its row without a refund id, so it counts
  and cannot be asked for twice. Once it is older than any request still in flight,
  `refunds_unknown_resolve` finds it at Omise by its token, or clears the row when Omise has no
  such refund, so that it can be asked for again (a duplicate payment's refund is, by
  reconcile_payments).
- The order's state and `refunded_amount` are never added up here: after Omise answers we
  retrieve the charge and let `charge_apply` follow its `refunded_amount`. The `refund.create`
  webhook does the same and records the refund by its unique id, so nothing counts twice.
"""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.dispatch import receiver
from django.utils import timezone

from checkout import payment_methods
from checkout.models import Dispute, Order, PaymentAttempt, Refund
from checkout.omise import OmiseAPIError, OmiseError, OmiseNetworkError, get_client
from checkout.services import charge_apply
from checkout.signals import duplicate_payment
from shop.money import format_money

logger = logging.getLogger(__name__)

REFUNDABLE_STATUSES = {Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED}
# A dispute in these states takes (or may take) the money back through the card's bank.
DISPUTES_BLOCKING_REFUNDS = (Dispute.Status.OPEN, Dispute.Status.PENDING, Dispute.Status.LOST)
# A refund request older than this has had its answer, even if we never read it.
UNKNOWN_REFUND_SETTLES_AFTER = timedelta(minutes=2)


class RefundError(Exception):
    """The refund was not made (or its outcome is unknown); the message is for staff."""


def refundable_amount(order: Order) -> int:
    """What can still be refunded, in minor units (0 for an order that was never paid).

    Refunds recorded here count even before Omise's charge shows them (and those whose outcome
    is unknown count too): a second refund decided under the order lock must see the first.
    """
    if order.status not in REFUNDABLE_STATUSES:
        return 0
    recorded = order.refunds.aggregate(total=Sum("amount"))["total"] or 0
    # A partial capture charged less than the order's amount: only that can come back.
    return max(0, order.charged_amount - max(order.refunded_amount, recorded))


def refund_create(
    *, order: Order, amount: int, requested_by=None, request_token: str | None = None
) -> Refund:
    """Refund `amount` (minor units) of `order`'s charge through Omise, at most once per token.

    Returns the `Refund` row; a repeated `request_token` returns the first call's row without
    calling Omise. Raises `RefundError` with a message for staff when nothing was refunded, or
    when Omise's answer did not arrive (then the outcome is unknown: the refund may exist, and
    the webhook or the charge will tell).
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise RefundError("The refund amount must be a positive whole number of satang.")
    client = get_client()
    with transaction.atomic():
        # Lock order as charge_apply does (attempt, then order) so a webhook and a refund wait
        # for each other instead of deadlocking.
        attempt = (
            PaymentAttempt.objects.select_for_update()
            .filter(order_id=order.pk, status=PaymentAttempt.Status.SUCCESSFUL)
            .exclude(charge_id=None)
            .first()
        )
        order = Order.objects.select_for_update().get(pk=order.pk)
        if request_token:
            earlier = Refund.objects.filter(request_token=request_token).first()
            if earlier is not None:
                return earlier  # the same form again: already done
        attempt = _check_refundable(order, attempt, amount)
        charge_id = attempt.charge_id
        assert charge_id is not None  # the query above excludes attempts without a charge
        try:
            refund = client.create_refund(
                charge_id,
                amount=amount,
                metadata={
                    "order_reference": order.reference,
                    "refund_request": request_token or "",
                },
            )
        except OmiseAPIError as error:
            logger.warning("Refund of %s refused by Omise: %s", order.reference, error.code)
            raise RefundError(f"Omise refused the refund ({error.code}): {error.message}") from None
        except OmiseNetworkError:
            refund = None
        # Recorded even when the answer is unknown: a resubmission then finds the token's row
        # and cannot refund again; the webhook fills in the refund id if the refund was made.
        row = _record(
            order=order,
            refund_id=refund["id"] if refund else None,
            amount=amount,
            requested_by=requested_by,
            request_token=request_token,
        )
    if refund is not None:
        # Omise's numbers, not ours: the charge says how much is refunded in total. Read after
        # the commit above, so no lock is held while waiting on Omise again; if it cannot be
        # read now, the refund still stands and the refund.create webhook catches up.
        try:
            charge_apply(charge=client.retrieve_charge(charge_id))
        except OmiseError:
            logger.warning("Refunded %s; its charge could not be re-read yet", order.reference)
    if refund is None:
        raise RefundError(
            "Omise did not answer in time: the refund may or may not have been made. Do not "
            "refund again; the order updates when Omise's refund.create webhook arrives "
            "(or run manage.py reconcile_payments)."
        )
    logger.info("Refunded %s of %s", format_money(amount, order.currency), order.reference)
    return row


def refund_record(*, refund: dict) -> Refund | None:
    """Record a refund Omise told us about (`refund.create`), once per refund id.

    A refund asked for from the admin already has its row (or one waiting for its id, matched
    by the request token in the refund's metadata); one made in Omise's dashboard gets a new
    row. Returns None for a refund of a charge that is not one of ours.
    """
    refund_id = refund.get("id")
    if not refund_id:
        return None
    existing = Refund.objects.filter(refund_id=refund_id).first()
    if existing is not None:
        return existing
    attempt = (
        PaymentAttempt.objects.filter(charge_id=refund.get("charge"))
        .select_related("order")
        .first()
    )
    if attempt is None:
        return None
    token = (refund.get("metadata") or {}).get("refund_request") or None
    try:
        with transaction.atomic():
            if token and Refund.objects.filter(request_token=token, refund_id=None).update(
                refund_id=refund_id
            ):
                return Refund.objects.get(refund_id=refund_id)
            return Refund.objects.create(
                order=attempt.order,
                refund_id=refund_id,
                amount=int(refund.get("amount") or 0),
                currency=attempt.currency,
            )
    except IntegrityError:  # recorded meanwhile by the admin request or another delivery
        return Refund.objects.get(refund_id=refund_id)


def duplicate_refund(*, order_id: int) -> Refund | None:
    """Refund in full an order whose payment arrived after its cart had been paid by another
    (`Order.duplicate_of`). Once only, whoever calls (the payment's commit, reconcile_payments):
    the refund's request token is the order's. Returns None when there is nothing left to
    refund or Omise could not do it now (reconcile_payments tries again)."""
    order = Order.objects.get(pk=order_id)
    if order.duplicate_of_id is None:
        return None
    try:
        refunds_unknown_resolve(order=order)  # an earlier try whose answer was lost
    except OmiseError as error:
        logger.error("Duplicate payment %s not refunded yet: %s", order.reference, error)
        return None
    order.refresh_from_db()
    amount = refundable_amount(order)
    if amount <= 0:
        return None
    try:
        return refund_create(
            order=order, amount=amount, request_token=f"duplicate-{order.reference}"
        )
    except RefundError as error:
        logger.error("Duplicate payment %s not refunded yet: %s", order.reference, error)
        return None


def refunds_unknown_resolve(
    *, order: Order, settles_after: timedelta = UNKNOWN_REFUND_SETTLES_AFTER
) -> int:
    """Settle `order`'s refund rows whose Omise answer never arrived (no refund id yet) and that
    are older than `settles_after`: each takes the id of the charge's refund carrying its token,
    or, when Omise has no such refund, is deleted, so that what it held can be refunded again.
    Returns how many rows were settled; raises OmiseError when Omise cannot be asked now."""
    cutoff = timezone.now() - settles_after
    if not order.refunds.filter(refund_id=None, created_at__lte=cutoff).exists():
        return 0
    attempt = (
        order.attempts.filter(status=PaymentAttempt.Status.SUCCESSFUL)
        .exclude(charge_id=None)
        .first()
    )
    if attempt is None:
        return 0
    charge_id = attempt.charge_id
    assert charge_id is not None  # the query above excludes attempts without a charge
    client = get_client()
    made, offset = {}, 0
    while True:  # every refund of the charge: a handful at most
        page = client.list_refunds(charge_id, offset=offset)
        for refund in page.get("data") or []:
            if token := (refund.get("metadata") or {}).get("refund_request"):
                made[token] = refund
        offset += len(page.get("data") or [])
        if not page.get("data") or offset >= int(page.get("total") or 0):
            break
    settled = 0
    with transaction.atomic():
        PaymentAttempt.objects.select_for_update().filter(pk=attempt.pk).first()
        Order.objects.select_for_update().filter(pk=order.pk).first()
        rows = Refund.objects.select_for_update().filter(
            order=order, refund_id=None, created_at__lte=cutoff
        )
        for row in rows:
            refund = made.get(row.request_token) if row.request_token else None
            if refund is not None and not Refund.objects.filter(refund_id=refund["id"]).exists():
                row.refund_id = refund["id"]
                row.save(update_fields=["refund_id"])
            elif refund is None:
                logger.warning(
                    "Refund of %s for %s never reached Omise: cleared, so it can be asked again",
                    format_money(row.amount, row.currency),
                    order.reference,
                )
                row.delete()
            else:  # the refund.create webhook recorded it on a row of its own meanwhile
                row.delete()
            settled += 1
    if settled:
        charge_apply(charge=client.retrieve_charge(charge_id))
    return settled


def orders_with_unknown_refunds(*, settles_after: timedelta = UNKNOWN_REFUND_SETTLES_AFTER):
    """Orders holding a refund whose answer never came, old enough to settle: reconcile's."""
    cutoff = timezone.now() - settles_after
    return Order.objects.filter(
        pk__in=Refund.objects.filter(refund_id=None, created_at__lte=cutoff).values("order_id")
    ).order_by("pk")


@receiver(duplicate_payment, dispatch_uid="checkout.refunds.duplicate_refund")
def _refund_when_told(sender, *, order_id: int, **kwargs) -> None:
    duplicate_refund(order_id=order_id)


def duplicates_to_refund():
    """Duplicate payments still holding money: what reconcile_payments refunds."""
    return Order.objects.filter(duplicate_of__isnull=False, status__in=REFUNDABLE_STATUSES)


# --- helpers ---------------------------------------------------------------------------------


def _check_refundable(order: Order, attempt: PaymentAttempt | None, amount: int) -> PaymentAttempt:
    """`attempt`, the paid one, once `order` is found refundable by `amount`."""
    if order.status not in REFUNDABLE_STATUSES or attempt is None:
        raise RefundError(
            f"Order {order.reference} is {order.get_status_display().lower()}: only paid orders "
            "can be refunded."
        )
    # A chargeback returns the money through the card's bank: a refund on top of a lost one, or
    # of one still open (which the bank may yet decide for the cardholder), pays them twice.
    dispute = (
        order.disputes.filter(status__in=DISPUTES_BLOCKING_REFUNDS).order_by("-created_at").first()
    )
    if dispute is not None:
        raise RefundError(
            f"Order {order.reference} has a {dispute.get_status_display().lower()} dispute "
            f"({dispute.dispute_id}): the cardholder's bank "
            f"{'has returned' if dispute.status == Dispute.Status.LOST else 'may return'} the "
            "money through it, and a refund would pay them twice. Answer or accept the dispute "
            "instead (Disputes in the admin)."
        )
    left = refundable_amount(order)
    if amount > left:
        raise RefundError(
            f"{format_money(amount, order.currency)} is more than the "
            f"{format_money(left, order.currency)} left to refund on {order.reference}."
        )
    # Some methods refund only in full, once (checkout/payment_methods.py REFUND_RULES).
    refusal = payment_methods.refund_refusal(
        attempt.payment_method,
        amount=amount,
        order_amount=order.amount,
        refunded=order.amount - left,
        currency=order.currency,
    )
    if refusal:
        raise RefundError(refusal)
    return attempt


def _record(*, order, refund_id, amount, requested_by, request_token) -> Refund:
    user = requested_by if getattr(requested_by, "pk", None) else None
    return Refund.objects.create(
        order=order,
        refund_id=refund_id,
        amount=amount,
        currency=order.currency,
        created_by=user,
        request_token=request_token or None,
    )
