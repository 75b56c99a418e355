import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from threads import services

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    cache.clear()


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
def thread(alice, bob):
    return services.thread_get_or_create(user=alice, other=bob)[0]
