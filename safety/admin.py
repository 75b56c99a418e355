"""Staff pages of the safety features: the report queue (open reports first,
oldest first) with its actions, which go through `safety.services` (and so
through the thread and account services: events, sessions), and a read-only
list of blocks. Every list loads what it shows in a fixed number of queries."""

from django.contrib import admin
from django.contrib import messages as admin_messages
from django.db.models import Case, IntegerField, Value, When
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import Block, Report

OPEN_FIRST = Case(When(status=Report.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "reason", "reported_text", "sender", "reporter", "thread_link", "created"]
    list_display_links = ["id", "reported_text"]
    list_filter = ["status", "reason", "created"]
    search_fields = ["text", "sender__username", "reporter__username"]
    list_select_related = ["sender", "reporter"]
    fields = [
        "status", "reason", "note", "text", "sender", "reporter", "thread_link", "message_link", "created",
        "resolved", "resolved_by",
    ]
    readonly_fields = fields
    actions = ["dismiss", "delete_message", "deactivate_sender"]
    # The queue: open reports first, then oldest first.
    ordering = [OPEN_FIRST.asc(), "created", "id"]
    list_per_page = 50
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sender", "reporter", "resolved_by")

    def has_add_permission(self, request):
        return False  # members report through the API

    def has_delete_permission(self, request, obj=None):
        return False  # a record of what was reported and done; dismiss instead

    @admin.display(description="Reported text")
    def reported_text(self, report: Report) -> str:
        return report.text if len(report.text) <= 80 else report.text[:79] + "…"

    @admin.display(description="Thread", ordering="thread")
    def thread_link(self, report: Report) -> str:
        if report.thread_id is None:
            return "-"
        url = reverse("admin:threads_thread_change", args=[report.thread_id])
        return format_html('<a href="{}">Thread {}</a>', url, report.thread_id)

    @admin.display(description="Message")
    def message_link(self, report: Report) -> str:
        if report.message_id is None:
            return "-"
        url = reverse("admin:threads_message_change", args=[report.message_id])
        return format_html('<a href="{}">Message {}</a> (gone if deleted)', url, report.message_id)

    @admin.action(description="Dismiss selected reports", permissions=["change"])
    def dismiss(self, request, queryset):
        count = services.reports_dismiss(reports=queryset, staff=request.user)
        self.message_user(request, f"Dismissed {count} report(s).", admin_messages.SUCCESS)

    @admin.action(description="Delete the reported messages", permissions=["change"])
    def delete_message(self, request, queryset):
        count = services.reports_delete_messages(reports=queryset, staff=request.user)
        self.message_user(request, f"Deleted {count} message(s).", admin_messages.SUCCESS)

    @admin.action(description="Deactivate the senders of the reported messages", permissions=["change"])
    def deactivate_sender(self, request, queryset):
        count = services.reports_deactivate_senders(reports=queryset, staff=request.user)
        self.message_user(request, f"Deactivated {count} account(s).", admin_messages.SUCCESS)


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["id", "blocker", "blocked", "created"]
    search_fields = ["blocker__username", "blocked__username"]
    list_select_related = ["blocker", "blocked"]
    readonly_fields = ["blocker", "blocked", "created"]
    ordering = ["-id"]
    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # users block through the API

    def has_change_permission(self, request, obj=None):
        return False
