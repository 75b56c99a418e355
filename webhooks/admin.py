"""Staff configure webhook endpoints and watch (and redo) their deliveries."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from . import delivery
from .models import EVENT_TYPES, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https",
                         help_text=WebhookEndpoint._meta.get_field("url").help_text)
    event_types = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES], widget=forms.CheckboxSelectMultiple, required=False,
        help_text="None selected: every event type, those added later included.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "is_active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "description", "is_active", "events", "failing_since", "disabled_reason", "deliveries"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["secret", "created", "failing_since", "disabled_at", "disabled_reason", "deliveries"]
    fieldsets = [
        (None, {"fields": ["url", "description", "event_types", "is_active"]}),
        ("Signing", {"fields": ["secret"], "description": (
            "Requests are signed per Standard Webhooks with this secret (headers webhook-id, webhook-timestamp, "
            "webhook-signature). Give it to the receiver; it appears once the endpoint is saved."
        )}),
        ("Health", {"fields": ["created", "failing_since", "disabled_at", "disabled_reason", "deliveries"]}),
    ]

    @admin.display(description="event types")
    def events(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types) if endpoint.event_types else "all"

    @admin.display(description="deliveries")
    def deliveries(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.pk is None:
            return "-"
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">Deliveries</a>', url)

    def save_model(self, request, obj, form, change):
        if change and "is_active" in form.changed_data and obj.is_active:
            # Enabled again by staff: a fresh start.
            obj.failing_since = None
            obj.disabled_at = None
            obj.disabled_reason = ""
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        # Straight to the endpoint's page, where its secret is.
        self.message_user(request, "Endpoint added. Copy its signing secret below to the receiver.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:webhooks_webhookendpoint_change", args=[obj.pk]))


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["started", "status_code", "duration_ms", "address", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "event_type", "endpoint", "status", "attempt_count", "last_status_code", "created",
                    "next_attempt_at", "delivered_at"]
    list_filter = ["status", "event_type", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["webhook_id"]
    date_hierarchy = "created"
    actions = ["redeliver"]
    inlines = [WebhookAttemptInline]
    fields = ["endpoint", "event_type", "webhook_id", "status", "created", "attempt_count", "last_status_code",
              "last_error", "next_attempt_at", "delivered_at", "round_started", "payload"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    @admin.action(description="Redeliver selected deliveries (same webhook-id, a new round of retries)")
    def redeliver(self, request, queryset):
        count = delivery.redeliver(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} deliver{'y' if count == 1 else 'ies'} queued again.", messages.SUCCESS)
