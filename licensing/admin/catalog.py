from django import forms
from django.contrib import admin

from .. import services
from ..models import Product, ProductFeature
from .base import LicensingAdmin

TRIALS = (
    "Trials",
    {
        "fields": ["trial_allowed", "trial_duration", "trial_seats", "trial_features"],
        "description": "Client applications ask for a trial key themselves (GET /api/v4/trial_key): one per "
        "machine and one per email address. Only products activated with license keys offer trials.",
    },
)


@admin.register(Product)
class ProductAdmin(LicensingAdmin):
    list_display = ["name", "code", "authorization_method", "trial_allowed", "created_at"]
    list_filter = ["authorization_method", "trial_allowed"]
    search_fields = ["name", "code"]
    fieldsets = [(None, {"fields": ["name", "code", "authorization_method"]}), TRIALS]
    create_service = staticmethod(services.product_create)
    update_service = staticmethod(services.product_update)
    service_argument = "product"

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            # A new product has no features yet for a trial to grant: they are chosen once it has.
            fieldsets = [
                (name, {**options, "fields": [f for f in options["fields"] if f != "trial_features"]})
                for name, options in fieldsets
            ]
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        field = form.base_fields.get("trial_features")
        if field is not None:
            # Of the product's own features only; a handful, so checkboxes rather than a picker.
            field.widget = forms.CheckboxSelectMultiple()
            field.queryset = ProductFeature.objects.filter(product=obj).order_by("code")
        return form
