"""Data and the invariants the database itself guarantees.

A thread is a conversation between exactly two users. The pair is stored on
the thread as (`user_low`, `user_high`), ordered by user id, so that one
unique constraint gives "one thread per pair" even when two requests race.
`participants` mirrors that pair as a many-to-many relation; it is filled in
when the thread is first saved and guarded against any later change, so it
can never hold a third user or lose one.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.signals import m2m_changed
from django.dispatch import receiver
from django.utils import timezone


class Thread(models.Model):
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="threads")
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

    class Meta:
        ordering = ["-updated", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user_low", "user_high"], name="thread_unique_pair"),
            models.CheckConstraint(
                condition=Q(user_low__lt=F("user_high")), name="thread_two_distinct_ordered_users"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_low} & {self.user_high}"

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
        if adding:
            self.participants.add(self.user_low_id, self.user_high_id)

    @property
    def pair_ids(self) -> tuple[int, int]:
        return (self.user_low_id, self.user_high_id)

    def has_participant(self, user) -> bool:
        return user is not None and user.pk in self.pair_ids

    def other_participant_id(self, user) -> int:
        """The id of the participant who is not `user` (who must be a participant)."""
        return self.user_high_id if user.pk == self.user_low_id else self.user_low_id


@receiver(m2m_changed, sender=Thread.participants.through)
def keep_participants_equal_to_pair(sender, instance, action, reverse, pk_set, **kwargs):
    """Refuse any change to `participants` other than adding the thread's own pair.

    This is what makes `thread.participants.add(third_user)`, `.remove()`,
    `.clear()` and the reverse `user.threads.add(thread)` fail from a shell,
    the admin or anywhere else.
    """
    if action in {"pre_remove", "pre_clear"}:
        raise ValidationError("A thread always has exactly two participants; they cannot be removed.")
    if action != "pre_add":
        return
    if reverse:
        # instance is a user, pk_set are thread ids: the user must belong to each pair.
        outside = Thread.objects.filter(pk__in=pk_set).exclude(
            Q(user_low=instance.pk) | Q(user_high=instance.pk)
        )
        if outside.exists():
            raise ValidationError("A thread has exactly two participants; no one else can be added.")
    elif not set(pk_set) <= set(instance.pair_ids):
        raise ValidationError("A thread has exactly two participants; no one else can be added.")


class Message(models.Model):
    # db_index=False: message_thread_created_idx starts with thread and serves as its index.
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages", db_index=False)
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_messages")
    text = models.TextField()
    created = models.DateTimeField(default=timezone.now, editable=False)
    is_read = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="message_text_not_empty"),
        ]
        indexes = [
            # A thread's messages, newest first; also finds its last message.
            models.Index(fields=["thread", "-created", "-id"], name="message_thread_created_idx"),
            # Unread messages only: small even when the table holds millions,
            # and it answers every unread count (per thread and per user).
            models.Index(
                fields=["thread", "sender"], condition=Q(is_read=False), name="message_unread_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender} in thread {self.thread_id}: {self.excerpt}"

    @property
    def excerpt(self) -> str:
        return self.text if len(self.text) <= 50 else self.text[:49] + "…"
