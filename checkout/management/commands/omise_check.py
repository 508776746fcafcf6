"""Check the Omise keys against the API: mode, account, the path requests leave by, and the
payment methods the account has (its capability, which the checkout offers from).

Threat: finding out at the first real order that the keys are wrong, swapped or in the wrong
mode, and not knowing which IP address Omise sees (the "secret key used from a new IP" e-mail
only means something when that address is fixed; see docs/keys.md). Run it after every key
change or deploy:

    .venv/bin/python manage.py omise_check

It never prints a key (at most its kind, mode and last 4 characters) nor a proxy's password,
and exits non-zero on any problem, so a deploy script can stop on it.
"""

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.checks import ERROR
from django.core.management.base import BaseCommand, CommandError

from checkout.capability import capability_refresh, describe, summary
from checkout.omise import OmiseAPIError, OmiseError, OmiseNetworkError, get_client
from security.checks import check_omise_keys, key_mode, mask_key


def proxy_for_display(url: str) -> str:
    """The proxy URL without credentials (Fixie-style URLs carry `user:password@`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, "", "", ""))


class Command(BaseCommand):
    help = "Verify the Omise keys against the API and show the mode and egress path."

    def handle(self, *args, **options):
        public, secret = settings.OMISE_PUBLIC_KEY, settings.OMISE_SECRET_KEY
        proxy = getattr(settings, "OMISE_PROXY_URL", "")
        mode = key_mode(secret) if secret else "none"
        sandbox = " (offline sandbox)" if settings.OMISE_SANDBOX else ""
        self.stdout.write(f"Mode:    {mode}{sandbox}")
        self.stdout.write(f"Keys:    public {mask_key(public)}, secret {mask_key(secret)}")
        self.stdout.write(f"API:     {settings.OMISE_API_URL}")
        self.stdout.write(
            f"Egress:  {'via proxy ' + proxy_for_display(proxy) if proxy else 'direct'}"
            + ("" if proxy else " (Omise sees this server's own outbound IP; see docs/keys.md)")
        )

        problems = check_omise_keys()
        for problem in problems:
            self.stderr.write(f"{problem.id}: {problem.msg}")
        if any(problem.level >= ERROR for problem in problems):
            raise CommandError("The Omise key settings are wrong (see above); nothing was sent.")

        try:
            account = get_client().retrieve_account()
        except OmiseAPIError as error:
            if error.code == "authentication_failure":
                raise CommandError(
                    "Omise refused the secret key (authentication_failure). Copy the secret key "
                    f"of {mode} mode from the dashboard again; if it was rolled, the old one "
                    "stops working 60 minutes later."
                ) from None
            raise CommandError(f"Omise answered an error: {error.code}: {error.message}") from None
        except OmiseNetworkError as error:
            raise CommandError(
                f"Could not reach Omise {'through the proxy' if proxy else 'directly'}: {error}"
            ) from None

        livemode = account.get("livemode")
        if livemode is not None and livemode != (mode == "live"):
            raise CommandError(
                f"The key looks like a {mode} key but Omise answered livemode={livemode}."
            )
        self.stdout.write(
            f"Account: {account.get('id', '?')} ({account.get('email') or 'no e-mail'})"
        )
        self._check_public_key(mode)
        self._show_methods()
        self.stdout.write(self.style.SUCCESS(f"OK: both keys work in {mode} mode."))

    def _show_methods(self) -> None:
        """The account's payment methods (`GET /capability`), read now and cached for the
        checkout. A capability that cannot be read is reported, not fatal: the keys work."""
        try:
            capability = capability_refresh()
        except OmiseError as error:
            self.stderr.write(f"Methods: could not read the account's capability: {error}")
            return
        self.stdout.write(f"Methods: {summary(capability)}")
        for row in describe(capability):
            offered = "offered" if row.offered else "not offered by this shop"
            terms = f", {row.terms} months" if row.terms else ""
            self.stdout.write(
                f"  {row.name:<26} {row.label} ({row.currencies}{terms}) — {offered}; {row.refunds}"
            )

    @staticmethod
    def _check_public_key(mode: str) -> None:
        """Omise's vault judges a card only once it has accepted the public key: an empty card
        answered `invalid_card` proves the key works, with no card data sent, no token made."""
        try:
            get_client().create_token(card={})
        except OmiseAPIError as error:
            if error.code == "authentication_failure":
                raise CommandError(
                    "Omise's vault refused the public key (authentication_failure). Copy the "
                    f"public key of {mode} mode from the dashboard again."
                ) from None
            if error.code not in {"invalid_card", "bad_request"}:
                raise CommandError(
                    f"Omise's vault answered an error: {error.code}: {error.message}"
                ) from None
        except OmiseNetworkError as error:
            raise CommandError(f"Could not reach Omise's vault: {error}") from None
