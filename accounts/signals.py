"""Signal receivers of the accounts app (connected in AccountsConfig.ready)."""

from .models import UserCanonicalName
from .usernames import canonical, skeleton


def remember_password_hash(sender, instance, **kwargs):
    """The password hash and active flag as loaded, to tell on save whether
    they changed. Read from __dict__: a user loaded without them
    (`only("username")`) must not cost a query; they are None, and a hash
    set later counts as a change."""
    instance._loaded_password_hash = instance.__dict__.get("password")
    instance._loaded_is_active = instance.__dict__.get("is_active")


def end_sessions_on_password_change_or_deactivation(
    sender, instance, created, raw=False, update_fields=None, **kwargs
):
    """Any change of the password hash (set_password and save, the admin's
    password forms, changepassword, a reset), or a deactivation, ends the
    user's sessions (accounts.services.end_sessions): every outstanding
    refresh token is blacklisted in the saving transaction, and every open
    WebSocket closes after it commits. Access tokens need nothing more: they
    carry a hash of the old hash (SimpleJWT CHECK_REVOKE_TOKEN), which no
    longer matches, and an inactive user's are refused anyway."""
    from .services import end_sessions

    if created or raw:
        return
    password = instance.__dict__.get("password")
    changed = password is not None and password != getattr(instance, "_loaded_password_hash", None)
    deactivated = instance.__dict__.get("is_active") is False and getattr(instance, "_loaded_is_active", None)
    if update_fields is not None:
        changed = changed and "password" in update_fields
        deactivated = deactivated and "is_active" in update_fields
    if changed or deactivated:
        end_sessions(instance.pk)
    instance._loaded_password_hash = password
    instance._loaded_is_active = instance.__dict__.get("is_active")


def end_sessions_on_delete(sender, instance, **kwargs):
    """A deleted user's open WebSockets close (after the delete commits)."""
    from threads import events

    events.user_sessions_ended(instance.pk)


def keep_canonical_name(sender, instance, created, raw=False, update_fields=None, **kwargs):
    """After any save of a user, its canonical name row matches its username.
    In the saving transaction: a duplicate canonical name is an IntegrityError
    that rolls the user back too. A fixture (raw) may carry the row already."""
    if update_fields is not None and "username" not in update_fields:
        return
    values = {"canonical": canonical(instance.username), "skeleton": skeleton(instance.username)}
    if created and not raw:
        UserCanonicalName.objects.create(user_id=instance.pk, **values)
    else:
        UserCanonicalName.objects.update_or_create(user_id=instance.pk, defaults=values)
