import ipaddress

from django.contrib import admin

from security.models import SecurityEvent
from security.paging import LargeTablePaginator


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "path", "field_name", "client_ip"]
    list_filter = ["kind", "created_at"]
    # A year of events is a million rows: searched through indexes (an address, or the start
    # of a path), counted up to a bound (security/paging.py), no date hierarchy (its links
    # are read from every row's date; the "created at" filter does that job).
    search_fields = ["client_ip", "path"]
    search_help_text = "A client IP address, or the start of a path (/checkout/…)."
    paginator = LargeTablePaginator
    show_full_result_count = False
    readonly_fields = [f.name for f in SecurityEvent._meta.fields]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(client_ip=str(ipaddress.ip_address(term))), False
        except ValueError:
            return queryset.filter(path__startswith=term), False

    def has_add_permission(self, request):
        return False  # events are evidence: recorded by the controls, never typed in

    def has_change_permission(self, request, obj=None):
        return False
