from django.contrib import admin

from security.models import SecurityEvent


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "path", "field_name", "client_ip"]
    list_filter = ["kind", "created_at"]
    search_fields = ["path", "field_name", "client_ip", "user_agent"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in SecurityEvent._meta.fields]

    def has_add_permission(self, request):
        return False  # events are evidence: recorded by the controls, never typed in

    def has_change_permission(self, request, obj=None):
        return False
