from django.contrib import admin

from .. import services
from ..models import Product
from .base import LicensingAdmin


@admin.register(Product)
class ProductAdmin(LicensingAdmin):
    list_display = ["name", "code", "authorization_method", "created_at"]
    list_filter = ["authorization_method"]
    search_fields = ["name", "code"]
    fieldsets = [(None, {"fields": ["name", "code", "authorization_method"]})]
    create_service = staticmethod(services.product_create)
    update_service = staticmethod(services.product_update)
    service_argument = "product"
