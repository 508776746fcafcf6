"""The Redis cache backend: Django's, reusing one redis-py client per connection pool."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.core.cache.backends.redis import RedisCacheClient

from config.cache import RedisCache
from tests.support import skip_or_fail

URL = "redis://127.0.0.1:6379/12"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_cache():
    try:
        redis.Redis.from_url(URL, socket_connect_timeout=3).flushdb()
    except redis.ConnectionError as error:
        skip_or_fail(f"Redis is not reachable at 127.0.0.1:6379 ({error})")
    return RedisCache(URL, {})


def test_settings_choose_it_for_redis_urls(tmp_path):
    """A redis:// CACHE_URL selects this backend; a local-memory one stays Django's."""
    code = (
        "import django; from django.conf import settings; django.setup(); "
        "print(settings.CACHES['default']['BACKEND'])"
    )
    env = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "x" * 50,
    }
    backends = [
        subprocess.run(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", code],
            env={**env, "CACHE_URL": url},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
        for url in (URL, "locmemcache://")
    ]
    assert backends == ["config.cache.RedisCache", "django.core.cache.backends.locmem.LocMemCache"]


def test_one_client_serves_every_operation(redis_cache):
    """Operations reuse the same redis-py client, where Django's own builds one each time."""
    redis_cache.set("a", 1)
    client = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client(write=True) is client
    django_client = RedisCacheClient([URL])
    assert django_client.get_client(write=True) is not django_client.get_client(write=True)


def test_it_behaves_as_a_cache(redis_cache):
    """Set, get, add, incr, delete and timeouts behave as Django's Redis cache does."""
    redis_cache.set("k", {"n": 1}, 30)
    assert redis_cache.get("k") == {"n": 1}
    assert redis_cache.add("k", 2) is False
    assert redis_cache.add("n", 1) is True
    assert redis_cache.incr("n") == 2
    redis_cache.delete("k")
    assert redis_cache.get("k", "gone") == "gone"
