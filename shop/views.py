"""Storefront pages: catalog, product, cart. Thin views; the cart rules live in shop.cart."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from shop.cart import Cart, CartError, parse_quantity
from shop.catalog import FRAGMENT_SECONDS, active_product, catalog_version
from shop.models import Product


@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    # Lazy: the query runs only when the cached grid for this catalog version is missing.
    products = Product.objects.active()
    return render(
        request,
        "shop/product_list.html",
        {
            "products": products,
            "catalog_version": catalog_version(),
            "fragment_seconds": FRAGMENT_SECONDS,
        },
    )


@require_GET
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = active_product(slug)
    if product is None:
        raise Http404("No such product")
    return render(request, "shop/product_detail.html", {"product": product})


@require_GET
def cart_detail(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/cart.html")


def _cart_change(request: HttpRequest, change) -> HttpResponse:
    """Apply one cart change from a POSTed form; bad input becomes a message, never a 500."""
    product = Product.objects.filter(slug=request.POST.get("product", "")).first()
    if product is None:
        messages.error(
            request, _("That product does not exist (any more). Your cart is unchanged.")
        )
        return redirect("shop:cart")
    try:
        note = change(Cart(request.session), product)
    except CartError as error:
        messages.error(request, str(error))
        # Send the shopper back where the form was, so they can correct the quantity there.
        if request.POST.get("next") == "product":
            return redirect(product)
        return redirect("shop:cart")
    messages.success(request, note)
    return redirect("shop:cart")


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    def add(cart: Cart, product: Product) -> str:
        quantity = parse_quantity(request.POST.get("quantity", "1"))
        cart.add(product, quantity)
        return _("Added %(quantity)s × %(name)s to your cart.") % {
            "quantity": quantity,
            "name": product.display_name,
        }

    return _cart_change(request, add)


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    def update(cart: Cart, product: Product) -> str:
        quantity = parse_quantity(request.POST.get("quantity", ""))
        cart.set(product, quantity)
        return _("Updated %(name)s: %(quantity)s in your cart.") % {
            "name": product.display_name,
            "quantity": quantity,
        }

    return _cart_change(request, update)


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    def remove(cart: Cart, product: Product) -> str:
        cart.remove(product)
        return _("Removed %(name)s from your cart.") % {"name": product.display_name}

    return _cart_change(request, remove)
