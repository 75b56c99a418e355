"""Blocking, through the API: what a block stops, what it hides and from whom."""

from threads import services
from threads.models import Membership
from threads.tests.conftest import summary
from threads.tests.counters import assert_counters_exact

CANT = {"detail": "You can't message this user."}


def block(client_for, blocker, blocked):
    response = client_for(blocker).post(f"/api/users/{blocked.pk}/block/")
    assert response.status_code == 204, response.content
    return response


def total(client_for, user) -> int:
    return client_for(user).get("/api/threads/unread_count/").json()["unread_count"]


def test_block_and_unblock_are_idempotent_and_listed(client_for, alice, bob, carol):
    client = client_for(alice)
    assert client.post(f"/api/users/{bob.pk}/block/").status_code == 204
    assert client.post(f"/api/users/{bob.pk}/block/").status_code == 204
    assert client.post(f"/api/users/{carol.pk}/block/").status_code == 204

    body = client.get("/api/users/blocked/").json()
    assert body["count"] == 2
    assert body["results"] == [summary(carol), summary(bob)]  # most recent first
    assert client_for(bob).get("/api/users/blocked/").json()["count"] == 0  # per caller

    assert client.delete(f"/api/users/{bob.pk}/block/").status_code == 204
    assert client.delete(f"/api/users/{bob.pk}/block/").status_code == 204
    assert client.get("/api/users/blocked/").json()["results"] == [summary(carol)]


def test_blocking_yourself_is_400_and_an_unknown_user_404(client_for, alice):
    client = client_for(alice)
    response = client.post(f"/api/users/{alice.pk}/block/")
    assert response.status_code == 400
    assert "yourself" in response.json()["non_field_errors"][0]
    assert client.post("/api/users/999999/block/").status_code == 404
    assert client.delete("/api/users/999999/block/").status_code == 404
    assert client.get("/api/users/blocked/").json()["count"] == 0


def test_a_blocked_user_cannot_start_a_direct_thread_with_the_blocker(client_for, alice, bob, thread):
    block(client_for, alice, bob)
    response = client_for(bob).post("/api/threads/", {"participants": [alice.pk]}, format="json")
    assert (response.status_code, response.json()) == (403, CANT)
    # The blocker still can open (get) it, and read its history.
    response = client_for(alice).post("/api/threads/", {"participants": [bob.pk]}, format="json")
    assert (response.status_code, response.json()["id"]) == (200, thread.pk)


def test_a_blocked_user_cannot_start_a_new_direct_thread_either(client_for, alice, bob):
    block(client_for, alice, bob)
    response = client_for(bob).post("/api/threads/", {"participants": [alice.pk]}, format="json")
    assert (response.status_code, response.json()) == (403, CANT)
    assert not Membership.objects.filter(user=alice).exists()


def test_neither_side_can_send_in_their_direct_thread_while_the_block_stands(client_for, alice, bob, thread):
    services.message_create(thread=thread, sender=bob, text="before the block")
    block(client_for, alice, bob)

    response = client_for(bob).post(f"/api/threads/{thread.pk}/messages/", {"text": "hey"}, format="json")
    assert (response.status_code, response.json()) == (403, CANT)
    response = client_for(alice).post(f"/api/threads/{thread.pk}/messages/", {"text": "hey"}, format="json")
    assert response.status_code == 403
    assert "unblock" in response.json()["detail"]

    # The blocker still reads the history; nothing was written.
    messages = client_for(alice).get(f"/api/threads/{thread.pk}/messages/").json()["results"]
    assert [m["text"] for m in messages] == ["before the block"]
    assert_counters_exact(thread)

    client_for(alice).delete(f"/api/users/{bob.pk}/block/")
    response = client_for(bob).post(f"/api/threads/{thread.pk}/messages/", {"text": "again"}, format="json")
    assert response.status_code == 201


def test_a_blocked_user_cannot_add_the_blocker_to_a_group(client_for, alice, bob, carol, make_user):
    group = services.group_create(owner=bob, title="Bob's", members=[carol])
    block(client_for, alice, bob)

    response = client_for(bob).post(f"/api/threads/{group.pk}/members/", {"user": alice.pk}, format="json")
    assert (response.status_code, response.json()) == (403, CANT)
    response = client_for(bob).post(
        "/api/threads/", {"kind": "group", "title": "New", "participants": [carol.pk, alice.pk]}, format="json"
    )
    assert (response.status_code, response.json()) == (403, CANT)
    assert not Membership.objects.filter(user=alice).exists()
    # Someone else may add both; the blocker may add the blocked user.
    assert client_for(bob).post(
        f"/api/threads/{group.pk}/members/", {"user": make_user("dave").pk}, format="json"
    ).status_code == 201
    services.member_set_role(thread=group, actor=bob, user_id=carol.pk, role="admin")
    assert client_for(carol).post(
        f"/api/threads/{group.pk}/members/", {"user": alice.pk}, format="json"
    ).status_code == 201


def test_messages_sent_after_the_block_in_a_shared_group_are_hidden_and_not_counted(
    client_for, alice, bob, carol, group
):
    before = services.message_create(thread=group, sender=bob, text="before")
    block(client_for, alice, bob)
    after = services.message_create(thread=group, sender=bob, text="after")
    from_carol = services.message_create(thread=group, sender=carol, text="carol")

    alice_client = client_for(alice)
    texts = [m["text"] for m in alice_client.get(f"/api/threads/{group.pk}/messages/").json()["results"]]
    assert texts == ["carol", "before"]
    assert alice_client.get(f"/api/threads/{group.pk}/messages/{after.pk}/").status_code == 404
    assert alice_client.get(f"/api/threads/{group.pk}/messages/{before.pk}/").status_code == 200
    assert alice_client.get(f"/api/threads/{group.pk}/").json()["unread_count"] == 2
    assert total(client_for, alice) == 2
    # The group works for everyone else: carol sees it all.
    texts = [m["text"] for m in client_for(carol).get(f"/api/threads/{group.pk}/messages/").json()["results"]]
    assert texts == ["carol", "after", "before"]
    assert client_for(bob).get(f"/api/threads/{group.pk}/").json()["unread_count"] == 1  # carol's
    # Bob is not told: he sends and reads as usual, and his send answers 201.
    response = client_for(bob).post(f"/api/threads/{group.pk}/messages/", {"text": "more"}, format="json")
    assert response.status_code == 201
    assert_counters_exact(group)

    # Reading up to carol's message (past bob's hidden one) leaves nothing unread, exactly.
    response = alice_client.post(f"/api/threads/{group.pk}/messages/{from_carol.pk}/mark_as_read/")
    assert response.status_code == 200
    assert alice_client.get(f"/api/threads/{group.pk}/").json()["unread_count"] == 0
    assert_counters_exact(group)


def test_unblocking_shows_the_hidden_messages_again_and_counts_them(client_for, alice, bob, carol, group):
    block(client_for, alice, bob)
    services.message_create(thread=group, sender=bob, text="during")
    services.message_create(thread=group, sender=carol, text="carol")
    assert total(client_for, alice) == 1

    client_for(alice).delete(f"/api/users/{bob.pk}/block/")

    texts = [m["text"] for m in client_for(alice).get(f"/api/threads/{group.pk}/messages/").json()["results"]]
    assert texts == ["carol", "during"]
    assert total(client_for, alice) == 2
    assert_counters_exact(group)


def test_deleting_hidden_and_visible_messages_keeps_the_blockers_count_exact(client_for, alice, bob, carol, group):
    services.message_create(thread=group, sender=bob, text="before")
    block(client_for, alice, bob)
    services.message_create(thread=group, sender=bob, text="after")
    client_for(bob).post(f"/api/threads/{group.pk}/messages/", {"text": "after 2"}, format="json")
    services.messages_delete(messages=group.messages.all())
    assert_counters_exact(group)
    assert total(client_for, alice) == 0


def test_recounting_respects_blocks(alice, bob, carol, group, client_for):
    block(client_for, alice, bob)
    services.message_create(thread=group, sender=bob, text="hidden")
    Membership.objects.filter(thread=group).update(unread_count=7)
    services.threads_recount_messages(threads=type(group).objects.filter(pk=group.pk))
    assert_counters_exact(group)
    assert Membership.objects.get(thread=group, user=alice).unread_count == 0


def test_the_blocked_user_is_not_told(client_for, alice, bob, thread):
    block(client_for, alice, bob)
    # Nothing in bob's view of alice or of their thread changes.
    assert client_for(bob).get(f"/api/users/{alice.pk}/").json() == summary(alice)
    assert client_for(bob).get(f"/api/threads/{thread.pk}/").status_code == 200
    assert client_for(bob).get("/api/users/blocked/").json()["count"] == 0


def test_a_deactivated_user_can_be_unblocked_but_not_newly_blocked(client_for, alice, bob, make_user):
    block(client_for, alice, bob)
    bob.is_active = False
    bob.save()
    assert client_for(alice).get("/api/users/blocked/").json()["count"] == 1
    assert client_for(alice).delete(f"/api/users/{bob.pk}/block/").status_code == 204
    assert client_for(alice).post(f"/api/users/{bob.pk}/block/").status_code == 404


def test_a_groups_last_message_from_a_blocked_user_is_not_shown_in_the_thread_list(
    client_for, alice, bob, carol, group
):
    block(client_for, alice, bob)
    services.message_create(thread=group, sender=bob, text="hidden")

    [listed] = client_for(alice).get("/api/threads/").json()["results"]
    assert (listed["id"], listed["last_message"]) == (group.pk, None)
    assert client_for(alice).get(f"/api/threads/{group.pk}/").json()["last_message"] is None
    assert client_for(carol).get(f"/api/threads/{group.pk}/").json()["last_message"]["text"] == "hidden"

    services.message_create(thread=group, sender=carol, text="visible")
    assert client_for(alice).get(f"/api/threads/{group.pk}/").json()["last_message"]["text"] == "visible"
