"""Rate limits (DRF throttles): per client address before authentication,
per user after it. Rates come from settings.CHAT_THROTTLE_RATES,
read on every request, so a deployment (or a test) can change them. Counts
live in the default cache: per process in memory, or shared through Redis
when REDIS_URL is set."""

import logging

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from chat_project.outages import REDIS_ERRORS

logger = logging.getLogger(__name__)


class ChatRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.CHAT_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        """Fail open: with the cache (Redis) unreachable, the request goes
        through uncounted, and a warning is logged; an outage of the
        counters must not become an outage of the API."""
        try:
            return super().allow_request(request, view)
        except REDIS_ERRORS:
            logger.warning("Rate limit %r not applied: the cache is unreachable", self.scope, exc_info=True)
            return True


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
        # SimpleRateThrottle has room for one more request here; a batch
        # needs room for all its messages.
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
