"""The OpenAPI schema (GET /api/schema/), the Swagger UI (GET /api/docs/), and
the contract check that every API test's responses go through."""

import json

import pytest
from django.core.management import call_command

from threads import services
from threads.tests.contract import check_response, openapi

OPERATIONS = {
    ("/api/health/", "get"), ("/api/ping/", "get"),
    ("/api/token/", "post"), ("/api/token/refresh/", "post"), ("/api/token/verify/", "post"),
    ("/api/token/blacklist/", "post"),
    ("/api/users/", "get"), ("/api/users/", "post"), ("/api/users/{id}/", "get"), ("/api/users/me/", "get"),
    ("/api/users/me/", "patch"), ("/api/users/me/", "delete"), ("/api/users/me/password/", "post"),
    ("/api/users/me/export/", "get"),
    ("/api/users/me/logout_everywhere/", "post"),
    ("/api/threads/", "get"), ("/api/threads/", "post"), ("/api/threads/{id}/", "get"),
    ("/api/threads/{id}/", "patch"), ("/api/threads/{id}/", "delete"), ("/api/threads/{id}/mark_as_read/", "post"),
    ("/api/threads/unread_count/", "get"),
    ("/api/threads/{thread_pk}/messages/", "get"), ("/api/threads/{thread_pk}/messages/", "post"),
    ("/api/threads/{thread_pk}/messages/{id}/", "get"), ("/api/threads/{thread_pk}/messages/{id}/", "patch"),
    ("/api/threads/{thread_pk}/messages/{id}/", "delete"),
    ("/api/threads/{thread_pk}/messages/{id}/mark_as_read/", "post"),
    ("/api/threads/{thread_pk}/messages/{message_pk}/readers/", "get"),
    ("/api/threads/{thread_pk}/members/", "get"), ("/api/threads/{thread_pk}/members/", "post"),
    ("/api/threads/{thread_pk}/members/{id}/", "patch"), ("/api/threads/{thread_pk}/members/{id}/", "delete"),
    ("/api/session/", "post"), ("/api/session/", "delete"),
    # safety (issue 16)
    ("/api/users/{id}/block/", "post"), ("/api/users/{id}/block/", "delete"), ("/api/users/blocked/", "get"),
    ("/api/threads/{id}/mute/", "post"), ("/api/threads/{id}/unmute/", "post"),
    ("/api/threads/{thread_pk}/messages/{id}/report/", "post"),
}


def test_the_schema_is_served_without_a_token_and_lists_every_operation(anonymous):
    response = anonymous.get("/api/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    schema = json.loads(response.content)
    assert schema["openapi"] == "3.1.0"
    served = {(path, method) for path, methods in schema["paths"].items() for method in methods}
    assert served == OPERATIONS
    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    }


def test_the_schema_validates_with_no_warnings(tmp_path):
    # What CI also runs: manage.py spectacular --validate --fail-on-warn
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))

    assert "openapi: 3.1.0" in (tmp_path / "schema.yml").read_text()


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/api/threads/{thread_pk}/messages/", "post",
         {"200", "201", "400", "401", "403", "404", "406", "413", "415", "429"}),
        (
            "/api/threads/{thread_pk}/messages/{id}/",
            "patch",
            {"200", "400", "401", "403", "404", "406", "413", "415", "429"},
        ),
        ("/api/threads/{id}/mark_as_read/", "post", {"200", "400", "401", "403", "404", "406", "413", "415", "429"}),
        ("/api/threads/{thread_pk}/messages/{id}/mark_as_read/", "post", {"200", "401", "403", "404", "406", "429"}),
        ("/api/threads/", "get", {"200", "400", "401", "403", "406"}),
        ("/api/threads/{id}/", "get", {"200", "401", "404", "406"}),
        ("/api/token/", "post", {"200", "400", "401", "406", "413", "415", "429"}),
        ("/api/users/", "post", {"201", "400", "401", "403", "406", "413", "415", "429"}),
        ("/api/session/", "post", {"200", "400", "403", "406", "413", "415", "429"}),
        ("/api/session/", "delete", {"204", "403", "406"}),
        ("/api/health/", "get", {"200", "406", "503"}),
        ("/api/threads/{id}/", "patch", {"200", "400", "401", "403", "404", "406", "413", "415", "429"}),
        ("/api/threads/{id}/", "delete", {"204", "401", "403", "404", "406", "429"}),
        ("/api/threads/{thread_pk}/members/", "get", {"200", "400", "401", "404", "406"}),
        ("/api/threads/{thread_pk}/members/", "post", {"201", "400", "401", "403", "404", "406", "413", "415", "429"}),
        ("/api/threads/{thread_pk}/members/{id}/", "patch",
         {"200", "400", "401", "403", "404", "406", "413", "415", "429"}),
        ("/api/threads/{thread_pk}/members/{id}/", "delete", {"204", "400", "401", "403", "404", "406", "429"}),
        ("/api/threads/{thread_pk}/messages/{message_pk}/readers/", "get", {"200", "400", "401", "404", "406"}),
        ("/api/users/{id}/block/", "post", {"204", "400", "401", "403", "404", "406", "429"}),
        ("/api/users/{id}/block/", "delete", {"204", "401", "403", "404", "406", "429"}),
        ("/api/users/blocked/", "get", {"200", "400", "401", "406"}),
        ("/api/threads/{id}/mute/", "post", {"204", "401", "403", "404", "406", "429"}),
        ("/api/threads/{thread_pk}/messages/{id}/report/", "post",
         {"200", "201", "400", "401", "403", "404", "406", "413", "415", "429"}),
    ],
)
def test_each_operation_documents_its_error_statuses(path, method, codes):
    assert set(openapi()["paths"][path][method]["responses"]) == codes


def test_the_docs_page_is_swagger_ui_from_local_files_with_the_authorize_button(anonymous):
    response = anonymous.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert "/api/schema/" in page
    assert '"persistAuthorization": true' in page
    static = anonymous.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert static.status_code == 200


def test_the_contract_check_fails_on_an_undocumented_status(client_for, alice):
    response = client_for(alice).get("/api/threads/")
    response.status_code = 418

    with pytest.raises(AssertionError, match="does not document"):
        check_response(response)


def test_the_contract_check_fails_on_a_body_that_does_not_match(client_for, alice, thread):
    response = client_for(alice).get(f"/api/threads/{thread.pk}/")
    response.content = json.dumps({"id": "one", "participants": []}).encode()
    del response._json  # the test client caches the parsed body

    with pytest.raises(AssertionError, match="does not match the schema"):
        check_response(response)


def parameter(path: str, method: str, name: str) -> dict:
    return next(p for p in openapi()["paths"][path][method]["parameters"] if p["name"] == name)


def test_the_schema_bounds_what_the_api_bounds():
    # Found by schemathesis: schema-valid values the API refused (regressions).
    assert parameter("/api/threads/", "get", "user")["schema"]["minimum"] == 1
    messages = "/api/threads/{thread_pk}/messages/"
    assert parameter(messages, "get", "before")["schema"]["minimum"] == 1
    assert parameter(messages, "get", "after")["schema"]["minimum"] == 0
    assert parameter(messages, "get", "limit")["schema"]["minimum"] == 1
    assert parameter(messages, "get", "limit")["schema"]["maximum"] == 2**63 - 1
    assert parameter(messages, "get", "offset")["schema"]["minimum"] == 0
    schemas = openapi()["components"]["schemas"]
    assert schemas["ThreadCreateRequest"]["properties"]["participants"]["minItems"] == 1
    assert schemas["UserRegistrationRequest"]["properties"]["password"]["minLength"] == 8


def test_an_accept_header_without_json_is_a_documented_406_and_format_is_ignored(client_for, alice):
    refused = client_for(alice).get("/api/ping/", HTTP_ACCEPT="application/xml")
    ignored = client_for(alice).get("/api/ping/?format=xml")

    assert refused.status_code == 406
    assert (ignored.status_code, ignored.json()) == (200, {"user_id": alice.pk})


def test_marking_one_message_read_takes_no_body_so_no_body_can_fail_it(client_for, alice, bob, thread):
    """The schema lists no 400/413/415 for marking one message read: it never
    reads a body. (Marking a thread read takes an optional `message_ids`: a
    malformed body there is a 400 that marks nothing.)"""
    message = services.message_create(thread=thread, sender=bob, text="read me")
    client = client_for(alice)

    whole_thread = client.generic(
        "POST", f"/api/threads/{thread.pk}/mark_as_read/", b"{not json", content_type="application/json"
    )
    assert whole_thread.status_code == 400
    assert services.Message.objects.get(pk=message.pk).is_read is False
    whole_thread = client.post(f"/api/threads/{thread.pk}/mark_as_read/")
    one_message = client.generic(
        "POST", f"/api/threads/{thread.pk}/messages/{message.pk}/mark_as_read/", b"x" * 300_000,
        content_type="text/plain",
    )

    assert whole_thread.status_code == 200
    assert one_message.status_code == 200
