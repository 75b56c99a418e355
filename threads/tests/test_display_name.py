"""Issue 12, accounts: every user others see carries `display_name` (first and
last name, or the username when both are empty), at no extra query, and the
user search matches it and never lists a deactivated account."""

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from threads import selectors, services
from threads.rendering import display_name


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Alice", "Liddell", "Alice Liddell"),
        ("Alice", "", "Alice"),
        ("", "Liddell", "Liddell"),
        ("", "", "alice"),
        ("  Alice ", " ", "Alice"),
    ],
)
def test_display_name_is_first_and_last_name_or_the_username(first, last, expected):
    assert display_name(first, last, "alice") == expected


def named(make_user, username: str, first: str, last: str = "") -> User:
    return make_user(username, first_name=first, last_name=last)


@pytest.fixture
def people(make_user):
    return {
        "alice": named(make_user, "alice", "Alice", "Liddell"),
        "bob": named(make_user, "bob", "Robert"),
        "carol": make_user("carol"),
    }


def test_every_user_in_the_api_has_a_display_name(client_for, people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    direct, _ = services.thread_get_or_create(user=alice, other=bob)
    group = services.group_create(owner=alice, title="Crew", members=[bob, carol])
    sent = services.message_create(thread=group, sender=bob, text="hello")
    services.message_create(thread=direct, sender=bob, text="hi")
    services.thread_mark_read(thread=group, user=carol)
    client = client_for(alice)
    names = {alice.pk: "Alice Liddell", bob.pk: "Robert", carol.pk: "carol"}

    def check(user):
        assert user["display_name"] == names[user["id"]], user

    threads = client.get("/api/threads/").json()["results"]
    for each in threads:
        for participant in each["participants"]:
            check(participant)
        check(each["last_message"]["sender"])
    assert {len(t["participants"]) for t in threads} == {2, 3}
    check(client.get(f"/api/threads/{group.pk}/").json()["participants"][0])
    for message in client.get(f"/api/threads/{direct.pk}/messages/").json()["results"]:
        check(message["sender"])
    members = client.get(f"/api/threads/{group.pk}/members/").json()["results"]
    assert len(members) == 3
    for member in members:
        check(member["user"])
    [reader] = client.get(f"/api/threads/{group.pk}/messages/{sent.pk}/readers/").json()["results"]
    check(reader["user"])
    for user in client.get("/api/users/").json()["results"]:
        check(user)
    check(client.get(f"/api/users/{bob.pk}/").json())


def test_events_carry_display_names(people, listen, django_capture_on_commit_callbacks):
    alice, bob = people["alice"], people["bob"]
    bob_events = listen(bob)

    with django_capture_on_commit_callbacks(execute=True):
        thread, _ = services.thread_get_or_create(user=alice, other=bob)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_create(thread=thread, sender=alice, text="hi")

    created, message = [e for e in bob_events() if e["type"] in {"thread.created", "message.created"}]
    assert [p["display_name"] for p in created["thread"]["participants"]] == ["Alice Liddell", "Robert"]
    assert message["message"]["sender"]["display_name"] == "Alice Liddell"


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("robert", ["bob"]),  # first name, any case
        ("LIDDELL", ["alice"]),  # last name
        ("alice liddell", ["alice"]),  # the whole display name
        ("Robert Liddell", []),  # each word must match the same user
        ("car", ["carol"]),  # no name: the username is the display name
        ("bo", ["bob"]),  # the username still matches
    ],
)
def test_search_matches_the_display_name_case_insensitively(client_for, people, search, found):
    body = client_for(people["carol"]).get("/api/users/", {"search": search}).json()

    assert [u["username"] for u in body["results"]] == found


def test_search_never_lists_a_deactivated_account(client_for, people, make_user):
    gone = named(make_user, "robin", "Robert", "Gone")
    gone.is_active = False
    gone.save()

    for search in ("robert", "gone", "robin", ""):
        body = client_for(people["alice"]).get("/api/users/", {"search": search}).json()
        assert "robin" not in [u["username"] for u in body["results"]]
    assert client_for(people["alice"]).get(f"/api/users/{gone.pk}/").status_code == 404


def build_named(owner: User, size: int) -> tuple:
    """`size` direct threads and a group of `size` + 1 members, everyone named, messages from everyone."""
    friends = [User.objects.create_user(username=f"friend{n}", first_name=f"First{n}", last_name=f"Last{n}")
               for n in range(size)]
    for friend in friends:
        thread, _ = services.thread_get_or_create(user=owner, other=friend)
        services.message_create(thread=thread, sender=friend, text="hi")
    group = services.group_create(owner=owner, title="Crew", members=friends)
    for friend in friends:
        services.message_create(thread=group, sender=friend, text="hello")
    return friends, group


NAMED_QUERIES = {
    "thread list": ("/api/threads/?limit=100", 4),  # user, count, page, group member previews
    "one group": ("/api/threads/{group}/", 3),  # user, thread, member preview
    "messages": ("/api/threads/{group}/messages/?limit=100", 4),  # user, thread, page, read positions
    "members": ("/api/threads/{group}/members/?limit=100", 3),  # user, thread, page
    "readers": ("/api/threads/{group}/messages/{message}/readers/?limit=100", 5),  # as in test_query_counts
    "user search": ("/api/users/?search=first&limit=100", 3),  # user, count, page
}


@pytest.mark.parametrize("size", [2, 40])
@pytest.mark.parametrize("endpoint", list(NAMED_QUERIES))
@override_settings(CHAT_GROUP_MAX_MEMBERS=101)
def test_display_names_cost_no_query(client_for, alice, django_assert_num_queries, endpoint, size):
    friends, group = build_named(alice, size)
    first = group.messages.earliest("pk")
    for friend in friends:
        services.thread_mark_read(thread=group, user=friend)
    path, queries = NAMED_QUERIES[endpoint]
    client = client_for(alice)

    with django_assert_num_queries(queries):
        response = client.get(path.format(group=group.pk, message=first.pk))

    assert response.status_code == 200
    last_friend = "First0 Last0" if endpoint == "one group" else f"First{size - 1} Last{size - 1}"
    assert f'"display_name":"{last_friend}"' in response.content.decode()


def test_preview_members_carry_display_names(alice, make_user):
    bob = named(make_user, "bob", "Robert", "Smith")
    group = services.group_create(owner=alice, title="Crew", members=[bob])
    [listed] = list(selectors.threads_for_user(user=alice))
    selectors.load_member_previews([listed])

    assert listed.pk == group.pk
    assert listed.member_preview == [(alice.pk, "alice", "", ""), (bob.pk, "bob", "Robert", "Smith")]
