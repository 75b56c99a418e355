"""The OpenAPI schema (drf-spectacular): every operation also documents the
errors it can answer, in the shapes `threads.exceptions` gives them."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework_simplejwt.views import TokenViewBase


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")


BAD_REQUEST = OpenApiResponse(
    response={
        "type": "object",
        "description": 'Field name (or "detail", "non_field_errors") to what was wrong with it.',
        "additionalProperties": {},
    },
    description="Invalid input: malformed JSON, a wrong type or value, or a malformed query parameter.",
)
UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="No valid access token (or, for /token/, bad credentials).")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="Authenticated, but a rule forbids this to you.")
# A write authenticated by the session cookie (the web client) without a valid CSRF token.
CSRF_FAILED = OpenApiResponse(
    ErrorSerializer, description="Session-authenticated write without a valid CSRF token (X-CSRFToken)."
)
FORBIDDEN_OR_CSRF = OpenApiResponse(
    ErrorSerializer,
    description="A rule forbids this to you, or a session-authenticated write failed the CSRF check.",
)
NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No such thing, or not yours: a thread you are not in answers like a missing one."
)
TOO_LARGE = OpenApiResponse(ErrorSerializer, description="The request body is larger than the server accepts.")
UNSUPPORTED_MEDIA_TYPE = OpenApiResponse(ErrorSerializer, description="The body must be application/json.")
NOT_ACCEPTABLE = OpenApiResponse(
    ErrorSerializer, description="The Accept header allows no JSON: every answer is application/json."
)
TOO_MANY_REQUESTS = OpenApiResponse(
    ErrorSerializer, description="Over the rate limit; the Retry-After header says how many seconds to wait."
)


class ChatAutoSchema(AutoSchema):
    def takes_body(self) -> bool:
        """POST, PUT and PATCH; and DELETE for the view actions that say so
        (`deleting_with_body_actions`), which drf-spectacular leaves out."""
        if self.method in {"POST", "PUT", "PATCH"}:
            return True
        action = getattr(self.view, "action", None)
        return self.method == "DELETE" and action in getattr(self.view, "deleting_with_body_actions", ())

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE" or not self.takes_body():
            return super()._get_request_body(direction)
        self.method = "POST"  # drf-spectacular documents a body for unsafe methods other than DELETE only
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in self.error_responses().items():
            responses.setdefault(code, self._get_response_for_code(response, code, direction=direction))
        return responses

    def error_responses(self) -> dict[str, OpenApiResponse]:
        view = self.view
        # An action declared with request=None never reads the body, so no
        # body error (400, 413, 415) can come from it.
        has_body = self.takes_body() and self.get_request_serializer() is not None
        errors = {}
        refuses_input = getattr(view, "action", None) in getattr(view, "refusing_actions", ())
        if has_body or refuses_input or self._get_filter_parameters() or self._get_pagination_parameters():
            errors["400"] = BAD_REQUEST
        # JWT authentication answers 401 to a bad token even where none is required.
        if view.authentication_classes or isinstance(view, TokenViewBase):
            errors["401"] = UNAUTHORIZED
        forbidding = getattr(view, "action", None) in getattr(view, "forbidding_actions", ())
        csrf = self.method not in {"GET", "HEAD", "OPTIONS"} and any(
            issubclass(auth, SessionAuthentication) for auth in view.authentication_classes
        )
        if forbidding or csrf:
            errors["403"] = FORBIDDEN_OR_CSRF if forbidding and csrf else FORBIDDEN if forbidding else CSRF_FAILED
        if "{" in self.path:
            errors["404"] = NOT_FOUND
        if has_body:
            errors["413"] = TOO_LARGE
            errors["415"] = UNSUPPORTED_MEDIA_TYPE
        errors["406"] = NOT_ACCEPTABLE
        if view.get_throttles():
            errors["429"] = TOO_MANY_REQUESTS
        return errors
