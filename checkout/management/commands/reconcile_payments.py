"""`manage.py reconcile_payments`: settle attempts left unsure by a lost webhook or a timeout.

Meant for cron (docs/operations.md), e.g. every five minutes:

    */5 * * * * cd /srv/shop && .venv/bin/python manage.py reconcile_payments --quiet

Exits 0 even when Omise cannot be reached (the attempts stay as they were and the next run
retries): cron mail is for surprises, and an outage is already visible on the dashboard.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser

from checkout.capture import duplicate_release, duplicates_to_release
from checkout.catchup import describe_catch_up, events_catch_up
from checkout.disputes import disputes_warn_due
from checkout.omise import OmiseError
from checkout.reconcile import attempts_to_reconcile, describe, reconcile_attempts
from checkout.refunds import (
    duplicate_refund,
    duplicates_to_refund,
    orders_with_unknown_refunds,
    refunds_unknown_resolve,
)


class Command(BaseCommand):
    help = (
        "Apply Omise events whose webhook never arrived; ask Omise about payment attempts "
        "still creating, unknown, pending or authorized, and apply the "
        "answers (orders become paid, or failed when no charge was ever created); refund any "
        "second payment of a cart whose refund did not go through yet."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=120,
            metavar="SECONDS",
            help="Only attempts created at least this long ago (default 120): younger ones "
            "may still be in flight or at the bank.",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=200,
            help="At most this many attempts per run, oldest first (default 200).",
        )
        parser.add_argument(
            "--quiet", action="store_true", help="Print nothing when there was nothing to do."
        )

    def handle(self, *args, older_than: int, limit: int, quiet: bool, **options) -> None:
        # First the events whose webhook never arrived: they settle most of what follows.
        try:
            caught = events_catch_up()
        except OmiseError as error:
            self.stderr.write(f"reconcile_payments: Omise events could not be listed: {error}")
        else:
            if caught["applied"] or caught["failed"] or not quiet:
                self.stdout.write(f"reconcile_payments: {describe_catch_up(caught)}")
        attempts = attempts_to_reconcile(
            older_than=timedelta(seconds=max(0, older_than)), limit=max(1, limit)
        )
        outcome = reconcile_attempts(attempts)
        if outcome or not quiet:
            self.stdout.write(f"reconcile_payments: {describe(outcome)}")
        # Refunds whose answer never came: found at Omise by their token, or cleared when Omise
        # has none, so that they can be asked for again.
        settled = 0
        for order in orders_with_unknown_refunds()[:limit]:
            try:
                settled += refunds_unknown_resolve(order=order)
            except OmiseError as error:
                self.stderr.write(f"reconcile_payments: refunds of {order.reference}: {error}")
        if settled:
            self.stdout.write(f"reconcile_payments: settled {settled} refund(s) of unknown outcome")
        # A cart paid twice whose refund of the later payment failed (Omise unreachable):
        # each is refunded once, whoever asks first (the refund's token is the order's).
        refunded = [
            order for order in duplicates_to_refund()[:limit] if duplicate_refund(order_id=order.pk)
        ]
        if refunded:
            self.stdout.write(
                f"reconcile_payments: refunded {len(refunded)} duplicate payment(s): "
                + ", ".join(order.reference for order in refunded)
            )
        # The same for a cart authorized twice (manual capture) whose release failed.
        released = [
            order for order in duplicates_to_release()[:limit] if duplicate_release(order=order)
        ]
        if released:
            self.stdout.write(
                f"reconcile_payments: released {len(released)} duplicate authorization(s): "
                + ", ".join(order.reference for order in released)
            )
        # Disputes whose deadline nears: one e-mail each, through the outbox (which retries a
        # mail the server refused; `send_mails` sends what is due).
        warned = disputes_warn_due()
        if warned:
            self.stdout.write(f"reconcile_payments: {warned} dispute deadline warning(s) queued")
