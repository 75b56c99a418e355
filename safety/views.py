"""HTTP only: blocking users, muting threads, reporting messages (issue 16).

Thread and message lookups go through the one access check
(`threads.selectors.thread_get_for_user`): a non-member gets the usual 404.
"""

from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from threads import selectors as thread_selectors
from threads.pagination import StrictLimitOffsetPagination
from threads.serializers import UserSummarySerializer
from threads.throttling import UserThrottle

from . import selectors, services
from .serializers import ReportCreateSerializer, ReportSerializer

User = get_user_model()

USER_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The user's id.")
THREAD_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The thread's id.")
DONE = OpenApiResponse(description="Done (also when it already was).")


class SafetyThrottle(UserThrottle):
    """Blocking and unblocking, muting and unmuting, reporting (CHAT_THROTTLE_SAFETY)."""

    scope = "safety"


class BlockViewSet(viewsets.GenericViewSet):
    """/api/users/<id>/block/ and /api/users/blocked/."""

    serializer_class = UserSummarySerializer
    pagination_class = StrictLimitOffsetPagination
    # POST on yourself: 400 (documented in the schema).
    refusing_actions = {"block"}

    def get_queryset(self):
        return selectors.blocked_users(user=self.request.user)

    def get_throttles(self):
        return [SafetyThrottle()] if self.action in {"block", "unblock"} else []

    def target(self, *, active_only: bool):
        user_id = thread_selectors.parse_id(self.kwargs["pk"])
        users = User.objects.filter(is_active=True) if active_only else User.objects.all()
        user = users.filter(pk=user_id).only("pk").first() if user_id is not None else None
        if user is None:
            raise Http404("No user with this id.")
        return user

    @extend_schema(
        summary="The users the caller blocks, most recently blocked first",
        responses=UserSummarySerializer(many=True),
    )
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(UserSummarySerializer(page, many=True).data)

    @extend_schema(
        summary="Block a user (idempotent)",
        description=(
            "They can no longer start a direct thread with the caller, send in their direct thread, or add the "
            "caller to a group (403, \"You can't message this user\"). The caller gets no events and no unread "
            "counts from their messages, and what they send from now on in shared groups is hidden from the "
            "caller. They are not told. Blocking yourself is a 400."
        ),
        request=None,
        responses={204: DONE},
        parameters=[USER_ID],
    )
    def block(self, request, pk=None):
        services.block_user(blocker=request.user, blocked=self.target(active_only=True))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Unblock a user (idempotent)",
        description="What they sent in shared groups while blocked shows again, and counts as unread if it is.",
        request=None,
        responses={204: DONE},
        parameters=[USER_ID],
    )
    def unblock(self, request, pk=None):
        services.unblock_user(blocker=request.user, blocked=self.target(active_only=False))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MuteViewSet(viewsets.ViewSet):
    """/api/threads/<id>/mute/ and /unmute/. A plain ViewSet: with no body
    and no serializer, OPTIONS has no form to describe (a GenericViewSet's
    would ask for a serializer and fail)."""

    throttle_classes = [SafetyThrottle]

    def mute_to(self, request, pk, muted: bool) -> Response:
        thread = thread_selectors.thread_get_for_user(user=request.user, thread_id=pk)
        services.thread_set_muted(thread=thread, user=request.user, muted=muted)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Mute a thread for the caller (any member; idempotent)",
        description=(
            "Its unread messages still count in its own unread_count, but not in the caller's total "
            "(GET /api/threads/unread_count/ and the totals of unread_count events)."
        ),
        request=None,
        responses={204: DONE},
        parameters=[THREAD_ID],
    )
    def mute(self, request, pk=None):
        return self.mute_to(request, pk, True)

    @extend_schema(
        summary="Unmute a thread for the caller (idempotent)", request=None, responses={204: DONE},
        parameters=[THREAD_ID],
    )
    def unmute(self, request, pk=None):
        return self.mute_to(request, pk, False)


class ReportViewSet(viewsets.GenericViewSet):
    """/api/threads/<thread_pk>/messages/<id>/report/."""

    serializer_class = ReportSerializer
    throttle_classes = [SafetyThrottle]
    # The sender reporting their own message: 403.
    forbidding_actions = {"create"}

    @extend_schema(
        summary="Report a message to staff (any member but its sender)",
        description=(
            "One open report per reporter per message: reporting it again answers 200 with the open one. The "
            "report keeps a copy of the text as it is now."
        ),
        request=ReportCreateSerializer,
        responses={
            201: OpenApiResponse(ReportSerializer, description="Reported."),
            200: OpenApiResponse(ReportSerializer, description="The caller's open report of it, already there."),
        },
        parameters=[
            OpenApiParameter("thread_pk", int, OpenApiParameter.PATH, description="The thread's id."),
            OpenApiParameter("id", int, OpenApiParameter.PATH, description="The message's id."),
        ],
    )
    def create(self, request, thread_pk=None, pk=None):
        thread = thread_selectors.thread_get_for_user(user=request.user, thread_id=thread_pk)
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message_id = thread_selectors.parse_id(pk)
        message = (
            thread_selectors.messages_for_thread(thread=thread, viewer=request.user)
            .filter(pk=message_id)
            .only("thread", "sender", "text")
            .first()
        )
        if message is None:
            raise Http404("No message with this id.")
        report, created = services.message_report(
            message=message, reporter=request.user, reason=serializer.validated_data["reason"],
            note=serializer.validated_data.get("note", ""),
        )
        return Response(
            ReportSerializer(report).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
