from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.html import format_html

from .. import services
from ..actors import Actor
from ..errors import DomainError
from ..models import ApiToken, AuditEvent, ClientCredential
from . import history
from .actions import ObjectAction, ObjectActionsMixin
from .base import LicensingAdmin, RecordsAdmin
from .display import moment_column


class IndexedValuesFilter(admin.SimpleListFilter):
    """A filter offering the values an indexed column of the audit log holds, found by
    walking its index (`values_held`), where Django's own reads every event."""

    field: str

    def lookups(self, request, model_admin):
        return [(value, value) for value in AuditEvent.objects.values_held(self.field)]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() is not None else queryset


class ActionFilter(IndexedValuesFilter):
    title = parameter_name = field = "action"


class TargetTypeFilter(IndexedValuesFilter):
    title = "record type"
    parameter_name = field = "target_type"

    def lookups(self, request, model_admin):
        # "License transaction", not "licensing.licensetransaction"; the value stays the stored one.
        return [(value, history.target_label(value)) for value, _ in super().lookups(request, model_admin)]


@admin.register(AuditEvent)
class AuditEventAdmin(RecordsAdmin):
    """Read-only: history is appended by services, never edited."""

    list_display = ["when", "action", "record", "who", "reason"]
    # No date hierarchy: its year, month and day links are a DISTINCT over every event.
    list_filter = [("occurred_at", admin.DateFieldListFilter), ActionFilter, "actor_type", TargetTypeFilter]
    search_fields = ["=target_id", "target_repr", "actor_label", "reason"]
    fields = ["when", "action", "record", "who", "reason", "changes"]
    readonly_fields = fields

    when = moment_column("occurred_at", "When (UTC)")

    @admin.display(description="Record", ordering="target_repr")
    def record(self, obj: AuditEvent) -> str:
        """What the event is about, with its type, linking to its page."""
        if not obj.target_type:
            return obj.target_repr or "—"
        url = history.target_url(obj)
        name = format_html('<a href="{}">{}</a>', url, obj.target_repr) if url else obj.target_repr
        return format_html('<span class="record-type">{}</span> {}', history.target_label(obj.target_type), name)

    @admin.display(description="Who", ordering="actor_label")
    def who(self, obj: AuditEvent) -> str:
        return history.who(obj)

    @admin.display(description="Changes")
    def changes(self, obj: AuditEvent) -> str:
        (row,) = history.history_rows([obj])
        return render_to_string("admin/licensing/audit_changes.html", {"row": row, "unfolded": True})


class IssuesSecrets(ObjectActionsMixin, LicensingAdmin):
    """Records made with a secret that the server shows once, on the page right after it
    is made (adding one, or an action that makes a new one), and never again."""

    secret_template: str

    created = moment_column("created_at", "Created at")
    last_used = moment_column("last_used_at", "Last used at")
    revoked = moment_column("revoked_at", "Revoked at")

    def issue(self, request: HttpRequest, form) -> tuple[object, str]:
        """Create the record from a valid add form through its service: (row, secret)."""
        raise NotImplementedError

    def add_view(self, request, form_url="", extra_context=None):
        # The admin's own add view saves, then redirects to a page that could show the
        # secret only if it were kept somewhere: here the answer to the POST shows it.
        if request.method == "POST" and self.has_add_permission(request):
            form = self.get_form(request)(request.POST, request.FILES)
            if form.is_valid():
                try:
                    row, secret = self.issue(request, form)
                except DomainError as error:
                    self.message_user(request, error.message, messages.ERROR)
                    return HttpResponseRedirect(request.get_full_path())
                else:
                    self.log_addition(request, row, [{"added": {}}])
                    return self.show_secret(request, row, secret, title=f"{self.model._meta.verbose_name} created")
        return super().add_view(request, form_url, extra_context)  # the form, or its errors

    def show_secret(self, request: HttpRequest, obj, secret: str, *, title: str) -> HttpResponse:
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": title[:1].upper() + title[1:],
            "opts": opts,
            "object": obj,
            "secret": secret,
        }
        response = TemplateResponse(request, self.secret_template, context)
        response["Cache-Control"] = "no-store"  # the secret must not linger in a cache
        return response


@admin.register(ClientCredential)
class ClientCredentialAdmin(IssuesSecrets):
    list_display = ["name", "api_key", "created", "last_used", "revoked"]
    search_fields = ["name", "=api_key"]
    readonly_fields = ["api_key", "created", "last_used", "revoked"]
    update_service = staticmethod(services.client_credential_update)
    service_argument = "credential"
    secret_template = "admin/licensing/credential_created.html"
    object_actions = [
        ObjectAction(
            name="rotate",
            label="Rotate shared key",
            done="given a new shared key",
            service=services.client_credential_rotate,
            permission="change",
            consequence="A new shared key is made and shown once. Requests signed with the old one fail at once, "
            "so deploy the new key to your applications straight away. The API key stays.",
            danger=True,
            bulk=False,
            shows_secret=True,
        ),
        ObjectAction(
            name="revoke",
            label="Revoke credential",
            done="revoked",
            service=services.client_credential_revoke,
            permission="change",
            consequence="Revocation is final: requests signed with this credential are refused from now on.",
            final=True,
            bulk_label="Revoke selected client credentials",
        ),
    ]

    def get_fields(self, request, obj=None):
        return ["name"] if obj is None else ["name", *self.readonly_fields]

    def issue(self, request, form):
        return services.client_credential_create(name=form.cleaned_data["name"], actor=Actor.staff(request))


@admin.register(ApiToken)
class ApiTokenAdmin(IssuesSecrets):
    list_display = ["name", "hint", "read_only", "created", "last_used", "revoked"]
    list_filter = ["read_only"]
    search_fields = ["name", "hint"]
    readonly_fields = ["hint", "created", "last_used", "revoked"]
    fixed_after_creation = ("read_only",)  # new rights, new token
    update_service = staticmethod(services.api_token_update)
    service_argument = "token"
    secret_template = "admin/licensing/api_token_created.html"
    object_actions = [
        ObjectAction(
            name="revoke",
            label="Revoke token",
            done="revoked",
            service=services.api_token_revoke,
            permission="change",
            consequence="Revocation is final: the token is refused from its next request on.",
            final=True,
            bulk_label="Revoke selected API tokens",
        ),
    ]

    def get_fields(self, request, obj=None):
        return ["name", "read_only"] if obj is None else ["name", "read_only", *self.readonly_fields]

    def issue(self, request, form):
        data = form.cleaned_data
        return services.api_token_create(name=data["name"], read_only=data["read_only"], actor=Actor.staff(request))
