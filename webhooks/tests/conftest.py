import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from threads.tests.conftest import (  # noqa: F401  (the shared user and client fixtures)
    alice,
    bob,
    carol,
    client_for,
    make_user,
    staff,
    thread,
)
from webhooks import endpoints
from webhooks.models import EVENT_TYPES, WebhookEndpoint


@pytest.fixture(autouse=True)
def fresh_endpoint_snapshot():
    """Each test starts from its own database's endpoints, and leaves the
    process as if no endpoint existed (the test's rows are rolled back)."""
    cache.delete(endpoints.VERSION_KEY)
    endpoints.reset()
    yield
    cache.delete(endpoints.VERSION_KEY)
    endpoints.reset(())


class Receiver:
    """A real HTTP server on loopback that records every request and answers
    with the next status of `statuses` (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.hold: threading.Event | None = None  # set: the next request waits for it
        self.received = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with receiver.received:
                    receiver.requests.append({"headers": dict(self.headers.items()), "body": body,
                                              "path": self.path})
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    hold, receiver.hold = receiver.hold, None
                    receiver.received.notify_all()
                if hold is not None:
                    hold.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/chat?source=test"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 30) -> None:
        with self.received:
            assert self.received.wait_for(lambda: len(self.requests) >= count, timeout), self.requests

    def payloads(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def insecure(settings):
    """http:// and loopback allowed, as in development: the receiver is on 127.0.0.1."""
    settings.CHAT_WEBHOOK_ALLOW_INSECURE = True
    return settings


@pytest.fixture
def make_endpoint(db, insecure):
    def make(url: str, **fields) -> WebhookEndpoint:
        endpoint = WebhookEndpoint(url=url, **fields)
        endpoint.full_clean()
        endpoint.save()
        return endpoint

    return make


# Every event type but the offline recipients' (test_offline.py), whose
# presence look-up would add one delivery per recipient to every send.
ONLINE_TYPES = [event_type for event_type in EVENT_TYPES if event_type != "message.created.offline"]


@pytest.fixture
def endpoint(make_endpoint, receiver):
    return make_endpoint(receiver.url, event_types=ONLINE_TYPES)
