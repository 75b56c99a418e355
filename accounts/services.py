"""Account rules used by the API (threads/serializers.py, threads/views.py)."""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from threads import events

from . import usernames
from .models import SessionCutoff, UserCanonicalName
from .tokens import revoke_refresh_tokens

USERNAME_MAX_LENGTH = 150  # auth.User.username

# What a deleted account's username becomes (`deleted-<id>`); reserved, so
# that no one registers the name a deletion will need.
DELETED_USERNAME = "deleted-{}"
RESERVED_USERNAME = re.compile(r"deleted-[0-9]+")


def check_new_username(name: str) -> None:
    """Refuse a username for a new account (ValidationError, one message).

    Checked on what would be stored and compared: a name taken in any case
    or compatibility form, a name mixing scripts, or a look-alike of a taken
    name. The database has the last word on the first (a unique canonical
    name), for registrations that race past this check.
    """
    if len(usernames.normalized(name)) > USERNAME_MAX_LENGTH:
        raise ValidationError(f"Ensure this field has no more than {USERNAME_MAX_LENGTH} characters once normalized.")
    problem = usernames.scripts_problem(name)
    if problem:
        raise ValidationError(problem)
    canonical = usernames.canonical(name)
    if RESERVED_USERNAME.fullmatch(canonical):
        raise ValidationError("Usernames of the form deleted-<number> are reserved for deleted accounts.")
    # One query, so that a name registered meanwhile by a racing request is
    # reported as taken, not as a look-alike of itself.
    found = set(
        UserCanonicalName.objects.filter(Q(canonical=canonical) | Q(skeleton=usernames.skeleton(name)))
        .values_list("canonical", flat=True)
    )
    if canonical in found:
        raise ValidationError("A user with that username already exists.")
    if found:
        raise ValidationError("This username looks too much like an existing one; choose another.")


def end_sessions(user_id: int) -> None:
    """Blacklist the user's refresh tokens and close their open WebSockets on
    every server process (after commit). Called on a password change,
    deactivation and deletion (accounts.signals) and by log_out_everywhere."""
    revoke_refresh_tokens(user_id)
    events.user_sessions_ended(user_id)


@transaction.atomic
def log_out_everywhere(user) -> None:
    """End every session of the user: refresh tokens blacklisted, sockets
    closed, and access tokens issued until now refused by the WebSocket and on
    refresh (REST requests accept them for the rest of their short lifetime)."""
    SessionCutoff.objects.update_or_create(user=user, defaults={"not_before": timezone.now()})
    end_sessions(user.pk)


@transaction.atomic
def change_password(user, new_password: str) -> None:
    """Set a new password (already checked by Django's validators). Saving the
    new hash ends every session of the user (accounts.signals): refresh
    tokens blacklisted, access tokens refused, sockets closed on commit."""
    user.set_password(new_password)
    user.save(update_fields=["password"])


@transaction.atomic
def delete_account(user) -> None:
    """Deactivate the account for good: it cannot log in, every session ends
    at once (sockets close with 4401 on commit), and nothing personal is
    left. Its threads and messages stay for the people it talked to, who see
    it as `deleted-<id>` (its canonical name row follows, accounts.signals);
    the thread services refuse inactive users as new participants."""
    user.username = DELETED_USERNAME.format(user.pk)
    user.email = user.first_name = user.last_name = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    log_out_everywhere(user)


@transaction.atomic
def deactivate_user(*, user) -> None:
    """Deactivate an account (staff: the report queue's "deactivate sender"):
    it cannot log in, and every session ends (accounts.signals: refresh tokens
    blacklisted, sockets closed on commit). Its data stays; staff can
    reactivate it in the admin."""
    user.is_active = False
    user.save(update_fields=["is_active"])
