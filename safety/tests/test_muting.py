"""Muting a thread, through the API."""

from safety.selectors import muted_member_ids
from threads import services


def test_mute_and_unmute_are_idempotent_and_shown_on_the_thread(client_for, alice, bob, thread):
    client = client_for(alice)
    assert client.get(f"/api/threads/{thread.pk}/").json()["muted"] is False
    assert client.post(f"/api/threads/{thread.pk}/mute/").status_code == 204
    assert client.post(f"/api/threads/{thread.pk}/mute/").status_code == 204
    assert client.get(f"/api/threads/{thread.pk}/").json()["muted"] is True
    assert client.get("/api/threads/").json()["results"][0]["muted"] is True
    # Per member: bob's view is unchanged.
    assert client_for(bob).get(f"/api/threads/{thread.pk}/").json()["muted"] is False

    assert client.post(f"/api/threads/{thread.pk}/unmute/").status_code == 204
    assert client.post(f"/api/threads/{thread.pk}/unmute/").status_code == 204
    assert client.get(f"/api/threads/{thread.pk}/").json()["muted"] is False


def test_a_non_member_gets_404(client_for, carol, thread):
    assert client_for(carol).post(f"/api/threads/{thread.pk}/mute/").status_code == 404
    assert client_for(carol).post(f"/api/threads/{thread.pk}/unmute/").status_code == 404
    assert client_for(carol).post("/api/threads/999999/mute/").status_code == 404


def test_a_muted_threads_messages_count_in_its_own_unread_count_but_not_in_the_total(
    client_for, alice, bob, carol, thread, group
):
    client = client_for(alice)
    client.post(f"/api/threads/{thread.pk}/mute/")
    services.message_create(thread=thread, sender=bob, text="one")
    services.message_create(thread=thread, sender=bob, text="two")
    services.message_create(thread=group, sender=carol, text="group")

    assert client.get(f"/api/threads/{thread.pk}/").json()["unread_count"] == 2
    assert client.get("/api/threads/unread_count/").json() == {"unread_count": 1}
    assert client_for(bob).get("/api/threads/unread_count/").json() == {"unread_count": 1}  # bob's: the group

    client.post(f"/api/threads/{thread.pk}/unmute/")
    assert client.get("/api/threads/unread_count/").json() == {"unread_count": 3}


def test_any_group_member_may_mute(client_for, carol, group):
    assert client_for(carol).post(f"/api/threads/{group.pk}/mute/").status_code == 204
    assert muted_member_ids(thread_id=group.pk) == {carol.pk}
    assert muted_member_ids(thread_id=group.pk, user_ids=[]) == set()


def test_options_on_the_new_endpoints_answers_200(client_for, alice, bob, thread):
    message = services.message_create(thread=thread, sender=bob, text="hi")
    client = client_for(alice)
    for path in (
        f"/api/threads/{thread.pk}/mute/", f"/api/threads/{thread.pk}/unmute/", f"/api/users/{bob.pk}/block/",
        "/api/users/blocked/", f"/api/threads/{thread.pk}/messages/{message.pk}/report/",
    ):
        assert client.options(path).status_code == 200, path
