"""Blocks racing sends, with real threads on real database connections (as
threads/tests/test_concurrency.py): the counters stay exact, and every
message is either before the block (seen and counted) or after it (hidden
and never counted)."""

import pytest
from django.contrib.auth.models import User

from safety.models import Block
from threads import services
from threads.models import Membership, Message
from threads.tests.counters import assert_counters_exact
from threads.tests.test_concurrency import bearer, run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def test_blocking_and_unblocking_while_the_blocked_user_sends_leaves_every_count_exact():
    alice, bob, carol = (User.objects.create_user(name) for name in ("alice", "bob", "carol"))
    groups = [services.group_create(owner=alice, title=f"g{n}", members=[bob, carol]) for n in range(3)]
    direct, _ = services.thread_get_or_create(user=alice, other=bob)

    for round_number in range(4):
        # One request blocks (or unblocks) while bob sends 15 messages over the groups and the direct thread.
        def request(index, round_number=round_number):
            if index == 0:
                method = "post" if round_number % 2 == 0 else "delete"
                return getattr(bearer(alice), method)(f"/api/users/{bob.pk}/block/")
            thread = direct if index % 4 == 0 else groups[index % 3]
            return bearer(bob).post(f"/api/threads/{thread.pk}/messages/", {"text": f"r{round_number} {index}"},
                                    format="json")

        responses = run_at_once(16, request)

        assert responses[0].status_code == 204
        # In the direct thread a send is refused once the block is there, or goes through before it.
        assert {r.status_code for r in responses[1:]} <= {201, 403}
        for thread in [*groups, direct]:
            assert_counters_exact(thread)
        # What alice is shown and counted agree.
        client = bearer(alice)
        for group in groups:
            listed = client.get(f"/api/threads/{group.pk}/messages/?limit=100").json()["results"]
            position = Membership.objects.get(thread=group, user=alice).last_read_message_id
            unread = sum(1 for m in listed if m["sender"]["id"] != alice.pk and m["id"] > position)
            assert client.get(f"/api/threads/{group.pk}/").json()["unread_count"] == unread
        total = sum(Membership.objects.filter(user=alice).values_list("unread_count", flat=True))
        assert client.get("/api/threads/unread_count/").json() == {"unread_count": total}

    assert not Block.objects.exists()  # the last round unblocked
    assert Message.objects.filter(thread=direct).count() >= 1
