"""The staff console. Writes go through the same rules as the API: the pair
checks of `services`, the read-state service for the bulk actions. Every list
loads what it shows in a fixed number of queries."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib import messages as admin_messages
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from . import services
from .models import Membership, Message, Thread

User = get_user_model()


class ThreadAdminForm(forms.ModelForm):
    """A new thread: a direct one (exactly two participants) or a group (a
    title, an owner and members). An existing direct thread keeps its pair
    (the form says so if it is changed); an existing group, its title
    (members are the inline below it)."""

    new_kind = forms.ChoiceField(
        label="Kind", choices=Thread.Kind.choices, initial=Thread.Kind.DIRECT, widget=forms.RadioSelect,
        required=False,  # direct unless a group is asked for
    )
    # The members, picked as users. Not the model's `participants`, which
    # only the services write; the autocomplete still searches users the
    # way that relation does.
    pair = forms.ModelMultipleChoiceField(
        label="Participants",
        queryset=User.objects.all(),
        widget=AutocompleteSelectMultiple(Thread._meta.get_field("participants"), admin.site),
        help_text="Direct: exactly two different users; a pair has only one thread, and it never changes. "
        "Group: its members besides the owner.",
        required=False,
    )
    owner = forms.ModelChoiceField(
        label="Group owner", queryset=User.objects.filter(is_active=True), required=False,
        help_text="Groups only: the member who owns the group.",
    )

    class Meta:
        model = Thread
        fields = ["title"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            # Like the API: a new thread only with active users.
            self.fields["pair"].queryset = User.objects.filter(is_active=True)
        elif not self.instance.is_group:
            self.initial["pair"] = list(self.instance.pair_ids)

    def is_group(self) -> bool:
        if self.instance.pk is not None:
            return self.instance.is_group
        return self.data.get("new_kind") == Thread.Kind.GROUP

    def clean_title(self):
        if not self.is_group():
            return None
        try:
            return services.check_group_title(self.cleaned_data.get("title"))
        except ValidationError as problem:
            raise ValidationError(problem.message_dict["title"]) from None

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is not None and self.instance.is_group:
            return cleaned
        if "pair" in self.errors:
            return cleaned
        users = list(cleaned.get("pair") or [])
        if self.is_group():
            if cleaned.get("owner") is None:
                self.add_error("owner", "A group needs an owner.")
                return cleaned
            try:
                cleaned["members"] = services.check_group_member_ids(
                    owner=cleaned["owner"], member_ids=[user.pk for user in users]
                )
            except ValidationError as problem:
                self.add_error("pair", problem.message_dict["participants"])
            except PermissionDenied as problem:  # safety: a member blocks the owner
                self.add_error("pair", str(problem))
            return cleaned
        if not users:
            self.add_error("pair", ValidationError(self.fields["pair"].error_messages["required"], code="required"))
            return cleaned
        if len(users) != 2:
            self.add_error(
                "pair",
                ValidationError(
                    f"A thread has exactly two participants; {len(users)} selected.", code="participant_count"
                ),
            )
            return cleaned
        first, second = sorted(users, key=lambda u: u.pk)
        try:
            services.check_thread_pair(user=first, other=second)
        except ValidationError as problem:
            self.add_error("pair", problem)
            return cleaned
        if self.instance.pk is not None:
            if (first.pk, second.pk) != self.instance.pair_ids:
                self.add_error("pair", ValidationError(
                    "The participants of an existing thread cannot be changed; create a new thread instead.",
                    code="pair_changed",
                ))
            return cleaned
        existing = Thread.objects.filter(user_low=first, user_high=second).first()
        if existing is not None:
            self.add_error(
                "pair",
                ValidationError(f"{first} and {second} already have a thread (#{existing.pk}).", code="pair_exists"),
            )
        cleaned["users"] = (first, second)
        return cleaned


class MembershipFormSet(BaseInlineFormSet):
    """Checks the whole change before the services apply it row by row, so
    that a refused change is a form error, not a half-applied save."""

    def clean(self):
        super().clean()
        kept = [form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        limit = settings.CHAT_GROUP_MAX_MEMBERS
        if len(kept) > limit:
            raise ValidationError(f"The group is full: at most {limit} members.")
        owner = Membership.Role.OWNER
        if any(form.cleaned_data.get("DELETE") and form.initial.get("role") == owner for form in self.forms):
            raise ValidationError("Nobody removes a group's owner: make another member owner first.")
        promoted = [form for form in kept if form.cleaned_data.get("role") == owner != form.initial.get("role")]
        if len(promoted) > 1:
            raise ValidationError("A group has one owner; make one member owner (the old owner becomes an admin).")
        demoted = [form for form in kept if form.initial.get("role") == owner and form.cleaned_data["role"] != owner]
        if demoted and not promoted:
            raise ValidationError("The owner stays owner until another member is made owner.")
        for form in self.extra_forms:
            user = form.cleaned_data.get("user") if form.cleaned_data else None
            if user is not None and not user.is_active:
                raise ValidationError(f"{user} is inactive and cannot join a group.")


class MembershipInline(admin.TabularInline):
    """A group's members: staff add and remove members and change roles,
    through the services (ThreadAdmin.save_formset)."""

    model = Membership
    formset = MembershipFormSet
    fields = ["user", "role", "joined", "last_read_message_id", "unread_count"]
    readonly_fields = ["joined", "last_read_message_id", "unread_count"]
    autocomplete_fields = ["user"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def get_readonly_fields(self, request, obj=None):
        if obj is None or not obj.is_group:
            return ["user", "role", *self.readonly_fields]
        return self.readonly_fields


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
    inlines = [MembershipInline, MessageInline]
    list_display = ["__str__", "kind", "participant_names", "member_count", "message_count", "updated", "created"]
    list_display_links = ["__str__"]
    list_filter = ["kind", "updated", "created"]
    search_fields = ["title", "user_low__username", "user_high__username"]
    list_select_related = ["user_low", "user_high"]
    readonly_fields = ["kind", "created", "updated", "member_count", "message_count"]
    list_per_page = 50

    # The total over all threads costs one more COUNT(*) per page; skip it.
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user_low", "user_high")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_inlines(self, request, obj):
        # Members only on a group's page: a new thread's members come from its
        # form, and a direct thread's two are its form's pair.
        return [MembershipInline, MessageInline] if obj is not None and obj.is_group else [MessageInline]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["new_kind", "pair", "title", "owner"]
        return ["title" if obj.is_group else "pair", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        # Through the services, so that the members hear of it like any other
        # change. Saving the row itself would write back `updated` and the
        # counters as read when the page loaded, undoing messages sent meanwhile.
        if change:
            if "title" in form.changed_data:
                services.group_rename(thread=obj, actor=None, title=form.cleaned_data["title"])
            return
        if form.cleaned_data["new_kind"] == Thread.Kind.GROUP:
            thread = services.group_create(
                owner=form.cleaned_data["owner"], title=form.cleaned_data["title"], members=form.cleaned_data["members"]
            )
        else:
            first, second = form.cleaned_data["users"]
            thread, _ = services.thread_get_or_create(user=first, other=second)
        obj.pk, obj.created, obj.updated, obj.kind = thread.pk, thread.created, thread.updated, thread.kind
        obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # Each change through the services: the same rules (group size,
        # one owner, ownership passing on) and events as the API's.
        thread = form.instance
        formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.member_remove(thread=thread, actor=None, user_id=membership.user_id)
        for membership in formset.new_objects:
            added = services.member_add(thread=thread, actor=None, user_id=membership.user_id)
            if membership.role != Membership.Role.MEMBER:
                services.member_set_role(thread=thread, actor=None, user_id=added.user_id, role=membership.role)
        # A new owner first: the old one then steps down to admin, and may be changed further.
        changed = sorted(formset.changed_objects, key=lambda change: change[0].role != Membership.Role.OWNER)
        for membership, changed_fields in changed:
            if "role" in changed_fields:
                services.member_set_role(thread=thread, actor=None, user_id=membership.user_id, role=membership.role)

    def delete_model(self, request, obj):
        services.thread_delete(thread=obj)

    def delete_queryset(self, request, queryset):
        services.threads_delete(threads=queryset)

    @admin.display(description="Participants")
    def participant_names(self, thread: Thread) -> str:
        if thread.is_group:
            return f"{thread.member_count} members"
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

    def get_readonly_fields(self, request, obj=None):
        # A group message's read state is its members' positions, not a flag.
        if obj is not None and obj.thread.is_group:
            return [*self.readonly_fields, "is_read"]
        return self.readonly_fields

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "is_read":
            # A checkbox: only group messages hold null, and they do not get this field.
            return forms.BooleanField(label="Read", required=False)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

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
