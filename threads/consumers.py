"""The WebSocket at /ws/: one user's live feed of events (threads/events.py).

Protocol (README, "Real-time events"): the client's first frame must be
`{"type": "auth", "token": "<JWT access token>"}`. Browsers cannot set headers
on a WebSocket and query strings end up in access logs, so the token travels
in a frame. Until it is accepted nothing is delivered; a bad, expired or
missing (AUTH_TIMEOUT) token closes the socket with code 4401. The socket also
closes with 4401 when the token expires: the client reconnects with a fresh
one and catches up with `GET .../messages/?after=<last id>`. And at once, on
every server process, when the user is deactivated, changes password or logs
out everywhere (events.user_sessions_ended).

Browsers on this site (the web client at /) may instead authenticate with
Django's session cookie: when the handshake carries a logged-in session and an
Origin header naming this same host, the socket is authenticated at once and
`auth.ok` is its first frame. A cookie is sent whichever page opens the socket,
so the Origin check is what keeps another site's page from using it; without a
matching Origin the session is ignored and the first-frame token is required
as before. Token authentication does not look at the Origin: a token is no
ambient credential. Logging out (DELETE /api/session/) closes the session's
sockets with 4401, in every tab; so does anything that ends the user's
sessions, and a session from before a log-out everywhere is refused (4401).
"""

import asyncio
import json
import time
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tokens import token_still_valid
from safety.selectors import typing_audience
from webclient.auth import session_group, session_still_valid

from . import events, presence
from .rendering import render_user_summary
from .selectors import parse_id

UNAUTHORIZED = 4401  # 4000-4999: application codes; 401 as in HTTP
NOT_FOUND = 4404
TYPING_PER_SECOND = 5


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.user = None
        self.last_typing: dict[int, float] = {}  # thread id -> monotonic time of the last one sent on
        self.typing_times: list[float] = []  # the last second's typing notices, over all threads
        self.timers: list[asyncio.Task] = []
        self.session_group = None
        await self.accept()
        session_user = self.session_user()
        if session_user is not None:
            await self.authenticate_session(session_user)
        else:
            self.timers.append(asyncio.create_task(self.close_after(settings.CHAT_WS_AUTH_TIMEOUT)))

    async def authenticate_session(self, user) -> None:
        """Into the session's and the user's groups before the session is checked, as
        for a token: a logout or a log-out everywhere sent meanwhile still closes it."""
        self.session_group = session_group(self.scope["session"].session_key)
        await self.channel_layer.group_add(self.session_group, self.channel_name)
        await self.channel_layer.group_add(events.user_group(user.pk), self.channel_name)
        if await database_sync_to_async(session_still_valid)(self.scope["session"], user):
            await self.start(user, expires_at=None)
            return
        await self.channel_layer.group_discard(events.user_group(user.pk), self.channel_name)
        await self.close(code=UNAUTHORIZED)  # logged in before a log-out everywhere

    def session_user(self):
        """The session cookie's active user (channels' AuthMiddleware, chat_project/asgi.py),
        if the page that opened the socket is on this host; else None."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        headers = dict(self.scope.get("headers", []))
        origin, host = headers.get(b"origin", b"").decode("latin1"), headers.get(b"host", b"").decode("latin1")
        if not host or urlsplit(origin).netloc.lower() != host.lower():
            return None
        return user

    async def disconnect(self, code):
        for timer in self.timers:
            timer.cancel()
        if self.user is not None:
            await self.channel_layer.group_discard(events.user_group(self.user.pk), self.channel_name)
            await presence.get().socket_closed(self.user.pk, self.channel_name)
        if self.session_group is not None:
            await self.channel_layer.group_discard(self.session_group, self.channel_name)

    async def close_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.close(code=UNAUTHORIZED)

    # Frames from the client.

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = json.loads(text_data) if text_data is not None else None
        except (ValueError, RecursionError):  # malformed, or nested too deeply
            content = None
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.refuse('Send JSON objects with a "type", as text frames.')
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        kind = content["type"]
        if self.user is None:
            if kind == "auth":
                await self.authenticate(content.get("token"))
            else:
                await self.close(code=UNAUTHORIZED)
        elif kind == "typing":
            await self.typing(content.get("thread"))
        elif kind == "auth":
            await self.send_error("Already authenticated.")
        else:
            await self.send_error(f"Unknown type {kind[:50]!r}; a client sends only auth and typing.")

    async def refuse(self, detail: str) -> None:
        """Bad frame: before authentication it ends the connection; after it, an error event."""
        if self.user is None:
            await self.close(code=UNAUTHORIZED)
        else:
            await self.send_error(detail)

    async def send_error(self, detail: str) -> None:
        await self.send_json({"type": "error", "detail": detail})

    async def authenticate(self, raw_token) -> None:
        user = token = None
        if isinstance(raw_token, str) and len(raw_token) < 4096:
            try:
                token = AccessToken(raw_token)
            except (TokenError, ValueError):  # ValueError: e.g. text that is not valid UTF-8
                token = None
        user_id = parse_id(token.get(jwt_settings.USER_ID_CLAIM)) if token is not None else None
        if user_id is not None:
            # Into the user's group before the account is checked: a session.end
            # sent meanwhile (a password change, a log-out everywhere) still closes this socket.
            await self.channel_layer.group_add(events.user_group(user_id), self.channel_name)
            user = await self.active_user(user_id)
            if user is not None and not await database_sync_to_async(token_still_valid)(token, user):
                user = None  # issued before a password change or a log-out everywhere
            if user is None:
                await self.channel_layer.group_discard(events.user_group(user_id), self.channel_name)
        if user is None:
            await self.close(code=UNAUTHORIZED)
            return
        await self.start(user, expires_at=token["exp"])

    async def start(self, user, expires_at: float | None) -> None:
        """Authenticated: deliver the user's events; close when the token expires
        (a session socket closes when the session or the user's sessions end: `session_end`)."""
        self.user = user
        for timer in self.timers:
            timer.cancel()
        self.timers = []
        if expires_at is not None:
            self.timers.append(asyncio.create_task(self.close_after(max(0.0, expires_at - time.time()))))
        # Already there for a token (see authenticate); a no-op then.
        await self.channel_layer.group_add(events.user_group(user.pk), self.channel_name)
        await self.send_json({"type": "auth.ok", "user": render_user_summary(user)})
        await presence.get().socket_opened(user.pk, self.channel_name)  # online while this socket is open

    @database_sync_to_async
    def active_user(self, user_id):
        user_id = parse_id(user_id)
        if user_id is None:
            return None
        return get_user_model().objects.filter(pk=user_id, is_active=True).first()

    async def typing(self, raw_thread_id) -> None:
        """Tell the other members; silently nothing for a thread the user is
        not in (as if it did not exist), or sooner than CHAT_TYPING_INTERVAL
        after the last notice for that thread."""
        thread_id = parse_id(raw_thread_id) if isinstance(raw_thread_id, int) else None
        if thread_id is None:
            await self.send_error('"thread" must be a thread id.')
            return
        now = time.monotonic()
        if now - self.last_typing.get(thread_id, float("-inf")) < settings.CHAT_TYPING_INTERVAL:
            return
        # And at most TYPING_PER_SECOND notices a second over all threads, so
        # that cycling through thread ids cannot turn the limit into a flood
        # of lookups (the per-thread memory is bounded the same way).
        self.typing_times = [t for t in self.typing_times if now - t < 1.0]
        if len(self.typing_times) >= TYPING_PER_SECOND:
            return
        self.typing_times.append(now)
        if len(self.last_typing) >= 1000:
            self.last_typing.clear()
        self.last_typing[thread_id] = now
        # Looked up each time (at most one a thread every interval): members
        # come and go, and a removed member must stop reaching the others.
        notice = {"type": "chat.events", "events": [events.typing(thread_id=thread_id, user=self.user)]}
        await sync_to_async(presence.annotate, thread_sensitive=False)(notice)
        for other in await self.other_members(thread_id):
            await self.channel_layer.group_send(events.user_group(other), notice)

    @database_sync_to_async
    def other_members(self, thread_id: int) -> list[int]:
        """The other members of the thread, or none if the user is not a member."""
        # safety: less those who block the user (safety.selectors, one query).
        return typing_audience(thread_id=thread_id, user_id=self.user.pk)

    # Events from the channel layer (threads/events.py).

    async def session_end(self, message):
        """The user was deactivated, changed password or logged out everywhere (events.user_sessions_ended),
        or, sent to its session's group, the web client's session logged out (webclient.views.SessionView)."""
        await self.close(code=UNAUTHORIZED)

    async def chat_events(self, message):
        for event in message["events"]:
            await self.send_json(event)



class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Any other WebSocket path: accept, then close with 4404."""

    async def connect(self):
        await self.accept()
        await self.close(code=NOT_FOUND)
