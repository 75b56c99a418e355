"""`client_id` on POST .../messages/: a retried send is recognised, not stored twice."""

import uuid

import pytest
from django.db import IntegrityError, transaction

from threads import services
from threads.models import Message, Thread


def send(client, thread, **body):
    return client.post(f"/api/threads/{thread.pk}/messages/", body, format="json")


def test_first_send_with_a_client_id_stores_it_and_returns_it(client_for, thread, alice):
    client_id = uuid.uuid4()

    response = send(client_for(alice), thread, text="Hello", client_id=str(client_id))

    assert response.status_code == 201
    assert response.json()["client_id"] == str(client_id)
    assert Message.objects.get().client_id == client_id


def test_retrying_a_send_returns_the_original_message_with_200_and_stores_nothing(client_for, thread, alice):
    client_id = str(uuid.uuid4())
    first = send(client_for(alice), thread, text="Hello", client_id=client_id)

    retry = send(client_for(alice), thread, text="Hello", client_id=client_id)

    assert retry.status_code == 200
    assert retry.json() == first.json()
    assert Message.objects.count() == 1
    thread.refresh_from_db()
    assert thread.message_count == 1


def test_a_retry_gets_the_original_even_if_its_text_differs(client_for, thread, alice):
    client_id = str(uuid.uuid4())
    first = send(client_for(alice), thread, text="Hello", client_id=client_id)

    retry = send(client_for(alice), thread, text="Hello, edited on the client", client_id=client_id)

    assert retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["text"] == "Hello"


def test_the_same_client_id_from_the_other_participant_is_a_new_message(client_for, thread, alice, bob):
    client_id = str(uuid.uuid4())
    send(client_for(alice), thread, text="from alice", client_id=client_id)

    response = send(client_for(bob), thread, text="from bob", client_id=client_id)

    assert response.status_code == 201
    assert Message.objects.filter(client_id=client_id).count() == 2


def test_the_same_client_id_in_another_thread_is_a_new_message(client_for, thread, alice, carol):
    other_thread, _ = services.thread_get_or_create(user=alice, other=carol)
    client_id = str(uuid.uuid4())
    send(client_for(alice), thread, text="in one", client_id=client_id)

    response = send(client_for(alice), other_thread, text="in the other", client_id=client_id)

    assert response.status_code == 201
    assert response.json()["thread"] == other_thread.pk


def test_sends_without_a_client_id_are_never_merged(client_for, thread, alice):
    statuses = [
        send(client_for(alice), thread, text="same").status_code,
        send(client_for(alice), thread, text="same").status_code,
        send(client_for(alice), thread, text="same", client_id=None).status_code,
    ]

    assert statuses == [201, 201, 201]
    assert Message.objects.count() == 3


def test_a_client_id_is_free_again_once_its_message_is_deleted(client_for, thread, alice):
    client_id = str(uuid.uuid4())
    first = send(client_for(alice), thread, text="oops", client_id=client_id).json()
    client_for(alice).delete(f"/api/threads/{thread.pk}/messages/{first['id']}/")

    response = send(client_for(alice), thread, text="again", client_id=client_id)

    assert response.status_code == 201
    assert response.json()["id"] != first["id"]


@pytest.mark.parametrize(
    "bad_client_id",
    ["not-a-uuid", "", "1234", 42, 3.5, True, ["0b0c5e7c-3f1e-4e53-9a1b-2c0f0a6d9e11"], {"id": 1}, "x" * 10_000],
)
def test_malformed_client_id_is_a_400_and_stores_nothing(client_for, thread, alice, bad_client_id):
    response = send(client_for(alice), thread, text="Hello", client_id=bad_client_id)

    assert response.status_code == 400
    assert "client_id" in response.json()
    assert not Message.objects.exists()
    assert Thread.objects.get().message_count == 0


def test_a_retry_from_an_outsider_is_404_and_reveals_nothing(client_for, thread, alice, carol):
    client_id = str(uuid.uuid4())
    send(client_for(alice), thread, text="private", client_id=client_id)

    response = send(client_for(carol), thread, text="private", client_id=client_id)

    assert response.status_code == 404
    assert "private" not in response.content.decode()


def test_the_database_refuses_a_second_message_with_the_same_client_id(thread, alice):
    client_id = uuid.uuid4()
    Message.objects.create(thread=thread, sender=alice, text="one", client_id=client_id)

    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(thread=thread, sender=alice, text="two", client_id=client_id)
