"""Admin pages beyond Django's lists: the order's refund page and the monitoring dashboard.

Both are wired in `checkout.admin` through `ModelAdmin.get_urls` and wrapped in
`admin_site.admin_view`, so they need the same verified 2FA staff session as every admin page.
Views stay thin: refunds are `checkout.refunds`, numbers are `checkout.monitoring`.
"""

import secrets
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from checkout import capability, monitoring, payment_methods, svgchart
from checkout.capture import CaptureError, authorized_attempt, order_capture, order_reverse
from checkout.disputes import DisputeError, dispute_accept, dispute_message
from checkout.models import Order, PaymentAttempt
from checkout.omise import OmiseError
from checkout.refunds import RefundError, refund_create, refundable_amount
from shop.money import CURRENCIES, format_money


def parse_amount(text: str, currency: str) -> int:
    """Staff type major units ("1,290.50"); Omise wants minor units (129050). Exact, no floats."""
    exponent = CURRENCIES[currency].exponent
    cleaned = (text or "").strip().replace(",", "").removeprefix(CURRENCIES[currency].symbol)
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise forms.ValidationError("Enter an amount such as 1290.50.") from None
    minor = value * (10**exponent)
    if not value.is_finite() or minor != minor.to_integral_value():
        raise forms.ValidationError(
            f"Enter at most {exponent} decimal places." if exponent else "Enter a whole amount."
        )
    if minor <= 0:
        raise forms.ValidationError("The amount must be more than zero.")
    return int(minor)


def major_units(amount: int, currency: str) -> str:
    """129050 → "1290.50": the form's initial value, in the format `parse_amount` reads."""
    exponent = CURRENCIES[currency].exponent
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


class RefundForm(forms.Form):
    amount = forms.CharField(max_length=20, help_text="In the order's currency, e.g. 1290.50.")
    # One token per rendered form: submitting the same form twice refunds once.
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, order: Order, **kwargs):
        self.order = order
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Amount ({order.currency})"

    def clean_amount(self) -> int:
        return parse_amount(self.cleaned_data["amount"], self.order.currency)


def _order_to_change(model_admin, request: HttpRequest, object_id: str) -> Order:
    """The order this staff member may change: 404 for none (a malformed id too), 403 without
    the permission."""
    order = model_admin.get_object(request, object_id)
    if order is None:
        raise Http404
    if not model_admin.has_change_permission(request, order):
        raise PermissionDenied
    return order


def order_refund(model_admin, request: HttpRequest, object_id: str) -> HttpResponse:
    """GET: the refund form, prefilled with what is left to refund. POST: refund through Omise."""
    order = _order_to_change(model_admin, request, object_id)
    change_url = reverse("admin:checkout_order_change", args=[order.pk])
    left = refundable_amount(order)
    if request.method == "POST":
        form = RefundForm(request.POST, order=order)
        if form.is_valid():
            try:
                refund = refund_create(
                    order=order,
                    amount=form.cleaned_data["amount"],
                    requested_by=request.user,
                    request_token=form.cleaned_data["token"],
                )
            except RefundError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request,
                    f"Refunded {format_money(refund.amount, refund.currency)} of "
                    f"{order.reference} ({refund.refund_id}).",
                )
                return redirect(change_url)
    else:
        form = RefundForm(
            order=order,
            initial={
                "amount": major_units(left, order.currency),
                "token": secrets.token_urlsafe(24),
            },
        )
    paid = order.attempts.filter(status=PaymentAttempt.Status.SUCCESSFUL).first()
    method = paid.payment_method if paid else payment_methods.CARD
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Refund order {order.reference}",
        # Said before staff type an amount: some methods refund only in full, once.
        "method_label": payment_methods.label(method),
        "refund_rule": payment_methods.REFUND_RULE_TEXT[payment_methods.refund_rule(method)],
        "opts": model_admin.model._meta,
        "order": order,
        "original": order,
        "form": form,
        "refundable": format_money(left, order.currency),
        "can_refund": left > 0,
        "change_url": change_url,
    }
    status = 400 if form.is_bound else 200
    return TemplateResponse(request, "admin/checkout/order/refund.html", context, status=status)


class CaptureForm(forms.Form):
    """Capture (an amount, in full by default) or release the authorization."""

    action = forms.ChoiceField(choices=[("capture", "Capture"), ("reverse", "Release")])
    amount = forms.CharField(
        max_length=20,
        required=False,
        help_text="In the order's currency; less than authorized takes part, releasing the rest.",
    )
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, order: Order, **kwargs):
        self.order = order
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Amount ({order.currency})"

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("action") == "capture":
            try:
                data["amount"] = parse_amount(data.get("amount", ""), self.order.currency)
            except forms.ValidationError as error:
                self.add_error("amount", error)
        return data


def order_capture_page(model_admin, request: HttpRequest, object_id: str) -> HttpResponse:
    """GET: the authorization, its deadline, and the capture / release form. POST: act through
    Omise (checkout.capture), once per form."""
    order = _order_to_change(model_admin, request, object_id)
    change_url = reverse("admin:checkout_order_change", args=[order.pk])
    attempt = authorized_attempt(order)
    if request.method == "POST":
        form = CaptureForm(request.POST, order=order)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["action"] == "capture":
                    row = order_capture(
                        order=order,
                        amount=data["amount"],
                        requested_by=request.user,
                        request_token=data["token"],
                    )
                else:
                    row = order_reverse(
                        order=order, requested_by=request.user, request_token=data["token"]
                    )
            except CaptureError as error:
                form.add_error(None, str(error))
            else:
                done = "Captured" if row.kind == "capture" else "Released"
                messages.success(
                    request,
                    f"{done} {format_money(row.amount, row.currency)} of {order.reference}.",
                )
                return redirect(change_url)
    else:
        form = CaptureForm(
            order=order,
            initial={
                "action": "capture",
                "amount": major_units(order.amount, order.currency),
                "token": secrets.token_urlsafe(24),
            },
        )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Capture order {order.reference}",
        "opts": model_admin.model._meta,
        "order": order,
        "original": order,
        "attempt": attempt,
        "form": form,
        "can_act": attempt is not None and order.status == Order.Status.AUTHORIZED,
        "change_url": change_url,
        "actions": order.authorization_actions.select_related("created_by"),
    }
    status = 400 if form.is_bound else 200
    return TemplateResponse(request, "admin/checkout/order/capture.html", context, status=status)


def dispute_answer(model_admin, request: HttpRequest, object_id: str) -> HttpResponse:
    """POST only: send the shop's answer to a dispute, or accept it, through Omise; back to the
    dispute's page with what happened."""
    record = model_admin.get_object(request, object_id)
    if record is None:
        raise Http404
    if not model_admin.has_change_permission(request, record) or request.method != "POST":
        raise PermissionDenied
    try:
        if request.POST.get("action") == "accept":
            record = dispute_accept(record=record)
            messages.success(request, f"Dispute {record.dispute_id} accepted.")
        else:
            record = dispute_message(record=record, message=request.POST.get("message", ""))
            messages.success(request, f"Answer sent for dispute {record.dispute_id}.")
    except DisputeError as error:
        messages.error(request, str(error))
    return redirect(reverse("admin:checkout_dispute_change", args=[record.pk]))


def _charts(rows, period: str, label_format: str) -> list:
    """One SVG bar chart per monitored series over `rows` (hourly or daily buckets)."""
    return [
        svgchart.bar_chart(
            title=f"{label}, {period}",
            labels=[row.start.strftime(label_format) for row in rows],
            values=[getattr(row, name) for row in rows],
        )
        for name, label in monitoring.SERIES
    ]


def dashboard(admin_site, request: HttpRequest) -> HttpResponse:
    """The monitoring dashboard: what a merchant watches (docs/operations.md)."""
    hourly = monitoring.hourly_series()
    daily = monitoring.daily_series()
    charts = _charts(hourly, "per hour, last 24 hours", "%H:%M")
    daily_charts = _charts(daily, "per day, last 14 days", "%d %b")
    context = {
        **admin_site.each_context(request),
        "title": "Monitoring",
        "summary_24h": monitoring.summary(hours=24),
        "summary_14d": monitoring.summary(hours=24 * 14),
        "series": monitoring.SERIES,
        "hourly": hourly,
        "daily": daily,
        "charts": charts,
        "daily_charts": daily_charts,
        "top_ips": monitoring.top_decline_ips(hours=24 * 14),
        "top_emails": monitoring.top_decline_emails(hours=24 * 14),
        "ops": monitoring.operations(),
    }
    return TemplateResponse(request, "admin/checkout/monitoring.html", context)


def payment_methods_page(admin_site, request: HttpRequest) -> HttpResponse:
    """The account's payment methods as the checkout sees them (Omise's Capability API): GET
    shows the cached copy, POST reads it from Omise now (staff who may change orders)."""
    if request.method == "POST":
        if not request.user.has_perm("checkout.change_order"):
            raise PermissionDenied
        try:
            capability.capability_refresh()
        except OmiseError as error:
            messages.error(request, f"Omise's capability could not be read: {error}")
        else:
            messages.success(request, "Read the account's payment methods from Omise.")
        return redirect("admin:checkout_payment_methods")
    current = capability.capability_get()
    context = {
        **admin_site.each_context(request),
        "title": "Payment methods",
        "capability": current,
        "rows": capability.describe(current),
        "summary": capability.summary(current),
        "can_refresh": request.user.has_perm("checkout.change_order"),
    }
    return TemplateResponse(request, "admin/checkout/payment_methods.html", context)
