# The chat app's fixtures (users, the throttle reset, a direct thread), shared with these tests.
from threads.tests.conftest import PASSWORD, alice, bob, fresh_presence, fresh_throttle_counts, make_user, thread  # noqa: F401
