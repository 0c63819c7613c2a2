"""Webhook endpoints and their deliveries. Buttons and actions call the services in
licensing/services/webhooks.py."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from .. import representations, services, webhooks
from ..actors import Actor
from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .actions import ObjectAction, ObjectActionsMixin
from .base import AuditHistoryMixin, NoDeletionMixin, ReadOnlyInline, SafeAdminMixin
from .display import changelist_url, moment_column
from .records import IssuesSecrets


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        label="URL",
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"size": 80}),
        help_text=WebhookEndpoint._meta.get_field("url").help_text,
    )
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in representations.EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Tick none to receive every event type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "is_active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        # Said beside the field; the service refuses it too.
        if problem := webhooks.url_problem(url):
            raise forms.ValidationError(problem)
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(IssuesSecrets):
    form = WebhookEndpointForm
    list_display = ["url", "description", "is_active", "subscribed", "pending", "failed", "created"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["deliveries_link", "created", "updated"]
    update_service = staticmethod(services.webhook_endpoint_update)
    service_argument = "endpoint"
    secret_template = "admin/licensing/webhook_secret.html"
    object_actions = [
        ObjectAction(
            name="send-test",
            label="Send test event",
            done="sent a test event",
            message="Test event queued for “{obj}”; see its deliveries.",
            service=services.webhook_endpoint_send_test,
            permission="change",
            consequence="A webhook.test event is sent to this endpoint now.",
            bulk=False,
        ),
        ObjectAction(
            name="rotate-secret",
            label="Rotate secret",
            done="given a new secret",
            service=services.webhook_endpoint_rotate_secret,
            permission="change",
            consequence="A new secret is made and shown once. For 24 hours deliveries are signed with both the old "
            "and the new secret, so the receiver can switch over; after that only with the new one.",
            bulk=False,
            shows_secret=True,
        ),
    ]

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

    @admin.display(description="events")
    def subscribed(self, obj) -> str:
        return ", ".join(obj.event_types) if obj.event_types else "all"

    @admin.display(description="pending", ordering="pending_count")
    def pending(self, obj) -> str:
        return delivery_count_link(obj, obj.pending_count, WebhookDelivery.Status.PENDING)

    @admin.display(description="failed", ordering="failed_count")
    def failed(self, obj) -> str:
        return delivery_count_link(obj, obj.failed_count, WebhookDelivery.Status.FAILED)

    @admin.display(description="Deliveries")
    def deliveries_link(self, obj) -> str:
        url = reverse("admin:licensing_webhookdelivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{} pending, {} failed: see all deliveries</a>', url, obj.pending_count, obj.failed_count
        )

    updated = moment_column("updated_at", "Updated at")

    def issue(self, request, form):
        return services.webhook_endpoint_create(endpoint=form.save(commit=False), actor=Actor.staff(request))


def delivery_count_link(endpoint: WebhookEndpoint, count: int, status: str) -> str:
    """A count of an endpoint's deliveries, leading to the list of exactly those."""
    url = changelist_url(WebhookDelivery, endpoint__id__exact=endpoint.pk, status__exact=status)
    return format_html('<a href="{}">{}</a>', url, count)


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["started", "status_code", "succeeded", "duration_ms", "error", "response_excerpt"]
    verbose_name_plural = "Attempts (newest first)"

    started = moment_column("started_at", "Started at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ObjectActionsMixin, NoDeletionMixin, AuditHistoryMixin, SafeAdminMixin, admin.ModelAdmin):
    """Read-only history; **Redeliver** (button or bulk action) sends a delivery again."""

    list_display = [
        "event_type",
        "endpoint",
        "status_badge",
        "tries",
        "last_status_code",
        "last_attempt",
        "next_attempt",
    ]
    list_filter = ["status", "event__type", "endpoint"]
    list_select_related = ["event", "endpoint"]
    search_fields = ["=event__id", "event__type", "last_error"]
    date_hierarchy = "created_at"
    fields = [
        "event_type", "event_id", "endpoint", "status_badge", "tries", "next_attempt", "last_attempt",
        "last_status_code", "last_error", "completed", "created", "payload",
    ]  # fmt: skip
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    service_argument = "delivery"
    object_actions = [
        ObjectAction(
            name="redeliver",
            label="Redeliver",
            done="queued for redelivery",
            service=services.webhook_delivery_redeliver,
            permission="change",
            consequence="The event is sent again, with a fresh set of tries.",
            bulk_label="Redeliver selected webhook deliveries",
            bulk_done="Queued {count} for redelivery.",
        ),
    ]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: WebhookDelivery) -> str:
        return format_html('<span class="status-badge delivery-{}">{}</span>', obj.status, obj.get_status_display())

    last_attempt = moment_column("last_attempt_at", "Last attempt at")
    next_attempt = moment_column("next_attempt_at", "Next attempt at")
    completed = moment_column("completed_at", "Completed at")
    created = moment_column("created_at", "Created at")

    @admin.display(description="event", ordering="event__type")
    def event_type(self, obj) -> str:
        return obj.event.type

    @admin.display(description="webhook-id")
    def event_id(self, obj) -> str:
        return obj.event.message_id

    @admin.display(description="body")
    def payload(self, obj) -> str:
        return format_html('<pre class="webhook-payload">{}</pre>', obj.event.payload)
