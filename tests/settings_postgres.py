"""Test settings for the concurrency pass: the test settings on PostgreSQL and Redis.

SQLite serialises every write, so races that matter in production cannot happen on it. These
settings run the `postgres`-marked tests against a real server, where each thread has its own
connection and row locks really block:

    pytest --ds=tests.settings_postgres -m postgres

TEST_DATABASE_URL names the server (pytest-django creates and drops `test_<name>` on it);
TEST_CACHE_URL the Redis database shared by the velocity test's workers.
"""

import os

import environ

from tests.settings import *  # noqa: F403

_env = environ.Env()
DATABASES = {
    "default": _env.db_url(
        "TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/shop_test"
    ),
}
# Fail fast when the server is down, instead of hanging the run.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5

CACHES = {
    **CACHES,  # noqa: F405 - the catalog's per-process cache stays as it is
    "default": {
        **_env.cache_url("TEST_CACHE_URL", default="redis://127.0.0.1:6379/15"),
        # Other runs may share this Redis database: keep this run's keys apart.
        "KEY_PREFIX": f"shop-tests-{os.getpid()}",
    },
}
