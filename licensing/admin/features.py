"""Product features, the grants of them, and what metered entitlements consumed."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join

from .. import metering, services
from ..actors import Actor
from ..errors import InvalidEdit
from ..models import Entitlement, EntitlementFeature, ProductFeature
from ..models.features import MAX_CONSUMPTION_STEP, METERING_FIELDS
from .base import LicensingAdmin, ReadOnlyInline
from .display import change_link, moment_column


@admin.register(ProductFeature)
class ProductFeatureAdmin(LicensingAdmin):
    list_display = ["code", "name", "product", "feature_type"]
    list_select_related = ["product"]
    list_filter = ["feature_type", "product"]
    search_fields = ["code", "name", "product__name", "product__code"]
    autocomplete_fields = ["product"]
    fixed_after_creation = ("product",)
    fieldsets = [(None, {"fields": ["product", "code", "name", "feature_type"]})]
    create_service = staticmethod(services.product_feature_create)
    update_service = staticmethod(services.product_feature_update)
    service_argument = "product_feature"


@admin.register(EntitlementFeature)
class EntitlementFeatureAdmin(LicensingAdmin):
    list_display = ["feature", "entitlement", "value", "expires_at", "max_consumptions", "reset_period"]
    list_select_related = ["feature", "entitlement__customer", "entitlement__product"]
    list_filter = ["feature__feature_type", "reset_period"]
    search_fields = ["feature__code", "feature__name", "entitlement__customer__name"]
    autocomplete_fields = ["entitlement", "feature"]
    fixed_after_creation = ("entitlement", "feature")
    fieldsets = [
        (None, {"fields": ["entitlement", "feature", "value", "expires_at"]}),
        (
            "Consumption",
            {
                "fields": list(METERING_FIELDS),
                "description": "For a consumption feature: what its counter allows per period.",
            },
        ),
    ]
    create_service = staticmethod(services.entitlement_feature_grant)
    update_service = staticmethod(services.entitlement_feature_update)
    service_argument = "entitlement_feature"


class FeatureGrantInline(ReadOnlyInline):
    model = EntitlementFeature
    verbose_name_plural = "Features granted"
    fields = ["grant", "value", "expires", "max_consumptions", "reset_period"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("feature")

    @admin.display(description="Feature")
    def grant(self, obj: EntitlementFeature) -> str:
        return change_link(obj, obj.feature)

    expires = moment_column("expires_at", "Expires at")


def usage_bars(entitlement: Entitlement) -> str:
    """Each meter's use this period against its limit, as a bar people read at a glance
    (a <meter>: no inline style, which the pages' Content-Security-Policy refuses), with
    the words beside it."""
    rows = metering.usage_rows(entitlement, timezone.now())
    if not rows:
        return "Not metered"
    return format_html(
        '<div class="usage">{}</div><p><a class="button" href="{}">Correct usage…</a></p>',
        format_html_join(
            "",
            '<div class="usage-row"><span class="usage-name">{}</span>{}<span class="usage-words">{}</span></div>',
            ((row["name"], meter_bar(row), row["words"]) for row in rows),
        ),
        reverse("admin:licensing_entitlement_correct_usage", args=[entitlement.pk]),
    )


def meter_bar(row: dict) -> str:
    if row["limit"] is None:
        return ""
    return format_html(
        '<meter class="usage-bar" min="0" max="{}" high="{}" optimum="0" value="{}" aria-label="{}"></meter>',
        row["limit"],
        row["high"],
        row["used"],
        row["name"],
    )


# The entitlement's own meter among the choices: no feature code starts with a hyphen.
OWN_METER = "-"


class UsageCorrectionForm(forms.Form):
    meter = forms.ChoiceField(label="Meter", help_text="The entitlement's own count, or one consumption feature's.")
    amount = forms.IntegerField(
        min_value=-MAX_CONSUMPTION_STEP,
        max_value=MAX_CONSUMPTION_STEP,
        help_text="How much to add to this period's count; negative to take away.",
    )
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Required. Kept in the usage history and the audit trail.",
    )

    def __init__(self, *args, entitlement: Entitlement, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        now = timezone.now()
        own = [(OWN_METER, "Entitlement")] if metering.entitlement_meter(entitlement) else []
        features = [
            (terms["code"], f"{terms['name']} ({terms['code']})")
            for terms in entitlement.granted_features(now)
            if metering.feature_meter(terms)
        ]
        self.fields["meter"].choices = own + features


def correct_usage_view(model_admin, request: HttpRequest, object_id: str) -> HttpResponse:
    """Staff correct a meter's count this period, with a reason, through the service."""
    entitlement = model_admin.get_object(request, unquote(object_id))
    if entitlement is None:
        raise Http404("No entitlement with that id.")
    if not model_admin.has_change_permission(request, entitlement):
        raise PermissionDenied
    change_url = reverse("admin:licensing_entitlement_change", args=[entitlement.pk])
    form = UsageCorrectionForm(request.POST or None, entitlement=entitlement)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["meter"]
        own = code == OWN_METER
        feature = None if own else ProductFeature.objects.filter(product=entitlement.product, code=code).first()
        try:
            services.consumption_correct(
                entitlement=entitlement,
                amount=form.cleaned_data["amount"],
                feature=feature,
                reason=form.cleaned_data["reason"],
                actor=Actor.staff(request),
            )
        except InvalidEdit as refused:
            for field, problems in refused.errors.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            model_admin.message_user(request, f"Usage of “{entitlement}” corrected.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Entitlement._meta,
        "title": "Correct usage",
        "entitlement": entitlement,
        "facts": [(meter["name"], meter["words"]) for meter in metering.usage_rows(entitlement, timezone.now())],
        "consequence": "The correction is added to this period's count and kept, with its reason, in the usage "
        "history and the audit trail. The count itself is never edited.",
        "form": form,
        "media": form.media,
        "cancel_url": change_url,
    }
    return TemplateResponse(request, "admin/licensing/entitlement_form.html", context)


def usage_by_day_table(entitlement: Entitlement, days: int = 30) -> str:
    """What was counted each of the last `days` days, per meter, corrections included."""
    names = {terms["code"]: terms["name"] for terms in entitlement.feature_terms}
    start = timezone.now().date() - dt.timedelta(days=days - 1)
    rows = metering.usage_by_day(entitlement, start=start)
    if not rows:
        return "Nothing counted in the last 30 days."
    return format_html(
        '<table class="usage-days"><thead><tr><th>Day (UTC)</th><th>Meter</th><th>Counted</th><th>Entries</th>'
        "</tr></thead><tbody>{}</tbody></table>",
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    formats.date_format(row["date"], "DATE_FORMAT"),
                    names.get(row["feature"]) or row["feature"] or "Entitlement",
                    f"{row['consumed']:,}",
                    row["entries"],
                )
                for row in rows
            ),
        ),
    )
