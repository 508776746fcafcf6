"""Django's Redis cache, with one redis-py client per connection pool instead of one per call.

Django builds a new `redis.Redis` for every cache operation. Building one fills its tables of
command callbacks, which costs more than the round trip to Redis itself (about 0.3 ms against
0.1 ms here), and the shop talks to Redis on hot paths: the catalog's cached grid, velocity
limits, throttles. A redis-py client is thread-safe over its pool, so one per pool is enough.
Settings select this backend whenever CACHE_URL points at Redis.

It also adds to several fixed-window counters in one atomic round trip (`add_to_windows`), for
the checkout's velocity limits (checkout/velocity.py), which fall back to one call per counter
on any other backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property

if TYPE_CHECKING:  # redis is a production extra: imported at run time by Django, when used
    from redis import ConnectionPool, Redis


class _OneClientPerPool(RedisCacheClient):
    # Django's private members used here, which django-stubs leaves out.
    _client: Callable[..., Redis]
    _get_connection_pool: Callable[[bool], ConnectionPool]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Redis] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


# For each counter (KEYS[i], amount ARGV[2i-1], window ARGV[2i]): a counter that does not
# exist starts at 0 and expires after the window, then the amount is added; a negative amount
# gives back from an existing counter only, never below zero. One script: no window can end
# between its start and its increment, and a window that has ended is not started again by a
# give-back.
_ADD_TO_WINDOWS = """
local totals = {}
for i, key in ipairs(KEYS) do
  local amount, window = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  if amount >= 0 then
    redis.call("SET", key, 0, "NX", "EX", window)
    totals[i] = redis.call("INCRBY", key, amount)
  elseif redis.call("EXISTS", key) == 1 then
    totals[i] = redis.call("DECRBY", key, -amount)
    if totals[i] < 0 then  -- never below zero: the window may have started again since
      redis.call("INCRBY", key, -totals[i])
      totals[i] = 0
    end
  else
    totals[i] = 0
  end
end
return totals
"""


class RedisCache(DjangoRedisCache):
    # Set by Django's RedisCache.__init__; private, so django-stubs leaves them out.
    _servers: list[str]
    _options: dict[str, Any]

    @cached_property
    def _cache(self) -> _OneClientPerPool:
        return _OneClientPerPool(self._servers, **self._options)

    @cached_property
    def _add_to_windows_script(self):
        # EVALSHA, loading the script into Redis the first time it is missing there.
        return self._cache.get_client(write=True).register_script(_ADD_TO_WINDOWS)

    def add_to_windows(self, changes: list[tuple[str, int, int]]) -> list[int]:
        """Add each (key, amount, window seconds) to its fixed-window counter and return the
        totals: what `add(key, 0, window)` then `incr(key, amount)` would do for each, in one
        atomic round trip. The values stay plain integers, readable with `get`."""
        keys = [self.make_and_validate_key(key) for key, _, _ in changes]
        args = [number for _, amount, window in changes for number in (amount, window)]
        totals = self._add_to_windows_script(
            keys=keys, args=args, client=self._cache.get_client(write=True)
        )
        return [int(total) for total in totals]
