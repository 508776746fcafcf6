"""Root URLconf. The sandbox is mounted only when settings.OMISE_SANDBOX is on (never in
production: settings refuse that combination), and is included by name, never imported."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language

from security.csp_reports import csp_report

urlpatterns = [
    path("", include("shop.urls")),
    path("", include("checkout.urls")),
    path("admin/", admin.site.urls),
    # The language switcher posts here (Django's set_language: a cookie, then back to `next`,
    # never to another host). Without a CSRF token: a forged post could only switch the
    # visitor's language, and a token in every page's header would cost each catalog view a
    # masked token and a cookie (README, Performance).
    path("i18n/setlang/", csrf_exempt(set_language), name="set_language"),
    # Browsers POST Content-Security-Policy violations here (settings.SECURE_CSP report-uri).
    path("csp-report/", csp_report, name="csp_report"),
]

if settings.OMISE_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
