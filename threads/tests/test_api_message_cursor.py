"""GET .../messages/?after=<id> (catch-up, oldest first) and ?before=<id> (history, newest first)."""

import pytest

from threads import services


@pytest.fixture
def twelve_messages(thread, alice, bob):
    return [
        services.message_create(thread=thread, sender=alice if i % 2 else bob, text=f"message {i}") for i in range(12)
    ]


def ids(response):
    return [m["id"] for m in response.json()["results"]]


def test_after_returns_the_newer_messages_oldest_first(client_for, thread, alice, twelve_messages):
    response = client_for(alice).get(f"/api/threads/{thread.pk}/messages/", {"after": twelve_messages[8].pk})

    assert response.status_code == 200
    assert ids(response) == [m.pk for m in twelve_messages[9:]]
    assert response.json()["next"] is None
    assert response.json()["count"] == 12


def catch_up(client, thread, after: int) -> list[int]:
    """What a reconnecting client does: page with ?after= until `next` is null."""
    url, seen = f"/api/threads/{thread.pk}/messages/?after={after}&limit=4", []
    while url:
        body = client.get(url).json()
        seen += [m["id"] for m in body["results"]]
        url = body["next"]
    return seen


def test_following_next_from_after_fills_the_gap_exactly_once(client_for, thread, alice, bob, twelve_messages):
    client = client_for(alice)

    first_round = catch_up(client, thread, after=twelve_messages[1].pk)
    late = services.message_create(thread=thread, sender=bob, text="sent after the first catch-up")
    second_round = catch_up(client, thread, after=first_round[-1])

    assert first_round == [m.pk for m in twelve_messages[2:]]
    assert second_round == [late.pk]


def test_next_is_null_on_a_full_page_that_ends_the_thread(client_for, thread, alice, twelve_messages):
    """No extra request for an empty page when the rest is a whole number of pages."""
    client = client_for(alice)
    first = client.get(f"/api/threads/{thread.pk}/messages/", {"after": twelve_messages[3].pk, "limit": 4}).json()
    last = client.get(first["next"]).json()

    assert [m["id"] for m in last["results"]] == [m.pk for m in twelve_messages[8:]]
    assert last["next"] is None
    history = client.get(f"/api/threads/{thread.pk}/messages/", {"before": twelve_messages[4].pk, "limit": 4})
    assert ids(history) == [m.pk for m in reversed(twelve_messages[:4])]
    assert history.json()["next"] is None


def test_before_returns_older_messages_newest_first_with_a_next_cursor(client_for, thread, alice, twelve_messages):
    response = client_for(alice).get(
        f"/api/threads/{thread.pk}/messages/", {"before": twelve_messages[10].pk, "limit": 3}
    )

    assert ids(response) == [m.pk for m in reversed(twelve_messages[7:10])]
    assert f"before={twelve_messages[7].pk}" in response.json()["next"]
    assert response.json()["previous"] is None
    following = client_for(alice).get(response.json()["next"])
    assert ids(following) == [m.pk for m in reversed(twelve_messages[4:7])]


def test_after_the_newest_message_is_an_empty_page(client_for, thread, alice, twelve_messages):
    response = client_for(alice).get(f"/api/threads/{thread.pk}/messages/", {"after": twelve_messages[-1].pk})

    assert response.json()["results"] == []
    assert response.json()["next"] is None


def test_after_zero_is_the_whole_thread_oldest_first(client_for, thread, alice, twelve_messages):
    response = client_for(alice).get(f"/api/threads/{thread.pk}/messages/", {"after": 0, "limit": 100})

    assert ids(response) == [m.pk for m in twelve_messages]


def test_cursors_never_reach_into_another_thread(client_for, thread, alice, carol, twelve_messages):
    other, _ = services.thread_get_or_create(user=alice, other=carol)
    elsewhere = services.message_create(thread=other, sender=carol, text="elsewhere")

    mine = client_for(alice).get(f"/api/threads/{thread.pk}/messages/", {"after": 0, "limit": 100})
    theirs = client_for(alice).get(f"/api/threads/{other.pk}/messages/", {"before": elsewhere.pk + 1})

    assert elsewhere.pk not in ids(mine)
    assert ids(theirs) == [elsewhere.pk]


def test_a_non_participant_gets_404_with_a_cursor(client_for, thread, carol, twelve_messages):
    response = client_for(carol).get(f"/api/threads/{thread.pk}/messages/", {"after": 0})

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"after": "-1"}, "after"),
        ({"after": "x"}, "after"),
        ({"before": "0"}, "before"),
        ({"before": "99999999999999999999"}, "before"),
        ({"after": "1", "offset": "-5"}, "offset"),
    ],
)
def test_malformed_cursors_are_400(client_for, thread, alice, twelve_messages, query, field):
    response = client_for(alice).get(f"/api/threads/{thread.pk}/messages/", query)

    assert response.status_code == 400
    assert field in response.json()


def test_after_and_before_together_give_the_window_between_oldest_first(client_for, thread, alice, twelve_messages):
    response = client_for(alice).get(
        f"/api/threads/{thread.pk}/messages/", {"after": twelve_messages[2].pk, "before": twelve_messages[7].pk}
    )

    assert ids(response) == [m.pk for m in twelve_messages[3:7]]


def test_offset_skips_into_a_cursor_window(client_for, thread, alice, twelve_messages):
    response = client_for(alice).get(
        f"/api/threads/{thread.pk}/messages/", {"after": twelve_messages[0].pk, "offset": 3, "limit": 2}
    )

    assert ids(response) == [m.pk for m in twelve_messages[4:6]]
    assert "offset" not in response.json()["next"]
    assert f"after={twelve_messages[5].pk}" in response.json()["next"]


@pytest.mark.parametrize("size", [3, 30])
def test_cursor_pages_run_a_fixed_number_of_queries(
    client_for, thread, alice, bob, django_assert_num_queries, size
):
    made = [services.message_create(thread=thread, sender=bob, text=f"m{i}") for i in range(size)]
    client = client_for(alice)

    # user, thread, page
    with django_assert_num_queries(3):
        client.get(f"/api/threads/{thread.pk}/messages/", {"after": made[0].pk})
    with django_assert_num_queries(3):
        client.get(f"/api/threads/{thread.pk}/messages/", {"before": made[-1].pk})
