"""The hand-made renderings of users, messages and threads (fast paths) say
exactly what their declared DRF fields would say."""

import uuid

from rest_framework import serializers

from threads import selectors, services
from threads.serializers import MessageSerializer, ThreadSerializer, UserSummarySerializer


def declared(serializer_class, instance) -> dict:
    """What DRF's field machinery renders for `instance` (bypassing the fast path)."""
    return dict(serializers.ModelSerializer.to_representation(serializer_class(), instance))


def test_user_summary_renders_like_its_fields(alice):
    assert UserSummarySerializer(alice).data == declared(UserSummarySerializer, alice)


def test_message_renders_like_its_fields_with_and_without_client_id(thread, alice, bob):
    plain = services.message_create(thread=thread, sender=alice, text="plain")
    retried, _ = services.message_get_or_create(thread=thread, sender=bob, text="with id", client_id=uuid.uuid4())

    for message in (plain, retried):
        assert MessageSerializer(message).data == declared(MessageSerializer, message)


def test_thread_renders_like_its_fields_with_and_without_a_last_message(thread, alice, bob, carol):
    services.message_create(thread=thread, sender=bob, text="hello")
    services.thread_get_or_create(user=alice, other=carol)

    listed = list(selectors.threads_for_user(user=alice))

    assert [t.last_message is None for t in listed] == [True, False]
    for each in listed:
        assert ThreadSerializer(each).data == declared(ThreadSerializer, each)


def test_a_small_groups_rendering_matches_its_fields_its_preview_being_every_member(alice, bob, carol):
    group = services.group_create(owner=alice, title="Crew", members=[bob, carol])
    services.message_create(thread=group, sender=bob, text="hello")

    [listed] = list(selectors.threads_for_user(user=alice))
    selectors.load_member_previews([listed])
    rendered, fields = ThreadSerializer(listed).data, declared(ThreadSerializer, listed)

    # The list leaves a group's last message without read state (that needs every member's position).
    assert rendered["last_message"].pop("is_read") is None
    fields["last_message"].pop("is_read")
    assert rendered == fields
    assert [p["username"] for p in rendered["participants"]] == ["alice", "bob", "carol"]
