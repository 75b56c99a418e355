"""Membership becomes a table: every thread's members, their roles, read
positions and unread counts. Existing (direct) threads get their two rows,
with each participant's unread count moved from the thread's
unread_low/unread_high and a read position from the messages: the newest
message sent to them that they have read. Group threads are new.

Reversible for the direct threads it started from: going back deletes group
threads and puts the counters back on the thread.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce

PARTICIPANT_VIEW_SQL = """
CREATE VIEW threads_participant AS
    SELECT 2 * id AS id, id AS thread_id, user_low_id AS user_id FROM threads_thread
    UNION ALL
    SELECT 2 * id + 1 AS id, id AS thread_id, user_high_id AS user_id FROM threads_thread
"""

# A direct thread's members are fixed: no row without a direct_slot may join
# a thread that has slotted rows (or the reverse), and no slotted row may move
# to another thread or user. membership_unique_direct_slot allows two slots.
# The triggers read only their own table, so rebuilding threads_thread (SQLite
# remakes a table for most changes) never trips over them.
GUARD_MESSAGE = "A direct thread has exactly its two participants: no one can be added, removed or moved."
SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER membership_direct_insert BEFORE INSERT ON threads_membership
    WHEN EXISTS (
        SELECT 1 FROM threads_membership m
        WHERE m.thread_id = NEW.thread_id AND (m.direct_slot IS NULL) <> (NEW.direct_slot IS NULL)
    )
    BEGIN SELECT RAISE(ABORT, '{GUARD_MESSAGE}'); END
    """,
    f"""
    CREATE TRIGGER membership_direct_update BEFORE UPDATE ON threads_membership
    WHEN (OLD.direct_slot IS NOT NULL OR NEW.direct_slot IS NOT NULL)
        AND (NEW.thread_id <> OLD.thread_id OR NEW.user_id <> OLD.user_id OR NEW.direct_slot IS NOT OLD.direct_slot)
    BEGIN SELECT RAISE(ABORT, '{GUARD_MESSAGE}'); END
    """,
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS membership_direct_insert", "DROP TRIGGER IF EXISTS membership_direct_update"]
POSTGRES_TRIGGERS = [
    f"""
    CREATE FUNCTION threads_membership_direct_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF EXISTS (
                SELECT 1 FROM threads_membership m
                WHERE m.thread_id = NEW.thread_id AND (m.direct_slot IS NULL) <> (NEW.direct_slot IS NULL)
            ) THEN
                RAISE EXCEPTION '{GUARD_MESSAGE}' USING ERRCODE = 'check_violation';
            END IF;
        ELSIF (OLD.direct_slot IS NOT NULL OR NEW.direct_slot IS NOT NULL)
            AND (NEW.thread_id, NEW.user_id, NEW.direct_slot) IS DISTINCT FROM (OLD.thread_id, OLD.user_id, OLD.direct_slot)
        THEN
            RAISE EXCEPTION '{GUARD_MESSAGE}' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER membership_direct_guard BEFORE INSERT OR UPDATE ON threads_membership
    FOR EACH ROW EXECUTE FUNCTION threads_membership_direct_guard()
    """,
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS membership_direct_guard ON threads_membership",
    "DROP FUNCTION IF EXISTS threads_membership_direct_guard()",
]


def run_statements(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def create_memberships(apps, schema_editor):
    Thread = apps.get_model("threads", "Thread")
    Message = apps.get_model("threads", "Message")
    Membership = apps.get_model("threads", "Membership")

    def read_position(user_column):
        # The newest message sent to the user that they have read (in a
        # direct thread, `is_read` is the recipient's), as marking read moves it.
        read = Message.objects.filter(thread=OuterRef("pk"), is_read=True).exclude(sender_id=OuterRef(user_column))
        return Coalesce(Subquery(read.order_by("-id").values("id")[:1]), 0)

    rows = (
        Thread.objects.annotate(low_read=read_position("user_low_id"), high_read=read_position("user_high_id"))
        .order_by("pk")
        .values_list("pk", "user_low_id", "user_high_id", "created", "updated", "unread_low", "unread_high",
                     "low_read", "high_read")
    )
    batch = []
    for pk, low, high, created, updated, unread_low, unread_high, low_read, high_read in rows.iterator(chunk_size=2000):
        batch.append(Membership(thread_id=pk, user_id=low, direct_slot=0, joined=created, thread_updated=updated,
                                unread_count=unread_low, last_read_message_id=low_read))
        batch.append(Membership(thread_id=pk, user_id=high, direct_slot=1, joined=created, thread_updated=updated,
                                unread_count=unread_high, last_read_message_id=high_read))
        if len(batch) >= 5000:
            Membership.objects.bulk_create(batch)
            batch = []
    Membership.objects.bulk_create(batch)
    Thread.objects.update(member_count=2)


def restore_pair_counters(apps, schema_editor):
    """Backwards: groups cannot exist in the old schema; direct counters go back on the thread."""
    Thread = apps.get_model("threads", "Thread")
    Message = apps.get_model("threads", "Message")
    Membership = apps.get_model("threads", "Membership")
    groups = Thread.objects.filter(kind="group")
    groups.update(last_message=None)
    Message.objects.filter(thread__in=groups).delete()
    Membership.objects.filter(thread__in=groups)._raw_delete(schema_editor.connection.alias)
    groups.delete()

    def unread_of(slot):
        return Subquery(Membership.objects.filter(thread=OuterRef("pk"), direct_slot=slot).values("unread_count")[:1])

    Thread.objects.update(unread_low=unread_of(0), unread_high=unread_of(1))
    Message.objects.filter(is_read__isnull=True).update(is_read=False)


class Migration(migrations.Migration):

    dependencies = [
        ('threads', '0005_thread_last_message_do_nothing'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The database view behind the old participants relation; SQLite
        # could not rebuild threads_thread below with it in place.
        migrations.RunSQL("DROP VIEW IF EXISTS threads_participant", PARTICIPANT_VIEW_SQL),
        migrations.CreateModel(
            name='Membership',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('owner', 'Owner'), ('admin', 'Admin'), ('member', 'Member')], default='member', max_length=6)),
                ('joined', models.DateTimeField(default=django.utils.timezone.now)),
                ('direct_slot', models.PositiveSmallIntegerField(blank=True, editable=False, null=True)),
                ('last_read_message_id', models.BigIntegerField(default=0)),
                ('unread_count', models.PositiveIntegerField(default=0)),
                ('thread_updated', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('thread', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='threads.thread')),
                ('user', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['joined', 'id'],
            },
        ),
        migrations.AlterField(
            model_name='thread',
            name='participants',
            field=models.ManyToManyField(editable=False, related_name='threads', through='threads.Membership', to=settings.AUTH_USER_MODEL),
        ),
        migrations.DeleteModel(
            name='Participant',
        ),
        migrations.AddField(
            model_name='thread',
            name='kind',
            field=models.CharField(choices=[('direct', 'Direct'), ('group', 'Group')], default='direct', editable=False, max_length=6),
        ),
        migrations.AddField(
            model_name='thread',
            name='member_count',
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name='members'),
        ),
        migrations.AddField(
            model_name='thread',
            name='title',
            field=models.CharField(blank=True, max_length=100, null=True),
        ),
        migrations.RemoveConstraint(
            model_name='thread',
            name='thread_two_distinct_ordered_users',
        ),
        migrations.AlterField(
            model_name='thread',
            name='user_high',
            field=models.ForeignKey(blank=True, help_text='Direct threads: the participant with the larger user id.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='thread',
            name='user_low',
            field=models.ForeignKey(blank=True, db_index=False, help_text='Direct threads: the participant with the smaller user id.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='message',
            name='is_read',
            field=models.BooleanField(default=False, null=True),
        ),
        migrations.RunPython(create_memberships, restore_pair_counters),
        migrations.RemoveConstraint(
            model_name='thread',
            name='thread_unread_counts_not_negative',
        ),
        migrations.RemoveField(
            model_name='thread',
            name='unread_high',
        ),
        migrations.RemoveField(
            model_name='thread',
            name='unread_low',
        ),
        migrations.AddConstraint(
            model_name='thread',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'direct'), ('title__isnull', True), ('user_high__isnull', False), ('user_low__isnull', False), ('user_low__lt', models.F('user_high'))), models.Q(('kind', 'group'), ('title__isnull', False), ('user_high__isnull', True), ('user_low__isnull', True), models.Q(('title', ''), _negated=True)), _connector='OR'), name='thread_kind_shape'),
        ),
        migrations.AddIndex(
            model_name='membership',
            index=models.Index(fields=['user', '-thread_updated', '-thread'], name='membership_user_activity_idx'),
        ),
        migrations.AddIndex(
            model_name='membership',
            index=models.Index(condition=models.Q(('unread_count__gt', 0)), fields=['user', 'unread_count'], name='membership_unread_idx'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.UniqueConstraint(fields=('thread', 'user'), name='membership_unique_user'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.UniqueConstraint(fields=('thread', 'direct_slot'), name='membership_unique_direct_slot'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.UniqueConstraint(condition=models.Q(('role', 'owner')), fields=('thread',), name='membership_one_owner'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(('role__in', ['owner', 'admin', 'member'])), name='membership_role_valid'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(('direct_slot__isnull', True), models.Q(('direct_slot__in', [0, 1]), ('role', 'member')), _connector='OR'), name='membership_direct_slot_member'),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(('unread_count__gte', 0)), name='membership_unread_not_negative'),
        ),
        migrations.RunPython(
            run_statements({"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRES_TRIGGERS}),
            run_statements({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}),
        ),
    ]
