"""The shopper's e-mails about an order, decided where its payment state changes.

`order_mails_queue` is called by `checkout.services.charge_apply` inside its transaction,
under the attempt's and the order's row locks, right after the order followed the charge. It
looks at the state the order and attempt are now in and queues (mails.outbox.mail_queue) the
mails that state calls for. Each has a key of its own, unique in the outbox, so however many
times a state is applied — the 3-D Secure return, a webhook and the reconcile job racing, a
webhook retried — each mail is decided once:

- `order_confirmation` (`order:<ref>:order_confirmation`): the order is paid; an itemised receipt.
- `payment_instructions` (`…:payment_instructions`): a PromptPay or bank-app payment waits for
  the shopper; a link to the order page (which shows the QR code while it is valid).
- `payment_failed` (`…:payment_failed`): such a payment failed or expired. Card declines send
  nothing: the shopper is on the checkout page and reads the reason there (and a card tester
  cannot make the shop mail anyone by failing cards).
- `refund_notice` (`…:refund_notice:<refunded total>`): money went back, once per new total.

The mails carry the order's reference, items and amounts, and of a card only its brand and
last four digits. They are written in the language the shopper checked out in.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from checkout import payment_methods
from checkout.failures import shopper_message
from checkout.models import Order, OrderItem, PaymentAttempt
from mails.outbox import mail_queue

PAID_STATES = {Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED, Order.Status.REFUNDED}


def order_mails_queue(
    *,
    order: Order,
    attempt: PaymentAttempt,
    refunded_before: int,
    superseded: bool = False,
    items: list[OrderItem] | None = None,
) -> None:
    """Queue the mails the order's state calls for (each at most once, whoever calls).
    `superseded`: the shop ended this attempt itself, the shopper paying another way.
    `items`: the order's items if the caller holds them (else they are read)."""
    if not order.email:
        return
    waits_for_shopper = payment_methods.pays_later(attempt)
    if order.status in PAID_STATES and order.duplicate_of_id is None:
        _queue(order, attempt, "order_confirmation", items=items)
    elif order.status == Order.Status.PENDING and attempt.status == PaymentAttempt.Status.PENDING:
        if waits_for_shopper:
            _queue(order, attempt, "payment_instructions", items=items)
    elif (
        order.status in (Order.Status.FAILED, Order.Status.EXPIRED)
        and waits_for_shopper
        and not superseded  # the shopper is paying another way: nothing to tell
    ):
        _queue(order, attempt, "payment_failed", items=items)
    if order.refunded_amount > refunded_before:
        _queue(
            order,
            attempt,
            "refund_notice",
            suffix=str(order.refunded_amount),
            items=items,
            extra={
                "refunded_now": order.refunded_amount - refunded_before,
                "refunded_total": order.refunded_amount,
                "duplicate_of": order.duplicate_of.reference if order.duplicate_of else "",
            },
        )


def _queue(
    order: Order,
    attempt: PaymentAttempt,
    kind: str,
    *,
    suffix: str = "",
    extra=None,
    items: list[OrderItem] | None = None,
) -> None:
    key = f"order:{order.reference}:{kind}" + (f":{suffix}" if suffix else "")
    language = order.language or settings.LANGUAGE_CODE
    mail_queue(
        key=key,
        kind=kind,
        to=order.email,
        language=language,
        context={**_order_context(order, attempt, language, kind, items), **(extra or {})},
    )


# Mails that go out before any money moved: starting a PromptPay or bank-app payment costs
# nothing, so anyone can have the shop send these to any address. They carry no text the
# sender typed (the name is not in the greeting), so the shop's name cannot carry theirs.
UNPAID_KINDS = {"payment_instructions", "payment_failed"}


def _order_context(
    order: Order,
    attempt: PaymentAttempt,
    language: str,
    kind: str,
    items: list[OrderItem] | None = None,
) -> dict:
    """What every order mail may show, as plain JSON values (a snapshot: the mail tells the
    order as it was when the mail was decided)."""
    if items is None:
        items = list(order.items.select_related("product"))
    with translation.override(language):
        method = payment_methods.label(attempt.payment_method) if attempt.payment_method else ""
        failure = shopper_message(attempt.failure_code, method=attempt.payment_method)
        if not failure and order.status == Order.Status.EXPIRED:
            failure = shopper_message("expired", method=attempt.payment_method)
        names = [item.display_name for item in items]
    return {
        "reference": order.reference,
        "name": "" if kind in UNPAID_KINDS else order.name,
        "order_path": order.get_absolute_url(),
        "status": order.status,
        "amount": order.amount,
        # After a partial capture (manual capture), what the card was charged.
        "charged": order.charged_amount,
        "partly_captured": order.captured_amount is not None,
        "currency": order.currency,
        "items": [
            {
                "name": name,
                "quantity": item.quantity,
                "unit_price": item.unit_price,
                "subtotal": item.subtotal,
            }
            for name, item in zip(names, items, strict=True)
        ],
        "payment_method": attempt.payment_method,
        "method_label": method,
        # A card is named by brand and last four digits only, never more.
        "card_brand": attempt.card_brand,
        "card_last_digits": attempt.card_last_digits[-4:],
        "expires_at": attempt.expires_at.isoformat() if attempt.expires_at else "",
        "failure_message": failure,
        "paid_at": order.paid_at.isoformat() if order.paid_at else "",
    }
