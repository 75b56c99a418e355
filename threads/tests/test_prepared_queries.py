"""chat_project.prepared: a queryset compiled once answers as the queryset does."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, F, Sum

from chat_project.prepared import PreparedQuery, prepared_cursor
from threads import selectors, services
from threads.models import Membership, Message, Thread

User = get_user_model()
pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice, bob, carol):
    direct, _ = services.thread_get_or_create(user=alice, other=bob)
    group = services.group_create(owner=alice, title="Team", members=[bob, carol])
    for thread, sender, text in [(direct, bob, "hi"), (direct, bob, "there"), (group, carol, "hello all")]:
        services.message_create(thread=thread, sender=sender, text=text)
    return direct, group


def test_rows_equal_the_querysets_for_every_list_length(conversation, alice, bob, carol):
    def build(user_ids):
        return (
            Membership.objects.filter(user_id__in=user_ids, unread_count__gt=0)
            .values("user_id")
            .order_by("user_id")
            .annotate(total=Sum("unread_count"))
            .values_list("user_id", "total")
        )

    prepared = PreparedQuery(Membership, build)
    for user_ids in ([alice.pk], [alice.pk, bob.pk], [carol.pk, bob.pk, alice.pk], [alice.pk]):
        assert prepared.rows(user_ids=user_ids) == list(build(user_ids))
    assert prepared.rows(user_ids=[alice.pk]) == [(alice.pk, 3)]


def test_instances_are_loaded_from_the_database_with_their_python_values(conversation, alice):
    def build(thread_id, sender_id):
        return Message.objects.filter(thread_id=thread_id, sender_id=sender_id).order_by("id")

    direct, group = conversation
    prepared = PreparedQuery(Message, build)
    for thread_id, sender_id in ((direct.pk, direct.user_high_id), (direct.pk, direct.user_low_id), (group.pk, 0)):
        expected = list(build(thread_id, sender_id))
        found = prepared.instances(thread_id=thread_id, sender_id=sender_id)
        assert [(m.pk, m.text, m.created, m.is_read) for m in found] == [
            (m.pk, m.text, m.created, m.is_read) for m in expected
        ]
        assert all(not m._state.adding for m in found)
    # Two values of one query are told apart, whatever their order in the SQL.
    assert [m.text for m in prepared.instances(sender_id=direct.user_high_id, thread_id=direct.pk)] == ["hi", "there"]


def test_instances_carry_the_querysets_annotations(conversation, alice, bob):
    def build(user_id, thread_id):
        return selectors.threads_of_user_id(user_id=user_id).filter(pk=thread_id).order_by()

    direct, group = conversation
    prepared = PreparedQuery(Thread, build)
    names = ("pk", "kind", "title", "updated", "message_count", "my_role", "unread_count", "my_last_read", "muted")
    for user, thread in ((alice, direct), (bob, direct), (alice, group), (bob, group)):
        [expected] = build(user.pk, thread.pk)
        [found] = prepared.instances(user_id=user.pk, thread_id=thread.pk)
        assert [getattr(found, name) for name in names] == [getattr(expected, name) for name in names]
    assert prepared.instances(user_id=bob.pk, thread_id=direct.pk)[0].unread_count == 0
    assert prepared.instances(user_id=alice.pk, thread_id=direct.pk)[0].unread_count == 2


def test_instances_refuse_a_queryset_with_select_related():
    prepared = PreparedQuery(Message, lambda pk: Message.objects.filter(pk=pk).select_related("sender"))
    with pytest.raises(ValueError, match="select_related"):
        prepared.instances(pk=1)


def test_a_value_the_statement_does_not_carry_as_a_parameter_is_refused(alice):
    # A value the queryset does not use never reaches the SQL: nothing to substitute it in.
    prepared = PreparedQuery(Thread, lambda ids, user_id: Thread.objects.filter(pk__in=ids).annotate(n=Count("id")))
    with pytest.raises(ValueError, match="parameter of the statement"):
        prepared.rows(ids=[1], user_id=alice.pk)


def test_a_prepared_query_runs_one_query_after_the_first(alice, bob, django_assert_num_queries):
    prepared = PreparedQuery(User, lambda pk: User.objects.filter(pk=pk))
    prepared.instances(pk=alice.pk)
    with django_assert_num_queries(1):
        assert [u.username for u in prepared.instances(pk=bob.pk)] == ["bob"]


def test_dicts_equal_a_values_querysets_and_where_is_its_filter(conversation, alice):
    direct, group = conversation

    def build(thread_id, user_id):
        return Thread.objects.filter(pk=thread_id, memberships__user_id=user_id).values(
            "kind", "member_count", unread=F("memberships__unread_count")
        )

    prepared = PreparedQuery(Thread, build)
    for thread in (direct, group):
        assert prepared.dicts(thread_id=thread.pk, user_id=alice.pk) == list(build(thread.pk, alice.pk))
    assert prepared.dicts(thread_id=direct.pk, user_id=0) == []

    unread = PreparedQuery(Message, lambda thread_id, sender_id: Message.objects.filter(
        thread_id=thread_id, sender_id=sender_id, is_read=False))  # fmt: skip
    where, params = unread.where(thread_id=direct.pk, sender_id=direct.user_high_id)
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COUNT(*) FROM "{table}" WHERE {where}', params)
        assert cursor.fetchone()[0] == 2
        where, params = unread.where(thread_id=direct.pk, sender_id=direct.user_low_id)
        cursor.execute(f'SELECT COUNT(*) FROM "{table}" WHERE {where}', params)
        assert cursor.fetchone()[0] == 0


def test_the_redis_cache_reuses_one_client_and_still_works():
    from chat_project.cache import RedisCache

    cache = RedisCache("redis://127.0.0.1:6379/9", {"OPTIONS": {}})
    assert cache._cache.get_client() is cache._cache.get_client(write=True)
    cache.set("prepared-test", [1, 2], 5)
    assert cache.get("prepared-test") == [1, 2]
    cache.delete("prepared-test")


def test_a_statement_through_prepared_cursor_is_logged_and_answers_as_a_plain_cursor(
    conversation, alice, django_assert_num_queries
):
    statement = f"SELECT COUNT(*) FROM {Membership._meta.db_table} WHERE user_id = %s AND unread_count >= %s"
    with connection.cursor() as cursor:
        cursor.execute(statement, [alice.pk, 0])
        expected = cursor.fetchall()

    with django_assert_num_queries(6):
        for _ in range(6):
            with prepared_cursor(connection) as cursor:
                cursor.execute(statement, [alice.pk, 0])
                assert cursor.fetchall() == expected == [(2,)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side prepared statements are PostgreSQL's")
def test_postgresql_prepares_a_statement_after_its_fifth_run(alice):
    statement = "SELECT id FROM auth_user WHERE id = %s AND is_active"

    def prepared_here() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s",
                           ["SELECT id FROM auth_user WHERE id = $1%"])
            return [row[0] for row in cursor.fetchall()]

    for run in range(1, 7):
        with prepared_cursor(connection) as cursor:
            cursor.execute(statement, [alice.pk])
            assert cursor.fetchall() == [(alice.pk,)]
        if run == 4:
            assert prepared_here() == []
    assert prepared_here() == ["SELECT id FROM auth_user WHERE id = $1 AND is_active"]
    with connection.cursor() as cursor:  # Django's own cursors are never prepared
        for _ in range(6):
            cursor.execute("SELECT id FROM auth_user WHERE id = %s AND NOT is_staff", [alice.pk])
    assert len(prepared_here()) == 1


def test_a_constant_of_the_query_is_written_into_its_sql(conversation, alice, bob):
    prepared = PreparedQuery(
        Membership, lambda user_id: Membership.objects.filter(user_id=user_id, unread_count__gt=0, muted=False)
    )

    assert prepared.rows(user_id=bob.pk) == list(
        Membership.objects.filter(user_id=bob.pk, unread_count__gt=0, muted=False).values_list()
    )
    assert prepared.rows(user_id=alice.pk) == list(
        Membership.objects.filter(user_id=alice.pk, unread_count__gt=0, muted=False).values_list()
    ) != []
    (sql, sources, *_), = prepared._compiled.values()
    assert '"unread_count" > 0' in sql
    assert sources == [("user_id", None)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side prepared statements are PostgreSQL's")
def test_the_generic_plan_of_the_unread_totals_uses_the_partial_index(conversation, alice):
    for _ in range(6):  # prepared after five runs
        selectors.unread_counts_for_user_ids(user_ids=[alice.pk])
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, cardinality(parameter_types) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%SUM(%unread_count%"])
        name, parameters = cursor.fetchone()
        values = ", ".join(map(str, [alice.pk] + [0] * (parameters - 1)))  # were a constant a parameter: its 0
        # The plan it keeps after five custom ones; no sequential scan of a tiny table.
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN EXECUTE {name}({values})")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "membership_unread_idx" in plan, plan
