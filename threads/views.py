"""HTTP only: parse the request, call a selector or a service, render.

Thread access is checked in one place, `selectors.thread_get_for_user`, which
every thread and message view calls before touching anything in a thread;
except sending and marking a thread read, whose services check membership
in the statement that locks the thread (`selectors.thread_for_write` only
parses the id), with the same 404.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.handlers.asgi import ASGIRequest
from django.db import IntegrityError, connection, transaction
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from accounts.services import change_password, delete_account, log_out_everywhere

from . import exports, presence, selectors, services
from .filters import BoundedSearchFilter
from .models import Thread
from .pagination import MessagePagination, StrictLimitOffsetPagination, ThreadPagination
from .permissions import IsMessageSender, can_list_threads_of
from .serializers import (
    AccountDeleteSerializer,
    AccountExportSerializer,
    AccountUpdateSerializer,
    HealthSerializer,
    MarkedSerializer,
    MarkReadByIdsSerializer,
    MemberAddSerializer,
    MemberRoleSerializer,
    MembershipSerializer,
    MessageBatchSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    MessageTextSerializer,
    PasswordChangeSerializer,
    PingSerializer,
    ReaderSerializer,
    ThreadCreateSerializer,
    ThreadSerializer,
    ThreadUpdateSerializer,
    UnreadCountSerializer,
    UserRegistrationSerializer,
    UserSerializer,
    UserSummarySerializer,
)
from .throttling import (
    MEMBER_THROTTLES,
    MESSAGE_THROTTLES,
    THREAD_THROTTLES,
    RegistrationThrottle,
    TokenThrottle,
    throttles_for,
)

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
    list=extend_schema(
        summary="Find people to talk to (active users, by username or display name)",
        description=(
            "`search` matches the username, first name or last name, case-insensitively; with several words, "
            "each must match. Deactivated accounts are never listed. `online=true` lists only the caller's "
            "contacts (people who share a thread with them) who are online."
        ),
        parameters=[
            OpenApiParameter(
                "online",
                {"type": "string", "enum": ["true"]},
                description="`true`: only the caller's contacts who are online now.",
            )
        ],
    ),
    retrieve=extend_schema(summary="One user"),
)
class UserViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Register (`POST`, no token needed), find people to talk to, and `me`."""

    lookup_value_regex = ID_PATTERN
    filter_backends = [BoundedSearchFilter]
    # Each search term is a word (the filter splits on spaces), so matching a
    # display name ("first last", or the username) is matching one of these.
    search_fields = ["username", "first_name", "last_name"]

    def get_queryset(self):
        users = User.objects.filter(is_active=True).order_by("username", "id")
        if self.action == "list" and "online" in self.request.query_params:
            if self.request.query_params["online"] != "true":
                raise ValidationError({"online": ['The only value is "true".']})
            # One query for the contacts, one presence lookup for all of them.
            contacts = selectors.contact_ids(user_id=self.request.user.pk)
            users = users.filter(pk__in=presence.users_online(contacts))
        return users

    def get_permissions(self):
        if self.action == "create":
            return [AllowAny()]
        return [IsAuthenticated()]

    # DELETE /me/ reads a body: the schema documents it (threads.schema).
    deleting_with_body_actions = {"delete_me"}

    def get_throttles(self):
        if self.action == "create":
            return [RegistrationThrottle()]
        if self.action in {"change_password", "delete_me"}:
            return [TokenThrottle()]  # both check a password: guessing it is throttled as at /api/token/
        return []

    def get_serializer_class(self):
        if self.action == "create":
            return UserRegistrationSerializer
        if self.action in {"me", "update_me"}:
            return UserSerializer
        return UserSummarySerializer

    def perform_create(self, serializer):
        try:
            with transaction.atomic():
                serializer.save()
        except IntegrityError:
            # Two registrations of one name at once: the serializer's check passed for both.
            raise ValidationError({"username": ["A user with that username already exists."]}) from None

    @extend_schema(summary="The caller's own account", responses=UserSerializer)
    @action(detail=False, methods=["get"])
    def me(self, request):
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        summary="Change the caller's email, first or last name (not the username)",
        description="`display_name`, as others see the caller, follows the first and last name.",
        request=AccountUpdateSerializer,
        responses=UserSerializer,
    )
    @me.mapping.patch
    def update_me(self, request):
        serializer = AccountUpdateSerializer(request.user, data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        summary="Delete the caller's account",
        description=(
            "Confirmed with the caller's password. The account is deactivated for good: it cannot log in, every "
            "token stops working at once and every open WebSocket closes with 4401; its username becomes "
            "`deleted-<id>` and its email and names are cleared. Its threads and messages stay for the people it "
            "talked to, who see it as `deleted-<id>`; nobody can start a thread with it or add it to a group. "
            "Throttled per client address like /api/token/."
        ),
        request=AccountDeleteSerializer,
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    @me.mapping.delete
    def delete_me(self, request):
        serializer = AccountDeleteSerializer(data=request.data, context={"user": request.user})
        serializer.is_valid(raise_exception=True)
        delete_account(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Download the caller's own data as one JSON document",
        description=(
            "The account, every thread the caller is a member of (kind, title, all participants, the caller's "
            "role and read state there: unread_count, last_read_message) and every message the caller sent. "
            "Streamed (Content-Disposition: attachment): the server never holds all the messages at once."
        ),
        responses={200: OpenApiResponse(AccountExportSerializer, description="The document, streamed.")},
    )
    @action(detail=False, methods=["get"], url_path="me/export", url_name="export")
    def export(self, request):
        chunks = exports.export_chunks(request.user)
        if isinstance(request._request, ASGIRequest):
            chunks = exports.export_chunks_async(chunks)  # else Django reads a sync iterator whole first
        response = StreamingHttpResponse(chunks, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="chat-export-{request.user.pk}.json"'
        return response

    @extend_schema(
        summary="Change the caller's password",
        description=(
            "Django's password validators apply to the new one. Every session of the caller ends: all refresh "
            "tokens are blacklisted (other devices are logged out), access tokens issued until now stop working, "
            "and open WebSockets close with 4401. Log in again with the new password. "
            "Throttled per client address like /api/token/."
        ),
        request=PasswordChangeSerializer,
        responses={204: OpenApiResponse(description="Changed.")},
    )
    @action(detail=False, methods=["post"], url_path="me/password", url_name="change-password")
    def change_password(self, request):
        serializer = PasswordChangeSerializer(data=request.data, context={"user": request.user})
        serializer.is_valid(raise_exception=True)
        change_password(request.user, serializer.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)

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
    partial_update=extend_schema(
        summary="Rename a group (its owner and admins)", request=ThreadUpdateSerializer, responses=ThreadSerializer
    ),
    destroy=extend_schema(
        summary="Delete a thread and all its messages (direct: either participant; group: its owner)"
    ),
)
class ThreadViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = ThreadSerializer
    pagination_class = ThreadPagination
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    # ?user= names another user: threads.view_thread only; renaming and
    # deleting have rules (documented in the schema).
    forbidding_actions = {"list", "partial_update", "destroy"}

    def get_queryset(self):
        return selectors.threads_for_user(user=self.list_owner())

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        selectors.load_member_previews(page)
        return page

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
        # Only a rendered thread needs last_message, unread_count and members.
        return selectors.thread_get_for_user(
            user=self.request.user, thread_id=self.kwargs[self.lookup_field], annotated=self.action == "retrieve"
        )

    def rendered(self, thread, status_code=status.HTTP_200_OK) -> Response:
        thread = selectors.thread_get_for_user(user=self.request.user, thread_id=thread.pk, annotated=True)
        return Response(ThreadSerializer(thread).data, status=status_code)

    @extend_schema(
        summary="Start a direct thread (or get the pair's existing one), or create a group",
        request=ThreadCreateSerializer,
        responses={
            201: OpenApiResponse(ThreadSerializer, description="Created."),
            200: OpenApiResponse(ThreadSerializer, description="The pair's direct thread already existed."),
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = ThreadCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        participant_ids = services.check_participant_references(data["participants"])
        if data["kind"] == Thread.Kind.GROUP:
            members = services.check_group_member_ids(owner=request.user, member_ids=participant_ids)
            thread = services.group_create(owner=request.user, title=data.get("title", ""), members=members)
            return self.rendered(thread, status.HTTP_201_CREATED)
        if "title" in data:
            raise ValidationError({"title": ['A direct thread has no title; create a group ("kind": "group").']})
        other = services.check_thread_participant_ids(user=request.user, participant_ids=participant_ids)
        thread, created = services.thread_get_or_create(user=request.user, other=other)
        return self.rendered(thread, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def partial_update(self, request, *args, **kwargs):
        thread = self.get_object()
        serializer = ThreadUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.group_rename(thread=thread, actor=request.user, title=serializer.validated_data["title"])
        return self.rendered(thread)

    def perform_destroy(self, instance):
        services.thread_delete(thread=instance, actor=self.request.user)

    @extend_schema(
        summary="Mark messages others sent here read for the caller: all of them, or those listed",
        description=(
            "Without a body (or with an empty object), everything others sent is marked read. With "
            "`message_ids`, exactly those messages: in a group, the caller's read position moves to the "
            "newest of them. An id that is not a message others sent in this thread is a 400 listing it, "
            "and nothing is marked."
        ),
        request=MarkReadByIdsSerializer,
        responses=MarkedSerializer,
    )
    @action(detail=True, methods=["post"])
    def mark_as_read(self, request, pk=None):
        thread = selectors.thread_for_write(thread_id=pk)  # the service checks membership
        serializer = MarkReadByIdsSerializer(data=request.data)  # no body: {}; JSON null: a 400
        serializer.is_valid(raise_exception=True)
        if "message_ids" in serializer.validated_data:
            marked = services.messages_mark_read_by_ids(
                thread=thread, reader=request.user, message_ids=serializer.validated_data["message_ids"]
            )
        else:
            marked = services.thread_mark_read(thread=thread, user=request.user)
        return Response(MarkedSerializer({"marked": marked}).data)

    @extend_schema(summary="Messages to the caller not yet read, in all threads", responses=UnreadCountSerializer)
    @action(detail=False, methods=["get"])
    def unread_count(self, request):
        count = selectors.unread_count_for_user(user=request.user)
        return Response(UnreadCountSerializer({"unread_count": count}).data)


class ThreadScopedMixin:
    """For views nested under /api/threads/<thread_pk>/: the thread in the
    URL, if the caller is a member; else 404 (the one access check)."""

    def get_thread(self):
        if not hasattr(self, "_thread"):
            self._thread = selectors.thread_get_for_user(user=self.request.user, thread_id=self.kwargs["thread_pk"])
        return self._thread


# A send answers what it was given: one message, or a batch's list.
MESSAGE_OR_LIST = PolymorphicProxySerializer(
    component_name="MessageSent",
    serializers=[MessageSerializer, MessageSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)
THREAD_PK = OpenApiParameter("thread_pk", int, OpenApiParameter.PATH, description="The thread's id.")


@extend_schema_view(
    list=extend_schema(summary="A thread's messages: newest first, or by id cursor (after/before)"),
    retrieve=extend_schema(summary="One message"),
    destroy=extend_schema(summary="Delete a message (its sender; in a group also the owner and admins)"),
)
@extend_schema(parameters=[THREAD_PK])
class MessageViewSet(
    ThreadScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A thread's messages, at /api/threads/<thread_pk>/messages/."""

    serializer_class = MessageSerializer
    pagination_class = MessagePagination
    lookup_value_regex = ID_PATTERN
    # PATCH edits the text; there is nothing else a PUT could replace.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.messages_for_thread(thread=self.get_thread(), viewer=self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.get_thread().is_group:
            # A group message's read state comes from every member's position: one query per request.
            context["read_positions"] = selectors.read_positions(thread_id=self.get_thread().pk)
        return context

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
        if self.action == "partial_update":
            return [IsAuthenticated(), IsMessageSender()]
        return [IsAuthenticated()]

    @extend_schema(
        summary="Send a message, or several at once",
        description=(
            "One message: `{\"text\", \"client_id\"?}` answers the message. Several (a client's offline "
            "queue): `{\"messages\": [{\"text\", \"client_id\"?}, ...]}` stores them in order, all or none "
            "(a bad item is a 400 naming its index), and answers the list. A client_id sent before is "
            "answered with the original message and not stored again. 201 when anything was stored, 200 "
            "when everything was a retry. Each message counts against the send rate limit."
        ),
        request=PolymorphicProxySerializer(
            component_name="MessageSend",
            serializers=[MessageCreateSerializer, MessageBatchSerializer],
            resource_type_field_name=None,
        ),
        responses={
            (201, "application/json"): OpenApiResponse(
                MESSAGE_OR_LIST, description="Stored: the message, or for a batch the list in order."
            ),
            (200, "application/json"): OpenApiResponse(
                MESSAGE_OR_LIST,
                description="Every message was a retry (its client_id was sent before): the originals.",
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        batch = isinstance(request.data, dict) and "messages" in request.data
        if batch and "text" in request.data:
            raise ValidationError({"messages": ['Send either "text" (one message) or "messages" (several), not both.']})
        serializer = (MessageBatchSerializer if batch else MessageCreateSerializer)(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["messages"] if batch else [serializer.validated_data]
        # The send checks membership in the statement that locks the thread.
        thread = selectors.thread_for_write(thread_id=self.kwargs["thread_pk"])
        sent = services.messages_get_or_create(
            thread=thread, sender=request.user, items=[(item["text"], item.get("client_id")) for item in items]
        )
        positions = None
        if thread.is_group:
            # From the send's own RETURNING; a batch of retries only reads them.
            positions = sent.positions or selectors.read_positions(thread_id=thread.pk)
        rendered = MessageSerializer(sent.messages, many=True, context={"read_positions": positions}).data
        return Response(
            rendered if batch else rendered[0],
            status=status.HTTP_201_CREATED if any(sent.created) else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Edit a message's text (its sender only)", request=MessageTextSerializer, responses=MessageSerializer
    )
    def partial_update(self, request, *args, **kwargs):
        message = self.get_object()
        serializer = MessageTextSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_update(message=message, editor=request.user, text=serializer.validated_data["text"])
        return Response(self.get_serializer(message).data)

    def perform_destroy(self, instance):
        services.message_delete(message=instance, actor=self.request.user)

    @extend_schema(
        summary="Mark one message read (any member but its sender)", request=None, responses=MessageSerializer
    )
    @action(detail=True, methods=["post"])
    def mark_as_read(self, request, *args, **kwargs):
        message = services.message_mark_read(message=self.get_object(), reader=request.user)
        return Response(self.get_serializer(message).data)


@extend_schema_view(list=extend_schema(summary="Who has read a message (members other than its sender)"))
@extend_schema(
    parameters=[THREAD_PK, OpenApiParameter("message_pk", int, OpenApiParameter.PATH, description="The message's id.")]
)
class ReaderViewSet(ThreadScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """At /api/threads/<thread_pk>/messages/<message_pk>/readers/."""

    serializer_class = ReaderSerializer
    pagination_class = StrictLimitOffsetPagination

    def get_queryset(self):
        message_id = selectors.parse_id(self.kwargs["message_pk"])
        message = (
            selectors.messages_for_thread(thread=self.get_thread(), viewer=self.request.user)
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            raise Http404("No message with this id.")
        message.thread = self.get_thread()
        return selectors.readers_of_message(message=message)


MEMBER_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The member's user id.")


@extend_schema_view(
    list=extend_schema(summary="A thread's members, by joining order"),
    partial_update=extend_schema(
        summary="Change a member's role (the group's owner); owner hands the group over",
        request=MemberRoleSerializer,
        responses=MembershipSerializer,
        parameters=[MEMBER_ID],
    ),
    destroy=extend_schema(
        summary="Leave a group, or remove a member (owner: anyone; admin: members)", parameters=[MEMBER_ID]
    ),
)
@extend_schema(parameters=[THREAD_PK])
class MembershipViewSet(ThreadScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A thread's members, at /api/threads/<thread_pk>/members/<user id>/."""

    serializer_class = MembershipSerializer
    pagination_class = StrictLimitOffsetPagination
    lookup_value_regex = ID_PATTERN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    forbidding_actions = {"create", "partial_update", "destroy"}
    # Bodiless actions that still answer 400 (a direct thread's members never change).
    refusing_actions = {"destroy"}

    def get_queryset(self):
        return selectors.memberships_of_thread(thread=self.get_thread())

    def get_throttles(self):
        return throttles_for(MEMBER_THROTTLES, self.action)

    def get_paginated_count(self) -> int:
        return self.get_thread().member_count

    def target_id(self) -> int:
        user_id = selectors.parse_id(self.kwargs["pk"])
        if user_id is None:
            raise Http404("No member with this id.")
        return user_id

    @extend_schema(
        summary="Add a member to a group (its owner and admins)",
        request=MemberAddSerializer,
        responses={201: MembershipSerializer},
    )
    def create(self, request, *args, **kwargs):
        thread = self.get_thread()
        serializer = MemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.member_add(thread=thread, actor=request.user, user_id=serializer.validated_data["user"])
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        thread = self.get_thread()
        serializer = MemberRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.member_set_role(
            thread=thread, actor=request.user, user_id=self.target_id(), role=serializer.validated_data["role"]
        )
        return Response(MembershipSerializer(membership).data)

    def destroy(self, request, *args, **kwargs):
        services.member_remove(thread=self.get_thread(), actor=request.user, user_id=self.target_id())
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        # PingSerializer documents the answer; building one per request would
        # cost more than the rest of the view (the floor of the benchmark).
        return Response({"user_id": request.user.pk})


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
