"""System checks on the Omise keys and the admin's second factor, run by every manage.py
command; and, run by `manage.py check --deploy` only, checks that production settings
do not quietly weaken the rate limits or send the secret key somewhere else (see
`check_shared_cache` and below).

Threats: a secret key that ends up where it must not be, and a shop quietly running in the
wrong mode. Swapping OMISE_PUBLIC_KEY and OMISE_SECRET_KEY sends the secret key to every
browser (the public key is printed into the checkout page). A live key with DEBUG on can leak
through a debug page. Mixing a test key with a live key, or running production on test keys,
makes every order fail or, worse, "succeed" without money moving. Each case is refused before
the first request is served, naming the variable and never printing the key itself.

Key shapes (Omise's docs: https://docs.omise.co/api-authentication): public keys start
`pkey_`, secret keys `skey_`; test-mode keys carry `_test_` right after (`pkey_test_…`), live
keys do not.
"""

import base64
import binascii
import re

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

KEY_NAMES = ("OMISE_PUBLIC_KEY", "OMISE_SECRET_KEY", "OMISE_WEBHOOK_SECRET")
EXPECTED_PREFIX = {"OMISE_PUBLIC_KEY": "pkey_", "OMISE_SECRET_KEY": "skey_"}


def key_mode(key: str) -> str:
    """ "test" or "live" for an Omise public or secret key (the `_test_` infix decides)."""
    return "test" if key[len("pkey_") :].startswith("test_") else "live"


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
    problems: list[CheckMessage] = []

    missing = [name for name, value in keys.items() if not value]
    if missing and not settings.DEBUG and not sandbox:
        problems.append(
            Error(
                f"Production (DEBUG off) without {', '.join(missing)}.",
                hint="Set them in the environment (docs/keys.md); never in code or a "
                "committed file.",
                id="shop.E001",
            )
        )

    for name, prefix in EXPECTED_PREFIX.items():
        value = keys[name]
        if value and not value.startswith(prefix):
            swapped = value.startswith("skey_") and name == "OMISE_PUBLIC_KEY"
            problems.append(
                Error(
                    f"{name} does not start with {prefix!r}"
                    + (
                        ": it holds a secret key, which would be sent to every browser."
                        if swapped
                        else "."
                    ),
                    hint="Public keys (pkey_…) go in OMISE_PUBLIC_KEY, secret keys (skey_…) in "
                    "OMISE_SECRET_KEY. If a secret key was ever served to browsers, roll it "
                    "(docs/keys.md).",
                    id="shop.E002",
                )
            )
    public, secret = keys["OMISE_PUBLIC_KEY"], keys["OMISE_SECRET_KEY"]
    well_formed = public.startswith("pkey_") and secret.startswith("skey_")
    if any(problem.id == "shop.E002" for problem in problems):
        return problems  # modes of keys in the wrong variables would only add noise

    if well_formed and key_mode(public) != key_mode(secret):
        problems.append(
            Error(
                f"OMISE_PUBLIC_KEY is a {key_mode(public)} key but OMISE_SECRET_KEY is a "
                f"{key_mode(secret)} key.",
                hint="Copy both keys from the same mode (test or live) of the Omise dashboard.",
                id="shop.E003",
            )
        )
    live = [name for name in EXPECTED_PREFIX if keys[name] and key_mode(keys[name]) == "live"]
    if live and settings.DEBUG:
        problems.append(
            Error(
                f"Live Omise key ({', '.join(live)}) with DEBUG on.",
                hint="Debug pages and logs of a development machine can show settings: use test "
                "keys (pkey_test_…, skey_test_…) or the sandbox while DEBUG is on.",
                id="shop.E004",
            )
        )
    test = [name for name in EXPECTED_PREFIX if keys[name] and key_mode(keys[name]) == "test"]
    if test and not settings.DEBUG:
        problems.append(
            Warning(
                f"Test-mode Omise key ({', '.join(test)}) in production (DEBUG off): no real "
                "payment can be taken.",
                hint="Fine for a staging server; a shop taking real orders needs live keys.",
                id="shop.W001",
            )
        )
    return problems


@register(Tags.security)
def check_otp_throttling(app_configs=None, **kwargs):
    """Wrong second-factor codes must keep being throttled (a factor of 0 disables it)."""
    problems = []
    for name in ("OTP_TOTP_THROTTLE_FACTOR", "OTP_STATIC_THROTTLE_FACTOR"):
        if getattr(settings, name, 1) <= 0:
            problems.append(
                Error(
                    f"{name} is {getattr(settings, name)}: wrong 2FA codes would not be throttled, "
                    "so a 6-digit code could be guessed.",
                    hint="Leave it at 1 (the waits double from 1 second per wrong code).",
                    id="shop.E005",
                )
            )
    return problems


# --- Deployment checks (`manage.py check --deploy`) -------------------------------------------
# Like Django's own security checks: one small function per setting, a stable id, a message
# saying what is wrong and a hint saying how to fix it. None prints a secret: not a key, not
# the webhook secret, not a URL (it may carry a password), not a cache's LOCATION.

# Cache backends whose add() and incr() are one atomic operation on a server every worker (and
# every host) talks to, and their subclasses (config.cache.RedisCache is Django's RedisCache).
# Anything else is refused, for three different reasons:
# - LocMemCache counts in each worker's memory: N workers give N times the tries;
#   DummyCache counts nothing at all: the limits never trigger.
# - FileBasedCache is shared by the workers of one host only, and, like DatabaseCache (shared
#   by every host), implements add() as "has_key, then set" or incr() as "get, then set": two
#   workers serving simultaneous requests both read the old count and both pass. An attacker
#   chooses to send requests simultaneously, so on these backends the limits leak exactly
#   when they are attacked.
# - An unknown backend may be either: the check cannot tell, so it fails closed. A merchant
#   sure of theirs silences shop.E006 in SILENCED_SYSTEM_CHECKS.
SHARED_CACHE_BASES = (
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.BaseMemcachedCache",
)
SHARED_CACHE_PATHS = frozenset({"django_redis.cache.RedisCache"})  # not a subclass of Django's


def cache_is_shared(backend_path: str) -> bool:
    """Whether a CACHES BACKEND keeps one atomic count for all worker processes."""
    if backend_path in SHARED_CACHE_PATHS:
        return True
    try:
        backend = import_string(backend_path)
    except ImportError:
        return False
    bases = tuple(import_string(path) for path in SHARED_CACHE_BASES)
    return isinstance(backend, type) and issubclass(backend, bases)


@register(Tags.security, deploy=True)
def check_shared_cache(app_configs=None, **kwargs):
    """Production's default cache, where every rate limit counts, is shared by all workers.

    Only CACHES["default"]: CACHES["catalog"] is per-process on purpose (shop/catalog.py).
    """
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if settings.DEBUG or cache_is_shared(backend):
        return []
    return [
        Error(
            f"The default cache ({backend.rpartition('.')[2] or 'none'}) does not keep one atomic "
            "count for all worker processes, and DEBUG is off: the admin login lockout and the "
            "checkout velocity limits would count per worker, lose counts to simultaneous "
            "requests, or not count at all (on 3 workers, 3 times the password guesses and card "
            "declines).",
            hint="Set CACHE_URL to a Redis server shared by every worker and host (redis://…; "
            "Memcached also works). LocMemCache and DummyCache are per process; FileBasedCache "
            "(one host) and DatabaseCache read then write, so simultaneous requests slip through. "
            "CACHES['catalog'] may stay per process.",
            id="shop.E006",
        )
    ]


@register(Tags.security, deploy=True)
def check_trusted_proxy_count(app_configs=None, **kwargs):
    """A TLS proxy in front (SECURE_PROXY_SSL_HEADER) but TRUSTED_PROXY_COUNT left at 0.

    Then REMOTE_ADDR is the proxy's address for every shopper (security/clientip.py), so all of
    them share one per-IP bucket: 5 declines by anyone block the checkout for everyone, 20
    wrong admin passwords lock every admin out, and Omise's fraud scoring gets the proxy's IP.
    A warning, not an error: the check cannot see the application server, and some (uvicorn
    --proxy-headers, the PROXY protocol) already put the client's address in REMOTE_ADDR,
    where 0 is right. Raising the count blindly would be worse (clients could then spoof
    X-Forwarded-For), so the hint asks to count the proxies. `check --deploy --fail-level
    WARNING` still stops on it.
    """
    if not getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        return []
    if getattr(settings, "TRUSTED_PROXY_COUNT", 0) > 0:
        return []
    return [
        Warning(
            "SECURE_PROXY_SSL_HEADER is set (a proxy is in front) but TRUSTED_PROXY_COUNT is 0: "
            "every shopper then has the proxy's address, so the per-IP limits block everyone at "
            "once (5 declines by anyone) and Omise's fraud checks see one IP.",
            hint="Set TRUSTED_PROXY_COUNT to the number of proxies that append X-Forwarded-For "
            "(nginx alone: 1; see docs/deploy.md), no more: a higher count lets clients forge "
            "their address. If your application server already puts the client's address in "
            "REMOTE_ADDR, silence shop.W003.",
            id="shop.W003",
        )
    ]


OMISE_URL_NAMES = ("OMISE_API_URL", "OMISE_VAULT_URL", "OMISE_JS_URL")
# https://, then a host of dot-separated labels (no empty label: no trailing dot), an optional
# :443, then nothing or a path. ASCII only, nothing else in the authority: no userinfo
# (`https://api.omise.co@evil.com`), no backslash or percent-escape that parsers read two ways.
_HTTPS_URL = re.compile(
    r"https://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::443)?(?:/[!-~]*)?", re.ASCII | re.IGNORECASE
)


def is_omise_url(url: str) -> bool:
    """An https:// URL whose host is omise.co or a subdomain of it, and nothing that only looks so.

    Host names are case-insensitive (`https://API.OMISE.CO` is Omise); `omise.co.evil.com`,
    `evilomise.co`, `api.omise.co.` and other ports are not.
    """
    match = _HTTPS_URL.fullmatch(url or "")
    if match is None:
        return False
    host = match.group(1).lower()
    return host == "omise.co" or host.endswith(".omise.co")


@register(Tags.security, deploy=True)
def check_omise_urls(app_configs=None, **kwargs):
    """With the sandbox off, the Omise URLs are HTTPS on Omise's own hosts.

    The client sends the secret key with every API call and the vault and Omise.js receive
    card numbers: over plain HTTP they travel in clear, on another host someone else gets them.
    """
    if getattr(settings, "OMISE_SANDBOX", False):
        return []
    wrong = [name for name in OMISE_URL_NAMES if not is_omise_url(getattr(settings, name, ""))]
    if not wrong:
        return []
    verb = "is not an https:// URL" if len(wrong) == 1 else "are not https:// URLs"
    return [
        Error(
            f"{', '.join(wrong)} {verb} on an Omise host (omise.co or a subdomain), and the "
            "sandbox is off: the secret key and card data would go in clear or to another host.",
            hint="Unset them to use Omise's defaults (https://api.omise.co, "
            "https://vault.omise.co, https://cdn.omise.co/omise.js), or write Omise's host "
            "exactly: https://, no user, port or trailing dot. For a fixed egress IP use "
            "OMISE_PROXY_URL, not these.",
            id="shop.E007",
        )
    ]


def webhook_secret_is_valid(secret: str) -> bool:
    """What checkout/webhooks.py verify_signature accepts: strict base64, and at least one byte.

    (`b64decode(…, validate=True)` gives zero bytes only for "", which is "not set"; an empty
    HMAC key would let anyone sign, so zero bytes is refused all the same.)
    """
    try:
        return bool(base64.b64decode(secret, validate=True))
    except (binascii.Error, ValueError):
        return False


@register(Tags.security, deploy=True)
def check_webhook_secret(app_configs=None, **kwargs):
    """A set OMISE_WEBHOOK_SECRET decodes as verify_signature decodes it.

    Otherwise every webhook is refused ("server misconfigured"), so paid orders never leave
    "pending" until reconciled. A missing secret is shop.E001's case.
    """
    secret = getattr(settings, "OMISE_WEBHOOK_SECRET", "") or ""
    if not secret or webhook_secret_is_valid(secret):
        return []
    return [
        Error(
            "OMISE_WEBHOOK_SECRET is not valid base64 (or decodes to nothing): every webhook "
            "from Omise would be refused and paid orders would stay pending.",
            hint="Copy the webhook secret again from the Omise dashboard (docs/keys.md), as shown: "
            "standard base64 (A-Z, a-z, 0-9, +, /, = padding), no spaces, quotes or line breaks.",
            id="shop.E008",
        )
    ]
