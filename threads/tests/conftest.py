import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from threads import presence, services
from threads.events import user_group
from threads.tests.contract import ContractAPIClient

# Every test user's password.
PASSWORD = "correct horse battery"

# A send's queries inside a test's transaction: user; SAVEPOINT, INSERT
# (locking the thread, members only), UPDATE of the thread, UPDATE ...
# RETURNING of its memberships, RELEASE. On PostgreSQL the two UPDATEs are
# one statement (services._count_sent_messages).
SEND_QUERIES = 5 if connection.vendor == "postgresql" else 6


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """Throttles count in the cache; no test inherits another's requests."""
    cache.clear()


def use_redis_cache(settings) -> None:
    """The default cache on Redis (database 11), empty, as with REDIS_URL set."""
    settings.CACHES = {"default": {"BACKEND": "chat_project.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/11"}}
    cache.clear()


@pytest.fixture
def redis_cache(settings):
    use_redis_cache(settings)
    yield
    cache.clear()


@pytest.fixture(params=["memory", "redis"])
def throttle_cache(request, settings):
    """Run a rate-limit test on both of the throttles' stores: DRF's list in
    the in-memory cache, and the sliding window in Redis (threads/throttling.py)."""
    if request.param == "redis":
        use_redis_cache(settings)
    yield request.param
    cache.clear()


@pytest.fixture(autouse=True)
def fresh_presence():
    """Presence in this process's memory, empty: no test sees another's
    sockets. Without presence events: the event tests of other features see
    only their own (threads/tests/test_presence_api.py turns them on)."""
    presence.reset(presence.Presence(presence.MemoryStore(), send_events=False))
    yield
    presence.reset()


@pytest.fixture
def make_user(db):
    def make(username: str, **extra) -> User:
        return User.objects.create_user(username=username, password=PASSWORD, **extra)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    """Takes part in no thread with alice and bob."""
    return make_user("carol")


@pytest.fixture
def staff(make_user):
    return make_user("staffer", is_staff=True)


@pytest.fixture
def thread_viewer(make_user):
    """Staff with the threads.view_thread permission: may list anyone's threads."""
    from django.contrib.auth.models import Permission

    user = make_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_thread", content_type__app_label="threads"))
    return User.objects.get(pk=user.pk)  # no stale permission cache


@pytest.fixture
def anonymous(db):
    return ContractAPIClient()


@pytest.fixture
def client_for():
    """An API client that sends a real JWT access token for `user`."""

    def make(user: User | None) -> APIClient:
        client = ContractAPIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        return client

    return make


@pytest.fixture
def thread(alice, bob):
    created, _ = services.thread_get_or_create(user=alice, other=bob)
    return created


@pytest.fixture
def message_from_alice(thread, alice):
    return services.message_create(thread=thread, sender=alice, text="Hi Bob")


def name_of(user: User) -> dict:
    """A user without presence: in auth.ok (the caller) and the export."""
    return {"id": user.pk, "username": user.username, "display_name": user.get_full_name() or user.username}


def summary(user: User, is_online: bool = False, last_seen: str | None = None) -> dict:
    """How the API shows `user` to others (no first or last name: the username),
    offline and never seen unless told."""
    return {**name_of(user), "is_online": is_online, "last_seen": last_seen}


@pytest.fixture
def listen():
    """Subscribe a fresh channel to a user's group; returns a function that drains its events."""
    layer = get_channel_layer()

    def subscribe(user):
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(user_group(user.pk), channel)

        async def drain():
            events = []
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), timeout=0.05)
                except TimeoutError:
                    return events
                events.extend(message["events"])

        return lambda: async_to_sync(drain)()

    yield subscribe
    async_to_sync(layer.flush)()
