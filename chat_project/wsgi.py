"""The WSGI application: HTTP (the REST API, the admin, the web client's
pages), served in production by gunicorn's sync workers (scripts/serve-http.sh),
with the WebSocket at /ws/ on uvicorn (chat_project/asgi.py) behind the same
proxy. README, "Production", says why: measured in docs/benchmarks.md."""

import os

# Read by the settings: one thread per worker process, so a SQLite connection
# can be kept from one request to the next (under ASGI it cannot).
os.environ.setdefault("CHAT_SERVER_INTERFACE", "wsgi")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

from django.core.wsgi import get_wsgi_application

from chat_project.proxy import TrustedProxyMiddleware

application = TrustedProxyMiddleware(get_wsgi_application())
