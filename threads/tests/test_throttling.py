"""Rate limits: per client address for tokens and registration, per user for
sending, editing, deleting, marking read and starting threads. Over the
rate: 429 with Retry-After; under it, untouched."""

import pytest
from django.contrib.auth.models import User

from chat_project import settings as production_settings
from threads.models import Message
from threads.tests.contract import ContractAPIClient

# Every test here runs on both stores of the counts: memory and Redis.
pytestmark = pytest.mark.usefixtures("throttle_cache")


@pytest.fixture
def rates(settings):
    settings.CHAT_THROTTLE_RATES = {
        **settings.CHAT_THROTTLE_RATES,
        "token": "3/minute",
        "register": "2/hour",
        "message_send": "5/minute",
    }
    return settings.CHAT_THROTTLE_RATES


def token_request(client, **extra):
    return client.post("/api/token/", {"username": "alice", "password": "wrong guess"}, format="json", **extra)


def test_token_requests_over_the_rate_get_429_with_retry_after(rates, alice):
    client = ContractAPIClient()

    statuses = [token_request(client).status_code for _ in range(3)]
    refused = token_request(client)

    assert statuses == [401, 401, 401]
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()


def test_the_token_limit_is_per_client_address_and_ignores_x_forwarded_for(rates, alice):
    here, elsewhere = ContractAPIClient(), ContractAPIClient(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        token_request(here)

    # A forged X-Forwarded-For does not make a new client.
    assert token_request(here, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    assert token_request(elsewhere).status_code == 401


def test_all_token_endpoints_share_the_limit(rates, alice):
    client = ContractAPIClient()
    client.post("/api/token/verify/", {"token": "x"}, format="json")
    client.post("/api/token/refresh/", {"refresh": "x"}, format="json")
    token_request(client)

    assert client.post("/api/token/verify/", {"token": "x"}, format="json").status_code == 429


def test_registration_over_the_rate_gets_429_and_creates_nobody(rates, db):
    client = ContractAPIClient()
    for name in ("first", "second"):
        body = {"username": name, "password": "a long enough secret 42"}
        assert client.post("/api/users/", body, format="json").status_code == 201

    refused = client.post("/api/users/", {"username": "third", "password": "a long enough secret 42"}, format="json")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 60  # the window is an hour
    assert not User.objects.filter(username="third").exists()


def test_sending_over_the_rate_gets_429_and_stores_nothing(rates, client_for, alice, bob, thread):
    client = client_for(alice)
    for i in range(5):
        assert client.post(f"/api/threads/{thread.pk}/messages/", {"text": f"m{i}"}, format="json").status_code == 201

    refused = client.post(f"/api/threads/{thread.pk}/messages/", {"text": "one too many"}, format="json")

    assert refused.status_code == 429
    assert "Retry-After" in refused
    assert Message.objects.count() == 5
    # The limit is alice's: bob sends, and alice still reads, edits and marks.
    assert client_for(bob).post(f"/api/threads/{thread.pk}/messages/", {"text": "hi"}, format="json").status_code == 201
    assert client.get(f"/api/threads/{thread.pk}/messages/").status_code == 200
    assert client.post(f"/api/threads/{thread.pk}/mark_as_read/").status_code == 200


def test_normal_use_under_the_default_rates_is_not_throttled(settings, client_for, alice, bob, thread):
    # The production defaults (the test settings raise them for the rest of the suite).
    settings.CHAT_THROTTLE_RATES = dict(production_settings.CHAT_THROTTLE_RATES)
    client = ContractAPIClient()
    # A person logging in a few times and chatting briskly for a minute.
    for _ in range(5):
        login = {"username": "alice", "password": "correct horse battery"}
        assert client.post("/api/token/", login, format="json").status_code == 200
    sender = client_for(alice)
    for i in range(40):
        response = sender.post(f"/api/threads/{thread.pk}/messages/", {"text": f"quick {i}"}, format="json")
        assert response.status_code == 201
    for _ in range(50):
        assert sender.get("/api/threads/").status_code == 200


@pytest.fixture
def action_rates(settings):
    settings.CHAT_THROTTLE_RATES = {
        **settings.CHAT_THROTTLE_RATES,
        "message_edit": "3/minute",
        "delete": "2/minute",
        "mark_read": "3/minute",
        "thread_create": "2/hour",
        "group_change": "3/minute",
    }


def test_edits_over_the_rate_get_429_and_change_nothing(action_rates, client_for, alice, bob, thread):
    from threads import services

    message = services.message_create(thread=thread, sender=alice, text="x" * 5000)
    client, url = client_for(alice), f"/api/threads/{thread.pk}/messages/{message.pk}/"
    for i in range(3):
        assert client.patch(url, {"text": f"edit {i}"}, format="json").status_code == 200

    refused = client.patch(url, {"text": "one too many"}, format="json")

    assert refused.status_code == 429
    assert "Retry-After" in refused
    message.refresh_from_db()
    assert message.text == "edit 2"
    # Alice's limit: her other actions, and bob, go on.
    sent = client.post(f"/api/threads/{thread.pk}/messages/", {"text": "still sending"}, format="json")
    assert sent.status_code == 201


def test_deletes_over_the_rate_get_429_for_messages_and_threads(action_rates, client_for, alice, bob, carol, thread):
    from threads import services

    messages = [services.message_create(thread=thread, sender=alice, text=f"m{i}") for i in range(3)]
    client = client_for(alice)
    for message in messages[:2]:
        assert client.delete(f"/api/threads/{thread.pk}/messages/{message.pk}/").status_code == 204

    assert client.delete(f"/api/threads/{thread.pk}/messages/{messages[2].pk}/").status_code == 429
    other, _ = services.thread_get_or_create(user=alice, other=carol)
    assert client.delete(f"/api/threads/{other.pk}/").status_code == 429
    assert Message.objects.filter(pk=messages[2].pk).exists()


def test_mark_read_over_the_rate_gets_429_for_threads_and_messages(action_rates, client_for, alice, bob, thread):
    from threads import services

    message = services.message_create(thread=thread, sender=alice, text="hi")
    client = client_for(bob)
    for _ in range(3):
        assert client.post(f"/api/threads/{thread.pk}/mark_as_read/").status_code == 200

    assert client.post(f"/api/threads/{thread.pk}/mark_as_read/").status_code == 429
    assert client.post(f"/api/threads/{thread.pk}/messages/{message.pk}/mark_as_read/").status_code == 429
    assert client_for(alice).post(f"/api/threads/{thread.pk}/mark_as_read/").status_code == 200


def test_thread_creation_over_the_rate_gets_429(action_rates, client_for, alice, bob, carol, make_user):
    from threads.models import Thread

    client = client_for(alice)
    for other in (bob, carol):
        assert client.post("/api/threads/", {"participants": [other.pk]}, format="json").status_code == 201

    dave = make_user("dave")
    refused = client.post("/api/threads/", {"participants": [dave.pk]}, format="json")

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 60
    assert Thread.objects.count() == 2


def test_group_changes_over_the_rate_get_429_and_change_nothing(
    action_rates, client_for, alice, bob, carol, make_user
):
    from threads import services

    group = services.group_create(owner=alice, title="Crew", members=[bob])
    client = client_for(alice)
    assert client.patch(f"/api/threads/{group.pk}/", {"title": "Renamed"}, format="json").status_code == 200
    assert client.post(f"/api/threads/{group.pk}/members/", {"user": carol.pk}, format="json").status_code == 201
    assert client.delete(f"/api/threads/{group.pk}/members/{carol.pk}/").status_code == 204

    dave = make_user("dave")
    refused = client.post(f"/api/threads/{group.pk}/members/", {"user": dave.pk}, format="json")

    assert refused.status_code == 429
    role = client.patch(f"/api/threads/{group.pk}/members/{bob.pk}/", {"role": "admin"}, format="json")
    assert role.status_code == 429
    assert group.memberships.count() == 2
    # Bob's own limit is untouched: he can still leave.
    assert client_for(bob).delete(f"/api/threads/{group.pk}/members/{bob.pk}/").status_code == 204

