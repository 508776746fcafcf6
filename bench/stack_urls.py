"""The shop's URLs plus the benchmark's baselines: what the same work costs without the shop.

Only bench/settings.py uses this URLconf; production URLs never contain these views.

- /bench/bare/: any Django page at least: middleware, routing, one tiny template, no query.
- /bench/catalog/ and /bench/product/<slug>/: the shop's own templates with the same data,
  read once per worker and kept in memory (no version check, no cache lookup): what the
  catalog and product pages would cost if their data were free.
- /bench/checkout/<slug>/: a minimal correct checkout. A form with a token and an email
  (CSRF-protected like every POST), the price read from the database, one transaction
  inserting the order and its attempt, the same Omise client call (same fields) to the same
  sandbox, one transaction applying the outcome, a redirect. No cart, no velocity limits, no
  idempotency key, no earlier attempts ended, no row locks: the floor the shop's checkout is
  measured against.
"""

import secrets

from django import forms
from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import engines
from django.urls import include, path, reverse
from django.views.decorators.cache import never_cache

from checkout.models import Order, PaymentAttempt
from checkout.omise import get_client
from security.clientip import client_ip
from shop.models import Product

BARE = engines["django"].from_string("<!doctype html><title>{{ title }}</title><p>{{ text }}</p>")
FORM = engines["django"].from_string(
    '<!doctype html><form method="post">{% csrf_token %}{{ form }}<button>Pay</button></form>'
)
_products: dict[str, list[Product]] = {}


def bare(request):
    """What any Django page costs at least: middleware, routing, one template, no queries."""
    return HttpResponse(BARE.render({"title": "Bench", "text": "Hello"}, request))


def _catalog() -> list[Product]:
    if "all" not in _products:
        _products["all"] = list(Product.objects.active())
    return _products["all"]


def bare_catalog(request):
    """shop/product_list.html with the same products, held in this worker's memory."""
    context = {"products": _catalog(), "catalog_version": 0, "fragment_seconds": 300}
    return render(request, "shop/product_list.html", context)


def bare_product(request, slug: str):
    """shop/product_detail.html with the same product, held in this worker's memory."""
    product = next(p for p in _catalog() if p.slug == slug)
    return render(request, "shop/product_detail.html", {"product": product})


class BareCheckoutForm(forms.Form):
    omise_token = forms.CharField(max_length=64)
    email = forms.EmailField()


@never_cache
def bare_checkout(request, slug: str):
    product = get_object_or_404(Product.objects.only("name", "slug", "price"), slug=slug)
    form = BareCheckoutForm(request.POST or None)
    if not form.is_valid():
        status = 400 if form.is_bound else 200
        return HttpResponse(FORM.render({"form": form}, request), status=status)
    email, amount = form.cleaned_data["email"], product.price
    with transaction.atomic():
        order = Order.objects.create(
            amount=amount, currency="THB", email=email, name="", country="TH"
        )
        attempt = PaymentAttempt.objects.create(
            order=order, key=secrets.token_urlsafe(24), amount=amount, currency="THB"
        )
    item = {"sku": product.slug, "name": product.name, "quantity": 1, "unit_price": amount}
    charge = get_client().create_charge(
        amount=amount,
        currency="THB",
        card=form.cleaned_data["omise_token"],
        description=f"{settings.SHOP_NAME} order {order.reference}: 1 × {product.name}",
        ip=client_ip(request) or None,
        return_uri=request.build_absolute_uri(
            reverse("checkout:return", args=[order.reference, attempt.return_token])
        ),
        metadata={
            "order_reference": order.reference,
            "attempt": attempt.key,
            "email": email,
            "item_count": 1,
            "items": [item],
        },
    )
    status = charge["status"]
    with transaction.atomic():
        PaymentAttempt.objects.filter(pk=attempt.pk).update(charge_id=charge["id"], status=status)
        if status in ("successful", "failed"):
            Order.objects.filter(pk=order.pk).update(
                status="paid" if status == "successful" else "failed"
            )
    return redirect(order)


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/catalog/", bare_catalog),
    path("bench/product/<slug:slug>/", bare_product),
    path("bench/checkout/<slug:slug>/", bare_checkout),
    path("", include("config.urls")),
]
