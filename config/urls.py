"""Root URLconf. The sandbox is mounted only when settings.OMISE_SANDBOX is on (never in
production: settings refuse that combination), and is included by name, never imported."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from security.csp_reports import csp_report

urlpatterns = [
    path("", include("shop.urls")),
    path("", include("checkout.urls")),
    path("admin/", admin.site.urls),
    # The language switcher posts here (Django's set_language: a cookie, then back to `next`).
    path("i18n/", include("django.conf.urls.i18n")),
    # Browsers POST Content-Security-Policy violations here (settings.SECURE_CSP report-uri).
    path("csp-report/", csp_report, name="csp_report"),
]

if settings.OMISE_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
