"""Send every queued mail that is due (retries, and mails whose task was lost): run from cron."""

from django.core.management.base import BaseCommand

from mails.outbox import mails_send_due


class Command(BaseCommand):
    help = "Send the outbox's due mails (retries included). Safe to run at any time."

    def handle(self, *args, **options):
        sent = mails_send_due()
        self.stdout.write(f"{sent} mail(s) sent.")
