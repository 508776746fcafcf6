"""Catalog caching: product pages and the product grid are served from memory until a product
changes.

The shop is read far more often than it is edited, so two levels:

- The catalog *version* (a timestamp) lives in the shared cache (Redis in production, so every
  worker and host agrees). Every save or delete of a Product sets a new one (signals below).
- Each worker remembers the version for LOCAL_SECONDS, and keeps rendered product grids and
  product rows in its own memory (the "catalog" cache), keyed by that version. A page view
  then usually touches neither Redis nor the database. An edit shows at once in the worker
  that made it and within LOCAL_SECONDS everywhere else; the fragments' timeout bounds
  staleness after a bulk `QuerySet.update()`, which sends no signal.

Prices in the cart and at checkout are always read from the database, never from here.
"""

import time
from typing import TypedDict, cast

from django.core.cache import cache, caches
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from shop.models import Product

VERSION_KEY = "catalog:version"
FRAGMENT_SECONDS = 300
LOCAL_SECONDS = 2.0


class _Remembered(TypedDict):
    version: int
    until: float  # time.monotonic()


_remembered: _Remembered = {"version": 0, "until": 0.0}  # this worker's copy of the version


def catalog_version() -> int:
    now = time.monotonic()
    if now >= _remembered["until"]:
        # Never None: the default is a number (django-stubs types the result Any | None).
        _remembered["version"] = cast(
            int, cache.get_or_set(VERSION_KEY, time.time_ns, timeout=None)
        )
        _remembered["until"] = now + LOCAL_SECONDS
    return _remembered["version"]


def forget_local() -> None:
    """Drop this worker's memory (as if LOCAL_SECONDS had passed); tests start with it."""
    _remembered["until"] = 0.0
    caches["catalog"].clear()


def active_product(slug: str) -> Product | None:
    """The active product with this slug, from memory when this catalog version has it."""
    key = f"product:{catalog_version()}:{slug}"
    product = caches["catalog"].get(key)
    if product is None:
        product = Product.objects.active().filter(slug=slug).first()
        if product is not None:  # unknown slugs are not remembered: no filling memory with them
            caches["catalog"].set(key, product, FRAGMENT_SECONDS)
    return product


@receiver([post_save, post_delete], sender=Product)
def bump_catalog_version(**_) -> None:
    # A timestamp, not a counter: after an eviction a counter could restart at an old value
    # and revive stale fragments; a new timestamp never has.
    version = time.time_ns()
    cache.set(VERSION_KEY, version, timeout=None)
    _remembered.update({"version": version, "until": time.monotonic() + LOCAL_SECONDS})
