from django.conf import settings
from django.db import models
from django.utils import timezone


class Thread(models.Model):
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="plain_threads")
    title = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.title or f"thread {self.pk}"


class Message(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plain_messages")
    text = models.TextField()
    created = models.DateTimeField(default=timezone.now)
    is_read = models.BooleanField(default=False)

    class Meta:
        # The one index a thread's newest-first page needs.
        indexes = [models.Index(fields=["thread", "-created"], name="plain_message_page_idx")]

    def __str__(self):
        return self.text[:50]
