from django.urls import path
from rest_framework_simplejwt.views import TokenObtainPairView

from . import views

urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view()),
    path("api/ping/", views.PingView.as_view()),
    path("api/threads/", views.ThreadList.as_view()),
    path("api/threads/unread_count/", views.UnreadCount.as_view()),
    path("api/threads/<int:pk>/messages/", views.MessageList.as_view()),
    path("api/threads/<int:pk>/mark_as_read/", views.MarkRead.as_view()),
]
