from django.db import models
from django.urls import reverse

from shop.money import CURRENCIES


class ProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Product(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    price = models.PositiveIntegerField(
        help_text="In the currency's smallest unit (satang for THB)."
    )
    currency = models.CharField(
        max_length=3, choices=[(code, code) for code in CURRENCIES], default="THB"
    )
    image = models.CharField(
        max_length=200, blank=True, help_text="Path under static/, e.g. img/products/mug.svg."
    )
    active = models.BooleanField(default=True, help_text="Inactive products are hidden.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__in=list(CURRENCIES)), name="product_known_currency"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:product_detail", kwargs={"slug": self.slug})
