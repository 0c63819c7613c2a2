from django.contrib import admin

from ..models import Product
from .display import AuditedAdminMixin


@admin.register(Product)
class ProductAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "code", "authorization_method", "created_at"]
    list_filter = ["authorization_method"]
    search_fields = ["name", "code"]
    fieldsets = [(None, {"fields": ["name", "code", "authorization_method"]})]
