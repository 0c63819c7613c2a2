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


@admin.register(ClientCredential)
class ClientCredentialAdmin(LicensingAdmin):
    list_display = ["name", "api_key", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "=api_key"]
    readonly_fields = ["api_key", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected", "rotate_selected"]

    def get_fields(self, request, obj=None):
        return ["name"] if obj is None else ["name", *self.readonly_fields]

    def has_delete_permission(self, request, obj=None):
        # Retired by revoking (audited, seen by the next request), never deleted.
        return False

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
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "credential": credential,
            "shared_key": shared_key,
        }
        response = TemplateResponse(request, "admin/licensing/credential_created.html", context)
        response["Cache-Control"] = "no-store"  # the secret must not linger in a cache
        return response

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

    @admin.action(description="Revoke selected credentials", permissions=["change"])
    def revoke_selected(self, request, queryset):
        count = 0
        for credential in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            services.client_credential_revoke(credential=credential, actor=Actor.staff(request))
            count += 1
        self.message_user(request, f"Revoked {count} credential(s).", messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(LicensingAdmin):
    list_display = ["name", "hint", "read_only", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["read_only"]
    search_fields = ["name", "hint"]
    readonly_fields = ["hint", "created_at", "last_used_at", "revoked_at"]
    fixed_after_creation = ("read_only",)  # new rights, new token
    actions = ["revoke_selected"]

    def get_fields(self, request, obj=None):
        return ["name", "read_only"] if obj is None else ["name", "read_only", *self.readonly_fields]

    def has_delete_permission(self, request, obj=None):
        return False  # retired by revoking (audited), never deleted

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created, raw = services.api_token_create(name=obj.name, read_only=obj.read_only, actor=Actor.staff(request))
        obj.pk, obj.hint = created.pk, created.hint
        obj._state.adding = False
        request._new_api_token = raw  # shown once, on the response page below

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "opts": self.model._meta,
            "token": obj,
            "raw_token": request._new_api_token,
        }
        response = TemplateResponse(request, "admin/licensing/api_token_created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API tokens", permissions=["change"])
    def revoke_selected(self, request, queryset):
        count = 0
        for token in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            services.api_token_revoke(token=token, actor=Actor.staff(request))
            count += 1
        self.message_user(request, f"Revoked {count} API token(s).", messages.SUCCESS)
