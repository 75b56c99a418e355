"""The staff console. Writes go through the same rules as the API: the pair
checks of `services`, the read-state service for the bulk actions. Every list
loads what it shows in a fixed number of queries."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib import messages as admin_messages
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import Message, Thread

User = get_user_model()


class ThreadAdminForm(forms.ModelForm):
    # The pair, picked as users. Not the model's `participants`, which is
    # derived (editable=False) and read through a view; the autocomplete
    # widget still searches users the way that relation does.
    pair = forms.ModelMultipleChoiceField(
        label="Participants",
        queryset=User.objects.all(),
        widget=AutocompleteSelectMultiple(Thread._meta.get_field("participants"), admin.site),
        help_text="Exactly two different users. A pair can have only one thread, and its pair never changes.",
    )

    class Meta:
        model = Thread
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            # Like the API: a new thread only with active users.
            self.fields["pair"].queryset = User.objects.filter(is_active=True)
        else:
            # From the pair columns, not the view: the page works whatever the view's state.
            self.initial["pair"] = list(self.instance.pair_ids)

    def clean_pair(self):
        users = list(self.cleaned_data["pair"])
        if len(users) != 2:
            raise ValidationError(
                f"A thread has exactly two participants; {len(users)} selected.", code="participant_count"
            )
        first, second = sorted(users, key=lambda u: u.pk)
        services.check_thread_pair(user=first, other=second)
        if self.instance.pk is not None:
            if (first.pk, second.pk) != self.instance.pair_ids:
                raise ValidationError(
                    "The participants of an existing thread cannot be changed; create a new thread instead.",
                    code="pair_changed",
                )
        else:
            existing = Thread.objects.filter(user_low=first, user_high=second).first()
            if existing is not None:
                raise ValidationError(
                    f"{first} and {second} already have a thread (#{existing.pk}).", code="pair_exists"
                )
            self.instance.user_low, self.instance.user_high = first, second
        return users


class LatestMessagesFormSet(BaseInlineFormSet):
    """Only the thread's newest messages: a long thread stays one page."""

    def get_queryset(self):
        if not hasattr(self, "_latest_queryset"):
            queryset = super().get_queryset()
            latest_ids = list(queryset.order_by("-created", "-id").values_list("id", flat=True)[: self.max_shown])
            self._latest_queryset = queryset.filter(id__in=latest_ids).order_by("-created", "-id")
        return self._latest_queryset


class MessageInline(admin.TabularInline):
    model = Message
    formset = LatestMessagesFormSet
    fields = ["created", "sender", "text", "is_read"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"Newest messages (up to {settings.CHAT_ADMIN_INLINE_MESSAGES}; all of them under Messages)"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.max_shown = settings.CHAT_ADMIN_INLINE_MESSAGES
        return formset

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sender")

    def has_add_permission(self, request, obj=None):
        # Messages are written by their senders through the API, not by staff.
        return False


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    form = ThreadAdminForm
    inlines = [MessageInline]
    list_display = ["__str__", "participant_names", "message_count", "updated", "created"]
    list_display_links = ["__str__"]
    list_filter = ["updated", "created"]
    search_fields = ["user_low__username", "user_high__username"]
    list_select_related = ["user_low", "user_high"]
    readonly_fields = ["created", "updated", "message_count"]
    list_per_page = 50

    # The total over all threads costs one more COUNT(*) per page; skip it.
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user_low", "user_high")

    def save_model(self, request, obj, form, change):
        # Only a new thread is written: nothing on an existing one is editable,
        # and saving it would write back `updated` and `message_count` as read
        # when the page loaded, undoing messages sent meanwhile. A new one is
        # made by the service, so its participants hear of it like any other.
        if not change:
            thread, _ = services.thread_get_or_create(user=obj.user_low, other=obj.user_high)
            obj.pk, obj.created, obj.updated = thread.pk, thread.created, thread.updated
            obj._state.adding = False

    def delete_model(self, request, obj):
        services.thread_delete(thread=obj)

    def delete_queryset(self, request, queryset):
        services.threads_delete(threads=queryset)

    @admin.display(description="Participants")
    def participant_names(self, thread: Thread) -> str:
        return f"{thread.user_low.username}, {thread.user_high.username}"


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "thread_link", "sender", "excerpt", "created", "is_read"]
    list_filter = ["is_read", "created"]
    search_fields = ["text", "sender__username"]
    list_select_related = ["thread__user_low", "thread__user_high", "sender"]
    fields = ["thread", "sender", "text", "created", "is_read"]
    readonly_fields = ["thread", "sender", "created"]
    actions = ["mark_read", "mark_unread"]
    list_per_page = 50
    # Newest first by the primary key's index: ordering by `created` would
    # sort the whole table for every page.
    ordering = ["-id"]
    # The unfiltered total is a second COUNT over every message; skip it.
    show_full_result_count = False

    def has_add_permission(self, request):
        # Messages are written by their senders through the API, not by staff.
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("thread__user_low", "thread__user_high", "sender")

    @admin.display(description="Thread", ordering="thread")
    def thread_link(self, message: Message) -> str:
        url = reverse("admin:threads_thread_change", args=[message.thread_id])
        return format_html('<a href="{}">{}</a>', url, message.thread)

    @admin.display(description="Text")
    def excerpt(self, message: Message) -> str:
        return message.excerpt

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "text" in form.base_fields:
            form.base_fields["text"].validators.append(services.check_message_text)
        return form

    def save_model(self, request, obj, form, change):
        # Through the services, so that the participants hear of the change.
        wanted_read_state = obj.is_read  # message_set_text reloads the stored one
        if "text" in form.changed_data:
            services.message_set_text(message=obj, text=obj.text)
        if "is_read" in form.changed_data:
            services.messages_set_read(messages=Message.objects.filter(pk=obj.pk), is_read=wanted_read_state)

    def delete_model(self, request, obj):
        services.messages_delete(messages=Message.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.messages_delete(messages=queryset)

    @admin.action(description="Mark selected messages as read")
    def mark_read(self, request, queryset):
        changed = services.messages_set_read(messages=queryset, is_read=True)
        self.message_user(request, f"Marked {changed} message(s) as read.", admin_messages.SUCCESS)

    @admin.action(description="Mark selected messages as unread")
    def mark_unread(self, request, queryset):
        changed = services.messages_set_read(messages=queryset, is_read=False)
        self.message_user(request, f"Marked {changed} message(s) as unread.", admin_messages.SUCCESS)
