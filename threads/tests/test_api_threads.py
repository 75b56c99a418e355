import pytest

from threads import services
from threads.models import Message, Thread
from threads.tests.conftest import summary


def test_creating_a_thread_returns_201_then_200_with_the_same_thread(client_for, alice, bob):
    first = client_for(alice).post("/api/threads/", {"participants": [bob.pk]}, format="json")
    again = client_for(bob).post("/api/threads/", {"participants": [alice.pk, bob.pk]}, format="json")

    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["participants"] == [summary(alice), summary(bob)]
    assert first.json()["last_message"] is None
    assert first.json()["unread_count"] == 0
    assert Thread.objects.count() == 1


def test_getting_an_existing_thread_shows_its_last_message_and_unread_count(client_for, thread, alice, bob):
    services.message_create(thread=thread, sender=alice, text="first")
    services.message_create(thread=thread, sender=alice, text="second")

    response = client_for(bob).post("/api/threads/", {"participants": [alice.pk]}, format="json")

    assert response.status_code == 200
    assert response.json()["last_message"]["text"] == "second"
    assert response.json()["unread_count"] == 2


@pytest.mark.parametrize(
    ("body", "error_fragment"),
    [
        ({"participants": []}, "may not be empty"),
        ({"participants": "2"}, "Expected a list"),
        ({"participants": 2}, "Expected a list"),
        ({"participants": None}, "may not be null"),
        ({}, "required"),
        ({"participants": ["abc"]}, "No user is called abc."),
        ({"participants": [True]}, "or a username"),
        ({"participants": [1.5]}, "or a username"),
        ({"participants": [2.0]}, "or a username"),
        ({"participants": ["2"]}, "No user is called 2."),
        ({"participants": [""]}, "or a username"),
        ({"participants": ["x" * 151]}, "or a username"),
        ({"participants": [0]}, "greater than or equal to 1"),
        ({"participants": [-3]}, "greater than or equal to 1"),
        ({"participants": [99999999999999999999]}, "less than or equal to"),
        ({"participants": [{"id": 1}]}, "or a username"),
        ({"participants": list(range(1, 102))}, "no more than 100"),
    ],
)
def test_creating_a_thread_with_malformed_participants_is_a_400(client_for, alice, body, error_fragment):
    response = client_for(alice).post("/api/threads/", body, format="json")

    assert response.status_code == 400
    assert error_fragment in str(response.json()["participants"])
    assert not Thread.objects.exists()


def test_creating_a_thread_with_only_yourself_is_a_400(client_for, alice):
    response = client_for(alice).post("/api/threads/", {"participants": [alice.pk]}, format="json")

    assert response.status_code == 400
    assert "yourself" in str(response.json()["participants"])
    assert not Thread.objects.exists()


def test_creating_a_thread_with_three_people_is_a_400(client_for, alice, bob, carol):
    response = client_for(alice).post("/api/threads/", {"participants": [bob.pk, carol.pk]}, format="json")

    assert response.status_code == 400
    assert "exactly two participants" in str(response.json()["participants"])
    assert not Thread.objects.exists()


def test_creating_a_thread_with_an_unknown_user_is_a_400(client_for, alice):
    response = client_for(alice).post("/api/threads/", {"participants": [424242]}, format="json")

    assert response.status_code == 400
    assert response.json() == {"participants": ["User 424242 does not exist."]}


def test_thread_list_shows_only_my_threads_latest_activity_first(client_for, alice, bob, carol, make_user):
    with_bob, _ = services.thread_get_or_create(user=alice, other=bob)
    with_carol, _ = services.thread_get_or_create(user=alice, other=carol)
    dave = make_user("dave")
    services.thread_get_or_create(user=bob, other=dave)  # not alice's
    services.message_create(thread=with_bob, sender=bob, text="bob wrote last")
    services.message_create(thread=with_carol, sender=carol, text="carol wrote")
    services.message_create(thread=with_bob, sender=bob, text="bob again")

    body = client_for(alice).get("/api/threads/").json()

    assert body["count"] == 2
    assert [t["id"] for t in body["results"]] == [with_bob.pk, with_carol.pk]
    first = body["results"][0]
    assert set(first) == {
        "id", "kind", "title", "participants", "member_count", "created", "updated", "last_message", "unread_count",
        "muted",
    }
    assert (first["kind"], first["title"], first["member_count"]) == ("direct", None, 2)
    assert first["unread_count"] == 2
    assert first["last_message"]["text"] == "bob again"
    assert first["last_message"]["sender"] == summary(bob)
    assert first["updated"] == first["last_message"]["created"]


def test_thread_list_is_paginated_with_limit_and_offset(client_for, alice, make_user):
    for index in range(5):
        services.thread_get_or_create(user=alice, other=make_user(f"friend{index}"))

    page = client_for(alice).get("/api/threads/?limit=2&offset=2").json()

    assert page["count"] == 5
    assert len(page["results"]) == 2
    assert "limit=2" in page["next"]
    assert "offset=4" in page["next"]
    assert page["previous"] is not None


def test_thread_list_defaults_to_20_and_caps_the_limit_at_100(client_for, alice, make_user):
    others = [make_user(f"friend{index}") for index in range(101)]
    for other in others:
        services.thread_get_or_create(user=alice, other=other)
    client = client_for(alice)

    assert len(client.get("/api/threads/").json()["results"]) == 20
    assert len(client.get("/api/threads/?limit=1000").json()["results"]) == 100


def test_a_thread_viewer_may_list_another_users_threads_with_that_users_unread_count(
    client_for, thread_viewer, thread, alice, bob
):
    services.message_create(thread=thread, sender=alice, text="for bob")

    response = client_for(thread_viewer).get(f"/api/threads/?user={bob.pk}")

    assert response.status_code == 200
    assert [t["id"] for t in response.json()["results"]] == [thread.pk]
    assert response.json()["results"][0]["unread_count"] == 1


def test_a_superuser_may_list_another_users_threads(client_for, make_user, thread, bob):
    root = make_user("root", is_staff=True, is_superuser=True)

    response = client_for(root).get(f"/api/threads/?user={bob.pk}")

    assert response.status_code == 200
    assert [t["id"] for t in response.json()["results"]] == [thread.pk]


def test_non_staff_asking_for_another_users_threads_gets_403(client_for, thread, alice, carol):
    response = client_for(carol).get(f"/api/threads/?user={alice.pk}")

    assert response.status_code == 403
    assert "threads.view_thread" in response.json()["detail"]


def test_staff_without_the_view_thread_permission_gets_403_and_no_texts(client_for, staff, thread, alice, bob):
    # is_staff opens the admin, which shows such a user no thread: nor may the API.
    services.message_create(thread=thread, sender=alice, text="private words")

    response = client_for(staff).get(f"/api/threads/?user={bob.pk}")

    assert response.status_code == 403
    assert "private words" not in response.content.decode()


def test_non_staff_may_name_themselves_in_the_user_filter(client_for, thread, alice):
    response = client_for(alice).get(f"/api/threads/?user={alice.pk}")

    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "", "99999999999999999999"])
def test_a_malformed_user_filter_is_a_400(client_for, staff, alice, value):
    for caller in (staff, alice):
        response = client_for(caller).get("/api/threads/", {"user": value})

        assert response.status_code == 400
        assert "user" in response.json()


def test_a_thread_viewer_naming_an_unknown_user_gets_a_400(client_for, thread_viewer):
    response = client_for(thread_viewer).get("/api/threads/?user=424242")

    assert response.status_code == 400
    assert response.json() == {"user": ["User 424242 does not exist."]}


def test_thread_detail_shows_the_thread(client_for, thread, message_from_alice, bob):
    body = client_for(bob).get(f"/api/threads/{thread.pk}/").json()

    assert body["id"] == thread.pk
    assert body["last_message"]["id"] == message_from_alice.pk
    assert body["unread_count"] == 1


def test_deleting_a_thread_deletes_its_messages(client_for, thread, message_from_alice, alice, carol):
    other_thread, _ = services.thread_get_or_create(user=alice, other=carol)
    services.message_create(thread=other_thread, sender=carol, text="stays")

    response = client_for(alice).delete(f"/api/threads/{thread.pk}/")

    assert response.status_code == 204
    assert not Thread.objects.filter(pk=thread.pk).exists()
    assert list(Message.objects.values_list("text", flat=True)) == ["stays"]


def test_mark_thread_as_read_marks_the_other_participants_messages(client_for, thread, alice, bob):
    for text in ("a", "b", "c"):
        services.message_create(thread=thread, sender=alice, text=text)
    services.message_create(thread=thread, sender=bob, text="bob's own")
    client = client_for(bob)

    first = client.post(f"/api/threads/{thread.pk}/mark_as_read/")
    second = client.post(f"/api/threads/{thread.pk}/mark_as_read/")

    assert first.json() == {"marked": 3}
    assert second.json() == {"marked": 0}
    assert Message.objects.get(sender=bob).is_read is False
    assert client.get("/api/threads/unread_count/").json() == {"unread_count": 0}


def test_mark_thread_as_read_by_the_sender_marks_nothing_of_their_own(client_for, thread, message_from_alice, alice):
    response = client_for(alice).post(f"/api/threads/{thread.pk}/mark_as_read/")

    assert response.json() == {"marked": 0}
    assert Message.objects.get().is_read is False


def test_unread_count_sums_unread_messages_to_me_across_threads(client_for, alice, bob, carol):
    with_bob, _ = services.thread_get_or_create(user=alice, other=bob)
    with_carol, _ = services.thread_get_or_create(user=alice, other=carol)
    services.message_create(thread=with_bob, sender=bob, text="1")
    services.message_create(thread=with_carol, sender=carol, text="2")
    services.message_create(thread=with_carol, sender=carol, text="3")
    services.message_create(thread=with_carol, sender=alice, text="mine")

    assert client_for(alice).get("/api/threads/unread_count/").json() == {"unread_count": 3}
    assert client_for(carol).get("/api/threads/unread_count/").json() == {"unread_count": 1}


def test_threads_cannot_be_replaced(client_for, thread, alice):
    response = client_for(alice).put(f"/api/threads/{thread.pk}/", {"participants": [1]}, format="json")

    assert response.status_code == 405
    assert "detail" in response.json()


def test_a_direct_thread_cannot_be_renamed(client_for, thread, alice):
    response = client_for(alice).patch(f"/api/threads/{thread.pk}/", {"title": "Ours"}, format="json")

    assert response.status_code == 400
    assert "only groups" in response.json()["title"][0]
    thread.refresh_from_db()
    assert thread.title is None
