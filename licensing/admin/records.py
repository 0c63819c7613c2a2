from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from .. import services
from ..audit import Actor
from ..models import AuditEvent, ClientCredential
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
    actions = ["revoke_selected"]

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
        context = {
            **self.admin_site.each_context(request),
            "title": "Client credential created",
            "opts": self.model._meta,
            "credential": obj,
            "shared_key": request._new_shared_key,
        }
        return TemplateResponse(request, "admin/licensing/credential_created.html", context)

    @admin.action(description="Revoke selected credentials", permissions=["change"])
    def revoke_selected(self, request, queryset):
        count = 0
        for credential in queryset.filter(revoked_at__isnull=True).order_by("pk"):
            services.client_credential_revoke(credential=credential, actor=Actor.staff(request))
            count += 1
        self.message_user(request, f"Revoked {count} credential(s) at {timezone.now():%H:%M:%S} UTC.", messages.SUCCESS)
