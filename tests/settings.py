"""Test settings: the development configuration with the sandbox on, isolated from the
developer's own .env and shell, and fast password hashing."""

import os

os.environ.update(
    {
        "ENV_FILE": "",
        "DEBUG": "true",
        "OMISE_SANDBOX": "true",
        "OMISE_PUBLIC_KEY": "",
        "OMISE_SECRET_KEY": "",
        "OMISE_WEBHOOK_SECRET": "",
        "DATABASE_URL": "sqlite://:memory:",
        "CACHE_URL": "locmemcache://tests",
        "SECRET_KEY": "tests-only-not-a-secret-" + "x" * 40,
        # Playwright's sync API runs an event loop in the test thread; the ORM calls that the
        # browser tests make in between are still synchronous, so Django's guard is lifted.
        "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
    }
)
for name in (
    "OMISE_API_URL",
    "OMISE_VAULT_URL",
    "OMISE_JS_URL",
    "OMISE_PROXY_URL",
    "ALLOWED_HOSTS",
):
    os.environ.pop(name, None)

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
# The sandbox delivers webhooks only when a test asks (tests/fixtures_sandbox.py).
SANDBOX_WEBHOOK_DELIVERY = "manual"
# Django's live server serves MEDIA_ROOT at MEDIA_URL; left at their defaults ("" and "/") it
# would serve the whole working directory (settings, .env, var/) to any test browser.
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405

# The database task queue's tables, so tests can run deferred webhook processing for real.
INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]  # noqa: F405
