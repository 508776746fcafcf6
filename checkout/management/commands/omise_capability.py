"""Read the account's capability (`GET /capability`) from Omise now, for the checkout's cache.

Run it on a schedule, beside reconcile_payments (docs/payment-methods.md), so that a method
enabled or disabled at Omise reaches the checkout within minutes and no shopper's page waits
on Omise for it:

    */15 * * * * .venv/bin/python manage.py omise_capability --quiet

Exits non-zero when Omise cannot be reached; the checkout keeps the last good copy.
"""

from django.core.management.base import BaseCommand, CommandError

from checkout.capability import capability_refresh, summary
from checkout.omise import OmiseError


class Command(BaseCommand):
    help = "Refresh the cached copy of the Omise account's payment methods (GET /capability)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="print nothing on success")

    def handle(self, *args, quiet: bool = False, **options):
        try:
            capability = capability_refresh()
        except OmiseError as error:
            raise CommandError(f"Could not read the account's capability: {error}") from None
        if not quiet:
            self.stdout.write(
                f"omise_capability: {len(capability.methods)} methods; {summary(capability)}"
            )
