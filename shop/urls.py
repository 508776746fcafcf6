"""Root URLconf. The sandbox is mounted only when settings.OMISE_SANDBOX is on (never in
production: settings refuse that combination), and is included by name, never imported."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("shop.store_urls")),
    path("", include("checkout.urls")),
    path("admin/", admin.site.urls),
]

if settings.OMISE_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
