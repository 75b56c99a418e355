"""The web client's credential, Django's session, held to the same rules as
a token: it ends when its user logs out everywhere (accounts.SessionCutoff),
besides logout, a password change and deactivation, which end a Django
session by themselves (the session carries a hash of the password hash, and
an inactive user's session authenticates nobody)."""

import hashlib
import time

from drf_spectacular.authentication import SessionScheme
from rest_framework import authentication

from accounts.models import SessionCutoff

# When the session logged in with a password (seconds since the epoch).
AUTH_TIME_KEY = "webclient_auth_time"


def note_login(session) -> None:
    session[AUTH_TIME_KEY] = time.time()


def session_still_valid(session, user) -> bool:
    """Whether the session logged in after its user last logged out everywhere (one query)."""
    cutoff = SessionCutoff.objects.filter(user_id=user.pk).values_list("not_before", flat=True).first()
    return cutoff is None or session.get(AUTH_TIME_KEY, 0) > cutoff.timestamp()


def session_group(session_key: str) -> str:
    """The channel-layer group of one session's sockets (a digest: the key itself is a credential)."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's (a logged-in session, CSRF-checked on writes), refusing a session
    from before a log-out everywhere. Comes after JWTAuthentication, so a
    request with a bearer token never gets here."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        if not session_still_valid(request._request.session, result[0]):
            request._request.session.flush()  # ended: the cookie is worth nothing any more
            return None
        return result


class SessionAuthenticationScheme(SessionScheme):
    """In the OpenAPI schema: the session cookie, as for DRF's class (cookieAuth)."""

    target_class = "webclient.auth.SessionAuthentication"
