from django.contrib import admin

from mails.models import OutboxMail


@admin.register(OutboxMail)
class OutboxMailAdmin(admin.ModelAdmin):
    """Read-only: the outbox is written by the payment story and the disputes, never by hand."""

    list_display = ["created_at", "kind", "recipients", "language", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind", "language"]
    search_fields = ["key", "to"]
    readonly_fields = [field.name for field in OutboxMail._meta.fields]

    @admin.display(description="To")
    def recipients(self, obj: OutboxMail) -> str:
        return ", ".join(obj.to)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
