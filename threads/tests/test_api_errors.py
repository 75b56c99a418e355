"""Whatever a client sends, the answer is a 4xx with a JSON body, and nothing is written."""

import json

import pytest
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from threads.exceptions import json_csrf_failure, json_server_error
from threads.models import Message, Thread

BAD_IDS = ["abc", "0", "-1", "1.5", "99999999999999999999", "9223372036854775808", "%20", "1e3"]


def raw_post(client, path, body: bytes, content_type="application/json"):
    return client.generic("POST", path, body, content_type=content_type)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"participants": [', "JSON parse error"),
        (b"not json at all", "JSON parse error"),
        (b'{"participants": NaN}', "NaN is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"text": "\\ud800"}', "unpaired surrogate"),
        (b"\xff\xfe{}", "not valid utf-8"),
    ],
)
def test_malformed_json_is_a_400_with_a_reason(client_for, alice, thread, body, fragment):
    for path in ("/api/threads/", f"/api/threads/{thread.pk}/messages/", "/api/users/", "/api/token/"):
        response = raw_post(client_for(alice), path, body)

        assert response.status_code == 400, path
        assert fragment in response.json()["detail"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("charset", ["base64", "hex", "zlib", "rot13", "punycode", "utf-16"])
def test_a_json_body_in_an_odd_or_unknown_charset_is_a_400(client_for, alice, thread, charset):
    for path in ("/api/token/", "/api/users/", f"/api/threads/{thread.pk}/messages/"):
        response = raw_post(client_for(alice), path, b'{"text": "hi"}',
                            content_type=f"application/json; charset={charset}")

        assert response.status_code == 400, path
        assert "JSON parse error" in response.json()["detail"]
    assert not Message.objects.exists()


def test_a_number_too_large_for_a_float_is_not_taken_as_text(client_for, alice, thread):
    response = raw_post(client_for(alice), f"/api/threads/{thread.pk}/messages/", b'{"text": 1e400}')

    assert response.status_code == 400
    assert response.json() == {"text": ["Not a valid string."]}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_a_body_over_the_size_limit_is_a_413_and_stores_nothing(client_for, alice, thread):
    body = b'{"text": "' + b"x" * 20_000 + b'"}'

    response = raw_post(client_for(alice), f"/api/threads/{thread.pk}/messages/", body)

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large: the limit is 10000 bytes."}
    assert not Message.objects.exists()


def test_a_json_body_that_is_not_an_object_is_a_400(client_for, alice, thread):
    for body in (b"[1, 2]", b'"text"', b"42", b"null"):
        response = raw_post(client_for(alice), f"/api/threads/{thread.pk}/messages/", body)

        assert response.status_code == 400
        assert response.json()
    assert not Message.objects.exists()


def test_a_form_encoded_body_is_refused_with_415(client_for, alice, thread):
    response = raw_post(client_for(alice), f"/api/threads/{thread.pk}/messages/", b"text=hi",
                        content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["detail"]


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize(
    "template",
    [
        "/api/threads/{id}/",
        "/api/threads/{id}/messages/",
        "/api/threads/{thread}/messages/{id}/",
        "/api/threads/{id}/mark_as_read/",
        "/api/users/{id}/",
    ],
)
def test_malformed_or_out_of_range_ids_in_urls_are_a_json_404(client_for, alice, thread, template, bad_id):
    client = client_for(alice)
    path = template.format(id=bad_id, thread=thread.pk)

    for method in ("get", "post", "delete"):
        response = getattr(client, method)(path)

        assert response.status_code == 404, (method, path)
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()
    assert Thread.objects.filter(pk=thread.pk).exists()


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/nope/", "/api/threads", "/api/threads/1/messages/2/extra/", "/api/"])
def test_unknown_api_paths_answer_json_404_with_or_without_debug(client_for, alice, path, debug):
    with override_settings(DEBUG=debug):
        response = client_for(alice).get(path)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found. No API endpoint at this path."}


@pytest.mark.parametrize("method", ["get", "post", "patch", "put", "delete"])
def test_unknown_api_paths_are_json_404_for_any_method_without_csrf_cookies(db, method):
    # A real client sends no CSRF cookie; the test client skips the check unless told.
    client = APIClient(enforce_csrf_checks=True)

    response = getattr(client, method)("/api/threads/1/messages//")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found. No API endpoint at this path."}


def test_a_csrf_failure_under_api_is_json(rf: RequestFactory):
    response = json_csrf_failure(rf.post("/api/anything/"), reason="CSRF cookie not set.")

    assert response.status_code == 403
    assert json.loads(response.content) == {"detail": "CSRF check failed: CSRF cookie not set."}


@pytest.mark.parametrize(
    "query",
    ["limit=abc", "limit=0", "limit=-5", "offset=-1", "offset=x", "offset=99999999999999999999", "limit=1.5"],
)
def test_malformed_pagination_parameters_are_a_400(client_for, alice, thread, query):
    for path in ("/api/threads/", f"/api/threads/{thread.pk}/messages/", "/api/users/"):
        response = client_for(alice).get(f"{path}?{query}")

        assert response.status_code == 400, path
        assert set(response.json()) <= {"limit", "offset"}


def test_an_offset_past_the_end_gives_an_empty_page(client_for, alice, thread, message_from_alice):
    body = client_for(alice).get(f"/api/threads/{thread.pk}/messages/?offset=9223372036854775807").json()

    assert body["count"] == 1
    assert body["results"] == []


def test_a_wrong_method_is_a_json_405(client_for, alice):
    response = client_for(alice).delete("/api/threads/")

    assert response.status_code == 405
    assert "not allowed" in response.json()["detail"]


def test_a_server_error_under_api_is_json_without_details(rf: RequestFactory):
    response = json_server_error(rf.get("/api/threads/"))

    assert response.status_code == 500
    assert response.content == b'{"detail": "Internal server error."}'
