from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, Subquery
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.timesince import timeuntil

from checkout import admin_views
from checkout.catchup import describe_catch_up, events_catch_up
from checkout.disputes import omise_dashboard_url
from checkout.forms import COUNTRIES
from checkout.ids import is_omise_id
from checkout.models import (
    AuthorizationAction,
    Dispute,
    Order,
    OrderItem,
    PaymentAttempt,
    Refund,
    WebhookDelivery,
    WebhookEvent,
)
from checkout.omise import OmiseError
from checkout.reconcile import describe, event_reapply, reconcile_attempts
from security.paging import LargeTablePaginator


class LargeTableAdmin(admin.ModelAdmin):
    """A list over a table that grows with the shop: the count stops being exact past ten
    thousand rows (security/paging.py) and the unfiltered total is not counted again."""

    paginator = LargeTablePaginator
    show_full_result_count = False


class CountryFilter(admin.SimpleListFilter):
    """The checkout form's countries: a fixed list, where Django's default filter would read
    every order's country (SELECT DISTINCT over the whole table) on every page."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        return COUNTRIES

    def queryset(self, request, queryset):
        return queryset.filter(country=self.value()) if self.value() else queryset


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    readonly_fields = ["product", "name", "sku", "unit_price", "quantity"]
    can_delete = False


class PaymentAttemptInline(admin.TabularInline):
    model = PaymentAttempt
    extra = 0
    fields = (
        "charge_id",
        "status",
        "failure_code",
        "merchant_advice",
        "expires_at",
        "card_brand",
        "card_last_digits",
        "created_at",
    )
    readonly_fields = fields
    can_delete = False
    show_change_link = True


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    fields = ("refund_id", "amount", "currency", "created_by", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # refunds go through the order's Refund page, i.e. through Omise


class AuthorizationActionInline(admin.TabularInline):
    """Who captured or released the authorization, and when (manual capture)."""

    model = AuthorizationAction
    extra = 0
    fields = ("kind", "amount", "currency", "outcome", "created_by", "created_at")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "captures and releases"

    def has_add_permission(self, request, obj=None):
        return False  # through the order's Capture page, i.e. through Omise


class DisputeInline(admin.TabularInline):
    model = Dispute
    extra = 0
    fields = ("dispute_id", "status", "amount", "currency", "reason_code", "respond_by")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # disputes come from Omise


@admin.action(description="Reconcile with Omise")
def reconcile_with_omise(model_admin, request, queryset):
    """Ask Omise about the selected attempts (or the orders' attempts) and apply the answers."""
    attempts = (
        PaymentAttempt.objects.filter(order__in=queryset) if queryset.model is Order else queryset
    ).select_related("order")
    model_admin.message_user(request, f"Reconciled {describe(reconcile_attempts(attempts))}.")


@admin.register(Order)
class OrderAdmin(LargeTableAdmin):
    list_display = [
        "reference",
        "status",
        "amount",
        "refunded_amount",
        "currency",
        "email",
        "capture_by",
        "disputed",
        "duplicate_of",
        "created_at",
    ]
    # "Duplicate of": a second payment for a cart already paid, refunded automatically.
    list_filter = [
        "status",
        ("duplicate_of", admin.EmptyFieldListFilter),
        CountryFilter,
        "created_at",
    ]
    # Searched through indexes (get_search_results), so a year of orders answers as fast as a
    # week: no "contains" scan of every order and attempt. No date hierarchy either: its
    # links are read from every order's date; the "created at" filter does that job.
    search_fields = ["reference", "email", "name"]
    search_help_text = (
        "An order reference (LG-…), an e-mail address, a charge id (chrg_…) or the start of "
        "the buyer's name."
    )
    inlines = [
        OrderItemInline,
        PaymentAttemptInline,
        RefundInline,
        AuthorizationActionInline,
        DisputeInline,
    ]
    actions = [reconcile_with_omise]
    # Payment state changes only through Omise (services.charge_apply), never by hand.
    readonly_fields = [
        "reference",
        "status",
        "amount",
        "currency",
        "refunded_amount",
        "paid_at",
        "authorized_at",
        "captured_amount",
        "duplicate_of",
        "cart_id",
        "client_ip",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        # Correlated subqueries, read for the listed page's orders only (a join and GROUP BY
        # would aggregate every order of the year before the page is cut).
        authorized = PaymentAttempt.objects.filter(
            order=OuterRef("pk"),
            status=PaymentAttempt.Status.AUTHORIZED,
            expires_at__isnull=False,
        )
        open_disputes = Dispute.objects.filter(
            order=OuterRef("pk"), status__in=Dispute.OPEN_STATUSES
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                _capture_by=Subquery(authorized.order_by("-expires_at").values("expires_at")[:1]),
                _open_disputes=Exists(open_disputes),
            )
        )

    @admin.display(description="Capture by", ordering="_capture_by")
    def capture_by(self, order):
        """An authorized order's deadline to capture (the charge's expires_at)."""
        if order.status != Order.Status.AUTHORIZED:
            return ""
        return order._capture_by or "unknown"

    @admin.display(description="Disputed", boolean=True)
    def disputed(self, order):
        return order._open_disputes or None

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if is_omise_id("chrg", term):
            attempts = PaymentAttempt.objects.filter(charge_id=term).values("order_id")
            return queryset.filter(pk__in=attempts), False
        if "@" in term:
            return queryset.filter(email__iexact=term), False
        if term.upper().startswith("LG-"):
            return queryset.filter(reference=term.upper()), False
        # Names as typed or capitalised ("somchai" finds "Somchai …"): a prefix the index reads.
        return queryset.filter(Q(name__startswith=term) | Q(name__startswith=term.title())), False

    def get_urls(self):
        wrap = self.admin_site.admin_view  # the same verified-2FA staff check as every page

        def refund(request, object_id):
            return admin_views.order_refund(self, request, object_id)

        def capture(request, object_id):
            return admin_views.order_capture_page(self, request, object_id)

        return [
            path("<path:object_id>/refund/", wrap(refund), name="checkout_order_refund"),
            path("<path:object_id>/capture/", wrap(capture), name="checkout_order_capture"),
            path(
                "monitoring/",
                wrap(lambda request: admin_views.dashboard(self.admin_site, request)),
                name="checkout_monitoring",
            ),
            path(
                "payment-methods/",
                wrap(lambda request: admin_views.payment_methods_page(self.admin_site, request)),
                name="checkout_payment_methods",
            ),
            *super().get_urls(),
        ]


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(LargeTableAdmin):
    list_display = [
        "order",
        "charge_id",
        "payment_method",
        "status",
        "failure_code",
        "amount",
        "created_at",
    ]
    list_filter = ["status", "payment_method", "failure_code", "card_brand"]
    search_fields = ["charge_id", "order__reference", "order__email", "card_fingerprint"]
    actions = [reconcile_with_omise]
    readonly_fields = [f.name for f in PaymentAttempt._meta.fields if f.name != "return_token"]
    exclude = ["return_token"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LargeTableAdmin):
    list_display = ["received_at", "event_id", "signature_valid", "response_status", "outcome"]
    list_filter = ["response_status", "signature_valid"]
    search_fields = ["event_id__exact"]  # through its index; ids are searched whole
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]


@admin.register(WebhookEvent)
class WebhookEventAdmin(LargeTableAdmin):
    list_display = ["event_id", "key", "arrival", "processed_at", "created_at"]
    list_filter = ["key", "arrival", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id__exact"]
    change_list_template = "admin/checkout/webhookevent/change_list.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view

        def catch_up(request):
            if request.method != "POST" or not self.has_change_permission(request):
                raise PermissionDenied
            try:
                outcome = events_catch_up()
            except OmiseError as error:
                self.message_user(
                    request, f"Omise could not list events now: {error}", messages.WARNING
                )
            else:
                self.message_user(request, f"Catch-up: {describe_catch_up(outcome)}.")
            return redirect("admin:checkout_webhookevent_changelist")

        return [
            path("catch-up/", wrap(catch_up), name="checkout_webhookevent_catch_up"),
            *super().get_urls(),
        ]

    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    actions = ["refetch_and_reapply"]

    @admin.action(description="Re-fetch from Omise and re-apply")
    def refetch_and_reapply(self, request, queryset):
        done, failed = 0, []
        for record in queryset:
            try:
                event_reapply(record=record)
                done += 1
            except OmiseError as error:
                failed.append(f"{record.event_id} ({error.__class__.__name__})")
        if done:
            self.message_user(request, f"Re-applied {done} event{'s' if done != 1 else ''}.")
        if failed:
            self.message_user(
                request, "Omise could not be asked about: " + ", ".join(failed), messages.WARNING
            )


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """Chargebacks, soonest deadline first; each page answers or accepts through Omise."""

    list_display = [
        "dispute_id",
        "order",
        "status",
        "amount",
        "currency",
        "reason_code",
        "respond_by",
        "time_left",
    ]
    list_filter = ["status", "reason_code"]
    search_fields = ["dispute_id", "charge_id", "order__reference", "order__email"]
    readonly_fields = [f.name for f in Dispute._meta.fields]
    change_form_template = "admin/checkout/dispute/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Time left", ordering="respond_by")
    def time_left(self, record):
        if not record.is_open or record.respond_by is None:
            return ""
        if record.respond_by <= timezone.now():
            return "past the deadline"
        return timeuntil(record.respond_by)

    def get_urls(self):
        wrap = self.admin_site.admin_view

        def answer(request, object_id):
            return admin_views.dispute_answer(self, request, object_id)

        return [
            path("<path:object_id>/answer/", wrap(answer), name="checkout_dispute_answer"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record = self.get_object(request, object_id)
        extra = {"omise_url": omise_dashboard_url(record) if record else ""}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})
