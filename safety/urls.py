"""Included by threads/urls.py under /api/, before the routers."""

from django.urls import path, re_path

from threads.views import ID_PATTERN

from .views import BlockViewSet, MuteViewSet, ReportViewSet

urlpatterns = [
    path("users/blocked/", BlockViewSet.as_view({"get": "list"}), name="user-blocked"),
    re_path(
        rf"^users/(?P<pk>{ID_PATTERN})/block/$",
        BlockViewSet.as_view({"post": "block", "delete": "unblock"}),
        name="user-block",
    ),
    re_path(rf"^threads/(?P<pk>{ID_PATTERN})/mute/$", MuteViewSet.as_view({"post": "mute"}), name="thread-mute"),
    re_path(
        rf"^threads/(?P<pk>{ID_PATTERN})/unmute/$", MuteViewSet.as_view({"post": "unmute"}), name="thread-unmute"
    ),
    re_path(
        rf"^threads/(?P<thread_pk>{ID_PATTERN})/messages/(?P<pk>{ID_PATTERN})/report/$",
        ReportViewSet.as_view({"post": "create"}),
        name="message-report",
    ),
]
