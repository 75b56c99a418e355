"""Rate limit on the admin's login form, per client address and per username.

Only failed attempts count (a POST to the login page that does not log in).
Once a username has ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME failures, or an
address ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS, further attempts get a 429
with Retry-After, before any password is hashed, until
ADMIN_LOGIN_LOCKOUT_MINUTES after the first of those failures; the right
password then does not get in either. The counts live in the default cache
(shared through Redis when REDIS_URL is set). `manage.py
admin_login_unlock` clears them (README, "Security"). With the cache
unreachable the limit fails open (logged), like the API's.
"""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.urls import reverse

from chat_project.outages import REDIS_ERRORS

from .usernames import canonical

logger = logging.getLogger(__name__)


def address_key(address: str) -> str:
    return f"admin-login-failures:address:{address}"


def username_key(username: str) -> str:
    digest = hashlib.sha256(canonical(username).encode()).hexdigest()
    return f"admin-login-failures:username:{digest}"


def lockout_seconds() -> int:
    return settings.ADMIN_LOGIN_LOCKOUT_MINUTES * 60


def unlock(*, username: str | None = None, address: str | None = None) -> None:
    if username is not None:
        cache.delete(username_key(username))
    if address is not None:
        cache.delete(address_key(address))


class AdminLoginThrottleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method != "POST" or request.path != reverse("admin:login"):
            return self.get_response(request)
        limits = {
            address_key(request.META.get("REMOTE_ADDR", "")): settings.ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS,
            username_key(request.POST.get("username", "")): settings.ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME,
        }
        try:
            counts = cache.get_many(list(limits))
        except REDIS_ERRORS:
            logger.warning("Admin login limit not applied: the cache is unreachable", exc_info=True)
            return self.get_response(request)
        if any(counts.get(key, 0) >= limit for key, limit in limits.items()):
            return self.refuse()
        response = self.get_response(request)
        # The login view redirects when it logs in; it renders the form again when it does not.
        if response.status_code == 200:
            try:
                self.count_failure(list(limits))
            except REDIS_ERRORS:
                logger.warning("Admin login failure not counted: the cache is unreachable", exc_info=True)
        return response

    @staticmethod
    def count_failure(keys: list[str]) -> None:
        for key in keys:
            if not cache.add(key, 1, timeout=lockout_seconds()):
                try:
                    cache.incr(key)
                except ValueError:  # expired between add and incr
                    cache.add(key, 1, timeout=lockout_seconds())

    @staticmethod
    def refuse() -> HttpResponse:
        response = HttpResponse(
            "<!doctype html><title>Too many failed logins</title><h1>Too many failed logins</h1>"
            f"<p>Try again in {settings.ADMIN_LOGIN_LOCKOUT_MINUTES} minutes, or ask an operator to run "
            "<code>manage.py admin_login_unlock</code>.</p>",
            status=429,
        )
        response["Retry-After"] = str(lockout_seconds())
        return response
