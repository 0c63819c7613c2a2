"""What every licensing admin shares: safe handling of bad input, constant-query forms,
and edits that go through the resource's services with their audit history on the page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string

from ..actors import Actor
from ..errors import DomainError
from ..models import AuditEvent, Entitlement, License
from ..pages import LimitedCountPaginator

AUDIT_HISTORY_ROWS = 25

# Relations each model's __str__ reads; choice widgets and autocompletes that print
# these rows load them in the same query instead of one query per row.
STR_RELATIONS = {
    Entitlement: ("customer", "product"),
    License: ("device", "entitlement__customer", "entitlement__product"),
}


def _for_display(model, queryset=None):
    related = STR_RELATIONS.get(model)
    if related is None:
        return queryset
    return (queryset if queryset is not None else model._default_manager.all()).select_related(*related)


class SafeAutocompleteMixin:
    """Django's autocomplete widgets look the submitted ids up again to show what was
    chosen; an id that cannot be one (a mangled or forged form: "not-a-uuid") made that
    lookup raise, a server error instead of the field's "Select a valid choice". Such
    values are left out of the lookup; the field's own validation reports them."""

    def optgroups(self, name, value, attr=None):
        opts = self.field.remote_field.model._meta
        target = opts.get_field(getattr(self.field.remote_field, "field_name", None) or opts.pk.name)
        return super().optgroups(name, [v for v in value if _fits(target, v)], attr)


def _fits(field, value) -> bool:
    try:
        field.to_python(value)
    except ValidationError:
        return False
    return True


class SafeAutocompleteSelect(SafeAutocompleteMixin, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(SafeAutocompleteMixin, AutocompleteSelectMultiple):
    pass


class SafeAdminMixin:
    """Bad ids in a bulk action, rows printed by related widgets, and lists of a million
    rows, handled once."""

    # Lists count their rows up to a limit, once (not again unfiltered for "N total"):
    # a full count of a million licenses costs many times the page.
    paginator = LimitedCountPaginator
    show_full_result_count = False

    def response_action(self, request, queryset):
        # "Select all" of a list longer than it counts would act on rows no one saw
        # counted (millions, loaded at once): it is not offered then (pagination.html's
        # sibling, actions.html), nor taken from a forged form.
        if request.POST.get("select_across") == "1" and self.paginator(queryset, 1).more:
            self.message_user(
                request,
                f"More than {self.paginator.limit_shown} rows match: select rows on a page, or filter the list "
                "first. Nothing was changed.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())
        # Django filters `pk__in` with the posted ids, which raises on a malformed UUID.
        for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
            try:
                uuid.UUID(value)
            except ValueError:
                self.message_user(request, "Some selected items do not exist. Nothing was changed.", messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs and db_field.related_model in STR_RELATIONS:
            kwargs["queryset"] = _for_display(db_field.related_model)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs and db_field.related_model in STR_RELATIONS:
            kwargs["queryset"] = _for_display(db_field.related_model)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelectMultiple(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        # Also serves the autocomplete endpoint, which prints each row.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return _for_display(self.model, queryset) if self.model in STR_RELATIONS else queryset, may_have_duplicates


class AuditedAdminMixin:
    """Records are added with `create_service(<service_argument>=new row, actor=...)` and
    edited with `update_service(<service_argument>=row, data=changed fields, actor=...)`,
    the services the management API calls too; each record's page shows its history."""

    create_service: Callable[..., Any]
    update_service: Callable[..., Any]
    service_argument: str = ""
    # Relations that define what a record is; changing them would move it (and what
    # hangs below it) elsewhere, so they are set once, at creation. The services refuse
    # to change them; here they are simply not offered.
    fixed_after_creation: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += [f for f in self.fixed_after_creation if f not in fields]
            fields.append("audit_history")
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets = [
                (name, {**options, "fields": [f for f in options["fields"] if f != "audit_history"]})
                for name, options in fieldsets
            ]
            fieldsets.append(("Audit history", {"fields": ["audit_history"], "classes": ["audit-history"]}))
        return fieldsets

    @admin.display(description="Recent changes")
    def audit_history(self, obj) -> str:
        events = AuditEvent.objects.for_target(obj)[:AUDIT_HISTORY_ROWS]
        return render_to_string("admin/licensing/audit_history.html", {"events": events})

    def has_delete_permission(self, request, obj=None):
        # Records are never deleted: switched ones end by revocation or deactivation (a
        # deleted revoked license would let its device activate again), the others by
        # being switched off (a contact who may not sign in), and every change of them
        # is a service's, audited. The history stays.
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            self.create_service(**{self.service_argument: obj}, actor=Actor.staff(request))
        elif form.changed_data:
            data = self.changed_values(form)
            self.update_service(**{self.service_argument: obj}, data=data, actor=Actor.staff(request))

    def changed_values(self, form) -> dict[str, Any]:
        """What an edit changed, by field name (many-to-many links included)."""
        return {name: form.cleaned_data[name] for name in form.changed_data}

    def save_related(self, request, form, formsets, change):
        # Many-to-many links are set (and audited) by the services, not by the form; the
        # inlines are read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            # A rule checked under lock in the service (another change overtook the
            # form's validation). The admin's transaction has rolled back.
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class LicensingAdmin(SafeAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    pass


class RecordsAdmin(SafeAdminMixin, admin.ModelAdmin):
    """A list of what happened (audit events, trials handed out): read, never added,
    changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page and changed only on their own (through their
    services): every field read-only, none added, changed or deleted here. Saving the
    parent therefore never re-validates or rewrites these rows."""

    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
