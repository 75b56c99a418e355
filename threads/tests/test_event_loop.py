"""run_coroutine: the server's loop under ASGI, one loop per process under WSGI."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from threads.event_loop import run_coroutine, under_asgi_server


async def where() -> tuple[asyncio.AbstractEventLoop, str]:
    return asyncio.get_running_loop(), threading.current_thread().name


def test_outside_an_asgi_server_every_call_runs_on_one_background_loop():
    assert not under_asgi_server()

    first_loop, first_thread = run_coroutine(where)
    second_loop, second_thread = run_coroutine(where)

    # One loop kept for the process (channels-redis keeps its connections per loop).
    assert first_loop is second_loop
    assert first_thread == second_thread == "chat-event-loop"
    assert first_thread != threading.current_thread().name


def test_under_an_asgi_server_the_servers_own_loop_runs_it():
    async def server():
        def view():
            return under_asgi_server(), run_coroutine(where)

        inside, (loop, _) = await sync_to_async(view)()
        return inside, loop is asyncio.get_running_loop()

    assert asyncio.run(server()) == (True, True)


def test_an_exception_reaches_the_caller():
    async def fail():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_coroutine(fail)
