"""Account rules used by the API (threads/serializers.py, threads/views.py)."""

from django.core.exceptions import ValidationError

from . import usernames
from .models import UserCanonicalName

USERNAME_MAX_LENGTH = 150  # auth.User.username


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
    if UserCanonicalName.objects.filter(canonical=usernames.canonical(name)).exists():
        raise ValidationError("A user with that username already exists.")
    if UserCanonicalName.objects.filter(skeleton=usernames.skeleton(name)).exists():
        raise ValidationError("This username looks too much like an existing one; choose another.")
