"""Events from writes that do not come through the REST API (the admin), seen
on the channel layer itself: every write path is announced, on commit only."""

from django.urls import reverse

from threads import services
from threads.models import Message, Thread
from threads.tests.test_admin import empty_inline


def test_a_thread_added_in_the_admin_is_announced_to_both(
    admin_client, alice, bob, listen, django_capture_on_commit_callbacks
):
    alice_events = listen(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:threads_thread_add"), {"pair": [alice.pk, bob.pk], **empty_inline()}
        )

    thread = Thread.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:threads_thread_changelist")
    assert [(e["type"], e["thread"]["id"]) for e in alice_events()] == [("thread.created", thread.pk)]


def test_a_message_edited_in_the_admin_is_announced_with_its_new_text(
    admin_client, message_from_alice, bob, listen, django_capture_on_commit_callbacks
):
    bob_events = listen(bob)
    url = reverse("admin:threads_message_change", args=[message_from_alice.pk])

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"text": "moderated", "is_read": "on"})

    events = bob_events()
    assert [e["type"] for e in events] == ["message.updated", "message.read", "unread_count"]
    assert events[0]["message"]["text"] == "moderated"
    assert events[1]["message_ids"] == [message_from_alice.pk]
    assert Message.objects.get().text == "moderated"


def test_admin_mark_unread_action_is_announced(
    admin_client, thread, message_from_alice, bob, listen, django_capture_on_commit_callbacks
):
    services.thread_mark_read(thread=thread, user=bob)
    bob_events = listen(bob)

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:threads_message_changelist"),
            {"action": "mark_unread", "_selected_action": [message_from_alice.pk]},
        )

    assert [e["type"] for e in bob_events()] == ["message.unread", "unread_count"]


def test_nothing_is_sent_until_the_transaction_commits(thread, alice, bob, listen, django_capture_on_commit_callbacks):
    bob_events = listen(bob)

    with django_capture_on_commit_callbacks(execute=False) as pending:
        services.message_create(thread=thread, sender=alice, text="not yet")
        assert bob_events() == []

    assert len(pending) == 1
    pending[0]()
    assert [e["type"] for e in bob_events()] == ["message.created", "unread_count"]


def test_deleting_a_user_deletes_their_threads_through_the_service_and_tells_the_other(
    thread, alice, bob, listen, django_capture_on_commit_callbacks
):
    services.message_create(thread=thread, sender=bob, text="unread by alice")
    alice_events = listen(alice)

    with django_capture_on_commit_callbacks(execute=True):
        bob.delete()

    assert not Thread.objects.exists()
    assert not Message.objects.exists()
    assert alice_events() == [
        {"type": "thread.deleted", "thread": thread.pk},
        {"type": "unread_count", "unread_count": 0, "thread": thread.pk, "thread_unread_count": 0},
    ]


def test_a_send_reads_the_unread_totals_of_the_listening_recipients_only(
    thread, alice, bob, listen, django_capture_on_commit_callbacks, django_assert_num_queries
):
    def send_then_commit_with_queries(text: str, queries: int) -> None:
        """alice sends; the after-commit callbacks run `queries` queries."""
        with django_capture_on_commit_callbacks(execute=False) as pending:
            services.message_create(thread=thread, sender=alice, text=text)
        with django_assert_num_queries(queries):
            for callback in pending:
                callback()

    # Nobody listening: after the commit, no query and nothing sent.
    send_then_commit_with_queries("to nobody yet", 0)

    # Only the sender's other device: its message, and no total is read.
    alice_events = listen(alice)
    send_then_commit_with_queries("to my other device", 0)
    assert [e["type"] for e in alice_events()] == ["message.created"]

    # The recipient listening: their total, in one query.
    bob_events = listen(bob)
    send_then_commit_with_queries("to bob", 1)
    assert bob_events()[-1] == {"type": "unread_count", "unread_count": 3, "thread": thread.pk,
                                "thread_unread_count": 3}
    assert [e["type"] for e in alice_events()] == ["message.created"]
