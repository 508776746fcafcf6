"""`manage.py check --deploy` refuses production settings that quietly weaken the rate limits
or send the secret key elsewhere: a per-process cache (shop.E006), a proxy without
TRUSTED_PROXY_COUNT (shop.W003), Omise URLs that are not HTTPS on Omise's hosts (shop.E007), a
webhook secret verify_signature cannot decode (shop.E008). Never printing a secret."""

import base64
import secrets
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from django.core.checks import ERROR, WARNING, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from checkout.webhooks import verify_signature
from security.checks import (
    check_omise_urls,
    check_shared_cache,
    check_trusted_proxy_count,
    check_webhook_secret,
    is_omise_url,
)
from tests.support import production_env

ROOT = Path(__file__).resolve().parents[2]
NEW_IDS = {"shop.E006", "shop.W003", "shop.E007", "shop.E008"}
REDIS = {"BACKEND": "config.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/0"}
CATALOG = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "catalog"}


def webhook_secret() -> str:
    """A fresh secret shaped like Omise's (standard base64 of 32 random bytes)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def production(**changes):
    """A production host done right (DEBUG and sandbox off, Redis, Omise's own URLs), changed."""
    values = {
        "DEBUG": False,
        "OMISE_SANDBOX": False,
        "CACHES": {"default": REDIS, "catalog": CATALOG},
        "SECURE_PROXY_SSL_HEADER": None,
        "TRUSTED_PROXY_COUNT": 0,
        "OMISE_API_URL": "https://api.omise.co",
        "OMISE_VAULT_URL": "https://vault.omise.co",
        "OMISE_JS_URL": "https://cdn.omise.co/omise.js",
        "OMISE_WEBHOOK_SECRET": webhook_secret(),
    }
    values.update(changes)
    return override_settings(**values)


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def text(messages) -> str:
    return " ".join(f"{message.msg} {message.hint}" for message in messages)


def test_production_done_right_passes_every_new_check():
    """Redis, no proxy, Omise's URLs, a base64 secret: none of the four says anything."""
    with production():
        for check in (
            check_shared_cache,
            check_trusted_proxy_count,
            check_omise_urls,
            check_webhook_secret,
        ):
            assert check() == [], check.__name__


# --- shop.E006: the default cache is shared by every worker ------------------------------------


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.locmem.LocMemCache",  # each worker its own count
        "django.core.cache.backends.dummy.DummyCache",  # no count at all
        "django.core.cache.backends.filebased.FileBasedCache",  # one host; has_key then set
        "django.core.cache.backends.db.DatabaseCache",  # get then set: simultaneous requests pass
        "someone.elses.UnknownCache",  # cannot tell: fails closed
    ],
)
def test_a_cache_without_one_atomic_count_is_an_error_in_production(backend):
    """A per-process (or racy) default cache gives each worker its own lockout and velocity
    counts: shop.E006, an error."""
    caches = {"default": {"BACKEND": backend, "LOCATION": "var/shop-cache"}, "catalog": CATALOG}
    with production(CACHES=caches):
        messages = check_shared_cache()
    assert ids(messages) == ["shop.E006"]
    assert messages[0].level == ERROR
    assert backend.rpartition(".")[2] in messages[0].msg
    assert "CACHE_URL" in messages[0].hint


@pytest.mark.parametrize(
    "backend",
    [
        "config.cache.RedisCache",  # what settings swap in for Django's
        "django.core.cache.backends.redis.RedisCache",
        "django.core.cache.backends.memcached.PyMemcacheCache",
        "django.core.cache.backends.memcached.PyLibMCCache",
        "django_redis.cache.RedisCache",  # known by name: need not be installed here
    ],
)
def test_a_shared_cache_server_passes(backend):
    """Redis and Memcached (atomic add/incr on one server for all workers) are fine, and the
    catalog's per-process cache beside them does not count."""
    with production(CACHES={"default": {"BACKEND": backend, "LOCATION": "x"}, "catalog": CATALOG}):
        assert check_shared_cache() == []


def test_a_per_process_cache_is_fine_while_debug_is_on():
    """Development (one runserver process) keeps its local-memory cache without a word."""
    with production(DEBUG=True, CACHES={"default": CATALOG}):
        assert check_shared_cache() == []


def test_the_cache_message_never_shows_its_location():
    """A cache LOCATION may carry a password: the message names the backend only."""
    location = f"redis://:{secrets.token_hex(8)}@cache.internal:6379/0"
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": location,
        }
    }
    with production(CACHES=caches):
        messages = check_shared_cache()
    assert messages and location not in text(messages) and "cache.internal" not in text(messages)


# --- shop.W003: a TLS proxy in front, TRUSTED_PROXY_COUNT left at 0 ----------------------------


def test_a_proxy_header_without_trusted_proxies_warns():
    """Behind a proxy with TRUSTED_PROXY_COUNT=0 every shopper has the proxy's address:
    shop.W003, a warning (which `check --deploy --fail-level WARNING` still stops on)."""
    with production(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        messages = check_trusted_proxy_count()
    assert ids(messages) == ["shop.W003"]
    assert messages[0].level == WARNING
    assert "TRUSTED_PROXY_COUNT" in messages[0].msg and "TRUSTED_PROXY_COUNT" in messages[0].hint


@pytest.mark.parametrize(
    "header, count",
    [
        (("HTTP_X_FORWARDED_PROTO", "https"), 1),  # nginx in front, counted
        (("HTTP_X_FORWARDED_PROTO", "https"), 2),  # a CDN and nginx
        (None, 0),  # no proxy at all: REMOTE_ADDR is the client
    ],
)
def test_a_counted_proxy_or_no_proxy_passes(header, count):
    with production(SECURE_PROXY_SSL_HEADER=header, TRUSTED_PROXY_COUNT=count):
        assert check_trusted_proxy_count() == []


# --- shop.E007: the Omise URLs are https:// on omise.co or a subdomain -------------------------

OMISE_URLS = [
    "https://api.omise.co",
    "https://vault.omise.co/",
    "https://cdn.omise.co/omise.js",
    "https://omise.co",
    "https://API.OMISE.CO",  # host names are case-insensitive: still Omise
    "HTTPS://Vault.Omise.Co",
    "https://api.omise.co:443",  # the HTTPS port, written out
]
NOT_OMISE_URLS = [
    "http://api.omise.co",  # the secret key in clear
    "http://cdn.omise.co/omise.js",
    "https://api.omise.co.evil.com",  # look-alike: a subdomain of evil.com
    "https://API.OMISE.CO.EVIL.COM",
    "https://evilomise.co",  # look-alike: not a subdomain
    "https://api-omise.co",
    "https://api.omise.com",
    "https://api.omise.co@evil.com",  # userinfo: the host is evil.com
    "https://evil.com@api.omise.co",  # userinfo on Omise's host: refused as well
    "https://evil.com\\@api.omise.co",  # backslash: read as evil.com by WHATWG parsers
    "https://api.omise.co%2eevil.com",
    "https://api.omise.co#@evil.com",
    "https://api.omise.co?@evil.com",
    "https://api.omise.co:8443",  # another port
    "https://api.omise.co:80",
    "https://api.omise.co.",  # trailing dot
    "https://.omise.co",
    "https://api..omise.co",
    "https://api.omise.co\t.evil.com",  # Python's parser drops the tab: api.omise.co.evil.com
    " https://api.omise.co",
    "https://api.omise.co /x",
    "https://аpi.omise.co",  # Cyrillic а
    "//api.omise.co",
    "ftp://api.omise.co",
    "",
]


@pytest.mark.parametrize("url", OMISE_URLS)
def test_omise_hosts_over_https_are_omise(url):
    assert is_omise_url(url)


@pytest.mark.parametrize("url", NOT_OMISE_URLS)
def test_plain_http_and_look_alike_hosts_are_not_omise(url):
    assert not is_omise_url(url)


@pytest.mark.parametrize("name", ["OMISE_API_URL", "OMISE_VAULT_URL", "OMISE_JS_URL"])
@pytest.mark.parametrize("url", NOT_OMISE_URLS)
def test_a_url_off_omise_is_an_error_naming_the_variable(name, url):
    """Each variable, each look-alike: shop.E007, naming that variable and no other."""
    with production(**{name: url}):
        messages = check_omise_urls()
    assert ids(messages) == ["shop.E007"]
    assert messages[0].level == ERROR
    assert messages[0].msg.startswith(f"{name} is not")
    others = {"OMISE_API_URL", "OMISE_VAULT_URL", "OMISE_JS_URL"} - {name}
    assert not any(other in messages[0].msg for other in others)


def test_several_wrong_urls_are_named_in_one_error():
    with production(OMISE_API_URL="http://api.omise.co", OMISE_JS_URL="https://evilomise.co/x.js"):
        messages = check_omise_urls()
    assert ids(messages) == ["shop.E007"]
    assert messages[0].msg.startswith("OMISE_API_URL, OMISE_JS_URL are not")


@pytest.mark.parametrize("url", OMISE_URLS)
def test_omise_urls_pass(url):
    with production(OMISE_API_URL=url, OMISE_VAULT_URL=url, OMISE_JS_URL=url):
        assert check_omise_urls() == []


def test_the_sandbox_may_use_plain_http():
    """Development's sandbox lives on http://localhost: not Omise, and no real key goes there."""
    with production(
        DEBUG=True,
        OMISE_SANDBOX=True,
        OMISE_API_URL="http://localhost:8000/sandbox/api",
        OMISE_VAULT_URL="http://localhost:8000/sandbox/vault",
        OMISE_JS_URL="http://localhost:8000/sandbox/omise.js",
    ):
        assert check_omise_urls() == []


def test_the_url_message_never_shows_the_url():
    """A URL may carry a password (https://user:password@host): only the variable is named."""
    password = secrets.token_hex(8)
    with production(OMISE_API_URL=f"https://merchant:{password}@proxy.example"):
        messages = check_omise_urls()
    assert messages and password not in text(messages) and "proxy.example" not in text(messages)


# --- shop.E008: OMISE_WEBHOOK_SECRET decodes as verify_signature decodes it --------------------

NOT_BASE64 = [
    secrets.token_urlsafe(32),  # URL-safe alphabet, no padding: "-", "_"
    base64.b64encode(secrets.token_bytes(32)).decode().rstrip("="),  # padding lost
    " " + webhook_secret(),  # pasted with a space
    webhook_secret() + "\n",  # or a line break
    f'"{webhook_secret()}"',  # or its quotes
    secrets.token_hex(31),  # 62 characters: no multiple of 4
    "whsec_" + secrets.token_hex(16),
    "AA==AA==",  # data after padding
    "====",
    "sécret==",  # not ASCII
]


def test_every_refused_secret_is_really_not_base64():
    """The list above is what it says (the padding one has 32 bytes: 44 → 43 characters)."""
    for secret in NOT_BASE64:
        with pytest.raises(ValueError):  # binascii.Error is a ValueError
            base64.b64decode(secret, validate=True)


@pytest.mark.parametrize("secret", NOT_BASE64)
def test_a_webhook_secret_that_is_not_base64_is_an_error(secret):
    """Every webhook would be refused as "server misconfigured": shop.E008, secret unprinted."""
    with production(OMISE_WEBHOOK_SECRET=secret):
        messages = check_webhook_secret()
    assert ids(messages) == ["shop.E008"]
    assert messages[0].level == ERROR
    assert "OMISE_WEBHOOK_SECRET" in messages[0].msg
    assert secret.strip() not in text(messages) and secret.strip()[:8] not in text(messages)


def test_a_secret_that_decodes_to_nothing_is_an_error():
    """An empty HMAC key would let anyone sign. Strict base64 gives zero bytes only for "",
    so the refusal is proven with the decoder answering b"" for a set secret."""
    with (
        production(OMISE_WEBHOOK_SECRET="AAAA"),
        mock.patch("security.checks.base64.b64decode", return_value=b""),
    ):
        assert ids(check_webhook_secret()) == ["shop.E008"]


@pytest.mark.parametrize(
    "secret",
    [
        webhook_secret(),  # Omise's shape
        base64.b64encode(secrets.token_bytes(24)).decode(),  # no padding needed
        base64.b64encode(secrets.token_bytes(31)).decode(),  # one "="
        "AA==",  # one byte: valid base64 (its strength is not this check's business)
    ],
)
def test_a_base64_webhook_secret_passes(secret):
    with production(OMISE_WEBHOOK_SECRET=secret):
        assert check_webhook_secret() == []


def test_an_unset_webhook_secret_is_left_to_e001():
    """Missing is shop.E001's case (run by every command), not a second message here."""
    with production(OMISE_WEBHOOK_SECRET=""):
        assert check_webhook_secret() == []


@pytest.mark.parametrize("secret", [*NOT_BASE64, webhook_secret(), "AA=="])
def test_the_check_uses_exactly_verify_signatures_rule(secret):
    """shop.E008 fires exactly when checkout/webhooks.py would answer "server misconfigured"."""
    ok, reason = verify_signature(
        body=b"{}", signature="00", timestamp=str(int(time.time())), secret=secret
    )
    with production(OMISE_WEBHOOK_SECRET=secret):
        fired = ids(check_webhook_secret()) == ["shop.E008"]
    assert fired == (reason == "server misconfigured")


# --- Registered as deployment checks ------------------------------------------------------------


def everything_wrong():
    return production(
        CACHES={"default": CATALOG},
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
        OMISE_API_URL="https://api.omise.co.evil.com",
        OMISE_WEBHOOK_SECRET=secrets.token_urlsafe(32),
    )


@pytest.mark.django_db
def test_run_checks_with_deployment_checks_sees_all_four():
    """They are registered (security tag, deploy=True): the deployment run reports all four."""
    with everything_wrong():
        found = set(ids(run_checks(include_deployment_checks=True)))
    assert found >= NEW_IDS


@pytest.mark.django_db
def test_plain_check_does_not_run_them():
    """Deployment checks only: `manage.py check` (every command, runserver) stays quiet."""
    with everything_wrong():
        assert not NEW_IDS & set(ids(run_checks()))
        assert not NEW_IDS & set(ids(run_checks(tags=["security"])))


@pytest.mark.django_db  # `check` also runs the database checks
def test_manage_py_check_deploy_stops_on_a_per_process_cache():
    with (
        production(CACHES={"default": CATALOG}),
        pytest.raises(SystemCheckError, match="shop.E006"),
    ):
        call_command("check", "--deploy")


def test_default_production_settings_without_cache_url_are_refused(tmp_path):
    """The real settings module: production with CACHE_URL unset falls back to local memory,
    and `check --deploy` says so (tests/config/test_https_settings.py sets Redis and passes)."""
    result = subprocess.run(  # noqa: S603 - our own fixed command line
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "shop.E006" in output and "LocMemCache" in output
    assert not any(other in output for other in ("shop.W003", "shop.E007", "shop.E008"))
