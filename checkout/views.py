"""Checkout views: thin. The rules live in checkout.services, the receiver in checkout.webhooks."""

import secrets

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from checkout import payment_methods, services, velocity
from checkout.capability import capability_get
from checkout.csp import with_checkout_policy, with_omise_images
from checkout.failures import shopper_message
from checkout.forms import CheckoutForm
from checkout.models import Order, PaymentAttempt
from checkout.webhooks import webhook_receive
from security.clientip import client_ip
from shop.cart import Cart

ATTEMPT_SESSION_KEY = "checkout_attempt_key"
ORDERS_SESSION_KEY = "checkout_orders"
RECONCILE_EVERY_SECONDS = 3  # how often a waiting order page may ask Omise about its charge
# A PromptPay page waits minutes and polls every few seconds: webhooks do the work, and the
# poller asks Omise itself only this often (and every RECONCILE_EVERY_SECONDS once expired).
POLL_RECONCILE_EVERY_SECONDS = 15


def _attempt_key(session) -> str:
    """The idempotency key of this checkout page: kept until an attempt uses it."""
    key = session.get(ATTEMPT_SESSION_KEY)
    if not key or PaymentAttempt.objects.filter(key=key).exists():
        key = secrets.token_urlsafe(24)
        session[ATTEMPT_SESSION_KEY] = key
    return key


@never_cache
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    key = ""
    if request.method == "POST":
        key = request.POST.get("attempt_key", "")
        if not constant_time_compare(key, request.session.get(ATTEMPT_SESSION_KEY, "")):
            messages.error(
                request, _("This checkout page has expired. Please review and pay again.")
            )
            return redirect("checkout:checkout")
    # A double click or a refreshed POST: show the first outcome, never charge again. Both
    # questions (this key's attempt, the cart's paid order) in one query, before the velocity
    # limits count anything: a repeat and a cart paid meanwhile cost the shopper no points.
    cart = Cart(request.session)
    cart_id = cart.checkout_id() if cart.lines else ""
    existing, paid = services.attempt_and_paid_order(key=key, cart_id=cart_id)
    if existing:
        return _after_attempt(request, existing)
    if not cart.lines:
        messages.info(request, _("Your cart is empty: add something before checking out."))
        return redirect("shop:cart")
    if paid:
        # Paid (a webhook, another tab) while the shopper was away from its order page.
        return _cart_already_paid(request, cart, paid)

    form = CheckoutForm(
        request.POST or None,
        # A POST's key was just checked against the session and has no attempt yet: it is the
        # page's key, no need to look it up again.
        initial={"attempt_key": key or _attempt_key(request.session)},
    )
    if form.is_valid():
        try:
            attempt = services.checkout_submit(
                cart=cart,
                buyer=form.buyer(),
                shown=form.shown(),
                token=form.cleaned_data["omise_token"],
                source=form.cleaned_data["omise_source"],
                attempt_key=form.cleaned_data["attempt_key"],
                client_ip=client_ip(request),
                return_url=lambda a: request.build_absolute_uri(
                    reverse("checkout:return", args=[a.order.reference, a.return_token])
                ),
                # Card testing: a payer over a velocity limit is refused before any charge.
                payer=velocity.Identity.of(request, email=form.cleaned_data["email"]),
            )
        except services.VelocityBlocked as blocked:
            return velocity.refusal(request, blocked.block)
        except services.CartAlreadyPaid as already:
            return _cart_already_paid(request, cart, already.order)
        except services.CheckoutError as error:
            messages.error(request, str(error))
            return redirect("checkout:checkout")
        return _after_attempt(request, attempt)

    response = render(
        request,
        "checkout/checkout.html",
        {
            "form": form,
            "omise_public_key": settings.OMISE_PUBLIC_KEY,
            "omise_js_url": settings.OMISE_JS_URL,
            "shop_name": settings.SHOP_NAME,
            "omise_locale": _omise_locale(),
            # Only what the merchant's account takes for this cart (Omise's Capability API).
            "other_payment_methods": ",".join(
                capability_get().offered(amount=cart.total, currency=cart.currency)
            ),
            "cart": cart,  # the page shows (and its form carries) this very snapshot
            # An earlier try at paying this cart still in progress: linked, so the shopper
            # can finish it rather than pay twice.
            "pending_order": services.cart_pending_order(cart_id=cart_id),
        },
        status=400 if form.is_bound else 200,
    )
    return with_checkout_policy(response)


# The languages Omise's pre-built form speaks (its `locale` option); others get English.
OMISE_LOCALES = {"en", "th", "ja"}


def _omise_locale() -> str:
    code = (get_language() or "en").split("-")[0]
    return code if code in OMISE_LOCALES else "en"


def _cart_already_paid(request: HttpRequest, cart: Cart, order: Order) -> HttpResponse:
    """This cart's payment is in: empty the cart and show the order that holds it."""
    cart.clear()
    _remember_order(request, order)
    messages.info(
        request,
        _("This cart has already been paid with order %(reference)s.")
        % {"reference": order.reference},
    )
    return redirect(order)


def _remember_order(request: HttpRequest, order: Order) -> None:
    """The orders placed from this browser (its order pages may empty the cart)."""
    request.session[ORDERS_SESSION_KEY] = [
        *request.session.get(ORDERS_SESSION_KEY, [])[-9:],
        order.reference,
    ]


def _after_attempt(request: HttpRequest, attempt: PaymentAttempt) -> HttpResponse:
    """Send the shopper where the attempt's state says: bank, confirmation, or back to pay."""
    order = attempt.order
    _remember_order(request, order)
    if attempt.status == PaymentAttempt.Status.PENDING and attempt.authorize_uri:
        # To the bank for 3-D Secure, back via return_uri. Not a 302: the checkout's CSP
        # `form-action` also governs redirects after a form POST, and the bank's host is not
        # ours to list. A page that navigates on its own is not a form submission.
        offsite = attempt.payment_method not in (payment_methods.CARD, payment_methods.SOURCE)
        return render(
            request,
            "checkout/to_bank.html",
            {
                "authorize_uri": attempt.authorize_uri,
                # A bank's app, a wallet or an installment plan rather than 3-D Secure.
                "offsite_method": payment_methods.label(attempt.payment_method) if offsite else "",
            },
        )
    if attempt.status == PaymentAttempt.Status.FAILED and order.status != Order.Status.PAID:
        messages.error(
            request, shopper_message(attempt.failure_code, method=attempt.payment_method)
        )
        return redirect("checkout:checkout")
    return redirect(order)


@never_cache
@require_GET
def payment_return(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    """Where the bank sends the shopper after 3-D Secure: confirm by retrieving the charge."""
    attempts = PaymentAttempt.objects.select_related("order").filter(order__reference=reference)
    attempt = next((a for a in attempts if constant_time_compare(token, a.return_token)), None)
    if attempt is None:
        raise Http404
    try:
        attempt = services.attempt_returned(
            attempt=attempt, payer=velocity.Identity.of(request, email=attempt.order.email)
        )
    except services.VelocityBlocked as blocked:
        return velocity.refusal(request, blocked.block)
    if services.attempt_needs_reconcile(attempt):
        # Back from the bank, but Omise has not finished: "still confirming" on the order page
        # (it refreshes until a webhook or a retrieve settles it), never the bank's page again.
        return redirect(attempt.order)
    return _after_attempt(request, attempt)


@never_cache
@require_GET
def order_detail(request: HttpRequest, reference: str, token: str) -> HttpResponse:
    order = get_object_or_404(Order, reference=reference)
    if not constant_time_compare(token, order.access_token):
        raise Http404
    attempt = order.attempts.first()
    # A waiting page asks Omise itself now and then, so it settles even if no webhook comes.
    if (
        attempt
        and services.attempt_needs_reconcile(attempt)
        and cache.add(f"reconcile:{attempt.pk}", 1, RECONCILE_EVERY_SECONDS)
    ):
        attempt = services.attempt_reconcile(attempt=attempt)
        order.refresh_from_db()
    if _paid_in_this_browser(request, order):
        cart = Cart(request.session)
        if order.cart_id and order.cart_id == cart.checkout_id(create=False):
            cart.clear()  # emptied only once the money is in, and only the cart it paid for
        _payment_settled(request, order, attempt)
    # PromptPay: the page shows the QR code and polls order_status (static JS), not a refresh.
    scanning = payment_methods.awaiting_scan(attempt)
    response = render(
        request,
        "checkout/order_detail.html",
        {
            "order": order,
            # With their products: each line shows the product's name in the shopper's language.
            "items": order.items.select_related("product"),
            "attempt": attempt,
            "awaiting_scan": scanning,
            "method_label": payment_methods.label(attempt.payment_method) if attempt else "",
            "failure_message": shopper_message(attempt.failure_code, method=attempt.payment_method)
            if attempt
            else "",
            # A pending page watches its status (static/js/promptpay.js polls order_status and
            # reloads once it settles): no timed <meta> refresh, which WCAG 2.2.1 forbids.
            "watch_status": order.status == Order.Status.PENDING,
        },
    )
    return with_omise_images(response) if scanning else response


@never_cache
@require_GET
def order_status(request: HttpRequest, reference: str, token: str) -> JsonResponse:
    """`{"status": …}` of an order, for the PromptPay page's poller: the shop answers from its
    database (webhooks settle it) and asks Omise only now and then, or once the QR code has
    expired. The browser never talks to Omise about the payment."""
    order = get_object_or_404(Order, reference=reference)
    if not constant_time_compare(token, order.access_token):
        raise Http404
    attempt = order.attempts.first()
    if attempt and services.attempt_needs_reconcile(attempt):
        overdue = attempt.expires_at is not None and attempt.expires_at <= timezone.now()
        # A QR code waits minutes: ask Omise now and then. A bank confirming (3-D Secure) or an
        # unknown outcome settles in seconds: ask as often as its page did.
        scanning = payment_methods.awaiting_scan(attempt)
        every = (
            POLL_RECONCILE_EVERY_SECONDS if scanning and not overdue else RECONCILE_EVERY_SECONDS
        )
        if cache.add(f"reconcile:{attempt.pk}", 1, every):
            attempt = services.attempt_reconcile(attempt=attempt)
            order.refresh_from_db()
    if _paid_in_this_browser(request, order):
        _payment_settled(request, order, attempt)
    return JsonResponse({"status": order.status})


def _paid_in_this_browser(request: HttpRequest, order: Order) -> bool:
    """Is the order paid, and was it placed from this browser session (not just its link)?"""
    paid = order.status in {Order.Status.PAID, Order.Status.AUTHORIZED}
    return paid and order.reference in request.session.get(ORDERS_SESSION_KEY, [])


def _payment_settled(request: HttpRequest, order: Order, attempt: PaymentAttempt | None) -> None:
    services.attempt_settled_seen(
        attempt=attempt, payer=velocity.Identity.of(request, email=order.email)
    )


@csrf_exempt  # Omise cannot send a CSRF token; the signature and the re-fetch protect it
@require_POST
def omise_webhook(request: HttpRequest) -> JsonResponse:
    outcome = webhook_receive(request=request)
    return JsonResponse({"result": outcome.message}, status=outcome.status)
