"""System checks on the Omise keys, the admin's second factor and the card guard, run by every
manage.py command.

Threats: a secret key that ends up where it must not be, and a shop quietly running in the
wrong mode. Swapping OMISE_PUBLIC_KEY and OMISE_SECRET_KEY sends the secret key to every
browser (the public key is printed into the checkout page). A live key with DEBUG on can leak
through a debug page. Mixing a test key with a live key, or running production on test keys,
makes every order fail or, worse, "succeed" without money moving. Each case is refused before
the first request is served, naming the variable and never printing the key itself.

Key shapes (docs: /work/shared/omise-api.md): public keys start `pkey_`, secret keys `skey_`;
test-mode keys carry `_test_` right after (`pkey_test_…`), live keys do not.
"""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

KEY_NAMES = ("OMISE_PUBLIC_KEY", "OMISE_SECRET_KEY", "OMISE_WEBHOOK_SECRET")
EXPECTED_PREFIX = {"OMISE_PUBLIC_KEY": "pkey_", "OMISE_SECRET_KEY": "skey_"}


def key_mode(key: str) -> str:
    """ "test" or "live" for an Omise public or secret key (the `_test_` infix decides)."""
    return "test" if key[len("pkey_"):].startswith("test_") else "live"


def mask_key(key: str) -> str:
    """A key as it may appear in output: its kind and mode, and at most its last 4 characters."""
    if not key:
        return "(empty)"
    prefix = key[:10] if key[5:].startswith("test_") else key[:5]
    return f"{prefix}…{key[-4:]}" if len(key) >= len(prefix) + 8 else f"{prefix}…"


@register(Tags.security)
def check_omise_keys(app_configs=None, **kwargs):
    """The Omise keys are present in production, of the right kind, and in one mode."""
    sandbox = getattr(settings, "OMISE_SANDBOX", False)
    keys = {name: getattr(settings, name, "") or "" for name in KEY_NAMES}
    problems = []

    missing = [name for name, value in keys.items() if not value]
    if missing and not settings.DEBUG and not sandbox:
        problems.append(Error(
            f"Production (DEBUG off) without {', '.join(missing)}.",
            hint="Set them in the environment (docs/keys.md); never in code or a committed file.",
            id="shop.E001",
        ))

    for name, prefix in EXPECTED_PREFIX.items():
        value = keys[name]
        if value and not value.startswith(prefix):
            swapped = value.startswith("skey_") and name == "OMISE_PUBLIC_KEY"
            problems.append(Error(
                f"{name} does not start with {prefix!r}"
                + (": it holds a secret key, which would be sent to every browser." if swapped
                   else "."),
                hint="Public keys (pkey_…) go in OMISE_PUBLIC_KEY, secret keys (skey_…) in "
                "OMISE_SECRET_KEY. If a secret key was ever served to browsers, roll it "
                "(docs/keys.md).",
                id="shop.E002",
            ))
    public, secret = keys["OMISE_PUBLIC_KEY"], keys["OMISE_SECRET_KEY"]
    well_formed = public.startswith("pkey_") and secret.startswith("skey_")
    if any(problem.id == "shop.E002" for problem in problems):
        return problems  # modes of keys in the wrong variables would only add noise

    if well_formed and key_mode(public) != key_mode(secret):
        problems.append(Error(
            f"OMISE_PUBLIC_KEY is a {key_mode(public)} key but OMISE_SECRET_KEY is a "
            f"{key_mode(secret)} key.",
            hint="Copy both keys from the same mode (test or live) of the Omise dashboard.",
            id="shop.E003",
        ))
    live = [name for name in EXPECTED_PREFIX if keys[name] and key_mode(keys[name]) == "live"]
    if live and settings.DEBUG:
        problems.append(Error(
            f"Live Omise key ({', '.join(live)}) with DEBUG on.",
            hint="Debug pages and logs of a development machine can show settings: use test "
            "keys (pkey_test_…, skey_test_…) or the sandbox while DEBUG is on.",
            id="shop.E004",
        ))
    test = [name for name in EXPECTED_PREFIX if keys[name] and key_mode(keys[name]) == "test"]
    if test and not settings.DEBUG:
        problems.append(Warning(
            f"Test-mode Omise key ({', '.join(test)}) in production (DEBUG off): no real "
            "payment can be taken.",
            hint="Fine for a staging server; a shop taking real orders needs live keys.",
            id="shop.W001",
        ))
    return problems


@register(Tags.security)
def check_otp_throttling(app_configs=None, **kwargs):
    """Wrong second-factor codes must keep being throttled (a factor of 0 disables it)."""
    problems = []
    for name in ("OTP_TOTP_THROTTLE_FACTOR", "OTP_STATIC_THROTTLE_FACTOR"):
        if getattr(settings, name, 1) <= 0:
            problems.append(Error(
                f"{name} is {getattr(settings, name)}: wrong 2FA codes would not be throttled, "
                "so a 6-digit code could be guessed.",
                hint="Leave it at 1 (the waits double from 1 second per wrong code).",
                id="shop.E005",
            ))
    return problems


@register(Tags.security)
def check_card_guard_compiled(app_configs=None, **kwargs):
    """Production should run the card guard's compiled first pass (shop/_cardscan.c).

    Without it the guard is just as strict, only slower on large bodies, which an attacker can
    send to tie up workers. The build skips the module quietly where no C compiler is at hand,
    so this says so, once, where the merchant looks.
    """
    from shop import cardguard

    if settings.DEBUG or (cardguard._compiled_candidates and cardguard._compiled_any_candidate):
        return []
    if cardguard._compiled_candidates is not None:
        return [Warning(
            "The card guard's compiled first pass is out of date: shop/_cardscan.c changed "
            "since it was built, and forms are checked the slower way.",
            hint="Run `pip install -e '.[prod]'` again where the shop is installed.",
            id="shop.W002",
        )]
    return [Warning(
        "The card guard runs its pure-Python first pass: shop/_cardscan.c was not built.",
        hint="Install a C compiler and Python's headers where the shop is installed (Debian: "
        "build-essential python3-dev), then `pip install -e '.[prod]'` again "
        "(docs/card-guard.md). A 1 MiB form costs about twice as much to check without it.",
        id="shop.W002",
    )]
