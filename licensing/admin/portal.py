"""Customer contacts (who signs in to the portal) and what the portal says."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from .. import services
from ..accounts import site_url
from ..models import CustomerContact, PortalSettings
from ..models.base import normalize_address
from .actions import ObjectAction, ObjectActionsMixin
from .base import LicensingAdmin, ReadOnlyInline
from .display import change_link, moment_column


class CustomerContactForm(forms.ModelForm):
    class Meta:
        model = CustomerContact
        fields = ["customer", "email", "name", "is_active"]

    def clean_email(self) -> str:
        email = normalize_address(self.cleaned_data["email"])
        taken = CustomerContact.objects.filter(email=email).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("Another contact already signs in with this address.")
        return email


@admin.register(CustomerContact)
class CustomerContactAdmin(ObjectActionsMixin, LicensingAdmin):
    form = CustomerContactForm
    list_display = ["email", "name", "customer", "is_active", "invited_at", "last_login"]
    list_filter = ["is_active"]
    list_select_related = ["customer"]
    search_fields = ["email", "name", "customer__name"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["password_state", "invited_at", "last_login", "created_at"]
    fixed_after_creation = ("customer",)
    create_service = staticmethod(services.customer_contact_create)
    update_service = staticmethod(services.customer_contact_update)
    service_argument = "contact"
    object_actions = [
        ObjectAction(
            name="invite",
            label="Send invitation",
            done="invited",
            message="Invitation sent to {obj}.",
            service=services.customer_contact_invite,
            permission="change",
            consequence="The contact gets an email with a link to choose a password and sign in to the portal. "
            "An earlier link keeps working until a password is chosen.",
            bulk_label="Send invitation to selected contacts",
        )
    ]

    def service_arguments(self, request):
        return {"base_url": site_url(request)}  # where the link in the mail leads

    def get_fields(self, request, obj=None):
        fields = ["customer", "email", "name", "is_active"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    @admin.display(description="Password")
    def password_state(self, obj: CustomerContact) -> str:
        return "Chosen" if obj.has_usable_password() else "Not chosen yet (send an invitation)"

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request, f"Use “Send invitation” to mail {obj.email} a link to choose a password.", messages.INFO
        )
        return super().response_add(request, obj, post_url_continue)


class CustomerContactInline(ReadOnlyInline):
    """Who of the customer signs in to the portal; added and invited on their own page."""

    model = CustomerContact
    fields = ["contact", "name", "is_active", "invited", "last_sign_in"]

    @admin.display(description="Email")
    def contact(self, obj: CustomerContact) -> str:
        return change_link(obj, obj.email)

    invited = moment_column("invited_at", "Invited at")
    last_sign_in = moment_column("last_login", "Last portal sign-in")


@admin.register(PortalSettings)
class PortalSettingsAdmin(LicensingAdmin):
    """One row: the list goes straight to it."""

    fields = ["vendor_name", "contact_message", "renewal_message", "support_email"]
    update_service = staticmethod(services.portal_settings_update)
    service_argument = "portal_settings"

    def has_add_permission(self, request):
        return False

    def changelist_view(self, request, extra_context=None):
        settings = PortalSettings.current()
        return HttpResponseRedirect(reverse("admin:licensing_portalsettings_change", args=[settings.pk]))
