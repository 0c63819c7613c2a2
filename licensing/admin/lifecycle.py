"""An entitlement's life after it is sold or handed out: trials and their conversion,
the end of validity (grace, expiry notices) and renewal.

Renew and Convert to paid take more than a reason, so they are not `ObjectAction`s
(actions.py) but small form pages of their own, as Correct usage is (features.py):
a button on the entitlement's page leads to the form, whose POST calls the one service
(`entitlement_renew`, `trial_convert`) that the management API calls too. The service
decides; its refusals (`InvalidEdit`) are shown on the form's fields.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.contrib.admin.utils import unquote
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join

from .. import services
from ..actors import Actor
from ..errors import InvalidEdit
from ..models import Customer, Entitlement, ExpiryNotice, Trial
from ..services.renewals import FROM_EXPIRY, FROM_NOW, MAX_RENEWAL_DAYS, first_notice_window
from .base import RecordsAdmin, SafeAutocompleteSelect
from .display import trial_badge

# The notices listed on an entitlement's page, newest first: each end announces at most
# a few (one per milestone), so this covers several renewals.
NOTICES_SHOWN = 20


def when(moment: dt.datetime) -> str:
    """A moment as these pages and messages write it: in the admin's time zone (UTC,
    as the audit history), to the minute, with the zone named."""
    return formats.date_format(timezone.localtime(moment), "Y-m-d H:i T")


def trial_of(entitlement: Entitlement) -> Trial | None:
    """The trial an entitlement was handed out as (one query, cached on the row), or None."""
    try:
        return entitlement.trial
    except ObjectDoesNotExist:
        return None


# --- The list's filters ------------------------------------------------------------------


class TrialFilter(admin.SimpleListFilter):
    title = "trial or paid"
    parameter_name = "trial"

    def lookups(self, request, model_admin):
        return [("yes", "Trial"), ("no", "Paid")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(is_trial=self.value() == "yes")
        return queryset


class EndOfValidityFilter(admin.SimpleListFilter):
    """Entitlements near their end: ending within the first expiry notice's window
    (those the vendor is being told about), or past it and in their grace period."""

    title = "end of validity"
    parameter_name = "ending"

    def lookups(self, request, model_admin):
        window = first_notice_window()
        choices = [("soon", f"Expiring soon (within {window.days} days)")] if window else []
        return [*choices, ("grace", "In grace")]

    def queryset(self, request, queryset):
        if self.value() == "soon":
            window = first_notice_window()
            return queryset.ending_within(window) if window else queryset
        if self.value() == "grace":
            return queryset.in_grace()
        return queryset


class ConvertedFilter(admin.SimpleListFilter):
    title = "converted"
    parameter_name = "converted"

    def lookups(self, request, model_admin):
        return [("yes", "Converted to paid"), ("no", "Not converted")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(converted_at__isnull=self.value() == "no")
        return queryset


# --- What the entitlement's page shows ---------------------------------------------------


def validity_words(entitlement: Entitlement, now: dt.datetime) -> str:
    """Where the entitlement stands against its end, in a sentence."""
    end = entitlement.valid_until
    if end is None:
        return "Never ends."
    if entitlement.in_grace(now):
        return f"In grace until {when(entitlement.grace_until)}: validity ended {when(end)}, licenses keep working."
    if end < now:
        return f"Ended {when(entitlement.access_until)}."
    days = (end - now).days
    left = "less than a day" if days == 0 else f"{days} day{'s' if days != 1 else ''}"
    grace = f", then {entitlement.grace_period.days} days of grace" if entitlement.grace_until else ""
    return f"Ends in {left} ({when(end)}){grace}."


def expiry_notices_table(entitlement: Entitlement) -> str:
    notices = list(entitlement.expiry_notices.order_by("-sent_at", "-pk")[:NOTICES_SHOWN])
    if not notices:
        return "None sent yet."
    return format_html(
        '<table class="expiry-notices"><thead><tr><th>Notice</th><th>About the end</th><th>Sent</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((milestone_words(notice.milestone), when(notice.ends_at), when(notice.sent_at)) for notice in notices),
        ),
    )


def milestone_words(milestone: int) -> str:
    if milestone == ExpiryNotice.EXPIRED:
        return "Expired"
    return f"{milestone} day{'s' if milestone != 1 else ''} before the end"


def trial_words(trial: Trial, entitlement: Entitlement) -> str:
    link = reverse("admin:licensing_trial_change", args=[trial.pk])
    started = format_html(
        'Handed out {} to {}, machine {} (<a href="{}">trial record</a>).',
        when(trial.created_at),
        trial.email,
        trial.hardware_id,
        link,
    )
    if entitlement.is_trial:
        return format_html("{} {}", trial_badge(entitlement), started)
    converted = f" {when(trial.converted_at)}" if trial.converted_at else ""
    return format_html("{} Converted to paid{}.", started, converted)


class EntitlementLifecycleMixin:
    """For the entitlement admin: the trial, the end of validity and the notices on the
    page, and the Renew and Convert to paid buttons and pages. Placed
    after `ObjectActionsMixin`, whose buttons it adds its own before."""

    @admin.display(description="End of validity")
    def validity_state(self, obj: Entitlement) -> str:
        return validity_words(obj, timezone.now())

    @admin.display(description="Expiry notices sent")
    def expiry_notices_sent(self, obj: Entitlement) -> str:
        return expiry_notices_table(obj)

    @admin.display(description="Trial")
    def trial_state(self, obj: Entitlement) -> str:
        trial = trial_of(obj)
        return trial_words(trial, obj) if trial else "—"

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            # Nothing to say yet of an entitlement being added.
            shown_later = {"validity_state", "expiry_notices_sent", "trial_state"}
            return [
                (name, {**opts, "fields": [f for f in opts["fields"] if f not in shown_later]})
                for name, opts in fieldsets
            ]
        trial = trial_of(obj)
        if trial is not None:
            # First while it is a trial (what the page is about), below the status once sold.
            name = "Trial" if obj.is_trial else "From a trial"
            section = (name, {"fields": ["trial_state"]})
            fieldsets.insert(0 if obj.is_trial else len(fieldsets) - 1, section)
        return fieldsets

    # Buttons and their pages.

    def get_urls(self):
        renew, convert = self.admin_site.admin_view(self.renew_view), self.admin_site.admin_view(self.convert_view)
        return [
            path("<path:object_id>/renew/", renew, name="licensing_entitlement_renew"),
            path("<path:object_id>/convert/", convert, name="licensing_entitlement_convert"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not add and self.has_change_permission(request, obj):
            buttons = []
            if obj.valid_until is not None:
                buttons.append({"label": "Renew", "url": lifecycle_url("renew", obj), "tone": "neutral"})
            if obj.is_trial:
                buttons.append({"label": "Convert to paid", "url": lifecycle_url("convert", obj), "tone": "neutral"})
            context["action_buttons"] = [*buttons, *context.get("action_buttons", [])]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def renew_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        entitlement = self._changeable(request, object_id)
        change_url = reverse("admin:licensing_entitlement_change", args=[entitlement.pk])
        if entitlement.valid_until is None:
            self.message_user(request, f"“{entitlement}” never ends: there is nothing to renew.", messages.WARNING)
            return HttpResponseRedirect(change_url)
        form = RenewForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                renewed = services.entitlement_renew(
                    entitlement=entitlement, actor=Actor.staff(request), **form.service_arguments()
                )
            except InvalidEdit as refused:
                form.show(refused)
            else:
                text = f"“{renewed}” renewed: valid until {when(renewed.valid_until)}."
                self.message_user(request, text, messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        facts = [("End of validity", validity_words(entitlement, timezone.now()))]
        consequence = (
            "The end of validity moves later. Clients see the new end at their next check; an expired "
            "entitlement works again at once."
        )
        return self._form_page(request, entitlement, form, "Renew", facts, consequence, change_url)

    def convert_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        entitlement = self._changeable(request, object_id)
        change_url = reverse("admin:licensing_entitlement_change", args=[entitlement.pk])
        if not entitlement.is_trial:
            self.message_user(request, f"“{entitlement}” is not a trial: nothing to convert.", messages.WARNING)
            return HttpResponseRedirect(change_url)
        form = ConvertForm(request.POST if request.method == "POST" else None, admin_site=self.admin_site)
        if form.is_bound and form.is_valid():
            try:
                converted = services.trial_convert(
                    entitlement=entitlement, actor=Actor.staff(request), **form.service_arguments()
                )
            except InvalidEdit as refused:
                form.show(refused)
            else:
                end = f"valid until {when(converted.valid_until)}" if converted.valid_until else "with no end"
                self.message_user(request, f"Trial converted: “{converted}” is paid, {end}.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        facts = [
            ("Customer", str(entitlement.customer)),
            ("Valid until", when(entitlement.valid_until) if entitlement.valid_until else "No end"),
        ]
        consequence = (
            "The entitlement stops being a trial. Its activation codes and licenses stay as they are, so activated "
            "devices keep working without activating again."
        )
        return self._form_page(request, entitlement, form, "Convert to paid", facts, consequence, change_url)

    def _changeable(self, request: HttpRequest, object_id: str) -> Entitlement:
        # Permission first, so that a refused user learns nothing about the entitlement.
        if not self.has_change_permission(request):
            raise PermissionDenied
        entitlement = self.get_object(request, unquote(object_id))
        if entitlement is None:
            raise Http404("No entitlement with that id.")
        if not self.has_change_permission(request, entitlement):
            raise PermissionDenied
        return entitlement

    def _form_page(self, request, entitlement, form, title: str, facts, consequence: str, cancel_url: str):
        context = {
            **self.admin_site.each_context(request),
            "opts": Entitlement._meta,
            "title": title,
            "entitlement": entitlement,
            "facts": facts,
            "consequence": consequence,
            "form": form,
            "media": self.media + form.media,
            "cancel_url": cancel_url,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/licensing/entitlement_form.html", context)


def lifecycle_url(name: str, entitlement: Entitlement) -> str:
    return reverse(f"admin:licensing_entitlement_{name}", args=[entitlement.pk])


# --- The forms ---------------------------------------------------------------------------


class ServiceForm(forms.Form):
    """A form whose input a service checks: the service's refusals are shown on the
    fields they name (`service_fields` maps the service's names to the form's)."""

    service_fields: dict[str, str] = {}

    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Optional. Recorded in the audit history.",
    )

    def show(self, refused: InvalidEdit) -> None:
        for name, problems in refused.errors.items():
            field = self.service_fields.get(name, name)
            self.add_error(field if field in self.fields else None, problems)


class RenewForm(ServiceForm):
    service_fields = {"from": "start"}

    valid_until = forms.SplitDateTimeField(
        label="New end of validity",
        required=False,
        widget=widgets.AdminSplitDateTime,
        help_text="Either a new end, or a number of days below.",
    )
    days = forms.IntegerField(
        label="Or renew by days",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_RENEWAL_DAYS}),
    )
    start = forms.ChoiceField(
        label="Counted from",
        choices=[(FROM_EXPIRY, "The current end (renewing early loses nothing)"), (FROM_NOW, "Now")],
        initial=FROM_EXPIRY,
        widget=forms.RadioSelect,
    )

    field_order = ["valid_until", "days", "start", "reason"]

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "valid_until": data["valid_until"],
            "days": data["days"],
            "start": data["start"],
            "reason": data["reason"],
        }


class ConvertForm(ServiceForm):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(),
        required=False,
        help_text="Leave empty to keep the trial's customer. Devices activated so far move along with it.",
    )
    valid_until = forms.SplitDateTimeField(
        label="New end of validity",
        required=False,
        widget=widgets.AdminSplitDateTime,
        help_text="Leave empty to keep the trial's end.",
    )
    no_end = forms.BooleanField(label="No end (perpetual)", required=False)

    field_order = ["customer", "valid_until", "no_end", "reason"]

    def __init__(self, *args, admin_site: admin.AdminSite, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Searched as the entitlement's own customer field is: never every customer in a <select>.
        field = self.fields["customer"]
        field.widget = SafeAutocompleteSelect(Entitlement._meta.get_field("customer"), admin_site)
        field.widget.choices = field.choices  # what the field would have given a widget of its own

    def clean(self):
        data = super().clean()
        if data.get("no_end") and data.get("valid_until"):
            self.add_error("valid_until", "Give a new end, or tick “No end”, not both.")
        return data

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        arguments: dict[str, Any] = {"customer": data["customer"], "reason": data["reason"]}
        # Given only when the user asked for a change: the service keeps the end otherwise.
        if data["no_end"]:
            arguments["valid_until"] = None
        elif data["valid_until"] is not None:
            arguments["valid_until"] = data["valid_until"]
        return arguments


# --- Trials ------------------------------------------------------------------------------


@admin.register(Trial)
class TrialAdmin(RecordsAdmin):
    """Read-only: trials are handed out by GET /api/v4/trial_key and converted from
    their entitlement's page; the row stays, so a machine never gets a second trial."""

    list_display = ["product", "email", "hardware_id", "entitlement_link", "started", "converted"]
    list_select_related = ["product", "entitlement__customer", "entitlement__product"]
    list_filter = ["product", ConvertedFilter]
    search_fields = ["email", "=hardware_id"]
    fields = ["product", "entitlement_link", "email", "hardware_id", "client_ip", "started", "converted"]
    readonly_fields = fields

    def get_queryset(self, request):
        # entitlement's customer and product: its __str__ prints them (list and page).
        return super().get_queryset(request).select_related("product", "entitlement__customer", "entitlement__product")

    @admin.display(description="Entitlement")
    def entitlement_link(self, obj: Trial) -> str:
        url = reverse("admin:licensing_entitlement_change", args=[obj.entitlement_id])
        return format_html('<a href="{}">{}</a>', url, obj.entitlement)

    @admin.display(description="Started", ordering="created_at")
    def started(self, obj: Trial) -> str:
        return when(obj.created_at)

    @admin.display(description="Converted", ordering="converted_at")
    def converted(self, obj: Trial) -> str:
        return when(obj.converted_at) if obj.converted_at else "—"
