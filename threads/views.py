"""HTTP only: parse the request, call a selector or a service, render.

Thread access is checked in one place, `selectors.thread_get_for_user`, which
every thread and message view calls before touching anything in a thread.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from accounts.services import log_out_everywhere

from . import selectors, services
from .filters import BoundedSearchFilter
from .pagination import MessagePagination
from .permissions import IsMessageRecipient, IsMessageSender, can_list_threads_of
from .serializers import (
    HealthSerializer,
    MarkedSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    MessageTextSerializer,
    PingSerializer,
    ThreadCreateSerializer,
    ThreadSerializer,
    UnreadCountSerializer,
    UserRegistrationSerializer,
    UserSerializer,
    UserSummarySerializer,
)
from .throttling import MESSAGE_THROTTLES, THREAD_THROTTLES, RegistrationThrottle, TokenThrottle, throttles_for

User = get_user_model()
logger = logging.getLogger(__name__)

# Ids in URLs: 1 to 18 digits, never 0. Anything else is not a route at all and
# gets the JSON 404; the value is range-checked again before any query.
ID_PATTERN = r"[1-9][0-9]{0,17}"


@extend_schema_view(
    create=extend_schema(
        summary="Register",
        request=UserRegistrationSerializer,
        responses={201: UserSerializer},
        auth=[],
    ),
    list=extend_schema(summary="Find people to talk to (active users, by username)"),
    retrieve=extend_schema(summary="One user"),
)
class UserViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Register (`POST`, no token needed), find people to talk to, and `me`."""

    lookup_value_regex = ID_PATTERN
    filter_backends = [BoundedSearchFilter]
    search_fields = ["username"]

    def get_queryset(self):
        return User.objects.filter(is_active=True).order_by("username", "id")

    def get_permissions(self):
        if self.action == "create":
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_throttles(self):
        return [RegistrationThrottle()] if self.action == "create" else []

    def get_serializer_class(self):
        if self.action == "create":
            return UserRegistrationSerializer
        if self.action == "me":
            return UserSerializer
        return UserSummarySerializer

    def perform_create(self, serializer):
        try:
            with transaction.atomic():
                serializer.save()
        except IntegrityError:
            # Two registrations of one name at once: the serializer's check passed for both.
            raise ValidationError({"username": ["A user with that username already exists."]}) from None

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(UserSerializer(serializer.instance).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="The caller's own account", responses=UserSerializer)
    @action(detail=False, methods=["get"])
    def me(self, request):
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        summary="Log out everywhere: end every session of the caller",
        description=(
            "Every refresh token of the caller stops working, every open WebSocket closes with 4401, and access "
            "tokens issued until now are refused by the WebSocket (REST accepts them until they expire)."
        ),
        request=None,
        responses={204: OpenApiResponse(description="Done.")},
    )
    @action(detail=False, methods=["post"], url_path="me/logout_everywhere", url_name="logout-everywhere")
    def logout_everywhere(self, request):
        log_out_everywhere(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        summary="The caller's threads, latest activity first",
        parameters=[
            OpenApiParameter(
                "user",
                {"type": "integer", "minimum": 1, "maximum": selectors.MAX_ID},
                description=(
                    "Needs the threads.view_thread permission (or a superuser): "
                    "list this user's threads (with their unread counts) instead."
                ),
            )
        ],
    ),
    retrieve=extend_schema(summary="One of the caller's threads"),
    destroy=extend_schema(summary="Delete a thread and all its messages (either participant)"),
)
class ThreadViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = ThreadSerializer
    lookup_value_regex = ID_PATTERN
    # ?user= names another user: threads.view_thread only (documented in the schema).
    forbidding_actions = {"list"}

    def get_queryset(self):
        return selectors.threads_for_user(user=self.list_owner())

    def get_throttles(self):
        return throttles_for(THREAD_THROTTLES, self.action)

    def list_owner(self):
        """Whose threads to list: the caller, or with threads.view_thread, `?user=<id>`."""
        raw = self.request.query_params.get("user")
        if raw is None or self.action != "list":
            return self.request.user
        owner_id = selectors.parse_id(raw)
        if owner_id is None:
            raise ValidationError({"user": ["Must be a user id (a positive whole number)."]})
        if not can_list_threads_of(user=self.request.user, owner_id=owner_id):
            raise PermissionDenied("Listing another user's threads needs the threads.view_thread permission.")
        if owner_id == self.request.user.pk:
            return self.request.user
        owner = User.objects.filter(pk=owner_id).first()
        if owner is None:
            raise ValidationError({"user": [f"User {owner_id} does not exist."]})
        return owner

    def get_object(self):
        # Only a rendered thread needs last_message and unread_count.
        return selectors.thread_get_for_user(
            user=self.request.user, thread_id=self.kwargs[self.lookup_field], annotated=self.action == "retrieve"
        )

    @extend_schema(
        summary="Start a thread with another user, or get the one you already have",
        request=ThreadCreateSerializer,
        responses={
            201: OpenApiResponse(ThreadSerializer, description="Created."),
            200: OpenApiResponse(ThreadSerializer, description="The pair's thread already existed."),
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = ThreadCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        other = services.check_thread_participant_ids(
            user=request.user, participant_ids=serializer.validated_data["participants"]
        )
        thread, created = services.thread_get_or_create(user=request.user, other=other)
        thread = selectors.thread_get_for_user(user=request.user, thread_id=thread.pk, annotated=True)
        return Response(
            ThreadSerializer(thread).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def perform_destroy(self, instance):
        services.thread_delete(thread=instance)

    @extend_schema(
        summary="Mark everything the other participant sent here as read", request=None, responses=MarkedSerializer
    )
    @action(detail=True, methods=["post"])
    def mark_as_read(self, request, pk=None):
        thread = selectors.thread_get_for_user(user=request.user, thread_id=pk)
        marked = services.thread_mark_read(thread=thread, user=request.user)
        return Response(MarkedSerializer({"marked": marked}).data)

    @extend_schema(summary="Messages to the caller not yet read, in all threads", responses=UnreadCountSerializer)
    @action(detail=False, methods=["get"])
    def unread_count(self, request):
        count = selectors.unread_count_for_user(user=request.user)
        return Response(UnreadCountSerializer({"unread_count": count}).data)


@extend_schema_view(
    list=extend_schema(summary="A thread's messages: newest first, or by id cursor (after/before)"),
    retrieve=extend_schema(summary="One message"),
    partial_update=extend_schema(
        summary="Edit a message's text (its sender only)", request=MessageTextSerializer, responses=MessageSerializer
    ),
    destroy=extend_schema(summary="Delete a message (its sender only)"),
)
@extend_schema(parameters=[OpenApiParameter("thread_pk", int, OpenApiParameter.PATH, description="The thread's id.")])
class MessageViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A thread's messages, at /api/threads/<thread_pk>/messages/."""

    serializer_class = MessageSerializer
    pagination_class = MessagePagination
    lookup_value_regex = ID_PATTERN
    # PATCH edits the text; there is nothing else a PUT could replace.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_thread(self):
        """The thread in the URL, if the caller takes part in it; else 404."""
        if not hasattr(self, "_thread"):
            self._thread = selectors.thread_get_for_user(user=self.request.user, thread_id=self.kwargs["thread_pk"])
        return self._thread

    def get_queryset(self):
        return selectors.messages_for_thread(thread=self.get_thread())

    def get_paginated_count(self) -> int:
        """The list's total, from the thread's exact counter (see the pagination class)."""
        return self.get_thread().message_count

    def get_object(self):
        message = super().get_object()
        message.thread = self.get_thread()  # already loaded; saves a query in the permission checks
        return message

    # Actions with a rule that can answer 403 (documented in the schema).
    forbidding_actions = {"partial_update", "destroy", "mark_as_read"}

    def get_throttles(self):
        return throttles_for(MESSAGE_THROTTLES, self.action)

    def get_permissions(self):
        if self.action in {"partial_update", "destroy"}:
            return [IsAuthenticated(), IsMessageSender()]
        if self.action == "mark_as_read":
            return [IsAuthenticated(), IsMessageRecipient()]
        return [IsAuthenticated()]

    @extend_schema(
        summary="Send a message",
        request=MessageCreateSerializer,
        responses={
            201: OpenApiResponse(MessageSerializer, description="Sent."),
            200: OpenApiResponse(
                MessageSerializer, description="A retry: this client_id was sent before; the original message."
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        thread = self.get_thread()
        serializer = MessageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message, created = services.message_get_or_create(
            thread=thread,
            sender=request.user,
            text=serializer.validated_data["text"],
            client_id=serializer.validated_data.get("client_id"),
        )
        return Response(
            MessageSerializer(message).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def partial_update(self, request, *args, **kwargs):
        message = self.get_object()
        serializer = MessageTextSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_update(message=message, editor=request.user, text=serializer.validated_data["text"])
        return Response(MessageSerializer(message).data)

    def perform_destroy(self, instance):
        services.message_delete(message=instance, actor=self.request.user)

    @extend_schema(summary="Mark one message read (its recipient only)", request=None, responses=MessageSerializer)
    @action(detail=True, methods=["post"])
    def mark_as_read(self, request, *args, **kwargs):
        message = services.message_mark_read(message=self.get_object(), reader=request.user)
        return Response(MessageSerializer(message).data)


# SimpleJWT's token views, throttled per client address; the two that answer
# an empty object say so in the schema.
EMPTY_OBJECT = OpenApiResponse(OpenApiTypes.OBJECT, description="Done: an empty object.")


class TokenObtainPairView(jwt_views.TokenObtainPairView):
    throttle_classes = [TokenThrottle]


class TokenRefreshView(jwt_views.TokenRefreshView):
    throttle_classes = [TokenThrottle]

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except User.DoesNotExist:
            # SimpleJWT looks the token's user up without handling a deleted account.
            raise AuthenticationFailed("No active account found for this token.", code="no_active_account") from None


@extend_schema(responses={200: EMPTY_OBJECT})
class TokenVerifyView(jwt_views.TokenVerifyView):
    throttle_classes = [TokenThrottle]


@extend_schema(responses={200: EMPTY_OBJECT})
class TokenBlacklistView(jwt_views.TokenBlacklistView):
    throttle_classes = [TokenThrottle]


class PingView(APIView):
    """An authenticated no-op: checks the caller's token and nothing else.

    Clients use it to test a token; the benchmark uses it as its floor, the
    cost of the stack itself (JWT, DRF, JSON) with no chat work.
    """

    @extend_schema(summary="Check a token: an authenticated no-op", responses=PingSerializer)
    def get(self, request):
        return Response(PingSerializer({"user_id": request.user.pk}).data)


class HealthView(APIView):
    """For load balancers and orchestrators: 200 when this process can reach
    its database, 503 when it cannot; and whether Redis (rate-limit counts,
    events between processes) answers. Needs no token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        summary="Health check for load balancers (no token)",
        responses={
            200: OpenApiResponse(HealthSerializer, description="The database is reachable (Redis may not be)."),
            503: OpenApiResponse(HealthSerializer, description="The database is not reachable."),
        },
        auth=[],
    )
    def get(self, request):
        database, redis = "ok", "not_configured"
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception:
            # Whatever the failure (refused, timed out, pool exhausted), the
            # answer is the same: do not send traffic here.
            logger.exception("Health check: database unreachable")
            database = "unreachable"
        if settings.REDIS_URL:
            redis = "ok" if redis_answers() else "unreachable"
        status_ = "unavailable" if database != "ok" else "degraded" if redis == "unreachable" else "ok"
        return Response(
            HealthSerializer({"status": status_, "database": database, "redis": redis}).data,
            status=status.HTTP_503_SERVICE_UNAVAILABLE if database != "ok" else status.HTTP_200_OK,
        )


def redis_answers() -> bool:
    """Whether the cache's Redis (also the channel layer's) answers a PING."""
    from django.core.cache import cache

    try:
        return bool(cache._cache.get_client(write=True).ping())
    except Exception:
        logger.warning("Health check: Redis unreachable", exc_info=True)
        return False
