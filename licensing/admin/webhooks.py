"""Webhook endpoints and their deliveries. Buttons and actions call the services in
licensing/services/webhooks.py."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from .. import services
from ..audit import Actor
from ..errors import DomainError
from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ..models.webhooks import EVENT_TYPES
from .base import LicensingAdmin, ReadOnlyInline, SafeAdminMixin
from .buttons import ObjectButtons
from .records import ShowsSecretOnce


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        label="URL",
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"size": 80}),
        help_text=WebhookEndpoint._meta.get_field("url").help_text,
    )
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Tick none to receive every event type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ObjectButtons, ShowsSecretOnce, LicensingAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "is_active", "subscribed", "pending", "failed", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["deliveries_link", "created_at", "updated_at"]
    buttons = {
        "send-test": ("Send test event", "A webhook.test event is sent to this endpoint now."),
        "rotate-secret": (
            "Rotate secret",
            "A new secret is made and shown once. For 24 hours deliveries are signed with both the old and "
            "the new secret, so the receiver can switch over; after that only with the new one.",
        ),
    }

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "event_types", "is_active"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def get_queryset(self, request):
        pending, failed = WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED
        return (
            super()
            .get_queryset(request)
            .annotate(
                pending_count=Count("deliveries", filter=Q(deliveries__status=pending)),
                failed_count=Count("deliveries", filter=Q(deliveries__status=failed)),
            )
        )

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: its delivery history stays

    @admin.display(description="events")
    def subscribed(self, obj) -> str:
        return ", ".join(obj.event_types) if obj.event_types else "all"

    @admin.display(description="pending", ordering="pending_count")
    def pending(self, obj) -> int:
        return obj.pending_count

    @admin.display(description="failed", ordering="failed_count")
    def failed(self, obj) -> int:
        return obj.failed_count

    @admin.display(description="Deliveries")
    def deliveries_link(self, obj) -> str:
        url = reverse("admin:licensing_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{} pending, {} failed: see all deliveries</a>', url, obj.pending_count, obj.failed_count
        )

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        _, secret = services.webhook_endpoint_create(endpoint=obj, actor=Actor.staff(request))
        request._new_webhook_secret = secret  # shown once, on the response page below

    def response_add(self, request, obj, post_url_continue=None):
        return self._show_secret(request, obj, request._new_webhook_secret, "Webhook endpoint created")

    def _show_secret(self, request, endpoint, secret: str, title: str):
        return self.secret_page(request, "admin/licensing/webhook_secret.html", title, endpoint=endpoint, secret=secret)

    def do_send_test(self, request, endpoint):
        services.webhook_endpoint_send_test(endpoint=endpoint, actor=Actor.staff(request))
        self.message_user(request, f"Test event queued for “{endpoint}”; see its deliveries.", messages.SUCCESS)

    def do_rotate_secret(self, request, endpoint):
        endpoint, secret = services.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=Actor.staff(request))
        return self._show_secret(request, endpoint, secret, "New webhook secret")


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["started_at", "status_code", "succeeded", "duration_ms", "error", "response_excerpt"]
    show_change_link = False  # attempts have no page of their own
    verbose_name_plural = "Attempts (newest first)"


def _redeliver(request, delivery) -> None:
    services.webhook_delivery_redeliver(delivery=delivery, actor=Actor.staff(request))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ObjectButtons, SafeAdminMixin, admin.ModelAdmin):
    """Read-only history; **Redeliver** (button or bulk action) sends a delivery again."""

    list_display = [
        "event_type",
        "endpoint",
        "status",
        "tries",
        "last_status_code",
        "last_attempt_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "event__type", "endpoint"]
    list_select_related = ["event", "endpoint"]
    search_fields = ["=event__id", "event__type", "last_error"]
    date_hierarchy = "created_at"
    fields = [
        "event_type", "event_id", "endpoint", "status", "tries", "next_attempt_at", "last_attempt_at",
        "last_status_code", "last_error", "completed_at", "created_at", "payload",
    ]  # fmt: skip
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["redeliver_selected"]
    buttons = {"redeliver": ("Redeliver", "The event is sent again, with a fresh set of tries.")}

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="event", ordering="event__type")
    def event_type(self, obj) -> str:
        return obj.event.type

    @admin.display(description="webhook-id")
    def event_id(self, obj) -> str:
        return obj.event.message_id

    @admin.display(description="body")
    def payload(self, obj) -> str:
        return format_html('<pre class="webhook-payload">{}</pre>', obj.event.payload)

    def do_redeliver(self, request, delivery):
        _redeliver(request, delivery)
        self.message_user(request, "Queued for redelivery.", messages.SUCCESS)

    @admin.action(description="Redeliver selected webhook deliveries", permissions=["change"])
    def redeliver_selected(self, request, queryset):
        done, busy = 0, 0
        for delivery in queryset.order_by("pk"):
            try:
                _redeliver(request, delivery)
                done += 1
            except DomainError:
                busy += 1
        text = f"Queued {done} for redelivery." + (f" {busy} skipped: being sent right now." if busy else "")
        self.message_user(request, text, messages.SUCCESS if done else messages.WARNING)
