"""Data and the invariants the database itself guarantees.

A thread is either `direct` (exactly two users, one thread per pair) or a
`group` (a title and 1 to CHAT_GROUP_MAX_MEMBERS members). Who is in a thread
is decided by one table, `Membership`: one row per user per thread, with the
user's role, when they joined, their read position and their unread count.
Every access check, list and event reads it.

A direct thread also stores its pair on the thread as (`user_low`,
`user_high`), ordered by user id: the key under which a unique constraint
gives "one thread per pair" even when two requests race. Its two membership
rows carry a `direct_slot` (0 for `user_low`, 1 for `user_high`) under a
unique constraint, and a database trigger (migration 0006) refuses any other
member, so no path (the ORM, the admin, raw SQL) can add a third; removing
one through the ORM is refused by `MembershipQuerySet.delete`.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Thread(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct"
        GROUP = "group"

    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.DIRECT, editable=False)
    # Groups only: 1 to 100 characters, trimmed. Null, not "", for direct
    # threads: the kind check constraint tells "no title" from a blank one.
    title = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    # editable=False: members are added and removed by the services.
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="threads", editable=False
    )
    # A direct thread's pair in canonical order (null for groups): the key of
    # "one thread per pair". Who may read the thread is its memberships.
    user_low = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # thread_unique_pair starts with user_low and serves as its index
        help_text="Direct threads: the participant with the smaller user id.",
    )
    user_high = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Direct threads: the participant with the larger user id.",
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    # Time of the latest activity; message_create moves it to the new message's time.
    updated = models.DateTimeField("last activity", blank=True, db_index=True)
    # Kept exact by the services under the thread's row lock, so paging a
    # long thread never counts its messages, nor a group its members.
    message_count = models.PositiveIntegerField("messages", default=0, editable=False)
    member_count = models.PositiveIntegerField("members", default=0, editable=False)
    # The newest message, so that listing threads reads no messages at all.
    # DO_NOTHING, not SET_NULL: the services move it themselves whenever they
    # delete messages (the database checks the reference at commit), and
    # without a rule of Django's to run, deleting a thread deletes its
    # messages in one statement instead of fetching every one of them first.
    last_message = models.ForeignKey(
        "Message", on_delete=models.DO_NOTHING, null=True, blank=True, editable=False, related_name="+"
    )

    class Meta:
        ordering = ["-updated", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user_low", "user_high"], name="thread_unique_pair"),
            # A direct thread: two distinct users in order, no title; a group: a title, no pair.
            models.CheckConstraint(
                condition=(
                    Q(kind="direct", user_low__isnull=False, user_high__isnull=False, title__isnull=True)
                    & Q(user_low__lt=F("user_high"))
                )
                | Q(kind="group", user_low__isnull=True, user_high__isnull=True, title__isnull=False)
                & ~Q(title=""),
                name="thread_kind_shape",
            ),
            models.CheckConstraint(condition=Q(message_count__gte=0), name="thread_message_count_not_negative"),
        ]

    def __str__(self) -> str:
        if self.kind == Thread.Kind.GROUP:
            return self.title or f"Group {self.pk}"
        # Names only when already loaded: a list of threads (say, on an admin
        # delete page) must not run two queries per thread to print itself.
        if Thread.user_low.is_cached(self) and Thread.user_high.is_cached(self):
            return f"{self.user_low} & {self.user_high}"
        return f"Thread {self.pk}"

    def save(self, *args, **kwargs):
        if self._state.adding and self.user_low_id and self.user_high_id and self.user_low_id > self.user_high_id:
            self.user_low, self.user_high = self.user_high, self.user_low
        if self.updated is None:
            self.updated = self.created  # a new thread's last activity is its creation
        if not self._state.adding and self.pk is not None:
            stored = Thread.objects.filter(pk=self.pk).values_list("user_low_id", "user_high_id").first()
            if stored is not None and stored != (self.user_low_id, self.user_high_id):
                raise ValidationError("The participants of an existing thread cannot be changed.")
        super().save(*args, **kwargs)

    @property
    def is_group(self) -> bool:
        return self.kind == Thread.Kind.GROUP

    @property
    def pair(self) -> list:
        """A direct thread's two participants, in id order (select_related with the thread)."""
        return [self.user_low, self.user_high]

    @property
    def pair_ids(self) -> tuple[int, int]:
        return (self.user_low_id, self.user_high_id)


class MembershipQuerySet(models.QuerySet):
    def delete(self):
        # `thread.participants.remove()`/`.clear()` and `Membership.objects...delete()`
        # end here; a whole thread's deletion does not (the services and
        # Django's cascade delete its rows directly).
        if self.filter(direct_slot__isnull=False).exists():
            raise ValidationError("A direct thread always has its two participants; they cannot be removed.")
        return super().delete()

    delete.alters_data = True
    delete.queryset_only = True


class Membership(models.Model):
    """One user in one thread: the single source of truth for who is in it."""

    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        MEMBER = "member"

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    role = models.CharField(max_length=6, choices=Role.choices, default=Role.MEMBER)
    joined = models.DateTimeField(default=timezone.now)
    # Direct threads only: 0 for the thread's user_low, 1 for user_high. Unique
    # per thread, so a direct thread can never hold more than two members.
    direct_slot = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # The read position: the id of the newest message this member has read (0:
    # none). It only moves forward. In groups every message up to it counts
    # as read for this member; direct threads keep a read flag per message too.
    last_read_message_id = models.BigIntegerField(default=0)
    # Messages from others this member has not read, kept exact by the
    # services under the thread's row lock (what thread lists and totals read).
    unread_count = models.PositiveIntegerField(default=0)
    # The thread's `updated`, copied onto each member's row by the same
    # statement that counts a new message for them: a user's thread list is
    # then read in order from one index, one page at a time, instead of
    # sorting all their threads for every page.
    thread_updated = models.DateTimeField(default=timezone.now, editable=False)
    # Muted by this member (safety, issue 16): its unread messages still
    # count in this row's unread_count, but not in the member's total.
    muted = models.BooleanField(default=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["joined", "id"]
        constraints = [
            models.UniqueConstraint(fields=["thread", "user"], name="membership_unique_user"),
            models.UniqueConstraint(fields=["thread", "direct_slot"], name="membership_unique_direct_slot"),
            # At most one owner per group (the services keep it exactly one).
            models.UniqueConstraint(fields=["thread"], condition=Q(role="owner"), name="membership_one_owner"),
            models.CheckConstraint(condition=Q(role__in=["owner", "admin", "member"]), name="membership_role_valid"),
            models.CheckConstraint(
                condition=Q(direct_slot__isnull=True) | Q(direct_slot__in=[0, 1], role="member"),
                name="membership_direct_slot_member",
            ),
            models.CheckConstraint(condition=Q(unread_count__gte=0), name="membership_unread_not_negative"),
        ]
        indexes = [
            # A user's threads, latest activity first: the thread list's pages.
            models.Index(fields=["user", "-thread_updated", "-thread"], name="membership_user_activity_idx"),
            # Only memberships with something unread: a user's total unread
            # count is a sum over these few entries, not over all their threads.
            models.Index(
                fields=["user", "unread_count"], condition=Q(unread_count__gt=0), name="membership_unread_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"User {self.user_id} in thread {self.thread_id} ({self.role})"

    def delete(self, *args, **kwargs):
        if self.direct_slot is not None:
            raise ValidationError("A direct thread always has its two participants; they cannot be removed.")
        return super().delete(*args, **kwargs)


class Message(models.Model):
    # db_index=False: message_thread_created_idx starts with thread and serves as its index.
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages", db_index=False)
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_messages")
    text = models.TextField()
    created = models.DateTimeField(default=timezone.now, editable=False)
    # Direct threads: whether the recipient has read it. Null in groups, where
    # each member's read position says it (see selectors.read_positions).
    is_read = models.BooleanField(null=True, default=False)
    # Chosen by the sending client so that a retried send is recognised
    # instead of stored twice (see services.message_get_or_create).
    client_id = models.UUIDField(
        null=True, blank=True, editable=False, help_text="The sending client's id for this message, if it gave one."
    )

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="message_text_not_empty"),
            # One message per client_id per sender and thread, even when retries race.
            models.UniqueConstraint(
                fields=["thread", "sender", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_client_id",
            ),
        ]
        indexes = [
            # A thread's messages, newest first; also finds its last message.
            models.Index(fields=["thread", "-created", "-id"], name="message_thread_created_idx"),
            # A thread's messages by id: the ?after= / ?before= cursors, and
            # a group's messages past a read position.
            models.Index(fields=["thread", "id"], name="message_thread_id_idx"),
            # Unread direct messages only (group messages are null): small
            # even when the table holds millions. Marking read finds its rows
            # here, and recount_messages its counts.
            models.Index(
                fields=["thread", "sender"], condition=Q(is_read=False), name="message_unread_idx"
            ),
        ]

    def __str__(self) -> str:
        # Uses no relation, so printing many messages runs no queries.
        return f"Message {self.pk} in thread {self.thread_id}: {self.excerpt}"

    @property
    def excerpt(self) -> str:
        return self.text if len(self.text) <= 50 else self.text[:49] + "…"
