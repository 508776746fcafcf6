"""`manage.py omise_contract`: run the contract checks (checkout/contract.py) against the
configured Omise API and print what differs from what the shop relies on.

    OMISE_SECRET_KEY=skey_test_… OMISE_PUBLIC_KEY=pkey_test_… \\
        .venv/bin/python manage.py omise_contract

Test keys only: it creates charges, refunds and a dispute. Exits non-zero when any check
fails, naming it and the difference (docs/sandbox.md).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from checkout.contract import contract_run
from checkout.omise import OmiseClient
from security.checks import key_mode


class Command(BaseCommand):
    help = (
        "Compare the configured Omise API's answers (the sandbox, or Omise with test keys) with "
        "what this shop relies on. Test keys only."
    )

    def handle(self, *args, **options):
        secret, public = settings.OMISE_SECRET_KEY, settings.OMISE_PUBLIC_KEY
        if key_mode(secret) != "test" or key_mode(public) != "test":
            raise CommandError(
                "omise_contract makes charges, refunds and a dispute: it runs with test keys "
                "(skey_test_…, pkey_test_…) only."
            )
        timeout = (5.0, 30.0)
        api = OmiseClient(
            secret_key=secret,
            public_key=public,
            api_url=settings.OMISE_API_URL,
            vault_url=settings.OMISE_VAULT_URL,
            proxy_url=settings.OMISE_PROXY_URL,
            timeout=timeout,
        )
        # The public key on the API host, as Omise.js creates sources.
        public_api = OmiseClient(
            secret_key=public,
            public_key=public,
            api_url=settings.OMISE_API_URL,
            vault_url=settings.OMISE_VAULT_URL,
            proxy_url=settings.OMISE_PROXY_URL,
            timeout=timeout,
        )
        self.stdout.write(f"Omise contract against {api.api_url}")
        try:
            results = contract_run(api=api, public=public_api)
        finally:
            api.close()
            public_api.close()
        width = max(len(r.name) for r in results)
        for result in results:
            mark = "ok  " if result.ok else "FAIL"
            line = f"{mark} {result.name.ljust(width)}  {result.relies_on}"
            if not result.ok:
                line += f"\n     {'':{width}}  → {result.detail}"
            self.stdout.write(line)
        failed = [r.name for r in results if not r.ok]
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(results)} checks differ from what the shop relies on: "
                + ", ".join(failed)
            )
        self.stdout.write(f"All {len(results)} checks hold.")
