"""Django's Redis cache, with one redis-py client per connection pool instead of one per call.

Django builds a new `redis.Redis` for every cache operation. Building one fills its tables of
command callbacks, which costs more than the round trip to Redis itself (about 0.3 ms against
0.1 ms here), and the shop talks to Redis on hot paths: the catalog's cached grid, velocity
limits, throttles. A redis-py client is thread-safe over its pool, so one per pool is enough.
Settings select this backend whenever CACHE_URL points at Redis.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property


class _OneClientPerPool(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    @cached_property
    def _cache(self):
        return _OneClientPerPool(self._servers, **self._options)
