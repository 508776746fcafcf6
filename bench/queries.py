"""SQL queries per catalog and product page at 10 and at 1,000 products: must not grow.

Runs in-process on the test settings (in-memory SQLite) with Django's CaptureQueriesContext;
a page whose query count grows with the catalog (an N+1) shows up as two different numbers.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from shop.catalog import forget_local  # noqa: E402
from shop.models import Product  # noqa: E402


def _add_products(upto: int) -> None:
    start = Product.objects.count()
    Product.objects.bulk_create(
        Product(
            name=f"Bench product {n}",
            slug=f"bench-product-{n}",
            price=45000,
            currency="THB",
            image="img/products/celadon-mug.svg",
            description="For the benchmark.",
        )
        for n in range(start, upto)
    )


def _count(client: Client, url: str) -> int:
    """Queries for one cold view: nothing cached (a warm one runs none, see shop/catalog.py)."""
    cache.clear()
    forget_local()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def query_counts(sizes: tuple[int, ...] = (10, 1000)) -> dict[str, list[int]]:
    """{"catalog": [queries at each size], "product": […]} with a fresh client per page."""
    call_command("migrate", verbosity=0)
    counts = {"catalog": [], "product": []}
    for size in sizes:
        _add_products(size)
        counts["catalog"].append(_count(Client(), "/"))
        counts["product"].append(_count(Client(), "/products/bench-product-0/"))
    return counts
