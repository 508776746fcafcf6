"""Browser security headers that Django does not set by itself.

Threats:
- A script injected into a page (a compromised dependency, a stored XSS) turning on the
  camera, microphone, location or the Payment Request API to phish the shopper:
  `Permissions-Policy` switches those browser features off for every page and every frame.
- Such a script going unnoticed: `Reporting-Endpoints` names where browsers send the
  Content-Security-Policy violation reports (the `report-to` directive in settings.SECURE_CSP),
  which `security.csp_reports` stores as SecurityEvents for the merchant to see in the admin.
- A static file, an error page or an early refusal served without the page policies: an SVG
  or HTML file opened directly could run script or be framed (clickjacking) with no
  Content-Security-Policy or X-Frame-Options. Django's CSP and clickjacking middlewares sit
  after WhiteNoise and the card guard, so WhiteNoise's files, the guard's and security.charset's
  refusals and Django's 400 for an oversized body never passed through them. This middleware,
  near the top of MIDDLEWARE, gives every response that lacks them the site's strict
  `SECURE_CSP` and `X_FRAME_OPTIONS`.

Django's SecurityMiddleware already sends Referrer-Policy, X-Content-Type-Options,
Cross-Origin-Opener-Policy and HSTS, and its CSP middleware sends the Content-Security-Policy;
this middleware adds only what is missing. A view that needs a wider policy sets the header
itself (or `_csp_config`, read by Django's middleware), and it is left alone; so is a response
whose view chose no policy at all (`csp_override({})`) and one marked `xframe_options_exempt`
(the sandbox's card frame, framed by the shop). The default
policy is built without a nonce (Django's middleware drops the nonce source when none was
used), unless this request's nonce was used on the page: then with it, as Django would.
"""

from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.csp import CSP, build_policy

# The path of security.csp_reports.csp_report, also used by SECURE_CSP's report-uri.
CSP_REPORT_PATH = "/csp-report/"
CSP_REPORT_GROUP = "csp-endpoint"

# Features no page of the shop uses; "()" allows them to no origin, not even our own.
# `payment` stays off too: Omise.js's card form tokenizes with a plain cross-origin frame and
# does not use the Payment Request API. A merchant adding Apple Pay or Google Pay through
# the Payment Request API would allow it for self and that provider's origin only.
PERMISSIONS_POLICY = {
    "accelerometer": "()",
    "autoplay": "()",
    "camera": "()",
    "display-capture": "()",
    "geolocation": "()",
    "gyroscope": "()",
    "magnetometer": "()",
    "microphone": "()",
    "midi": "()",
    "payment": "()",
    "usb": "()",
}


def permissions_policy_header(policy: dict[str, str] = PERMISSIONS_POLICY) -> str:
    """Render a Permissions-Policy header value, e.g. 'camera=(), microphone=()'."""
    return ", ".join(f"{feature}={allow}" for feature, allow in policy.items())


@lru_cache(maxsize=1)
def default_policy() -> str:
    """The site's strict SECURE_CSP without a nonce: for responses no CSP middleware saw."""
    return build_policy(settings.SECURE_CSP) if settings.SECURE_CSP else ""


@receiver(setting_changed)
def _forget_default_policy(*, setting: str, **_) -> None:
    if setting == "SECURE_CSP":
        default_policy.cache_clear()


class SecurityHeadersMiddleware:
    """Add Permissions-Policy and Reporting-Endpoints to every response that lacks them, and
    the site's Content-Security-Policy and X-Frame-Options to those that no later middleware
    gave them (static files, refusals and errors from middlewares before Django's)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.permissions_policy = permissions_policy_header()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        # Browsers resolve the relative URL against the page, so one value fits every host.
        response.headers.setdefault(
            "Reporting-Endpoints", f'{CSP_REPORT_GROUP}="{CSP_REPORT_PATH}"'
        )
        if CSP.HEADER_ENFORCE not in response.headers and getattr(response, "_csp_config", True):
            nonce = getattr(request, "_csp_nonce", None)
            # A LazyNonce is true once a template used it: the page's scripts carry it.
            policy = build_policy(settings.SECURE_CSP, nonce) if nonce else default_policy()
            if policy:
                response.headers[CSP.HEADER_ENFORCE] = policy
        if "X-Frame-Options" not in response.headers and not getattr(
            response, "xframe_options_exempt", False
        ):
            response.headers["X-Frame-Options"] = getattr(
                settings, "X_FRAME_OPTIONS", "DENY"
            ).upper()
        return response
