"""Signal receivers of the accounts app (connected in AccountsConfig.ready)."""

from .models import UserCanonicalName
from .tokens import revoke_refresh_tokens
from .usernames import canonical, skeleton


def remember_password_hash(sender, instance, **kwargs):
    """The password hash as loaded, to tell on save whether it changed. Read
    from __dict__: a user loaded without it (`only("username")`) must not
    cost a query; it has None, and a hash set later counts as a change."""
    instance._loaded_password_hash = instance.__dict__.get("password")


def revoke_sessions_on_password_change(sender, instance, created, raw=False, update_fields=None, **kwargs):
    """Any change of the password hash (set_password and save, the admin's
    password forms, changepassword, a reset) ends the user's sessions: every
    outstanding refresh token is blacklisted, in the saving transaction.
    Access tokens need nothing here: they carry a hash of the old hash
    (SimpleJWT CHECK_REVOKE_TOKEN), which no longer matches."""
    if created or raw or (update_fields is not None and "password" not in update_fields):
        return
    current = instance.__dict__.get("password")
    if current is not None and current != getattr(instance, "_loaded_password_hash", None):
        revoke_refresh_tokens(instance.pk)
    instance._loaded_password_hash = current


def keep_canonical_name(sender, instance, created, raw=False, update_fields=None, **kwargs):
    """After any save of a user, its canonical name row matches its username.
    In the saving transaction: a duplicate canonical name is an IntegrityError
    that rolls the user back too."""
    if update_fields is not None and "username" not in update_fields:
        return
    values = {"canonical": canonical(instance.username), "skeleton": skeleton(instance.username)}
    if created:
        UserCanonicalName.objects.create(user_id=instance.pk, **values)
    else:
        UserCanonicalName.objects.update_or_create(user_id=instance.pk, defaults=values)
