"""Fill the canonical name of every existing user.

Accounts that already collide (registered before canonical names existed,
e.g. `alice` and `ALICE`) keep working: the oldest gets the canonical name,
each later one `<canonical>#<id>` (`#` is never in a valid username, so no
new name can take it), and the migration lists them for the operator.
"""

from django.conf import settings
from django.db import migrations


def fill(apps, schema_editor):
    from accounts.usernames import canonical, skeleton

    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    UserCanonicalName = apps.get_model("accounts", "UserCanonicalName")
    taken, rows, collisions = set(), [], []
    for pk, username in User.objects.order_by("pk").values_list("pk", "username").iterator():
        name = canonical(username)
        if name in taken:
            collisions.append(username)
            name = f"{name}#{pk}"
        taken.add(name)
        rows.append(UserCanonicalName(user_id=pk, canonical=name, skeleton=skeleton(username)))
    UserCanonicalName.objects.bulk_create(rows, batch_size=1000)
    if collisions:
        print(f"\n  Usernames that differ from an older one only by case or form: {', '.join(collisions)}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_canonical_name")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
