"""Group threads through the API: creating, renaming, members and roles,
leaving, moderation, read positions and the full permission matrix."""

import pytest
from django.test import override_settings

from threads import services
from threads.models import Membership, Message, Thread


@pytest.fixture
def dave(make_user):
    return make_user("dave")


@pytest.fixture
def erin(make_user):
    """Never in the group."""
    return make_user("erin")


@pytest.fixture
def group(alice, bob, carol, dave):
    """alice owns it, bob is an admin, carol a member; dave was a member and was removed."""
    created = services.group_create(owner=alice, title="Crew", members=[bob, carol, dave])
    services.member_set_role(thread=created, actor=alice, user_id=bob.pk, role="admin")
    services.member_remove(thread=created, actor=alice, user_id=dave.pk)
    return created


ROLES = ["owner", "admin", "member", "removed", "outsider", "staff"]


@pytest.fixture
def caller(request, alice, bob, carol, dave, erin, staff):
    return {"owner": alice, "admin": bob, "member": carol, "removed": dave, "outsider": erin, "staff": staff}[
        request.param
    ]


def test_creating_a_group_makes_the_caller_its_owner(client_for, alice, bob, carol):
    response = client_for(alice).post(
        "/api/threads/", {"kind": "group", "title": "  Weekend trip  ", "participants": [bob.pk, carol.pk]},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["title"], body["member_count"], body["unread_count"]) == ("group", "Weekend trip", 3, 0)
    # The preview: owner first, then by joining order.
    assert [p["username"] for p in body["participants"]] == ["alice", "bob", "carol"]
    group = Thread.objects.get(pk=body["id"])
    assert group.memberships.get(user=alice).role == "owner"
    assert set(group.memberships.exclude(user=alice).values_list("role", flat=True)) == {"member"}


def test_the_same_members_can_have_any_number_of_groups(client_for, alice, bob):
    body = {"kind": "group", "title": "Again", "participants": [alice.pk, bob.pk]}  # listing yourself is fine
    first = client_for(alice).post("/api/threads/", body, format="json")
    second = client_for(alice).post("/api/threads/", body, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert first.json()["member_count"] == 2


def test_a_group_of_one_is_allowed(client_for, alice):
    response = client_for(alice).post("/api/threads/", {"kind": "group", "title": "Notes", "participants": [alice.pk]},
                                      format="json")

    assert (response.status_code, response.json()["member_count"]) == (201, 1)


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"kind": "group", "participants": [2]}, "title", "needs a title"),
        ({"kind": "group", "title": "   ", "participants": [2]}, "title", "needs a title"),
        ({"kind": "group", "title": "x" * 101, "participants": [2]}, "title", "at most 100"),
        ({"kind": "group", "title": "Crew", "participants": [999999]}, "participants", "999999"),
        ({"kind": "channel", "title": "Crew", "participants": [2]}, "kind", "not a valid choice"),
        ({"kind": "direct", "title": "Crew", "participants": [2]}, "title", "no title"),
    ],
    ids=["no-title", "blank-title", "long-title", "unknown-user", "bad-kind", "direct-with-title"],
)
def test_bad_group_requests_are_400_saying_which_field(client_for, alice, bob, body, field, says):
    body = {**body, "participants": [bob.pk if p == 2 else p for p in body["participants"]]}

    response = client_for(alice).post("/api/threads/", body, format="json")

    assert response.status_code == 400
    assert says in str(response.json()[field])
    assert not Thread.objects.filter(kind="group").exists()


def test_an_inactive_user_cannot_be_in_a_new_group(client_for, alice, make_user):
    gone = make_user("gone", is_active=False)

    response = client_for(alice).post(
        "/api/threads/", {"kind": "group", "title": "Crew", "participants": [gone.pk]}, format="json"
    )

    assert response.status_code == 400
    assert str(gone.pk) in str(response.json()["participants"])


@override_settings(CHAT_GROUP_MAX_MEMBERS=3)
def test_too_many_members_is_a_400(client_for, alice, bob, carol, dave):
    response = client_for(alice).post(
        "/api/threads/", {"kind": "group", "title": "Crew", "participants": [bob.pk, carol.pk, dave.pk]},
        format="json",
    )

    assert response.status_code == 400
    assert "at most 3 members" in str(response.json()["participants"])


def test_a_direct_create_request_still_answers_as_before(client_for, alice, bob):
    first = client_for(alice).post("/api/threads/", {"participants": [bob.pk]}, format="json")
    again = client_for(bob).post("/api/threads/", {"kind": "direct", "participants": [alice.pk]}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert (first.json()["kind"], first.json()["title"], first.json()["member_count"]) == ("direct", None, 2)


def test_the_thread_list_previews_five_members_owner_first(client_for, alice, make_user):
    others = [make_user(f"friend{n}") for n in range(8)]
    group = services.group_create(owner=others[3], title="Big", members=[alice, *others[:3], *others[4:]])

    [listed] = client_for(alice).get("/api/threads/").json()["results"]

    assert listed["id"] == group.pk
    assert listed["member_count"] == 9
    assert [p["username"] for p in listed["participants"]] == ["friend3", "alice", "friend0", "friend1", "friend2"]


# The permission matrix: every group endpoint for each kind of caller.
MATRIX = {
    # name: (method, path, body, {role: status})
    "read the group": ("get", "/api/threads/{group}/", None,
                       {"owner": 200, "admin": 200, "member": 200}),
    "rename": ("patch", "/api/threads/{group}/", {"title": "Renamed"},
               {"owner": 200, "admin": 200, "member": 403}),
    "list members": ("get", "/api/threads/{group}/members/", None, {"owner": 200, "admin": 200, "member": 200}),
    "add a member": ("post", "/api/threads/{group}/members/", {"user": "{erin}"},
                     {"owner": 201, "admin": 201, "member": 403}),
    "make carol admin": ("patch", "/api/threads/{group}/members/{carol}/", {"role": "admin"},
                         {"owner": 200, "admin": 403, "member": 403}),
    "remove carol": ("delete", "/api/threads/{group}/members/{carol}/", None,
                     {"owner": 204, "admin": 204, "member": 204}),  # the member is carol herself: she leaves
    "remove bob (an admin)": ("delete", "/api/threads/{group}/members/{bob}/", None,
                              {"owner": 204, "admin": 204, "member": 403}),  # the admin is bob: he leaves
    "remove the owner": ("delete", "/api/threads/{group}/members/{alice}/", None,
                         {"owner": 204, "admin": 403, "member": 403}),  # the owner leaves
    "list messages": ("get", "/api/threads/{group}/messages/", None, {"owner": 200, "admin": 200, "member": 200}),
    "send": ("post", "/api/threads/{group}/messages/", {"text": "hi"}, {"owner": 201, "admin": 201, "member": 201}),
    "delete carol's message": ("delete", "/api/threads/{group}/messages/{carols_message}/", None,
                               {"owner": 204, "admin": 204, "member": 204}),  # carol deletes her own
    "delete alice's message": ("delete", "/api/threads/{group}/messages/{alices_message}/", None,
                               {"owner": 204, "admin": 204, "member": 403}),
    "edit alice's message": ("patch", "/api/threads/{group}/messages/{alices_message}/", {"text": "edited"},
                             {"owner": 200, "admin": 403, "member": 403}),
    "mark the thread read": ("post", "/api/threads/{group}/mark_as_read/", None,
                             {"owner": 200, "admin": 200, "member": 200}),
    "mark carol's message read": ("post", "/api/threads/{group}/messages/{carols_message}/mark_as_read/", None,
                                  {"owner": 200, "admin": 200, "member": 403}),  # carol sent it
    "readers": ("get", "/api/threads/{group}/messages/{alices_message}/readers/", None,
                {"owner": 200, "admin": 200, "member": 200}),
    "delete the group": ("delete", "/api/threads/{group}/", None, {"owner": 204, "admin": 403, "member": 403}),
}


@pytest.mark.parametrize("caller", ROLES, indirect=True)
@pytest.mark.parametrize("action", list(MATRIX))
def test_every_group_endpoint_answers_each_kind_of_caller(client_for, group, alice, bob, carol, erin, caller,
                                                          request, action):
    method, template, body, allowed = MATRIX[action]
    role = request.node.callspec.params["caller"]
    ids = {
        "group": group.pk, "alice": alice.pk, "bob": bob.pk, "carol": carol.pk, "erin": erin.pk,
        "alices_message": services.message_create(thread=group, sender=alice, text="from alice").pk,
        "carols_message": services.message_create(thread=group, sender=carol, text="from carol").pk,
    }
    if body is not None:
        body = {key: int(value.format(**ids)) if isinstance(value, str) and value.startswith("{") else value
                for key, value in body.items()}

    response = getattr(client_for(caller), method)(template.format(**ids), body, format="json")

    # Not (or no longer) a member, staff included: the same 404 as a thread that does not exist.
    assert response.status_code == allowed.get(role, 404), response.content
    if response.status_code == 404:
        assert response.json() == {"detail": "No thread with this id."}


def test_a_direct_threads_members_are_listed_and_cannot_change(client_for, thread, alice, bob, carol):
    client = client_for(alice)

    listed = client.get(f"/api/threads/{thread.pk}/members/").json()
    add = client.post(f"/api/threads/{thread.pk}/members/", {"user": carol.pk}, format="json")
    role = client.patch(f"/api/threads/{thread.pk}/members/{bob.pk}/", {"role": "admin"}, format="json")
    leave = client.delete(f"/api/threads/{thread.pk}/members/{alice.pk}/")

    assert [(m["user"]["username"], m["role"]) for m in listed["results"]] == [("alice", "member"), ("bob", "member")]
    assert (add.status_code, role.status_code, leave.status_code) == (400, 400, 400)
    assert "direct thread" in str(add.json())
    assert thread.participants.count() == 2


@pytest.mark.parametrize(
    ("user", "says"),
    [("carol", "already a member"), ("gone", "does not exist"), (999999, "does not exist")],
)
def test_adding_an_existing_unknown_or_inactive_member_is_a_400(client_for, group, alice, carol, make_user, user,
                                                                says):
    ids = {"carol": carol.pk, "gone": make_user("gone", is_active=False).pk}

    response = client_for(alice).post(f"/api/threads/{group.pk}/members/", {"user": ids.get(user, user)},
                                      format="json")

    assert response.status_code == 400
    assert says in response.json()["user"][0]


@override_settings(CHAT_GROUP_MAX_MEMBERS=3)
def test_adding_to_a_full_group_is_a_400(client_for, group, alice, erin):
    response = client_for(alice).post(f"/api/threads/{group.pk}/members/", {"user": erin.pk}, format="json")

    assert response.status_code == 400
    assert "full" in response.json()["user"][0]


def test_a_member_added_later_sees_the_whole_history_with_nothing_unread(client_for, group, alice, erin):
    old = services.message_create(thread=group, sender=alice, text="before erin")

    added = client_for(alice).post(f"/api/threads/{group.pk}/members/", {"user": erin.pk}, format="json")
    client = client_for(erin)

    assert added.status_code == 201
    assert added.json()["role"] == "member"
    assert [m["id"] for m in client.get(f"/api/threads/{group.pk}/messages/").json()["results"]] == [old.pk]
    assert client.get(f"/api/threads/{group.pk}/").json()["unread_count"] == 0
    services.message_create(thread=group, sender=alice, text="after erin")
    assert client.get("/api/threads/unread_count/").json() == {"unread_count": 1}


def test_making_someone_owner_hands_the_group_over(client_for, group, alice, carol):
    response = client_for(alice).patch(f"/api/threads/{group.pk}/members/{carol.pk}/", {"role": "owner"},
                                       format="json")

    assert (response.status_code, response.json()["role"]) == (200, "owner")
    roles = dict(group.memberships.values_list("user__username", "role"))
    assert roles == {"alice": "admin", "bob": "admin", "carol": "owner"}
    # alice is now an admin: she can no longer change roles.
    assert client_for(alice).patch(f"/api/threads/{group.pk}/members/{carol.pk}/", {"role": "member"},
                                   format="json").status_code == 403


def test_the_owner_cannot_demote_themselves_without_handing_over(client_for, group, alice):
    response = client_for(alice).patch(f"/api/threads/{group.pk}/members/{alice.pk}/", {"role": "member"},
                                       format="json")

    assert response.status_code == 400
    assert group.memberships.get(user=alice).role == "owner"


def test_an_owner_who_leaves_hands_the_group_to_the_longest_standing_admin(client_for, group, alice, bob, carol):
    response = client_for(alice).delete(f"/api/threads/{group.pk}/members/{alice.pk}/")

    assert response.status_code == 204
    assert dict(group.memberships.values_list("user__username", "role")) == {"bob": "owner", "carol": "member"}
    assert client_for(alice).get(f"/api/threads/{group.pk}/").status_code == 404


def test_without_admins_ownership_passes_to_the_longest_standing_member(client_for, alice, bob, carol, dave):
    group = services.group_create(owner=alice, title="Crew", members=[carol, bob, dave])

    client_for(alice).delete(f"/api/threads/{group.pk}/members/{alice.pk}/")

    # bob has the smaller user id, but carol joined first (created together: by row order).
    owner = group.memberships.get(role="owner").user
    assert owner == Membership.objects.filter(thread=group).order_by("joined", "id").first().user


def test_the_last_member_leaving_deletes_the_group_and_its_messages(client_for, alice, bob):
    group = services.group_create(owner=alice, title="Crew", members=[bob])
    services.message_create(thread=group, sender=bob, text="bye")

    assert client_for(bob).delete(f"/api/threads/{group.pk}/members/{bob.pk}/").status_code == 204
    assert client_for(alice).delete(f"/api/threads/{group.pk}/members/{alice.pk}/").status_code == 204

    assert not Thread.objects.filter(pk=group.pk).exists()
    assert not Message.objects.exists()


def test_nobody_removes_the_owner(client_for, group, alice, bob):
    response = client_for(bob).delete(f"/api/threads/{group.pk}/members/{alice.pk}/")

    assert response.status_code == 403
    assert group.memberships.get(user=alice).role == "owner"


def test_an_admin_cannot_remove_another_admin(client_for, group, alice, bob, carol, erin):
    services.member_set_role(thread=group, actor=alice, user_id=carol.pk, role="admin")

    response = client_for(bob).delete(f"/api/threads/{group.pk}/members/{carol.pk}/")

    assert response.status_code == 403


def test_group_read_state_follows_positions(client_for, group, alice, bob, carol):
    first = services.message_create(thread=group, sender=alice, text="one")
    second = services.message_create(thread=group, sender=alice, text="two")

    assert client_for(bob).get(f"/api/threads/{group.pk}/").json()["unread_count"] == 2
    marked = client_for(bob).post(f"/api/threads/{group.pk}/messages/{first.pk}/mark_as_read/")
    assert (marked.status_code, marked.json()["read_count"], marked.json()["is_read"]) == (200, 1, False)
    # Never backwards.
    services.message_mark_read(message=second, reader=bob)
    client_for(bob).post(f"/api/threads/{group.pk}/messages/{first.pk}/mark_as_read/")
    assert group.memberships.get(user=bob).last_read_message_id == second.pk

    assert client_for(carol).post(f"/api/threads/{group.pk}/mark_as_read/").json() == {"marked": 2}
    assert client_for(carol).post(f"/api/threads/{group.pk}/mark_as_read/").json() == {"marked": 0}
    page = client_for(alice).get(f"/api/threads/{group.pk}/messages/").json()["results"]
    assert [(m["text"], m["is_read"], m["read_count"]) for m in page] == [("two", True, 2), ("one", True, 2)]
    readers = client_for(alice).get(f"/api/threads/{group.pk}/messages/{second.pk}/readers/").json()
    assert readers["count"] == 2
    assert {r["user"]["username"]: r["last_read_message"] for r in readers["results"]} == {
        "bob": second.pk, "carol": second.pk
    }


def test_sending_moves_the_senders_position_and_counts_for_the_others(client_for, group, alice, bob, carol):
    services.message_create(thread=group, sender=alice, text="one")

    reply = client_for(bob).post(f"/api/threads/{group.pk}/messages/", {"text": "reply"}, format="json").json()

    assert (reply["read_count"], reply["is_read"]) == (0, False)
    assert group.memberships.get(user=bob).last_read_message_id == reply["id"]
    counts = {name: client_for(user).get("/api/threads/unread_count/").json()["unread_count"]
              for name, user in (("alice", alice), ("bob", bob), ("carol", carol))}
    assert counts == {"alice": 1, "bob": 0, "carol": 2}


def test_a_groups_thread_list_entry_leaves_last_message_read_state_to_the_message(client_for, group, alice):
    services.message_create(thread=group, sender=alice, text="latest")

    [listed] = client_for(alice).get("/api/threads/").json()["results"]

    assert listed["last_message"]["text"] == "latest"
    assert listed["last_message"]["is_read"] is None
