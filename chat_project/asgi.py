"""The ASGI application: HTTP (Django, the REST API and the admin) and the
WebSocket at /ws/ (Channels), served together by uvicorn."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

# Set Django up before importing anything that touches models.
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from threads.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        # The session cookie's user in scope["user"], for the web client (threads/consumers.py).
        "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
    }
)
