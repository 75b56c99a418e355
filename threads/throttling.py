"""Rate limits (DRF throttles): per client address before authentication,
per user after it. Rates come from settings.CHAT_THROTTLE_RATES,
read on every request, so a deployment (or a test) can change them. Counts
live in the default cache: per process in memory, or shared through Redis
when REDIS_URL is set.

On Redis, the count is DRF's own sliding window (every request's time,
those older than the rate's duration dropped), kept in a sorted set and
checked and added to by one script: one round trip instead of DRF's get
then set, no list of times to unpickle and pickle again on every request
(it holds as many times as the rate allows), and exact when requests race:
DRF's get-then-set lets two concurrent requests both count from the same
history, and one of them goes uncounted.
"""

import logging
import os

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from chat_project.cache import RedisCache
from chat_project.outages import REDIS_ERRORS

logger = logging.getLogger(__name__)

# KEYS[1]: the window; ARGV: now, duration (s), limit, weight, a token unique to the request.
# Answers {1, count after} when the request fits, else {0, count, the oldest time in the window}.
SLIDING_WINDOW = """
local now, duration = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, weight = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
local count = redis.call('ZCARD', KEYS[1])
if count + weight > limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, count, oldest[2] or ARGV[1]}
end
for i = 1, weight do
  redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. i)
end
redis.call('EXPIRE', KEYS[1], math.ceil(duration))
return {1, count + weight}
"""
_scripts: dict[int, object] = {}


def _sliding_window_script():
    """The script on the default cache's Redis client; None when the cache is not Redis."""
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        return None
    client = cache._cache.get_client(write=True)
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(SLIDING_WINDOW)
    return script


class ChatRateThrottle(SimpleRateThrottle):
    # How many requests this one counts for (a batch of messages counts each).
    weight = 1

    def get_rate(self):
        return settings.CHAT_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        """Fail open: with the cache (Redis) unreachable, the request goes
        through uncounted, and a warning is logged; an outage of the
        counters must not become an outage of the API."""
        try:
            script = _sliding_window_script()
            if script is None:
                return super().allow_request(request, view)
            return self._allow_in_redis(script, request, view)
        except REDIS_ERRORS:
            logger.warning("Rate limit %r not applied: the cache is unreachable", self.scope, exc_info=True)
            return True

    def _allow_in_redis(self, script, request, view) -> bool:
        """SimpleRateThrottle.allow_request, with the window in a Redis sorted set (module docstring)."""
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        # Its own key: DRF's pickled list under the plain key is another type.
        key = self.cache.make_and_validate_key(f"{self.key}:window")
        answer = script(
            keys=[key], args=[repr(self.now), self.duration, self.num_requests, self.weight, os.urandom(8).hex()]
        )
        self.window_count = int(answer[1])
        if answer[0]:
            return True
        self.window_oldest = float(answer[2])
        return False

    def wait(self):
        if not hasattr(self, "window_count"):
            return super().wait()
        # DRF's formula, from the window's count and oldest time instead of its history list.
        remaining_duration = self.duration - (self.now - self.window_oldest) if self.window_count else self.duration
        available_requests = self.num_requests - self.window_count + 1
        if available_requests <= 0:
            return None
        return max(remaining_duration, 0) / float(available_requests)


class ClientAddressThrottle(ChatRateThrottle):
    """Per client address, whoever the caller claims to be (for unauthenticated endpoints)."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenThrottle(ClientAddressThrottle):
    """Obtaining, refreshing, verifying and blacklisting tokens: guessing passwords."""

    scope = "token"


class RegistrationThrottle(ClientAddressThrottle):
    """Creating accounts."""

    scope = "register"


class UserThrottle(ChatRateThrottle):
    """Per user (the views require authentication)."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class MessageSendThrottle(UserThrottle):
    """Sending messages: a batch ({"messages": [...]}) counts each of its
    messages, and is refused whole if they do not all fit in the rate."""

    scope = "message_send"

    def allow_request(self, request, view):
        self.weight = messages_in(request)
        return super().allow_request(request, view)

    def throttle_success(self):
        # (DRF's in-memory path.) SimpleRateThrottle has room for one more
        # request here; a batch needs room for all its messages.
        if len(self.history) + self.weight > self.num_requests:
            return False
        self.history[:0] = [self.now] * self.weight
        self.cache.set(self.key, self.history, self.duration)
        return True

    def wait(self):
        if self.weight > self.num_requests:
            return None  # a batch bigger than the whole rate never fits: no point waiting
        return super().wait()


def messages_in(request) -> int:
    """How many messages a send request carries: the length of its
    `messages` list, else one. Reading the body here parses it: a malformed
    one is answered (400, 413) before it is counted."""
    data = request.data
    batch = data.get("messages") if isinstance(data, dict) else None
    if isinstance(batch, list) and batch:
        return min(len(batch), settings.CHAT_MESSAGE_BATCH_MAX)
    return 1


class MessageEditThrottle(UserThrottle):
    """Editing messages: each edit pushes the whole text to the other participant."""

    scope = "message_edit"


class DeleteThrottle(UserThrottle):
    """Deleting messages and threads."""

    scope = "delete"


class MarkReadThrottle(UserThrottle):
    """Marking a message or a whole thread read."""

    scope = "mark_read"


class ThreadCreateThrottle(UserThrottle):
    """Starting threads (or getting the one a pair already has)."""

    scope = "thread_create"


class GroupChangeThrottle(UserThrottle):
    """Renaming groups and adding, removing or changing their members: each one is announced to every member."""

    scope = "group_change"


# The throttle of each view action that has one.
MESSAGE_THROTTLES = {
    "create": MessageSendThrottle,
    "partial_update": MessageEditThrottle,
    "destroy": DeleteThrottle,
    "mark_as_read": MarkReadThrottle,
}
THREAD_THROTTLES = {
    "create": ThreadCreateThrottle,
    "partial_update": GroupChangeThrottle,
    "destroy": DeleteThrottle,
    "mark_as_read": MarkReadThrottle,
}
MEMBER_THROTTLES = dict.fromkeys(["create", "partial_update", "destroy"], GroupChangeThrottle)


def throttles_for(table: dict, action: str | None) -> list:
    return [table[action]()] if action in table else []
