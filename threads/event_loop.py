"""Await a coroutine from synchronous code, on the right event loop.

Under ASGI (uvicorn) a sync view runs in a thread that `sync_to_async`
started, and `async_to_sync` hands the coroutine to the server's own event
loop, where the channel layer keeps its Redis connections. Under WSGI
(gunicorn sync workers) there is no such loop: `async_to_sync` would make a
new event loop for every call, and channels-redis, which pools its
connections per loop, a new Redis connection for every event. There, the
coroutine runs on one event loop per process instead, in a daemon thread
started on first use (so after gunicorn forks its workers), and keeps its
connections from one request to the next.
"""

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from asgiref.sync import SyncToAsync, async_to_sync

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _process_loop() -> asyncio.AbstractEventLoop:
    """This process's background event loop, started on first use."""
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="chat-event-loop", daemon=True).start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def under_asgi_server() -> bool:
    """Whether this thread runs sync code for an ASGI server's event loop."""
    threadlocal = SyncToAsync.threadlocal
    return (
        getattr(threadlocal, "main_event_loop", None) is not None
        and getattr(threadlocal, "main_event_loop_pid", None) == os.getpid()
    )


def run_coroutine(function: Callable[[], Awaitable[T]]) -> T:
    """`function()`'s result, awaited; this thread waits for it."""
    if under_asgi_server():
        return async_to_sync(function)()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run_coroutine_threadsafe(function(), _process_loop()).result()
    # Called from a coroutine's own thread: let asgiref say what it says there.
    return async_to_sync(function)()
