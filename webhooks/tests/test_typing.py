"""Typing notices, sent by the WebSocket consumer rather than a write, are
delivered to webhooks too."""

import json

import pytest
from channels.db import database_sync_to_async

from threads import services
from threads.tests.conftest import summary
from threads.tests.test_realtime import connect_as
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_a_typing_notice_is_queued_for_webhooks(alice, bob, carol, settings):
    settings.CHAT_WEBHOOK_ALLOW_INSECURE = True
    group = await database_sync_to_async(services.group_create)(owner=alice, title="Crew", members=[bob, carol])
    await database_sync_to_async(WebhookEndpoint.objects.create)(url="http://127.0.0.1:9/", event_types=["typing"])
    alice_socket, bob_socket = await connect_as(alice), await connect_as(bob)

    await bob_socket.send_json_to({"type": "typing", "thread": group.pk})
    while (await alice_socket.receive_json_from())["type"] != "typing":  # bob's presence first
        pass

    [queued] = await database_sync_to_async(list)(WebhookDelivery.objects.all())
    assert queued.event_type == "typing"
    assert json.loads(queued.payload)["data"] == {
        "thread": group.pk, "user": summary(bob, is_online=True),
        "recipients": sorted([alice.pk, carol.pk]),
    }
    await alice_socket.disconnect()
    await bob_socket.disconnect()
