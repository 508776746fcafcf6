"""The sandbox's pages: dashboard, 3-D Secure page, Omise.js and its card frame, a try-out page.

CSP: the project's strict policy stays; each page widens only what it needs. Policies depend on
the origins in settings (tests move them), so they are set per response rather than with the
`csp_override` decorator, whose policy is fixed at import time.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.csp import CSP
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_http_methods

from mails.models import OutboxMail
from mails.sending import mail_message
from sandbox import sources
from sandbox.models import (
    Charge,
    Delivery,
    Dispute,
    Event,
    Fault,
    Notice,
    ReceivedRequest,
    Switches,
)
from sandbox.services.charges import (
    capture_charge,
    complete_3ds,
    complete_offsite,
    expire_charge,
    get_charge,
    mark_charge,
    reverse_charge,
)
from sandbox.services.common import SandboxError, sandbox_url
from sandbox.services.disputes import close_dispute, open_dispute

ASSETS = Path(__file__).resolve().parent / "assets"
_ASSET_FILES = {  # served by name only: no path from the URL reaches the filesystem
    "omise.js": "text/javascript",
    "card-frame.js": "text/javascript",
    "card-frame.css": "text/css",
    "try.js": "text/javascript",
    "sandbox.css": "text/css",
}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _with_csp(response: HttpResponse, **directives: list[str]) -> HttpResponse:
    """The project policy with some directives replaced (what `csp_override` would set)."""
    policy = dict(settings.SECURE_CSP)
    policy.update({name.replace("_", "-"): value for name, value in directives.items()})
    response._csp_config = policy  # read by ContentSecurityPolicyMiddleware
    return response


def asset(request: HttpRequest, name: str) -> FileResponse:
    if name not in _ASSET_FILES:
        raise Http404
    response = FileResponse((ASSETS / name).open("rb"), content_type=_ASSET_FILES[name])
    response["Cache-Control"] = "no-cache"
    # omise.js is loaded by the shop's page, cross-origin: say so explicitly.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def omise_js(request: HttpRequest) -> FileResponse:
    """The Omise.js stand-in, at the path OMISE_JS_URL points to."""
    return asset(request, "omise.js")


def dashboard(request: HttpRequest) -> HttpResponse:
    """What Omise's dashboard and e-mails would tell the merchant."""
    context = {
        "notices": Notice.objects.all()[:20],
        "charges": Charge.objects.prefetch_related("disputes")[:50],
        "disputes": Dispute.objects.all()[:50],
        "drop_webhooks": Switches.current().drop_webhooks,
        "events": Event.objects.prefetch_related("deliveries")[:50],
        "deliveries": Delivery.objects.select_related("event")[:50],
        "requests": ReceivedRequest.objects.all()[:50],
        "faults": Fault.objects.filter(remaining__gt=0),
        "webhook_url": settings.SANDBOX_WEBHOOK_URL,
        "delivery_mode": settings.SANDBOX_WEBHOOK_DELIVERY,
        "try_url": settings.SHOP_ORIGIN.rstrip("/") + "/sandbox/try/",
        "outbox_count": OutboxMail.objects.count(),
    }
    return render(request, "sandbox/dashboard.html", context)


@require_http_methods(["GET"])
def outbox(request: HttpRequest) -> HttpResponse:
    """The shop's e-mails (mails.OutboxMail): what shoppers' and staff's inboxes would receive,
    newest first. Development prints them too (console backend); this page reads them back."""
    return render(request, "sandbox/outbox.html", {"mails": OutboxMail.objects.all()[:100]})


@require_http_methods(["GET"])
def outbox_mail(request: HttpRequest, pk: int) -> HttpResponse:
    """One mail as it goes out: headers, plain text, and the HTML part in a sandboxed frame."""
    row = OutboxMail.objects.filter(pk=pk).first()
    if row is None:
        raise Http404
    message = mail_message(row)
    html = next((content for content, kind in message.alternatives if kind == "text/html"), "")
    response = render(
        request, "sandbox/outbox_mail.html", {"mail": row, "message": message, "html": html}
    )
    # The frame's document inherits this page's policy: mails style inline, as mail clients
    # need. Scripts stay refused (and the frame is sandboxed).
    return _with_csp(response, style_src=[CSP.SELF, CSP.UNSAFE_INLINE])


@require_http_methods(["GET"])
def qr_code(request: HttpRequest, charge_id: str) -> HttpResponse:
    """A PromptPay charge's QR code (its `download_uri`): an SVG any page may show in <img>.

    It encodes the URL of the sandbox's "banking app" page for the charge, not a PromptPay
    payload: scanning it in development opens the page that pays it."""
    charge = Charge.objects.filter(id=charge_id, source__flow=sources.OFFLINE).first()
    if charge is None:
        raise Http404
    target = sandbox_url(reverse("sandbox:promptpay_app", args=[charge.id]))
    response = HttpResponse(sources.qr_svg(target), content_type="image/svg+xml")
    response["Cross-Origin-Resource-Policy"] = "cross-origin"  # shown by the shop's page
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_http_methods(["GET", "POST"])
def promptpay_app(request: HttpRequest, charge_id: str) -> HttpResponse:
    """The shopper's banking app, after scanning the QR code: Pay or Fail settles the charge
    (test mode's mark_as_paid / mark_as_failed) and Omise records `charge.complete`."""
    charge = Charge.objects.filter(id=charge_id, source__flow=sources.OFFLINE).first()
    if charge is None:
        raise Http404
    if request.method == "POST":
        with contextlib.suppress(SandboxError):  # already settled or expired: show its state
            mark_charge(charge_id=charge.id, paid=request.POST.get("choice") == "pay")
        return redirect("sandbox:promptpay_app", charge_id=charge.id)
    charge = get_charge(charge.id)  # expires it if its time has passed
    return render(
        request,
        "sandbox/promptpay_app.html",
        {
            "charge": charge,
            "amount": _display_amount(str(charge.amount), charge.currency),
            "awaiting": charge.status == Charge.Status.PENDING,
        },
    )


SETTLE_ACTIONS = {
    "paid": lambda charge_id: mark_charge(charge_id=charge_id, paid=True),
    "failed": lambda charge_id: mark_charge(charge_id=charge_id, paid=False),
    "expire": lambda charge_id: expire_charge(charge_id=charge_id),
    # An authorization (capture=false), acted on from "Omise's dashboard" instead of the shop.
    "capture": lambda charge_id: capture_charge(charge_id=charge_id),
    "reverse": lambda charge_id: reverse_charge(charge_id=charge_id),
}


@require_http_methods(["POST"])
def settle(request: HttpRequest, charge_id: str) -> HttpResponse:
    """The dashboard's buttons for a pending charge: Mark as paid / Mark as failed / Expire
    (awaiting the shopper), Capture / Reverse / Expire the hold (an authorization)."""
    action = SETTLE_ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        raise Http404
    with contextlib.suppress(SandboxError):  # no longer pending: the dashboard shows why
        action(charge_id)
    return redirect("sandbox:dashboard")


@require_http_methods(["POST"])
def dispute_open(request: HttpRequest, charge_id: str) -> HttpResponse:
    """The dashboard's "Open a dispute": the cardholder's bank charges back a paid charge."""
    with contextlib.suppress(SandboxError):  # not paid, or already disputed: the page shows it
        open_dispute(charge_id=charge_id)
    return redirect("sandbox:dashboard")


@require_http_methods(["POST"])
def dispute_close(request: HttpRequest, dispute_id: str) -> HttpResponse:
    """The bank's decision on a dispute: the merchant won or lost."""
    with contextlib.suppress(SandboxError):
        close_dispute(dispute_id=dispute_id, status=request.POST.get("status", ""))
    return redirect("sandbox:dashboard")


@require_http_methods(["POST"])
def switches(request: HttpRequest) -> HttpResponse:
    """The dashboard's "Drop webhooks" switch (webhooks lost, as when the shop is down)."""
    Switches.objects.update_or_create(
        pk=1, defaults={"drop_webhooks": request.POST.get("drop_webhooks") == "on"}
    )
    return redirect("sandbox:dashboard")


@require_http_methods(["GET", "POST"])
def three_d_secure(request: HttpRequest, charge_id: str) -> HttpResponse:
    """The "bank's" page: Authorize or Fail, then back to the charge's return_uri."""
    charge = Charge.objects.filter(id=charge_id).first()
    if charge is None:
        raise Http404
    if request.method == "POST":
        # Already settled (a second tab, the back button)? Just go back to the shop.
        with contextlib.suppress(SandboxError):
            complete_3ds(charge_id=charge.id, passed=request.POST.get("choice") == "authorize")
        return redirect(charge.return_uri)
    awaiting = charge.status == Charge.Status.PENDING and not charge.authorized
    # The same page stood in for the bank of internet banking, before it was discontinued:
    # charges made then still show its page (new ones go to app_handoff).
    method = sources.LABELS.get((charge.source or {}).get("type", ""), "")
    response = render(
        request,
        "sandbox/three_d_secure.html",
        {"charge": charge, "awaiting": awaiting, "method": method},
    )
    # After the POST the browser follows a redirect to the shop: form-action must allow it.
    return _with_csp(response, form_action=[CSP.SELF, _origin(charge.return_uri or "")])


@require_http_methods(["GET", "POST"])
def app_handoff(request: HttpRequest, charge_id: str) -> HttpResponse:
    """The bank's app (mobile banking), the wallet's or the card issuer's page (installments):
    Pay, Cancel or Let it time out settles the charge, then back to the charge's return_uri."""
    charge = Charge.objects.filter(id=charge_id, source__isnull=False).first()
    if charge is None or (charge.source or {}).get("flow") == sources.OFFLINE:
        raise Http404
    if request.method == "POST":
        with contextlib.suppress(SandboxError):  # settled already (a second tab): go back
            complete_offsite(charge_id=charge.id, outcome=request.POST.get("outcome", ""))
        return redirect(charge.return_uri)
    charge = get_charge(charge.id)  # expires it if its time has passed
    source_type = (charge.source or {}).get("type", "")
    response = render(
        request,
        "sandbox/app_handoff.html",
        {
            "charge": charge,
            "method": sources.LABELS.get(source_type, source_type),
            "app": source_type in sources.MOBILE_BANKING,
            "amount": _display_amount(str(charge.amount), charge.currency),
            "awaiting": charge.status == Charge.Status.PENDING and not charge.authorized,
        },
    )
    return _with_csp(response, form_action=[CSP.SELF, _origin(charge.return_uri or "")])


def _display_amount(amount: str, currency: str) -> str:
    try:
        value = int(amount)
    except (TypeError, ValueError):
        return ""
    currency = (currency or "thb").lower()
    if currency == "thb":
        return f"฿{value / 100:,.2f}"
    if currency == "jpy":
        return f"¥{value:,}"
    return f"{value / 100:,.2f} {currency.upper()}"


@xframe_options_exempt
def card_frame(request: HttpRequest) -> HttpResponse:
    """The pre-built form, framed by the shop: only the shop's origin may frame it, and the
    token or source id goes to that origin only (postMessage target)."""
    # Omise's `locale` option: the form speaks the shopper's language (en or th here).
    locale = request.GET.get("locale", "en")
    with translation.override(locale if locale in CARD_FRAME_LOCALES else "en"):
        return _card_frame(request)


CARD_FRAME_LOCALES = {"en", "th"}


def _card_frame(request: HttpRequest) -> HttpResponse:
    amount = _display_amount(request.GET.get("amount", ""), request.GET.get("currency", ""))
    submit_label = request.GET.get("submitLabel") or (
        _("Pay %(amount)s") % {"amount": amount} if amount else _("Pay")
    )
    # otherPaymentMethods: a method picker above the card fields, for the types modelled here
    # that this account has; "installment" offers each issuer's terms open to this amount.
    others = request.GET.get("otherPaymentMethods", "").split(",")
    enabled = set(sources.enabled_methods())
    try:
        amount_value = int(request.GET.get("amount", ""))
    except ValueError:
        amount_value = 0
    currency = request.GET.get("currency", "")
    plans = []
    if "installment" in others:
        for name, (issuer, _terms) in sources.INSTALLMENTS.items():
            for term in sources.installment_terms_for(name, amount_value):
                monthly = _display_amount(str(amount_value // term), currency)
                plans.append(
                    (
                        f"{name}:{term}",
                        _("%(issuer)s, %(term)s months (%(monthly)s/month)")
                        % {"issuer": issuer, "term": term, "monthly": monthly},
                    )
                )
    context = {
        "public_key": request.GET.get("key", ""),
        "frame_label": request.GET.get("frameLabel") or "Omise sandbox",
        "submit_label": submit_label[:60],
        "parent_origin": settings.SHOP_ORIGIN.rstrip("/"),
        "amount": request.GET.get("amount", "")[:12],
        "currency": request.GET.get("currency", "thb")[:3],
        "other_methods": [
            (m, _(sources.LABELS[m]))
            for m in dict.fromkeys(others)
            if m in sources.LABELS and m in enabled and m not in sources.INSTALLMENTS
        ],
        "installment_plans": plans,
    }
    response = render(request, "sandbox/card_frame.html", context)
    return _with_csp(response, frame_ancestors=[settings.SHOP_ORIGIN.rstrip("/")])


def try_page(request: HttpRequest) -> HttpResponse:
    """A page of the *shop's* origin that uses Omise.js the way a checkout does (browser test
    and manual try-out); it never sees a card field."""
    sandbox_origin = settings.SANDBOX_ORIGIN.rstrip("/")
    context = {
        "omise_js_url": settings.OMISE_JS_URL,
        "public_key": settings.OMISE_PUBLIC_KEY,
        "amount": request.GET.get("amount", "129000"),
    }
    response = render(request, "sandbox/try.html", context)
    return _with_csp(
        response,
        script_src=[CSP.SELF, CSP.NONCE, sandbox_origin],
        frame_src=[sandbox_origin],
        connect_src=[CSP.SELF, sandbox_origin],
    )
