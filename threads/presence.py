"""Presence: who is online, since when they are not, and telling their contacts.

A user is online while at least one of their authenticated WebSockets is open
(`consumers.ChatConsumer` calls `socket_opened` / `socket_closed`), on any
server process. The state lives in a store shared by every process: Redis when
`REDIS_URL` is set, else this process's memory (one server process).

**Entries with an expiry, refreshed by a heartbeat.** Each open socket is an
entry `(user, socket) -> expires`, with `expires = now + CHAT_PRESENCE_TTL`
(45 s). Every process refreshes the entries of its own open sockets every
`CHAT_PRESENCE_HEARTBEAT` seconds (15 s; an asyncio task that runs while the
process has sockets). A user is online while one of their entries has not
expired. A process that dies without closing its sockets stops refreshing
them, so its users count as offline at most TTL seconds after its last
heartbeat, with no cleanup needed for reads to be right. The heartbeat of any
live process also sweeps: users whose entries all expired are recorded as
last seen at their last heartbeat and announced offline to their contacts.

**last_seen** lives in the store beside the entries, not in the database: it
changes on every last-socket close, which would otherwise be a database write
per disconnect, and reading it in the same round trip as the entries keeps a
response at one Redis round trip for all its users, with no query. It is the
time the user's last socket closed, or for a dead process its last heartbeat;
null while online, or when never seen (or when Redis lost its data).

**One lookup per response.** `rendering` marks each user it renders as a
`UserSummary`; `annotate` finds them all in a response or an event and fills
`is_online` and `last_seen` with one lookup (one pipelined Redis round trip),
and a user already looked up in the same request is not looked up again.

**Presence events** (`{"type": "presence", "user", "is_online",
"last_seen"}`) go to everyone who shares a thread with the user when they come
online or go offline, at most once per `CHAT_PRESENCE_EVENT_INTERVAL` (10 s)
per user, counted in the store (across processes). A change inside the window
is not dropped: the first one schedules a check at the window's end, which
sends the state then if it differs from the last one sent, so a flapping
connection costs its contacts one event per window and they never stay wrong.

Redis failing never fails a request or a socket: reads answer "offline" and
writes are skipped for a few seconds (logged); the heartbeat re-registers the
process's sockets once Redis answers again.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.conf import settings

logger = logging.getLogger(__name__)

SEND, DEFER, SKIP = "send", "defer", "skip"


def ttl() -> float:
    return float(getattr(settings, "CHAT_PRESENCE_TTL", 45))


def heartbeat_interval() -> float:
    return float(getattr(settings, "CHAT_PRESENCE_HEARTBEAT", 15))


def event_interval() -> float:
    return float(getattr(settings, "CHAT_PRESENCE_EVENT_INTERVAL", 10))


@dataclass(frozen=True)
class State:
    is_online: bool
    last_seen: float | None  # a Unix time; None while online or never seen


OFFLINE = State(False, None)


class MemoryStore:
    """One process's presence, in memory (no REDIS_URL). Same semantics as RedisStore."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries: dict[int, dict[str, float]] = {}  # user id -> socket -> expires
        self.seen: dict[int, float] = {}
        self.gates: dict[int, dict] = {}

    def _live(self, user_id: int, now: float) -> int:
        return sum(1 for expires in self.entries.get(user_id, {}).values() if expires > now)

    def add(self, user_id: int, socket: str, expires: float, now: float) -> bool:
        """Register a socket; True if the user was offline before."""
        with self.lock:
            was_offline = self._live(user_id, now) == 0
            self.entries.setdefault(user_id, {})[socket] = expires
            return was_offline

    def remove(self, user_id: int, socket: str, now: float) -> bool:
        """Unregister a socket; True if that made the user go offline."""
        with self.lock:
            sockets = self.entries.get(user_id, {})
            # Gone already (swept: announced then), or other sockets still open.
            if sockets.pop(socket, None) is None or self._live(user_id, now):
                return False
            self.entries.pop(user_id, None)
            self.seen[user_id] = now
            return True

    def refresh(self, sockets: dict[int, Iterable[str]], expires: float, now: float) -> list[int]:
        """The heartbeat: push back the expiry of these sockets (re-adding any
        that were swept); the users among them who were offline before."""
        back = []
        with self.lock:
            for user_id, names in sockets.items():
                if self._live(user_id, now) == 0:
                    back.append(user_id)
                entries = self.entries.setdefault(user_id, {})
                for name in names:
                    entries[name] = expires
        return back

    def sweep(self, now: float, ttl: float) -> list[int]:
        """Users whose every entry expired (their process died): record them
        as last seen at their last heartbeat, forget the entries; their ids."""
        gone = []
        with self.lock:
            for user_id, sockets in list(self.entries.items()):
                if sockets and max(sockets.values()) <= now:
                    self.seen[user_id] = max(self.seen.get(user_id, 0.0), max(sockets.values()) - ttl)
                    del self.entries[user_id]
                    gone.append(user_id)
                elif not sockets:
                    del self.entries[user_id]
        return gone

    def lookup(self, user_ids: Iterable[int], now: float, ttl: float) -> dict[int, State]:
        with self.lock:
            result = {}
            for user_id in user_ids:
                sockets = self.entries.get(user_id, {})
                newest = max(sockets.values(), default=None)
                if newest is not None and newest > now:
                    result[user_id] = State(True, None)
                else:
                    seen = self.seen.get(user_id)
                    if newest is not None:
                        seen = max(seen or 0.0, newest - ttl)
                    result[user_id] = State(False, seen)
            return result

    def gate(self, user_id: int, online: bool, now: float, window: float) -> tuple[str, float]:
        """May a presence event for this user go out now? (SEND, _): yes, and
        the window starts; (DEFER, at): no, check again at `at` (said once
        per window); (SKIP, _): no, a check is already due."""
        with self.lock:
            gate = self.gates.setdefault(user_id, {"until": 0.0, "sent": None, "pending": False})
            if now >= gate["until"]:
                gate.update(until=now + window, sent=online, pending=False)
                return SEND, 0.0
            if gate["pending"]:
                return SKIP, 0.0
            gate["pending"] = True
            return DEFER, gate["until"]

    def settle(self, user_id: int, online: bool, now: float, window: float) -> bool:
        """The deferred check: True (and a new window) if `online` is not what was last sent."""
        with self.lock:
            gate = self.gates.setdefault(user_id, {"until": 0.0, "sent": None, "pending": False})
            gate["pending"] = False
            if gate["sent"] == online:
                return False
            gate.update(until=now + window, sent=online)
            return True


# Redis: every key under one prefix. Per user: `s:<id>`, a sorted set of its
# sockets scored by expiry; `seen:<id>`, a Unix time; `g:<id>`, the event
# gate. `users`: every user with entries, scored by their newest expiry, which
# the sweep walks. The scripts run atomically (a single Redis, not a cluster:
# they touch keys they compute).
ADD = """
local live = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], '+inf')
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[4])
redis.call('EXPIREAT', KEYS[1], math.ceil(tonumber(ARGV[2])) + 86400)
return live == 0 and 1 or 0
"""
REMOVE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[2], '+inf') > 0 then return 0 end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"""
REFRESH = """
local back = {}
local prefix, now, expires = ARGV[1], ARGV[2], ARGV[3]
local i = 4
while i <= #ARGV do
  local user, count = ARGV[i], tonumber(ARGV[i + 1])
  local key = prefix .. 's:' .. user
  if redis.call('ZCOUNT', key, '(' .. now, '+inf') == 0 then table.insert(back, user) end
  for j = 1, count do redis.call('ZADD', key, expires, ARGV[i + 1 + j]) end
  redis.call('EXPIREAT', key, math.ceil(tonumber(expires)) + 86400)
  redis.call('ZADD', KEYS[1], 'GT', expires, user)
  i = i + 2 + count
end
return back
"""
SWEEP = """
local prefix, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local gone = {}
for _, user in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)) do
  local key = prefix .. 's:' .. user
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if newest[2] and tonumber(newest[2]) > now then
    redis.call('ZADD', KEYS[1], newest[2], user)
  else
    redis.call('ZREM', KEYS[1], user)
    redis.call('DEL', key)
    if newest[2] then
      local seen_key = prefix .. 'seen:' .. user
      local seen = tonumber(redis.call('GET', seen_key) or '0')
      redis.call('SET', seen_key, tostring(math.max(seen, tonumber(newest[2]) - ttl)))
      table.insert(gone, user)
    end
  end
end
return gone
"""
GATE = """
local now, window, online = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local ends = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 3600)
if now >= ends then
  redis.call('HSET', KEYS[1], 'until', tostring(now + window), 'sent', online, 'pending', '0')
  return {'send', '0'}
end
if redis.call('HGET', KEYS[1], 'pending') == '1' then return {'skip', '0'} end
redis.call('HSET', KEYS[1], 'pending', '1')
return {'defer', tostring(ends)}
"""
SETTLE = """
local now, window, online = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
redis.call('HSET', KEYS[1], 'pending', '0')
if redis.call('HGET', KEYS[1], 'sent') == online then return 0 end
redis.call('HSET', KEYS[1], 'until', tostring(now + window), 'sent', online)
return 1
"""


class RedisStore:
    """Presence shared by every server process, in Redis (REDIS_URL)."""

    def __init__(self, url: str, prefix: str = "chat:presence:"):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # Short timeouts and no retries: with Redis down, presence answers
        # "offline" at once (Presence._call) rather than hold up a request.
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))
        self.prefix = prefix
        self.users_key = prefix + "users"
        self.scripts = {
            name: self.client.register_script(source)
            for name, source in [("add", ADD), ("remove", REMOVE), ("refresh", REFRESH), ("sweep", SWEEP),
                                 ("gate", GATE), ("settle", SETTLE)]
        }

    def _sockets_key(self, user_id: int) -> str:
        return f"{self.prefix}s:{user_id}"

    def _seen_key(self, user_id: int) -> str:
        return f"{self.prefix}seen:{user_id}"

    def add(self, user_id: int, socket: str, expires: float, now: float) -> bool:
        keys = [self._sockets_key(user_id), self.users_key]
        return bool(self.scripts["add"](keys=keys, args=[socket, repr(expires), repr(now), user_id]))

    def remove(self, user_id: int, socket: str, now: float) -> bool:
        keys = [self._sockets_key(user_id), self.users_key, self._seen_key(user_id)]
        return bool(self.scripts["remove"](keys=keys, args=[socket, repr(now), user_id]))

    def refresh(self, sockets: dict[int, Iterable[str]], expires: float, now: float) -> list[int]:
        args: list = [self.prefix, repr(now), repr(expires)]
        for user_id, names in sockets.items():
            names = list(names)
            args += [user_id, len(names), *names]
        if len(args) == 3:
            return []
        return [int(user_id) for user_id in self.scripts["refresh"](keys=[self.users_key], args=args)]

    def sweep(self, now: float, ttl: float) -> list[int]:
        gone = self.scripts["sweep"](keys=[self.users_key], args=[self.prefix, repr(now), repr(ttl)])
        return [int(user_id) for user_id in gone]

    def lookup(self, user_ids: Iterable[int], now: float, ttl: float) -> dict[int, State]:
        """One round trip for any number of users."""
        user_ids = list(user_ids)
        if not user_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        self.queue_lookup(pipe, user_ids)
        return self.read_lookup(user_ids, pipe.execute(), now, ttl)

    def queue_lookup(self, pipe, user_ids: list[int]) -> None:
        """Queue lookup's commands on a redis-py pipeline (to this store's Redis)."""
        for user_id in user_ids:
            pipe.zrange(self._sockets_key(user_id), -1, -1, withscores=True)
        pipe.mget([self._seen_key(user_id) for user_id in user_ids])

    def read_lookup(self, user_ids: list[int], answers: list, now: float, ttl: float) -> dict[int, State]:
        """lookup's result from the answers to queue_lookup's commands."""
        *newest, seen = answers
        result = {}
        for user_id, top, last in zip(user_ids, newest, seen, strict=True):
            expires = top[0][1] if top else None
            if expires is not None and expires > now:
                result[user_id] = State(True, None)
                continue
            last = float(last) if last is not None else None
            if expires is not None:
                last = max(last or 0.0, expires - ttl)
            result[user_id] = State(False, last)
        return result

    def gate(self, user_id: int, online: bool, now: float, window: float) -> tuple[str, float]:
        decision, at = self.scripts["gate"](keys=[f"{self.prefix}g:{user_id}"],
                                            args=[repr(now), repr(window), int(online)])
        return decision.decode(), float(at)

    def settle(self, user_id: int, online: bool, now: float, window: float) -> bool:
        return bool(self.scripts["settle"](keys=[f"{self.prefix}g:{user_id}"],
                                           args=[repr(now), repr(window), int(online)]))

    def clear(self) -> None:
        """Tests: forget everything under the prefix."""
        keys = list(self.client.scan_iter(match=self.prefix + "*", count=1000))
        if keys:
            self.client.delete(*keys)


class Presence:
    """One server process's view: its open sockets (refreshed by its
    heartbeat) and the shared store. `clock` is replaceable (tests)."""

    OUTAGE_PAUSE = 5.0  # seconds without trying Redis after it failed

    def __init__(self, store, clock=time.time, send_events: bool = True):
        self.store = store
        self.clock = clock
        self.send_events = send_events  # False: no presence events (other features' event tests)
        self.local: dict[int, set[str]] = {}  # this process's open sockets: user id -> channel names
        self.local_lock = threading.Lock()
        self.heartbeat_task: asyncio.Task | None = None
        self.paused_until = 0.0
        self.deferred: set[asyncio.Task] = set()
        self.deferrals: list[tuple[int, float]] = []  # (user id, when its check is due), for the record

    def _call(self, method: str, default, *args):
        """A store call that never raises: Redis down answers `default`, logged, and pauses."""
        if time.monotonic() < self.paused_until:
            return default
        try:
            return getattr(self.store, method)(*args)
        except Exception as error:  # redis.RedisError, OSError: presence must never fail a request
            logger.warning("Presence store unavailable (%s: %s); not used for %s s", method, error, self.OUTAGE_PAUSE)
            self.paused_until = time.monotonic() + self.OUTAGE_PAUSE
            return default

    # Reads (sync: callable from views, services, renderers).

    def states(self, user_ids: Iterable[int]) -> dict[int, State]:
        """Every given user's state, in one lookup."""
        user_ids = list(dict.fromkeys(user_ids))
        found = self._call("lookup", {}, user_ids, self.clock(), ttl()) if user_ids else {}
        return {user_id: found.get(user_id, OFFLINE) for user_id in user_ids}

    def users_online(self, user_ids: Iterable[int]) -> set[int]:
        return {user_id for user_id, state in self.states(user_ids).items() if state.is_online}

    # Sockets (async: from the consumer).

    async def socket_opened(self, user_id: int, socket: str) -> None:
        with self.local_lock:
            self.local.setdefault(user_id, set()).add(socket)
        self._ensure_heartbeat()
        now = self.clock()
        came_online = await sync_to_async(self._call, thread_sensitive=False)(
            "add", False, user_id, socket, now + ttl(), now
        )
        if came_online:
            await self.announce(user_id)

    async def socket_closed(self, user_id: int, socket: str) -> None:
        with self.local_lock:
            sockets = self.local.get(user_id, set())
            sockets.discard(socket)
            if not sockets:
                self.local.pop(user_id, None)
            if not self.local and self.heartbeat_task is not None:
                self.heartbeat_task.cancel()  # the next socket starts another
                self.heartbeat_task = None
        went_offline = await sync_to_async(self._call, thread_sensitive=False)(
            "remove", False, user_id, socket, self.clock()
        )
        if went_offline:
            await self.announce(user_id)

    # The heartbeat.

    def _ensure_heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        task = self.heartbeat_task
        if task is None or task.done() or task.get_loop() is not loop:
            self.heartbeat_task = loop.create_task(self._heartbeat())

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(heartbeat_interval())
            try:
                await self.beat()
            except Exception:  # never let the heartbeat die of one bad beat
                logger.exception("Presence heartbeat failed")

    async def beat(self) -> None:
        """Refresh this process's sockets; sweep users whose process died;
        announce both kinds of change."""
        with self.local_lock:
            sockets = {user_id: sorted(names) for user_id, names in self.local.items()}
        now = self.clock()
        call = sync_to_async(self._call, thread_sensitive=False)
        back = await call("refresh", [], sockets, now + ttl(), now) if sockets else []
        gone = await call("sweep", [], now, ttl())
        for user_id in [*back, *gone]:
            await self.announce(user_id)

    # Presence events.

    async def announce(self, user_id: int) -> None:
        """The user's state changed: tell their contacts now, or at the end of
        the rate limit's window if it is still the news then."""
        if not self.send_events:
            return
        call = sync_to_async(self._call, thread_sensitive=False)
        state = (await sync_to_async(self.states, thread_sensitive=False)([user_id]))[user_id]
        decision, at = await call("gate", (SKIP, 0.0), user_id, state.is_online, self.clock(), event_interval())
        if decision == SEND:
            await send_presence_event(user_id, state)
        elif decision == DEFER:
            self.deferrals.append((user_id, at))
            del self.deferrals[:-100]
            task = asyncio.get_running_loop().create_task(self._settle_later(user_id, at))
            self.deferred.add(task)
            task.add_done_callback(self.deferred.discard)

    async def _settle_later(self, user_id: int, at: float) -> None:
        await asyncio.sleep(max(0.0, at - self.clock()))
        await self.settle(user_id)

    async def settle(self, user_id: int) -> None:
        """The end of a window in which a change was held back: send the state
        now if it is not what the contacts were last told."""
        state = (await sync_to_async(self.states, thread_sensitive=False)([user_id]))[user_id]
        call = sync_to_async(self._call, thread_sensitive=False)
        if await call("settle", False, user_id, state.is_online, self.clock(), event_interval()):
            await send_presence_event(user_id, state)


async def send_presence_event(user_id: int, state: State) -> None:
    from channels.db import database_sync_to_async
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        deliveries = await database_sync_to_async(presence_deliveries)(user_id, state)
        if hasattr(layer, "group_send_many"):
            await layer.group_send_many(deliveries)  # Redis: contacts without a socket cost nothing more
        else:
            for group, message in deliveries.items():
                await layer.group_send(group, message)
    except Exception:  # best effort, as every event: never fails the socket that caused it
        logger.exception("Presence event for user %s not sent", user_id)


def presence_deliveries(user_id: int, state: State) -> dict[str, dict]:
    """The presence event for each contact's group (two queries: the user, their contacts)."""
    from django.contrib.auth import get_user_model

    from . import events, selectors
    from .rendering import render_user_summary

    user = get_user_model().objects.filter(pk=user_id).only(*selectors.USER_SUMMARY_FIELDS).first()
    if user is None:
        return {}
    rendered = render_user_summary(user)
    rendered.update(is_online=state.is_online, last_seen=render_time(state.last_seen))
    event = {"type": "presence", "user": rendered, "is_online": state.is_online,
             "last_seen": render_time(state.last_seen)}
    message = {"type": "chat.events", "events": [event]}
    contacts = list(selectors.contact_ids(user_id=user_id))
    events.sent_directly(event, user_ids=contacts)  # its webhooks, if an endpoint wants them
    return {events.user_group(contact): message for contact in contacts}


def render_time(value: float | None) -> str | None:
    if value is None:
        return None
    from .rendering import render_datetime

    return render_datetime(datetime.fromtimestamp(value, UTC))


_presence: Presence | None = None
_presence_lock = threading.Lock()


def get() -> Presence:
    """This process's Presence, on Redis when REDIS_URL is set."""
    global _presence
    with _presence_lock:
        if _presence is None:
            url = getattr(settings, "REDIS_URL", "")
            _presence = Presence(RedisStore(url) if url else MemoryStore())
        return _presence


def reset(presence: Presence | None = None) -> None:
    """Tests: use `presence` (or a fresh one from the settings next time)."""
    global _presence
    with _presence_lock:
        _presence = presence


def users_online(user_ids: Iterable[int]) -> set[int]:
    """Which of these users are online now (one lookup; sync, no query).
    Safe after a commit, from a service or a view; Redis down -> empty."""
    return get().users_online(user_ids)


# Within one HTTP request a user's state is looked up once: a send shows its
# sender in the events and again in the response, one Redis round trip apart.
# Started and ended by the request signals (threads/apps.py); outside a
# request (sockets, commands) every call looks up.
_request = threading.local()


def start_request(**kwargs) -> None:
    _request.states = {}


def end_request(**kwargs) -> None:
    _request.states = None


def states(user_ids: Iterable[int]) -> dict[int, State]:
    """Every given user's state, in at most one lookup."""
    known = getattr(_request, "states", None)
    if known is None:
        return get().states(user_ids)
    user_ids = list(dict.fromkeys(user_ids))
    missing = [user_id for user_id in user_ids if user_id not in known]
    if missing:
        known.update(get().states(missing))
    return {user_id: known[user_id] for user_id in user_ids}


class Rider:
    """A lookup of users' states that rides on a pipeline another part of the
    request sends to the same Redis anyway (channel_layers.listening_groups,
    after a send commits), and stores what it finds for the rest of the
    request: the answer that shows those users needs no round trip of its own."""

    def __init__(self, presence: "Presence", user_ids: list[int]):
        self.presence, self.user_ids = presence, user_ids
        self.client = presence.store.client

    def queue(self, pipe) -> None:
        """Queue the lookup on `pipe` (a pipeline to self.client's Redis), after the pipeline's own commands."""
        self.presence.store.queue_lookup(pipe, self.user_ids)

    def read(self, answers: list) -> None:
        """Keep the states in the answers to queue's commands for the rest of the request (states())."""
        known = getattr(_request, "states", None)
        if known is not None:
            known.update(self.presence.store.read_lookup(self.user_ids, answers, self.presence.clock(), ttl()))


def rider(user_ids: Iterable[int]) -> Rider | None:
    """A Rider for the states of these users that this request has not
    looked up yet; None when there is nothing to ride: outside a request,
    presence not in Redis, or Redis failing (Presence._call's pause)."""
    known = getattr(_request, "states", None)
    current = get()
    if known is None or not isinstance(current.store, RedisStore) or time.monotonic() < current.paused_until:
        return None
    missing = [user_id for user_id in dict.fromkeys(user_ids) if user_id not in known]
    return Rider(current, missing) if missing else None


def annotate(data) -> None:
    """Fill `is_online` and `last_seen` of every user rendered in `data`
    (a response's data or events: dicts and lists nested any way) with one lookup."""
    from .rendering import UserSummary

    found: list[dict] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, UserSummary):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    if not found:
        return
    looked_up = states(rendered["id"] for rendered in found)
    for rendered in found:
        state = looked_up[rendered["id"]]
        rendered["is_online"], rendered["last_seen"] = state.is_online, render_time(state.last_seen)
