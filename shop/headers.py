"""Browser security headers that Django does not set by itself.

Threats:
- A script injected into a page (a compromised dependency, a stored XSS) turning on the
  camera, microphone, location or the Payment Request API to phish the shopper:
  `Permissions-Policy` switches those browser features off for every page and every frame.
- Such a script going unnoticed: `Reporting-Endpoints` names where browsers send the
  Content-Security-Policy violation reports (the `report-to` directive in settings.SECURE_CSP),
  which `shop.csp_reports` stores as SecurityEvents for the merchant to see in the admin.

Django's SecurityMiddleware already sends Referrer-Policy, X-Content-Type-Options,
Cross-Origin-Opener-Policy and HSTS, and its CSP middleware sends the Content-Security-Policy;
this middleware adds only what is missing. A view that needs a wider policy sets the header
itself, and it is left alone.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# The path of shop.csp_reports.csp_report, also used by SECURE_CSP's report-uri.
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


class SecurityHeadersMiddleware:
    """Add Permissions-Policy and Reporting-Endpoints to every response that lacks them."""

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
        return response
