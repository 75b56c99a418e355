from django.conf import settings
from django.db import models


class UserCanonicalName(models.Model):
    """A user's username in canonical form (accounts.usernames): unique, so no
    two accounts differ only by case or compatibility forms, whatever path
    created them (registration, the admin, createsuperuser, fixtures: a
    post_save signal keeps it filled). `skeleton` finds look-alikes."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="canonical_name"
    )
    canonical = models.TextField(unique=True)
    skeleton = models.TextField(db_index=True)

    def __str__(self):
        return self.canonical


class SessionCutoff(models.Model):
    """When the user last logged out everywhere: tokens issued before it are
    refused by the WebSocket and on refresh (accounts.tokens.token_still_valid)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="session_cutoff"
    )
    not_before = models.DateTimeField()

    def __str__(self):
        return f"{self.user_id}: {self.not_before.isoformat()}"
