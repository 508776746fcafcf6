"""Load the demo catalog. Safe to run any number of times: products are matched by slug."""

from django.core.management.base import BaseCommand
from django.db import transaction

from shop.models import Product

DEMO_PRODUCTS = [
    (
        "Celadon Mug",
        "celadon-mug",
        45000,
        "Wheel-thrown stoneware with the jade-green celadon glaze of Chiang Mai's kilns. 350 ml.",
    ),
    (
        "Indigo Tote Bag",
        "indigo-tote",
        79000,
        "Hand-woven cotton dyed with natural indigo in Sakon Nakhon. Sturdy enough for the market.",
    ),
    (
        "Saa Paper Notebook",
        "saa-notebook",
        25000,
        "Mulberry-bark paper made by hand in Bo Sang. 96 blank pages, thread-bound.",
    ),
    (
        "Lemongrass Candle",
        "lemongrass-candle",
        39000,
        "Soy wax poured with lemongrass and kaffir lime oils. About 40 hours of burn time.",
    ),
    (
        "Jasmine Green Tea",
        "jasmine-tea",
        32000,
        "Highland green tea from Doi Mae Salong, scented with fresh jasmine. 100 g tin.",
    ),
    (
        "Silk Scarf",
        "silk-scarf",
        129000,
        "Pure Thai silk, hand-woven on a backstrap loom in Pak Thong Chai. 180 × 50 cm.",
    ),
    (
        "Teak Serving Bowl",
        "teak-bowl",
        89000,
        "Turned from reclaimed teak and finished with food-safe oil. 24 cm across.",
    ),
    (
        "Jasmine Rice Soap",
        "rice-soap",
        12000,
        "Cold-process soap with rice bran and jasmine rice milk. Gentle enough for every day.",
    ),
]


class Command(BaseCommand):
    help = "Create or refresh the demo products (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        created = 0
        for name, slug, price, description in DEMO_PRODUCTS:
            _, was_created = Product.objects.update_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "price": price,
                    "currency": "THB",
                    "description": description,
                    "image": f"img/products/{slug}.svg",
                    "active": True,
                },
            )
            created += was_created
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo catalog ready: {len(DEMO_PRODUCTS)} products ({created} new)."
            )
        )
