from django.contrib import admin, messages
from django.db.models import Count, Max, Q
from django.urls import path

from checkout import admin_views
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


@admin.action(description="Reconcile with Omise")
def reconcile_with_omise(model_admin, request, queryset):
    """Ask Omise about the selected attempts (or the orders' attempts) and apply the answers."""
    attempts = (
        PaymentAttempt.objects.filter(order__in=queryset) if queryset.model is Order else queryset
    ).select_related("order")
    model_admin.message_user(request, f"Reconciled {describe(reconcile_attempts(attempts))}.")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
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
    list_filter = ["status", ("duplicate_of", admin.EmptyFieldListFilter), "country", "created_at"]
    search_fields = ["reference", "email", "name", "attempts__charge_id"]
    date_hierarchy = "created_at"
    inlines = [OrderItemInline, PaymentAttemptInline, RefundInline, AuthorizationActionInline]
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
        authorized = Q(attempts__status=PaymentAttempt.Status.AUTHORIZED)
        return (
            super()
            .get_queryset(request)
            .annotate(
                _capture_by=Max("attempts__expires_at", filter=authorized),
                _open_disputes=Count(
                    "disputes", filter=Q(disputes__status__in=Dispute.OPEN_STATUSES), distinct=True
                ),
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
        return bool(order._open_disputes) or None

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
            *super().get_urls(),
        ]


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(admin.ModelAdmin):
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
    date_hierarchy = "created_at"
    actions = [reconcile_with_omise]
    readonly_fields = [f.name for f in PaymentAttempt._meta.fields if f.name != "return_token"]
    exclude = ["return_token"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["received_at", "event_id", "signature_valid", "response_status", "outcome"]
    list_filter = ["response_status", "signature_valid"]
    search_fields = ["event_id"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "key", "processed_at", "created_at"]
    list_filter = ["key", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id"]
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
