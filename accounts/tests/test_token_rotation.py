"""Item 5 of issue 13: one winner among concurrent refreshes of one token,
with real threads on real database connections."""

import pytest
from django.contrib.auth.models import User

from threads.tests.contract import ContractAPIClient
from threads.tests.test_concurrency import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery"


def refresh(token: str):
    return ContractAPIClient().post("/api/token/refresh/", {"refresh": token}, format="json")


def test_concurrent_refreshes_of_one_token_have_exactly_one_winner():
    User.objects.create_user("alice", password=PASSWORD)
    login = ContractAPIClient().post("/api/token/", {"username": "alice", "password": PASSWORD}, format="json")
    token = login.json()["refresh"]
    # Five rounds, each rotating the previous round's winner: one round may miss the window.
    for _ in range(5):
        responses = run_at_once(10, lambda i, token=token: refresh(token))

        assert sorted(r.status_code for r in responses) == [200] + [401] * 9
        [winner] = [r.json() for r in responses if r.status_code == 200]
        for loser in (r for r in responses if r.status_code == 401):
            assert "blacklisted" in loser.json()["detail"]
        assert refresh(token).status_code == 401
        token = winner["refresh"]
    assert refresh(token).status_code == 200
