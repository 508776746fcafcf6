"""Fixtures shared by the whole suite."""

from pathlib import Path

import pytest

# Fixtures and hooks shared by the whole suite, each from the module that owns it.
pytest_plugins = [
    "tests.fixtures_sandbox",  # sandbox: the offline Omise over real HTTP
    "tests.fake_omise",  # fake_omise: an in-process Omise behind get_client(), no HTTP
    "tests.log_capture",  # the run fails if a card number is logged
    "tests.shopping",  # shop, pending_3ds, shopper
    "tests.staff",  # otp_admin_client
    "tests.browser",  # chromium, page
    "tests.mail_server",  # smtp_server: a real SMTP server (aiosmtpd)
]
TESTS = Path(__file__).resolve().parent


def pytest_configure(config):
    """Compile the message catalogues if a .po is newer than its .mo (`make test` compiles
    them first; this covers a bare `pytest`)."""
    import shutil
    import subprocess

    if shutil.which("msgfmt") is None:
        return  # gettext missing: `make system-deps`; the Thai tests then say what is wrong
    for po in (TESTS.parent / "locale").glob("*/LC_MESSAGES/django.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            subprocess.run(["msgfmt", "--check", "-o", str(mo), str(po)], check=True)  # noqa: S603, S607


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with empty caches: velocity counts, throttles, catalog pages and what
    the webhook receiver remembers never carry over."""
    from django.core.cache import cache

    from checkout.webhooks import KNOWN
    from shop.catalog import forget_local

    cache.clear()
    forget_local()
    KNOWN.forget()


def pytest_collection_modifyitems(config, items):
    """Each test gets its tier: `system` (tests/system/: browser, TLS, gunicorn stack,
    PostgreSQL and Redis races, the fuzz), `integration` (the sandbox or a live server over real
    HTTP) or `unit` (in process: `make test-fast`)."""
    for item in items:
        if TESTS / "system" in Path(item.path).parents:
            item.add_marker(pytest.mark.system)
        elif {"sandbox", "live_server"} & set(item.fixturenames):
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)
