"""Tiny factories for test data (plain functions: no factory library needed)."""

from itertools import count

from shop.models import Product

_serial = count(1)


def make_product(**fields) -> Product:
    n = next(_serial)
    defaults = {
        "name": f"Test product {n}",
        "slug": f"test-product-{n}",
        "price": 45000,
        "currency": "THB",
        "image": "img/products/celadon-mug.svg",
        "description": "A product made for a test.",
    }
    return Product.objects.create(**{**defaults, **fields})
