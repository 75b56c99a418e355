# The chat app's fixtures (users, API clients), shared with these tests.
import pytest

from threads import services
from threads.tests.conftest import (  # noqa: F401
    alice,
    anonymous,
    bob,
    carol,
    client_for,
    fresh_throttle_counts,
    make_user,
    staff,
    thread,
)


@pytest.fixture
def group(alice, bob, carol):
    """alice owns it, bob and carol are members."""
    return services.group_create(owner=alice, title="Crew", members=[bob, carol])
