from collections.abc import Callable

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from .. import services
from ..audit import Actor
from ..errors import DomainError
from ..models import ApiToken, AuditEvent, ClientCredential
from .base import LicensingAdmin, SafeAdminMixin


@admin.register(AuditEvent)
class AuditEventAdmin(SafeAdminMixin, admin.ModelAdmin):
    """Read-only: history is appended by services, never edited."""

    list_display = ["occurred_at", "action", "target_repr", "target_type", "actor_label", "actor_type", "reason"]
    list_filter = ["action", "actor_type", "target_type"]
    search_fields = ["=target_id", "target_repr", "actor_label", "reason"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ShowsSecretOnce:
    """A page that shows a secret the server will not show again."""

    def secret_page(self, request, template: str, title: str, **context):
        context = {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta, **context}
        response = TemplateResponse(request, template, context)
        response["Cache-Control"] = "no-store"  # the secret must not linger in a cache
        return response


class SecretIssuingAdmin(ShowsSecretOnce, LicensingAdmin):
    """Credentials whose secret is shown once, on the page after it is made, and which
    are retired by revoking (audited, seen by the next request), never deleted."""

    revoke_service: Callable[..., object]  # the service, called with {service_argument: row}
    service_argument: str

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected %(verbose_name_plural)s", permissions=["change"])
    def revoke_selected(self, request, queryset):
        count = 0
        for credential in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            self.revoke_service(**{self.service_argument: credential}, actor=Actor.staff(request))
            count += 1
        noun = self.model._meta.verbose_name if count == 1 else self.model._meta.verbose_name_plural
        self.message_user(request, f"Revoked {count} {noun}.", messages.SUCCESS)


@admin.register(ClientCredential)
class ClientCredentialAdmin(SecretIssuingAdmin):
    list_display = ["name", "api_key", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "=api_key"]
    readonly_fields = ["api_key", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected", "rotate_selected"]
    revoke_service = staticmethod(services.client_credential_revoke)
    service_argument = "credential"

    def get_fields(self, request, obj=None):
        return ["name"] if obj is None else ["name", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created, shared_key = services.client_credential_create(name=obj.name, actor=Actor.staff(request))
        obj.pk, obj.api_key = created.pk, created.api_key
        obj._state.adding = False
        # Shown once, on the response page below, never stored where it could be read again.
        request._new_shared_key = shared_key

    def response_add(self, request, obj, post_url_continue=None):
        return self._show_shared_key(request, obj, request._new_shared_key, "Client credential created")

    def _show_shared_key(self, request, credential, shared_key: str, title: str):
        return self.secret_page(
            request, "admin/licensing/credential_created.html", title, credential=credential, shared_key=shared_key
        )

    @admin.action(description="Rotate the shared key of the selected credential", permissions=["change"])
    def rotate_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Rotate one credential at a time: its new key is shown once.", messages.ERROR)
            return None
        try:
            credential, shared_key = services.client_credential_rotate(
                credential=queryset.get(), actor=Actor.staff(request)
            )
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        return self._show_shared_key(request, credential, shared_key, "New shared key")


@admin.register(ApiToken)
class ApiTokenAdmin(SecretIssuingAdmin):
    list_display = ["name", "hint", "read_only", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["read_only"]
    search_fields = ["name", "hint"]
    readonly_fields = ["hint", "created_at", "last_used_at", "revoked_at"]
    fixed_after_creation = ("read_only",)  # new rights, new token
    actions = ["revoke_selected"]
    revoke_service = staticmethod(services.api_token_revoke)
    service_argument = "token"

    def get_fields(self, request, obj=None):
        return ["name", "read_only"] if obj is None else ["name", "read_only", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created, raw = services.api_token_create(name=obj.name, read_only=obj.read_only, actor=Actor.staff(request))
        obj.pk, obj.hint = created.pk, created.hint
        obj._state.adding = False
        request._new_api_token = raw  # shown once, on the response page below

    def response_add(self, request, obj, post_url_continue=None):
        return self.secret_page(
            request,
            "admin/licensing/api_token_created.html",
            "API token created",
            token=obj,
            raw_token=request._new_api_token,
        )
