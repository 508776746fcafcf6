"""`manage.py prune_records`: delete security events and raw webhook deliveries past their
retention age (checkout/retention.py), keeping whatever is still needed.

Meant for cron (docs/operations.md), e.g. nightly:

    17 3 * * * cd /srv/shop && .venv/bin/python manage.py prune_records --quiet
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from checkout.retention import MIN_SECURITY_EVENT_DAYS, prune


class Command(BaseCommand):
    help = (
        "Delete security events older than SECURITY_EVENT_RETENTION_DAYS and webhook "
        "deliveries older than WEBHOOK_DELIVERY_RETENTION_DAYS; a delivery whose event is not "
        "applied yet is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go; delete nothing."
        )
        parser.add_argument(
            "--quiet", action="store_true", help="Print nothing when nothing was deleted."
        )

    def handle(self, *args, dry_run: bool, quiet: bool, **options) -> None:
        pruned = prune(dry_run=dry_run)
        if quiet and not (pruned.security_events or pruned.webhook_deliveries):
            return
        verb = "would delete" if dry_run else "deleted"
        days = max(settings.SECURITY_EVENT_RETENTION_DAYS, MIN_SECURITY_EVENT_DAYS)
        self.stdout.write(
            f"prune_records: {verb} {pruned.security_events} security events older than "
            f"{days} days and {pruned.webhook_deliveries} webhook deliveries older than "
            f"{settings.WEBHOOK_DELIVERY_RETENTION_DAYS} days; kept "
            f"{pruned.deliveries_kept} older deliveries whose event is not applied yet"
        )
