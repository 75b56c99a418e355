import pytest


@pytest.fixture(autouse=True, scope="session")
def no_webhook_endpoints_yet():
    """The test database starts with no webhook endpoint: every process-wide
    snapshot of them (webhooks/endpoints.py) starts known and empty, so no
    test counts the one query of a process's first look. The webhooks tests
    reset it around each test."""
    from webhooks import endpoints

    endpoints.reset(())
