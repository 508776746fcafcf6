"""The checkout page's Content-Security-Policy: the site-wide strict policy, widened only for
Omise's hosts (or the sandbox's origin in development).

Threat: a script injected into the payment page (a compromised dependency, a forked template
with an analytics tag) that reads or rewrites the payment form. Only the shop's own scripts,
nonce-tagged, and Omise's may run; frames and connections go to Omise and nowhere else.
"""

from copy import deepcopy
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.csp import CSP

OMISE_HOSTS = "https://*.omise.co"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def omise_sources() -> list[str]:
    """Origins of Omise.js, its card frame and the vault, from settings."""
    sources = {_origin(settings.OMISE_JS_URL), _origin(settings.OMISE_VAULT_URL)}
    if not settings.OMISE_SANDBOX:
        # Omise's exact frame and script paths are unconfirmed: allow its domain, and only it.
        sources = {s for s in sources if not s.endswith(".omise.co")} | {OMISE_HOSTS}
    return sorted(sources)


def checkout_policy() -> dict[str, list[str] | str]:
    policy = deepcopy(settings.SECURE_CSP)
    omise = omise_sources()
    for directive in ("script-src", "connect-src", "img-src"):
        policy[directive] = [*policy.get(directive, [CSP.SELF]), *omise]
    policy["frame-src"] = omise  # the card form's frame, and no other
    return policy


def with_omise_images(response):
    """Mark a response to be sent with the site policy plus Omise's hosts in `img-src` only:
    the PromptPay order page shows the QR code image from Omise (the sandbox in development).
    Nothing else is widened: no script, frame or connection to Omise from that page."""
    policy = deepcopy(settings.SECURE_CSP)
    images = {_origin(settings.OMISE_API_URL)}
    if not settings.OMISE_SANDBOX:
        # The QR code's download_uri host is unconfirmed: allow Omise's domain, and only it.
        images = {s for s in images if not s.endswith(".omise.co")} | {OMISE_HOSTS}
    policy["img-src"] = [*policy.get("img-src", [CSP.SELF]), *sorted(images)]
    response._csp_config = policy
    return response


def with_checkout_policy(response):
    """Mark a response to be sent with the checkout policy (read by Django's CSP middleware)."""
    response._csp_config = checkout_policy()
    return response
