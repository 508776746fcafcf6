"""Create (or update) an admin user and enrol its TOTP device, printing the QR code to scan.

Threat: default or shared admin credentials, and admins without a second factor. There is no
built-in account: this command is the one way to make an admin, it refuses to invent a password
(it prompts, or reads a variable named with --password-from-env), and it always gives the user a
TOTP device, because the admin (security/otp_admin.py) serves nothing to a user without one.

    .venv/bin/python manage.py enroll_admin alice --backup-codes 5

Run again for an existing user to replace a lost phone: old TOTP devices (and old backup
codes, when new ones are asked for) stop working at once. The password is kept unless
--set-password or --password-from-env is given.
"""

import getpass
import io
import os
import sys

import qrcode
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

CONFIRM_ATTEMPTS = 3


class Command(BaseCommand):
    help = "Create or update a superuser and enrol a TOTP device (prints an otpauth:// QR code)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="e-mail address of a new user")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="read the password from this environment variable (scripts); default: prompt",
        )
        parser.add_argument(
            "--set-password",
            action="store_true",
            help="prompt for a new password for an existing user",
        )
        parser.add_argument(
            "--backup-codes",
            type=int,
            default=0,
            metavar="N",
            help="also create N single-use backup codes (replacing any old ones)",
        )

    def handle(
        self, *args, username, email, password_from_env, set_password, backup_codes, **options
    ):
        if not 0 <= backup_codes <= 20:
            raise CommandError("--backup-codes must be between 0 and 20.")
        interactive = sys.stdin.isatty()
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            user = User(**{User.USERNAME_FIELD: username}, email=email)
        needs_password = user.pk is None or set_password or password_from_env
        password = self._password(user, password_from_env, interactive) if needs_password else None

        with transaction.atomic():
            if password is not None:
                user.set_password(password)
            user.is_staff = user.is_superuser = user.is_active = True
            user.save()
            # A lost or replaced phone must stop working: one TOTP device per admin.
            TOTPDevice.objects.filter(user=user).delete()
            device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
            codes = self._backup_codes(user, backup_codes) if backup_codes else []

        uri = device.config_url
        self.stdout.write(
            "Scan this QR code with an authenticator app (Aegis, Google Authenticator, "
            "1Password…). It holds the device's secret: do not share or screenshot it.\n"
        )
        self.stdout.write(render_qr(uri))
        self.stdout.write(f"Or enter this URI by hand:\n{uri}\n")
        if codes:
            self.stdout.write(
                "Backup codes (each works once; store them offline, e.g. in a password "
                "manager):\n" + "\n".join(f"  {code}" for code in codes) + "\n"
            )

        if interactive:
            self._confirm(device)
        else:
            device.confirmed = True  # scripted enrolment: whoever runs it holds the URI
            device.save(update_fields=["confirmed"])
        self.stdout.write(
            self.style.SUCCESS(
                f"{username} can now log in at {settings.SHOP_ORIGIN}/admin/ with the password "
                "and the 6-digit code from the app."
            )
        )

    def _password(self, user, variable, interactive) -> str:
        if variable:
            password = os.environ.get(variable, "")
            if not password:
                raise CommandError(f"Environment variable {variable} is empty or not set.")
        elif interactive:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        else:
            raise CommandError(
                "No password: run in a terminal to be prompted, or pass --password-from-env VAR. "
                "There is no default password."
            )
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError("Password refused: " + " ".join(error.messages)) from None
        return password

    def _backup_codes(self, user, count: int) -> list[str]:
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="backup codes", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(count)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
        return codes

    def _confirm(self, device) -> None:
        """Ask for a code from the app: the device is confirmed only once it has shown one."""
        for _ in range(CONFIRM_ATTEMPTS):
            if device.verify_token(input("Code shown by the app: ").strip()):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                return
            self.stderr.write("That code does not match; check the phone's clock and retry.")
        raise CommandError("Device not confirmed: run the command again to enrol.")


def render_qr(data: str) -> str:
    """The QR code as text for a terminal (dark-on-light, the way phones read it best)."""
    code = qrcode.QRCode(border=2)
    code.add_data(data)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()
