"""The Redis channel layer's send to many groups at once, against a real
Redis (`make test` starts it): the groups with a listener get their message,
in one pipelined lookup however many groups there are."""

import asyncio
import time

import pytest

from threads.channel_layers import ChatInMemoryChannelLayer, ChatRedisChannelLayer

REDIS_URL = "redis://127.0.0.1:6379/2"


@pytest.mark.asyncio
async def test_group_send_many_reaches_the_listening_groups_only():
    layer = ChatRedisChannelLayer(hosts=[REDIS_URL], prefix="chat-layer-test")
    listener, other = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("user.1", listener)
    await layer.group_add("user.3", other)
    messages = {f"user.{n}": {"type": "chat.events", "events": [{"n": n}]} for n in range(1, 101)}

    await layer.group_send_many(messages)

    assert await layer.receive(listener) == {"type": "chat.events", "events": [{"n": 1}]}
    assert await layer.receive(other) == {"type": "chat.events", "events": [{"n": 3}]}
    await layer.group_discard("user.1", listener)
    await layer.group_discard("user.3", other)
    await layer.flush()
    await layer.close_pools()


@pytest.mark.asyncio
async def test_listening_groups_names_the_groups_with_a_channel_from_synchronous_code():
    layer = ChatRedisChannelLayer(hosts=[REDIS_URL], prefix="chat-layer-test")
    listener = await layer.new_channel()
    await layer.group_add("user.7", listener)
    groups = [f"user.{n}" for n in range(1, 51)]

    # Called as a view calls it: from a thread with no event loop.
    found = await asyncio.to_thread(layer.listening_groups, groups)

    assert found == {"user.7"}
    await layer.group_discard("user.7", listener)
    assert await asyncio.to_thread(layer.listening_groups, groups) == set()
    await layer.flush()
    await layer.close_pools()


@pytest.mark.asyncio
async def test_listening_groups_skips_a_group_whose_only_channel_expired():
    layer = ChatRedisChannelLayer(hosts=[REDIS_URL], prefix="chat-layer-test", group_expiry=60)
    live, stale = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("user.1", live)
    await layer.group_add("user.2", stale)
    # Joined longer ago than the group expiry, as the layer scores it: its
    # group_send would drop the channel and deliver nothing.
    connection = layer.connection(layer.consistent_hash("user.2"))
    await connection.zadd(layer._group_key("user.2"), {stale: int(time.time()) - 120})

    assert await asyncio.to_thread(layer.listening_groups, ["user.1", "user.2"]) == {"user.1"}
    await layer.flush()
    await layer.close_pools()


def test_listening_groups_is_none_for_hosts_it_cannot_read():
    layer = ChatRedisChannelLayer(hosts=[{"master_name": "chat", "sentinels": [("127.0.0.1", 26379)]}])
    assert layer.listening_groups(["user.1"]) is None


@pytest.mark.asyncio
async def test_the_in_memory_layer_names_the_groups_with_a_live_channel():
    layer = ChatInMemoryChannelLayer(group_expiry=60)
    listener, stale = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("user.1", listener)
    await layer.group_add("user.2", stale)
    layer.groups["user.2"][stale] -= 120  # joined longer ago than the group expiry: group_send skips it
    groups = [f"user.{n}" for n in range(1, 11)]

    assert await asyncio.to_thread(layer.listening_groups, groups) == {"user.1"}
    await layer.group_discard("user.1", listener)
    assert await asyncio.to_thread(layer.listening_groups, groups) == set()
