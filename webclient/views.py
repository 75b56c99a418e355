"""The web client's page (`/`) and the API's session endpoint (`/api/session/`).

The page is a static shell: the HTML below, and ES modules and CSS served as
static files. Everything it shows comes from the public API and the /ws/
protocol (README). The browser holds its credential as Django's session
cookie (httpOnly, SameSite=Lax); writes also need the CSRF token, which DRF's
SessionAuthentication checks (README, "The web client").
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import authenticate, login, logout
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from threads.schema import ErrorSerializer
from threads.serializers import StrictCharField, UserSerializer
from threads.throttling import TokenThrottle

from .auth import note_login, session_group

CSRF_FAILED = OpenApiResponse(ErrorSerializer, description="The CSRF check failed (cookie and X-CSRFToken header).")


def content_security_policy(request) -> str:
    """Only this origin's scripts, styles, images and connections (the
    WebSocket included: ws/wss of the same host), nothing inline, no framing."""
    host = request.get_host()  # validated against ALLOWED_HOSTS
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src 'self' ws://{host} wss://{host}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@require_safe
@ensure_csrf_cookie
def index(request):
    response = render(request, "webclient/index.html")
    response["Content-Security-Policy"] = content_security_policy(request)
    response["Cache-Control"] = "no-cache"
    return response


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False)


def check_csrf(request) -> None:
    """The same check DRF's SessionAuthentication makes on a session-authenticated
    write: logging in and out are writes too (no login CSRF, no forced logout)."""
    SessionAuthentication().enforce_csrf(request)


class SessionView(APIView):
    """Log in (`POST`) and out (`DELETE`) with Django's session cookie, for
    same-origin browser clients; other clients use the token endpoints."""

    authentication_classes = []  # whoever is logged in, the CSRF check below applies
    permission_classes = [AllowAny]

    def get_throttles(self):
        return [TokenThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        summary="Log in with a session cookie (browser clients on this origin)",
        request=LoginSerializer,
        responses={
            200: OpenApiResponse(UserSerializer, description="Logged in: the answer sets the session cookie."),
            403: CSRF_FAILED,
        },
        auth=[],
    )
    def post(self, request):
        check_csrf(request)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None:
            return Response(
                {"detail": "No active account found with the given credentials."}, status=status.HTTP_400_BAD_REQUEST
            )
        login(request._request, user)  # a new session key, and a new CSRF token
        note_login(request._request.session)
        return Response(UserSerializer(user).data)

    @extend_schema(
        summary="Log out: the server deletes the session",
        request=None,
        responses={204: OpenApiResponse(description="Logged out (or was not logged in)."), 403: CSRF_FAILED},
        auth=[],
    )
    def delete(self, request):
        check_csrf(request)
        session_key = request._request.session.session_key
        logout(request._request)
        layer = get_channel_layer()
        if session_key and layer is not None:
            # Close the WebSockets this session opened, in every tab.
            async_to_sync(layer.group_send)(session_group(session_key), {"type": "session.end"})
        return Response(status=status.HTTP_204_NO_CONTENT)
