"""The Redis cache backend: Django's, reusing one redis-py client per connection pool."""

import pytest
import redis
from django.core.cache.backends.redis import RedisCacheClient

from shop.cache import RedisCache
from tests.support import skip_or_fail

URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
def redis_cache():
    try:
        redis.Redis.from_url(URL, socket_connect_timeout=3).flushdb()
    except redis.ConnectionError as error:
        skip_or_fail(f"Redis is not reachable at 127.0.0.1:6379 ({error})")
    return RedisCache(URL, {})


def test_settings_choose_it_for_redis_urls():
    """A redis:// CACHE_URL selects this backend; other caches stay as configured."""
    import environ

    config = environ.Env.cache_url_config(URL)
    assert config["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    # shop/settings.py swaps exactly that backend name for ours:
    from pathlib import Path

    source = Path(__file__).resolve().parent.parent.joinpath("shop", "settings.py").read_text()
    assert '"shop.cache.RedisCache"' in source


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
