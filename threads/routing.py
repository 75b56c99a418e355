from django.urls import path, re_path

from .consumers import ChatConsumer, NotFoundConsumer

websocket_urlpatterns = [
    path("ws/", ChatConsumer.as_asgi()),
    re_path(r"", NotFoundConsumer.as_asgi()),
]
