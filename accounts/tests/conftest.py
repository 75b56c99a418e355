# The chat app's fixtures (users, API clients), shared with these tests.
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
    thread_viewer,
)
