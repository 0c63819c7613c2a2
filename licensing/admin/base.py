"""What every licensing admin shares: safe handling of bad input, constant-query forms,
and edits that go through the resource's services with their audit history on the page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import capfirst

from ..actors import Actor
from ..errors import DomainError
from ..models import AuditEvent
from ..pages import LimitedCountPaginator
from .display import EMPTY, STR_RELATIONS, DurationWordsField, changelist_url, duration_help, for_display
from .history import history_rows

# Audit events on a record's own page; its History page pages through all of them.
AUDIT_HISTORY_ROWS = 25
HISTORY_PAGE_ROWS = 50
# Rows of a related list (a customer's entitlements, an entitlement's licenses) on the
# parent's page; the rest are a click away, in the list filtered to the parent.
RELATED_ROWS = 20


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
    empty_value_display = EMPTY  # as `display.when` and the related lists write nothing

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

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # Durations typed and shown in words ("1 day", "6 hours"), not Django's "1 00:00:00".
        if isinstance(db_field, models.DurationField):
            kwargs.setdefault("form_class", DurationWordsField)
            field = super().formfield_for_dbfield(db_field, request, **kwargs)
            if field is not None:
                field.help_text = duration_help(field.help_text)
            return field
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs and db_field.related_model in STR_RELATIONS:
            kwargs["queryset"] = for_display(db_field.related_model)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs and db_field.related_model in STR_RELATIONS:
            kwargs["queryset"] = for_display(db_field.related_model)
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelectMultiple(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        # Also serves the autocomplete endpoint, which prints each row.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return for_display(self.model, queryset) if self.model in STR_RELATIONS else queryset, may_have_duplicates


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
        events = list(AuditEvent.objects.for_target(obj)[: AUDIT_HISTORY_ROWS + 1])
        opts = self.model._meta
        context = {
            "rows": history_rows(events[:AUDIT_HISTORY_ROWS]),
            "more_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])
            if len(events) > AUDIT_HISTORY_ROWS
            else "",
        }
        return render_to_string("admin/licensing/audit_history.html", context)

    def save_model(self, request, obj, form, change):
        if not change:
            self.create_service(**{self.service_argument: obj}, actor=Actor.staff(request))
        elif form.changed_data:
            data = self.changed_values(form)
            self.update_service(**{self.service_argument: obj}, data=data, actor=Actor.staff(request))

    def changed_values(self, form) -> dict[str, Any]:
        """What an edit changed, by field name (many-to-many links included)."""
        return {name: form.cleaned_data[name] for name in form.changed_data}

    def get_inline_instances(self, request, obj=None):
        # A record being added has nothing related to list yet.
        inlines = super().get_inline_instances(request, obj)
        return inlines if obj is not None else [i for i in inlines if not isinstance(i, ReadOnlyInline)]

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


class NoDeletionMixin:
    """Nothing is deleted in this admin, by anyone, superusers included: no "Delete
    selected" action, no Delete link or page. Switched records end by revocation or
    deactivation (a deleted revoked license would let its device activate again), the
    others by being switched off (a contact who may not sign in); every change of them
    is a service's, audited, and the history stays. `forbid_deletion` gives the models of
    other apps (staff users, groups) the same."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


def forbid_deletion(site: admin.AdminSite) -> None:
    """No deletion anywhere in `site`: the bulk action is withdrawn from the site, and every
    model admin registered without `NoDeletionMixin` is registered again with it."""
    site.disable_action("delete_selected")
    for model, model_admin in list(site._registry.items()):
        if not isinstance(model_admin, NoDeletionMixin):
            admin_class = type(model_admin)
            site.unregister(model)
            site.register(model, type(admin_class.__name__, (NoDeletionMixin, admin_class), {}))


class AuditHistoryMixin:
    """Django's History page lists its own LogEntry rows, which nothing here writes (every
    change is a service's): it said "This object doesn't have a change history" of records
    with many audited changes. It shows the record's audit events instead, a page at a time."""

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        opts = self.model._meta
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        # Counted and read through the (target_type, target_id, -occurred_at) index.
        page = Paginator(AuditEvent.objects.for_target(obj), HISTORY_PAGE_ROWS).get_page(request.GET.get("p"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {obj}",
            "subtitle": None,
            "module_name": str(capfirst(opts.verbose_name_plural)),
            "object": obj,
            "opts": opts,
            "preserved_filters": self.get_preserved_filters(request),
            "rows": history_rows(page.object_list),
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number) if page.paginator.num_pages > 1 else [],
            "audit_log_url": changelist_url(AuditEvent, target_id=obj.pk),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/licensing/object_history.html", context)


class LicensingAdmin(NoDeletionMixin, AuditHistoryMixin, SafeAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    pass


class RecordsAdmin(NoDeletionMixin, AuditHistoryMixin, SafeAdminMixin, admin.ModelAdmin):
    """A list of what happened (audit events, trials handed out): read, never added,
    changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyFormSet(BaseInlineFormSet):
    """A related list's rows: the first `shown` of them (one query, whatever the parent
    holds), never submitted. What the browser posts back of them is ignored, so saving the
    parent neither re-validates nor rewrites them, nor reads every row to match the ids."""

    shown = RELATED_ROWS
    see_all_url = ""  # the list of all of them, filtered to the parent

    def __init__(self, data=None, files=None, *args, **kwargs):
        # Unbound even on a POST of the parent: there is nothing here to submit.
        super().__init__(None, None, *args, **kwargs)

    def get_queryset(self):
        if not hasattr(self, "_rows"):
            rows = list(super().get_queryset()[: self.shown + 1])  # one more: are there others?
            self.more = len(rows) > self.shown
            self._rows = rows[: self.shown]
        return self._rows

    def is_valid(self) -> bool:
        return True

    def save(self, commit: bool = True) -> list:
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        return []


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page and changed only on their own (through their
    services): every field read-only, none added, changed or deleted here; at most
    `RELATED_ROWS` of them, with a link to the list of all. The first field links to
    each row's page (`display.change_link`)."""

    extra = 0
    can_delete = False
    show_change_link = False
    empty_value_display = EMPTY
    formset = ReadOnlyFormSet
    template = "admin/licensing/related_list.html"
    # The list "see all" leads to, and its filter on the parent: by default the inline's
    # model, by its foreign key to the parent ("entitlement__id__exact").
    see_all_model: type[models.Model] | None = None
    see_all_filter = ""

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # A class made for this request (Django builds one per call): the link is the parent's.
        formset.see_all_url = self.list_url(request, obj, formset.fk) if obj is not None else ""
        return formset

    def list_url(self, request: HttpRequest, obj: models.Model, fk: models.ForeignKey) -> str:
        """The admin list of all the rows, filtered to `obj`; none for a list the user may not see."""
        model = self.see_all_model or self.model
        if not self.admin_site.is_registered(model):
            return ""
        if not self.admin_site.get_model_admin(model).has_view_permission(request):
            return ""
        return changelist_url(model, **{self.see_all_filter or f"{fk.name}__id__exact": obj.pk})
