"""Signal receivers of the accounts app (connected in AccountsConfig.ready)."""

from .models import UserCanonicalName
from .usernames import canonical, skeleton


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
