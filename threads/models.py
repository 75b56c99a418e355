"""Data and the invariants the database itself guarantees.

A thread is a conversation between exactly two users. The pair is stored on
the thread as (`user_low`, `user_high`), ordered by user id: a unique
constraint gives "one thread per pair" even when two requests race, and a
check constraint gives "two distinct users".

`participants` is the same pair as a many-to-many relation, for queries and
the admin. Its rows are not stored: `Participant` reads a database view that
derives them from the pair columns, so the relation holds exactly the two
users of the pair, always, and nothing (the ORM, the admin, raw SQL) can add
or remove a row.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.signals import m2m_changed
from django.dispatch import receiver
from django.utils import timezone


class Thread(models.Model):
    # editable=False: derived from the pair below, never written by a form.
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Participant", related_name="threads", editable=False
    )
    # The pair in canonical order; the source of truth for who is in the thread.
    user_low = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # thread_unique_pair starts with user_low and serves as its index
        help_text="The participant with the smaller user id.",
    )
    user_high = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The participant with the larger user id.",
    )
    created = models.DateTimeField(default=timezone.now, editable=False)
    # Time of the latest activity; message_create moves it to the new message's time.
    updated = models.DateTimeField("last activity", blank=True, db_index=True)
    # Kept exact by message_create and message_delete (under the thread's row
    # lock), so paging a long thread never counts its messages one by one.
    message_count = models.PositiveIntegerField("messages", default=0, editable=False)
    # Denormalized under the same row lock, so that listing threads reads no
    # messages at all: the newest message, and how many messages to each
    # participant are unread (to user_low, to user_high). Kept exact by the
    # services; `manage.py recount_messages` recomputes them from the messages.
    # DO_NOTHING, not SET_NULL: the services move it themselves whenever they
    # delete messages (the database checks the reference at commit), and
    # without a rule of Django's to run, deleting a thread deletes its
    # messages in one statement instead of fetching every one of them first.
    last_message = models.ForeignKey(
        "Message", on_delete=models.DO_NOTHING, null=True, blank=True, editable=False, related_name="+"
    )
    unread_low = models.PositiveIntegerField(default=0, editable=False)
    unread_high = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-updated", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user_low", "user_high"], name="thread_unique_pair"),
            models.CheckConstraint(
                condition=Q(user_low__lt=F("user_high")), name="thread_two_distinct_ordered_users"
            ),
            models.CheckConstraint(condition=Q(message_count__gte=0), name="thread_message_count_not_negative"),
            models.CheckConstraint(
                condition=Q(unread_low__gte=0, unread_high__gte=0), name="thread_unread_counts_not_negative"
            ),
        ]

    def __str__(self) -> str:
        # Names only when already loaded: a list of threads (say, on an admin
        # delete page) must not run two queries per thread to print itself.
        if Thread.user_low.is_cached(self) and Thread.user_high.is_cached(self):
            return f"{self.user_low} & {self.user_high}"
        return f"Thread {self.pk}"

    def save(self, *args, **kwargs):
        adding = self._state.adding
        if adding and self.user_low_id and self.user_high_id and self.user_low_id > self.user_high_id:
            self.user_low, self.user_high = self.user_high, self.user_low
        if self.updated is None:
            self.updated = self.created  # a new thread's last activity is its creation
        if not adding and self.pk is not None:
            stored = Thread.objects.filter(pk=self.pk).values_list("user_low_id", "user_high_id").first()
            if stored is not None and stored != (self.user_low_id, self.user_high_id):
                raise ValidationError("The participants of an existing thread cannot be changed.")
        super().save(*args, **kwargs)

    @property
    def pair(self) -> list:
        """The two participants, in id order (loaded with the thread by select_related)."""
        return [self.user_low, self.user_high]

    @property
    def pair_ids(self) -> tuple[int, int]:
        return (self.user_low_id, self.user_high_id)

    def has_participant(self, user) -> bool:
        return user is not None and user.pk in self.pair_ids

    @staticmethod
    def unread_field_for(*, thread_pair_ids: tuple[int, int], user_id: int) -> str:
        """The counter of messages to `user_id` that are unread: unread_low or unread_high."""
        return "unread_low" if user_id == thread_pair_ids[0] else "unread_high"



class Participant(models.Model):
    """A thread's participant: one row of the view `threads_participant`.

    The view (made by `threads.db_views` after every `migrate`) is
        SELECT 2*id AS id, id AS thread_id, user_low_id AS user_id FROM threads_thread
        UNION ALL SELECT 2*id+1, id, user_high_id FROM threads_thread
    so it cannot disagree with the pair, and the database refuses writes to it.
    """

    id = models.BigIntegerField(primary_key=True)
    thread = models.ForeignKey(Thread, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )

    class Meta:
        managed = False
        db_table = "threads_participant"

    def __str__(self) -> str:
        return f"User {self.user_id} in thread {self.thread_id}"


@receiver(m2m_changed, sender=Participant)
def refuse_participant_changes(sender, instance, action, pk_set, **kwargs):
    """Say clearly why `thread.participants.add(...)`, `.remove()`, `.clear()`
    or `user.threads.add(...)` cannot work, before the database refuses the
    write to its view. Adding a thread's own pair again is a harmless no-op."""
    if action in {"pre_remove", "pre_clear"}:
        raise ValidationError("A thread always has exactly two participants; they cannot be removed.")
    if action == "pre_add" and pk_set:
        raise ValidationError(
            "A thread has exactly two participants, fixed when it is created; no one can be added."
        )


class Message(models.Model):
    # db_index=False: message_thread_created_idx starts with thread and serves as its index.
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages", db_index=False)
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_messages")
    text = models.TextField()
    created = models.DateTimeField(default=timezone.now, editable=False)
    is_read = models.BooleanField(default=False)
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
            # A thread's messages by id: the ?after= / ?before= cursors.
            models.Index(fields=["thread", "id"], name="message_thread_id_idx"),
            # Unread messages only: small even when the table holds millions.
            # Marking read finds its rows here, and recount_messages its
            # counts (requests read the thread's counters instead).
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
