"""Rate limits (DRF throttles). Rates come from settings.CHAT_THROTTLE_RATES,
read on every request, so a deployment (or a test) can change them. Counts
live in the default cache: per process in memory, or shared through Redis
when REDIS_URL is set."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class ChatRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        return settings.CHAT_THROTTLE_RATES[self.scope]


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


class MessageSendThrottle(ChatRateThrottle):
    """Sending messages, per user (the view requires authentication)."""

    scope = "message_send"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
