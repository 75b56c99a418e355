# The chat app's fixtures (users, API clients), shared with these tests.
import pytest

from threads import services
from threads.tests.conftest import (  # noqa: F401
    alice,
    anonymous,
    bob,
    carol,
    client_for,
    fresh_presence,
    fresh_throttle_counts,
    make_user,
    staff,
    thread,
)


@pytest.fixture
def group(request):
    """alice owns it, bob and carol are members."""
    owner, *members = (request.getfixturevalue(name) for name in ("alice", "bob", "carol"))
    return services.group_create(owner=owner, title="Crew", members=members)
