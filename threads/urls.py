from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework_nested import routers

from .exceptions import api_not_found
from .views import (
    HealthView,
    MembershipViewSet,
    MessageViewSet,
    PingView,
    ReaderViewSet,
    ThreadViewSet,
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
    UserViewSet,
)

router = routers.SimpleRouter()
router.register("users", UserViewSet, basename="user")
router.register("threads", ThreadViewSet, basename="thread")

thread_router = routers.NestedSimpleRouter(router, "threads", lookup="thread")
thread_router.register("messages", MessageViewSet, basename="thread-message")
thread_router.register("members", MembershipViewSet, basename="thread-member")
message_router = routers.NestedSimpleRouter(thread_router, "messages", lookup="message")
message_router.register("readers", ReaderViewSet, basename="message-reader")

urlpatterns = [
    path("token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("token/verify/", TokenVerifyView.as_view(), name="token_verify"),
    path("token/blacklist/", TokenBlacklistView.as_view(), name="token_blacklist"),
    path("schema/", SpectacularJSONAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("health/", HealthView.as_view(), name="health"),
    path("ping/", PingView.as_view(), name="ping"),
    path("", include("safety.urls")),  # block, mute, report (issue 16)
    path("", include(router.urls)),
    path("", include(thread_router.urls)),
    path("", include(message_router.urls)),
    # Last: whatever is left under /api/ is a JSON 404, also with DEBUG on.
    re_path(r"^.*$", api_not_found),
]
