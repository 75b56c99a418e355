"""GET /api/health/ (no token; 200 or 503) and GET /api/ping/ (token check)."""


def test_health_is_200_with_the_database_reachable_and_needs_no_token(anonymous, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = anonymous.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "not_configured"}


def test_health_ignores_a_bad_token(anonymous):
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert anonymous.get("/api/health/").status_code == 200


def test_ping_answers_the_callers_id(client_for, alice, bob):
    assert client_for(alice).get("/api/ping/").json() == {"user_id": alice.pk}
    assert client_for(bob).get("/api/ping/").json() == {"user_id": bob.pk}


def test_ping_without_a_token_is_401(anonymous):
    response = anonymous.get("/api/ping/")

    assert response.status_code == 401
    assert "credentials" in response.json()["detail"]


def test_ping_runs_only_the_token_users_query(client_for, alice, django_assert_num_queries):
    with django_assert_num_queries(1):
        client_for(alice).get("/api/ping/")
