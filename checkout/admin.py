from django.contrib import admin

from checkout.models import Order, OrderItem, PaymentAttempt, WebhookDelivery, WebhookEvent


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    readonly_fields = ["product", "name", "sku", "unit_price", "quantity"]
    can_delete = False


class PaymentAttemptInline(admin.TabularInline):
    model = PaymentAttempt
    extra = 0
    fields = ["charge_id", "status", "failure_code", "card_brand", "card_last_digits", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["reference", "status", "amount", "currency", "email", "created_at"]
    list_filter = ["status", "country", "created_at"]
    search_fields = ["reference", "email", "name", "attempts__charge_id"]
    date_hierarchy = "created_at"
    inlines = [OrderItemInline, PaymentAttemptInline]
    # Payment state changes only through Omise (services.charge_apply), never by hand.
    readonly_fields = ["reference", "status", "amount", "currency", "refunded_amount", "paid_at",
                       "client_ip", "created_at", "updated_at"]


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(admin.ModelAdmin):
    list_display = ["order", "charge_id", "status", "failure_code", "amount", "created_at"]
    list_filter = ["status", "failure_code", "card_brand"]
    search_fields = ["charge_id", "order__reference", "card_fingerprint"]
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
    list_filter = ["key"]
    search_fields = ["event_id"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
