from django.db import models
from django.urls import reverse
from django.utils.translation import get_language

from shop.money import CURRENCIES


class ProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Product(models.Model):
    # English is the shop's own language (and what goes to Omise and the admin lists); each
    # other language has a plain field of its own, empty until translated (docs/languages.md).
    name = models.CharField(max_length=120, help_text="In English.")
    name_th = models.CharField("name (Thai)", max_length=120, blank=True)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True, help_text="In English.")
    description_th = models.TextField("description (Thai)", blank=True)
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

    @property
    def display_name(self) -> str:
        """The name in the active language, English where no translation was written."""
        return self.name_in(get_language())

    @property
    def display_description(self) -> str:
        return self.description_in(get_language())

    def name_in(self, language: str | None) -> str:
        return _translated(self, "name", language)

    def description_in(self, language: str | None) -> str:
        return _translated(self, "description", language)


# Languages with a field of their own on Product (`<field>_<code>`); English is the base field.
TRANSLATED_LANGUAGES = ("th",)


def _translated(product: Product, field: str, language: str | None) -> str:
    code = (language or "").split("-")[0].lower()
    if code in TRANSLATED_LANGUAGES:
        return getattr(product, f"{field}_{code}") or getattr(product, field)
    return getattr(product, field)
