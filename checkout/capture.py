"""Manual capture (OMISE_CAPTURE=manual): staff capture an authorized order, in full or in part,
or release its authorization (reverse) when the order is cancelled.

Threats it stops: a shopper charged twice or more than they agreed to (a double click, two
staff members, a stale tab capturing again or for more than was authorized), a capture
attempted after the hold expired, and an order that says "captured" while Omise says otherwise.

Rules each action keeps, as refunds do (`checkout.refunds`):

- Only an order whose charge is authorized and not captured qualifies, and never for more than
  was authorized, nor after the authorization's deadline (the charge's `expires_at`): Omise
  would refuse, and staff should hear why before anything is asked.
- A double click, a resubmitted form or two staff members at once act once: the charge's
  attempt and its order are locked (attempt, then order, as `charge_apply` does) while we
  decide and ask Omise, and each form carries a one-time `request_token`, unique on the
  `AuthorizationAction` row; a second submission finds the first one's row. A second form
  finds the order no longer authorized.
- The order's state is never set here: Omise's answer (the charge) goes through
  `charge_apply`, as a `charge.capture` or `charge.reverse` webhook would. When Omise refuses
  (the charge moved on at Omise's dashboard, or expired), the charge is read and applied, so
  the order catches up with whoever acted.
- Who acted and when is on the row (`created_by`, `created_at`).
"""

import logging
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from checkout.models import AuthorizationAction, Order, PaymentAttempt
from checkout.omise import OmiseAPIError, OmiseError, OmiseNetworkError, get_client
from checkout.services import charge_apply
from checkout.signals import duplicate_payment
from shop.money import format_money

logger = logging.getLogger(__name__)

# A capture or reversal whose answer never came blocks another for this long: by then Omise has
# done it or not, and the charge (retrieved before acting again) tells which.
UNKNOWN_ACTION_SETTLES_AFTER = timedelta(minutes=2)
# "Capture soon": authorizations expiring within this are flagged on the dashboard.
CAPTURE_SOON = timedelta(hours=48)


class CaptureError(Exception):
    """The capture or reversal was not made (or its outcome is unknown); for staff."""


def authorized_attempt(order: Order) -> PaymentAttempt | None:
    """The order's authorized, uncaptured attempt (with a charge), if any."""
    return (
        order.attempts.filter(status=PaymentAttempt.Status.AUTHORIZED)
        .exclude(charge_id=None)
        .first()
    )


def order_capture(
    *, order: Order, amount: int | None = None, requested_by=None, request_token: str
) -> AuthorizationAction:
    """Capture `order`'s authorization through Omise: in full (`amount` None or the whole
    amount) or in part (the rest is released). Once per `request_token`. Raises CaptureError
    with a message for staff when nothing was captured or the outcome is unknown."""
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)):
        raise CaptureError("The capture amount must be a whole number of satang.")
    return _act(
        order=order,
        kind=AuthorizationAction.Kind.CAPTURE,
        amount=amount,
        requested_by=requested_by,
        request_token=request_token,
    )


def order_reverse(*, order: Order, requested_by=None, request_token: str) -> AuthorizationAction:
    """Release `order`'s authorization (the order is cancelled; the shopper is not charged).
    Once per `request_token`. Raises CaptureError as `order_capture` does."""
    return _act(
        order=order,
        kind=AuthorizationAction.Kind.REVERSE,
        amount=None,
        requested_by=requested_by,
        request_token=request_token,
    )


def _act(
    *, order: Order, kind: str, amount: int | None, requested_by, request_token: str
) -> AuthorizationAction:
    if not request_token:
        raise CaptureError("The form is missing its one-time token: reload the page.")
    client = get_client()
    verb = "captured" if kind == AuthorizationAction.Kind.CAPTURE else "released"
    charge = None
    with transaction.atomic():
        attempt = (
            PaymentAttempt.objects.select_for_update()
            .filter(order_id=order.pk, status=PaymentAttempt.Status.AUTHORIZED)
            .exclude(charge_id=None)
            .first()
        )
        order = Order.objects.select_for_update().get(pk=order.pk)
        earlier = AuthorizationAction.objects.filter(request_token=request_token).first()
        if earlier is not None:
            return earlier  # the same form again: already done
        attempt, amount = _check(order, attempt, kind, amount)
        charge_id = attempt.charge_id
        assert charge_id is not None  # the query above excludes attempts without a charge
        refusal: OmiseAPIError | None = None
        try:
            if kind == AuthorizationAction.Kind.CAPTURE:
                # A full capture sends no amount: Omise captures what it authorized.
                partial = amount if amount < attempt.amount else None
                charge = client.capture_charge(charge_id, amount=partial)
            else:
                charge = client.reverse_charge(charge_id)
        except OmiseAPIError as error:
            logger.warning("%s of %s refused by Omise: %s", kind, order.reference, error.code)
            refusal = error
        except OmiseNetworkError:
            pass  # the outcome is unknown: recorded so that nobody acts again at once
        if refusal is None:
            row = AuthorizationAction.objects.create(
                order=order,
                kind=kind,
                amount=amount,
                currency=order.currency,
                request_token=request_token,
                outcome=AuthorizationAction.Outcome.DONE
                if charge is not None
                else AuthorizationAction.Outcome.UNKNOWN,
                created_by=requested_by if getattr(requested_by, "pk", None) else None,
            )
            if charge is not None:
                charge_apply(charge=charge)  # the same locks, already held: one transaction
    if refusal is not None:
        # The charge moved on (captured or released at Omise's dashboard, expired): read it,
        # so the order shows what did happen.
        _catch_up(charge_id, order)
        raise CaptureError(f"Omise refused ({refusal.code}): {refusal.message}")
    if charge is None:
        raise CaptureError(
            f"Omise did not answer in time: the authorization may or may not have been {verb}. "
            "Do not try again yet; the order updates when Omise's webhook arrives (or run "
            "manage.py reconcile_payments)."
        )
    logger.info(
        "%s %s of %s", verb.capitalize(), format_money(amount, order.currency), order.reference
    )
    return row


def _check(
    order: Order, attempt: PaymentAttempt | None, kind: str, amount: int | None
) -> tuple[PaymentAttempt, int]:
    """(`attempt`, the amount acted on) once the action is found possible; else CaptureError."""
    if order.status != Order.Status.AUTHORIZED or attempt is None:
        raise CaptureError(
            f"Order {order.reference} is {order.get_status_display().lower()}: only an "
            "authorized order can be captured or released."
        )
    now = timezone.now()
    if attempt.expires_at is not None and attempt.expires_at <= now:
        raise CaptureError(
            f"The authorization of {order.reference} expired on "
            f"{attempt.expires_at:%Y-%m-%d %H:%M} UTC: it can no longer be captured. Ask the "
            "shopper to pay again."
        )
    if kind == AuthorizationAction.Kind.CAPTURE and order.duplicate_of_id is not None:
        raise CaptureError(
            f"{order.reference} is a second authorization of a cart already paid or authorized "
            "(see 'duplicate of'): it is released, never captured."
        )
    pending = order.authorization_actions.filter(
        outcome=AuthorizationAction.Outcome.UNKNOWN,
        created_at__gt=now - UNKNOWN_ACTION_SETTLES_AFTER,
    )
    if pending.exists():
        raise CaptureError(
            "An earlier capture or release of this order is still unanswered: wait two "
            "minutes and reload the order."
        )
    if kind == AuthorizationAction.Kind.REVERSE:
        return attempt, attempt.amount
    amount = attempt.amount if amount is None else amount
    if amount <= 0:
        raise CaptureError("The capture amount must be more than zero.")
    if amount > attempt.amount:
        raise CaptureError(
            f"{format_money(amount, order.currency)} is more than the "
            f"{format_money(attempt.amount, order.currency)} authorized on {order.reference}."
        )
    return attempt, amount


def _catch_up(charge_id: str, order: Order) -> None:
    try:
        charge_apply(charge=get_client().retrieve_charge(charge_id))
    except OmiseError:
        logger.warning("Could not re-read the charge of %s", order.reference)


def authorizations_to_capture(*, within: timedelta = CAPTURE_SOON, now=None):
    """Authorized orders, with `capture_by` (the authorization's deadline), soonest first;
    `within`: only those whose deadline is that close (or past, or unknown)."""
    now = now or timezone.now()
    return list(
        PaymentAttempt.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__lte=now + within),
            status=PaymentAttempt.Status.AUTHORIZED,
            order__status=Order.Status.AUTHORIZED,
            order__duplicate_of__isnull=True,  # released by reconcile, never captured
        )
        .select_related("order")
        .order_by("expires_at", "pk")
    )


def expired_authorizations():
    """Orders whose authorization expired before anyone captured it."""
    return Order.objects.filter(status=Order.Status.EXPIRED, authorized_at__isnull=False)


@receiver(duplicate_payment, dispatch_uid="checkout.capture.duplicate_release")
def _release_when_told(sender, *, order_id: int, **kwargs) -> None:
    """A second authorization of a cart already paid or authorized: release it (refunds do
    the same for a second captured payment)."""
    duplicate_release(order=Order.objects.get(pk=order_id))


def duplicate_release(*, order: Order) -> bool:
    """Release a duplicate authorization; True once asked. Tried when it is found and again by
    `reconcile_payments` (`duplicates_to_release`) until it holds: each try has its own token,
    and an unanswered one within two minutes stops another (`_check`)."""
    if order.duplicate_of_id is None or order.status != Order.Status.AUTHORIZED:
        return False
    token = f"duplicate-{order.reference}-{secrets.token_hex(4)}"
    try:
        order_reverse(order=order, request_token=token)
    except CaptureError as error:
        logger.error("Duplicate authorization %s not released yet: %s", order.reference, error)
        return False
    return True


def duplicates_to_release():
    """Second authorizations of a cart still held: their release failed or went unanswered."""
    return Order.objects.filter(
        duplicate_of__isnull=False, status=Order.Status.AUTHORIZED
    ).order_by("pk")
