"""Dependency outages: a database or Redis that cannot be reached is a 503
with Retry-After and a JSON body (under /api/), never a 500.

`dependency_down(exc)` names the dependency an exception says is down, from
the exception and its causes: "database" for Django's OperationalError and
InterfaceError (a refused or dropped connection, a pool that found no
connection in DATABASE_POOL_TIMEOUT), "redis" for redis-py's connection
errors and timeouts. handler500 (threads.exceptions.json_server_error) asks
it about every unhandled exception, wherever it was raised (a view, a
middleware, authentication). The rate limits do not let a Redis outage
through at all: their counters fail open (threads/throttling.py).
"""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

DATABASE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
try:
    from psycopg_pool import PoolTimeout

    DATABASE_ERRORS += (PoolTimeout,)
except ImportError:  # pragma: no cover (installed with psycopg[pool])
    pass
try:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)
except ImportError:  # pragma: no cover
    REDIS_ERRORS = ()


def dependency_down(exc: BaseException | None) -> str | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DATABASE_ERRORS):
            return "database"
        if REDIS_ERRORS and isinstance(exc, REDIS_ERRORS):
            return "redis"
        exc = exc.__cause__ or exc.__context__
    return None


def outage_response(request, dependency: str) -> HttpResponse:
    retry_after = settings.CHAT_OUTAGE_RETRY_AFTER_SECONDS
    detail = f"Service temporarily unavailable: the {dependency} cannot be reached. Retry in {retry_after} seconds."
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": detail, "unavailable": dependency}, status=503)
    else:
        response = HttpResponse(detail, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    return response
