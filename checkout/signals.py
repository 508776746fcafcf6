"""Signals of the payment story: what must follow a payment, told without importing it.

`duplicate_payment` is sent after the commit that marked an order as its cart's second
payment (`Order.duplicate_of`), with `order_id`; `checkout.refunds` refunds it. A signal
rather than a call because refunds apply Omise's answer through `checkout.services`: the
service cannot import what imports it.
"""

from django.dispatch import Signal

duplicate_payment = Signal()
