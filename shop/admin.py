from django.contrib import admin

from shop.models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "name_th", "price", "currency", "active"]
    list_filter = ["active", "currency"]
    search_fields = ["name", "name_th", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["slug", "price", "currency", "image", "active"]}),
        ("English", {"fields": ["name", "description"]}),
        ("ไทย (Thai)", {"fields": ["name_th", "description_th"]}),
    ]
