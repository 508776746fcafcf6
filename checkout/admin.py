from django.contrib import admin, messages
from django.db.models import Q
from django.urls import path

from checkout import admin_views
from checkout.forms import COUNTRIES
from checkout.ids import is_omise_id
from checkout.models import (
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
    fields = ("charge_id", "status", "failure_code", "card_brand", "card_last_digits", "created_at")
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
    inlines = [OrderItemInline, PaymentAttemptInline, RefundInline]
    actions = [reconcile_with_omise]
    # Payment state changes only through Omise (services.charge_apply), never by hand.
    readonly_fields = [
        "reference",
        "status",
        "amount",
        "currency",
        "refunded_amount",
        "paid_at",
        "duplicate_of",
        "cart_id",
        "client_ip",
        "created_at",
        "updated_at",
    ]

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

        return [
            path("<path:object_id>/refund/", wrap(refund), name="checkout_order_refund"),
            path(
                "monitoring/",
                wrap(lambda request: admin_views.dashboard(self.admin_site, request)),
                name="checkout_monitoring",
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
    list_display = ["event_id", "key", "processed_at", "created_at"]
    list_filter = ["key", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id__exact"]
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
