"""The catalog's cache version: rendered product grids are cached until a product changes.

Every save or delete of a Product bumps the version (signals below), so a cached fragment is
never served after an edit; the fragment's own timeout bounds staleness after a bulk
`QuerySet.update()`, which sends no signal. With Redis as the cache (production), the version
is shared by every worker and host.
"""

import time

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from shop.models import Product

VERSION_KEY = "catalog:version"
FRAGMENT_SECONDS = 300


def catalog_version() -> int:
    return cache.get_or_set(VERSION_KEY, time.time_ns, timeout=None)


@receiver([post_save, post_delete], sender=Product)
def bump_catalog_version(**_) -> None:
    # A timestamp, not a counter: after an eviction a counter could restart at an old value
    # and revive stale fragments; a new timestamp never has.
    cache.set(VERSION_KEY, time.time_ns(), timeout=None)
