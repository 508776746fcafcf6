from django.conf import settings

from shop.cart import Cart


def cart(request):
    """The cart for the header badge; its product query runs only if a template reads it."""
    if not hasattr(request, "session"):
        return {}
    return {"cart": Cart(request.session)}


def branding(request):
    """The shop's name from settings (SHOP_NAME), for every page."""
    return {"SHOP_NAME": settings.SHOP_NAME}
