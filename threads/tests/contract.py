"""The OpenAPI schema as a contract: every API response a test receives
through `ContractAPIClient` must be documented for its operation and status
code, and its JSON body must match the documented schema (a streamed body:
once the test has read it, through `check_body`)."""

import json
import re
import threading
from functools import cache

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

_generating = threading.Lock()


@cache
def openapi() -> dict:
    """The schema that GET /api/schema/ serves, as plain JSON."""
    # One thread at a time: drf-spectacular loads its extensions lazily, and
    # the concurrency tests' first responses would otherwise race to do it.
    with _generating:
        schema = SchemaGenerator().get_schema(request=None, public=True)
        return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


@cache
def operations() -> list[tuple[re.Pattern, dict]]:
    """Path patterns with their operations; literal paths first, as the URLconf
    tries /threads/unread_count/ before /threads/{id}/."""
    templates = sorted(openapi()["paths"], key=lambda template: template.count("{"))
    return [
        (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"), openapi()["paths"][template])
        for template in templates
    ]


def documented_operation(method: str, path: str) -> dict | None:
    for pattern, methods in operations():
        if pattern.match(path) and method.lower() in methods:
            return methods[method.lower()]
    return None


def check_response(response) -> None:
    """Raise AssertionError if `response` breaks the schema's promise for its request."""
    method, path = response.request["REQUEST_METHOD"], response.request["PATH_INFO"]
    operation = documented_operation(method, path)
    if operation is None:
        return  # not an operation of the API (unknown path, OPTIONS, the admin): nothing promised
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (
        f"{method} {path} answered {response.status_code}, which the schema does not document "
        f"(documented: {sorted(operation['responses'])})"
    )
    content = documented.get("content")
    if content is None:
        assert not response.content, f"{method} {path} {response.status_code}: the schema documents no body"
        return
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    if response.streaming:
        return  # reading it here would consume it: the test checks the body with check_body
    check_body(response, response.json())


def check_body(response, body) -> None:
    """Raise AssertionError if `body` (a response's parsed JSON) is not what the schema documents."""
    method, path = response.request["REQUEST_METHOD"], response.request["PATH_INFO"]
    content = documented_operation(method, path)["responses"][str(response.status_code)]["content"]
    schema = {**content["application/json"]["schema"], "components": openapi()["components"]}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(body), key=str)
    assert not errors, f"{method} {path} {response.status_code} does not match the schema: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in errors[:5]
    )


class ContractAPIClient(APIClient):
    def request(self, **kwargs):
        response = super().request(**kwargs)
        check_response(response)
        return response
