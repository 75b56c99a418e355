"""The hand-made renderings of users, messages and threads (fast paths) say
exactly what their declared DRF fields would say."""

import uuid

from rest_framework import serializers

from threads import presence, selectors, services
from threads.serializers import MessageSerializer, ThreadSerializer, UserSummarySerializer


def declared(serializer_class, instance) -> dict:
    """What DRF's field machinery renders for `instance` (bypassing the fast path)."""
    data = dict(serializers.ModelSerializer.to_representation(serializer_class(), instance))
    presence.annotate(data)  # the nested users, rendered by their own fast path
    return data


def fast(serializer) -> dict:
    """The fast path's rendering, with the presence the API's renderer adds."""
    data = serializer.data
    presence.annotate(data)
    return data


def test_user_summary_renders_like_its_fields(alice):
    assert fast(UserSummarySerializer(alice)) == declared(UserSummarySerializer, alice)


def test_message_renders_like_its_fields_with_and_without_client_id(thread, alice, bob):
    plain = services.message_create(thread=thread, sender=alice, text="plain")
    retried, _ = services.message_get_or_create(thread=thread, sender=bob, text="with id", client_id=uuid.uuid4())

    for message in (plain, retried):
        assert fast(MessageSerializer(message)) == declared(MessageSerializer, message)


def test_thread_renders_like_its_fields_with_and_without_a_last_message(thread, alice, bob, carol):
    services.message_create(thread=thread, sender=bob, text="hello")
    services.thread_get_or_create(user=alice, other=carol)

    listed = list(selectors.threads_for_user(user=alice))

    assert [t.last_message is None for t in listed] == [True, False]
    for each in listed:
        assert fast(ThreadSerializer(each)) == declared(ThreadSerializer, each)


def test_a_small_groups_rendering_matches_its_fields_its_preview_being_every_member(alice, bob, carol):
    group = services.group_create(owner=alice, title="Crew", members=[bob, carol])
    services.message_create(thread=group, sender=bob, text="hello")

    [listed] = list(selectors.threads_for_user(user=alice))
    selectors.load_member_previews([listed])
    rendered, fields = fast(ThreadSerializer(listed)), declared(ThreadSerializer, listed)

    # A group's last message carries its read state from the members' positions (nobody has read it yet).
    assert (rendered["last_message"].pop("is_read"), rendered["last_message"].pop("read_count")) == (False, 0)
    fields["last_message"].pop("is_read")
    assert rendered == fields
    assert [p["username"] for p in rendered["participants"]] == ["alice", "bob", "carol"]
