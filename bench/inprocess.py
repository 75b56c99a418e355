"""CPU and wall time of one endpoint, in-process: the app's WSGI handler (or
the plain DRF baseline's) called in a loop, with no server and no load
generator, so that a change can be measured in a minute and profiled.

    .venv/bin/python bench/inprocess.py ours GET /api/ping/
    .venv/bin/python bench/inprocess.py plain POST '/api/threads/{thread}/messages/' '{"text": "hi {n}"}'
    .venv/bin/python bench/inprocess.py ours POST '/api/threads/{thread}/mark_as_read/' --profile out.pstats

It runs against a database that bench/run_bench.py seeded and kept
(`--keep`; DATABASE_URL, default the 200,000-message SQLite file), as
scale_hot, with the benchmark's settings (DEBUG off, Redis events and rate
limits, limits raised). `{thread}` cycles through scale_hot's direct threads
but the hot one; `{n}` is a fresh number per request. It prints the median
CPU time per request (the process's, so the event loop's thread counts
too) and the median wall time. Not a test, and not the benchmark: figures
under a real server come from bench/run_bench.py.
"""

import argparse
import cProfile
import importlib
import io
import itertools
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOT_USER = "scale_hot"  # threads/management/commands/seed_scale.py (not importable beside the plain app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("app", choices=["ours", "plain"])
    parser.add_argument("method")
    parser.add_argument("path", help="may hold {thread}")
    parser.add_argument("body", nargs="?", help="JSON; may hold {n}")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests (after 200 untimed)")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats of the timed requests here")
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/chat_bench_200k.sqlite3")
    os.environ.update({
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-secret-key-only-for-the-benchmark-0123456789-abcdefghij",
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "JWT_ACCESS_TOKEN_LIFETIME_MINUTES": "600",
        **{f"CHAT_THROTTLE_{scope}": "1000000/second"
           for scope in ("TOKEN", "MESSAGE_SEND", "MARK_READ", "MESSAGE_EDIT", "DELETE", "THREAD_CREATE")},
    })  # fmt: skip
    if args.app == "plain":
        sys.path.insert(0, str(ROOT / "bench" / "plain"))
        os.environ["DJANGO_SETTINGS_MODULE"] = "plain.settings"
    else:
        sys.path.insert(0, str(ROOT))
        os.environ["DJANGO_SETTINGS_MODULE"] = "chat_project.settings"
    # The production WSGI module: under it the settings keep the SQLite connection (chat_project/wsgi.py).
    application = importlib.import_module(("plain" if args.app == "plain" else "chat_project") + ".wsgi").application

    def call(method: str, path: str, body: str | None, token: str | None) -> tuple[str, bytes]:
        data = (body or "").encode()
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "localhost",
            "SERVER_PORT": "80", "HTTP_HOST": "localhost", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
            "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json", "REMOTE_ADDR": "127.0.0.1",
            # As behind the TLS proxy (plain HTTP is redirected).
            "HTTP_X_FORWARDED_PROTO": "https", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False,
        }  # fmt: skip
        if token:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        status = []
        result = application(environ, lambda line, headers, exc_info=None: status.append(line))
        content = b"".join(result)
        result.close()
        return status[0], content

    from django.db import connection

    credentials = json.dumps({"username": HOT_USER, "password": "bench-password"})
    status, content = call("POST", "/api/token/", credentials, None)
    if not status.startswith("200"):
        sys.exit(f"POST /api/token/: {status} {content[:200]!r} (is the database seeded? see the docstring)")
    token = json.loads(content)["access"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.id FROM threads_thread t JOIN auth_user u ON u.id IN (t.user_low_id, t.user_high_id)"
            # The fewest messages first: the hot thread (the most) is left out.
            " WHERE u.username = %s AND t.kind = 'direct' ORDER BY t.message_count, t.id LIMIT 500",
            [HOT_USER],
        )
        threads = itertools.cycle([row[0] for row in cursor.fetchall()])
    counter = itertools.count()

    def one() -> None:
        path = args.path.replace("{thread}", str(next(threads)))
        body = args.body.replace("{n}", str(next(counter))) if args.body else None
        status, content = call(args.method, path, body, token)
        if not status.startswith("2"):
            sys.exit(f"{args.method} {path}: {status} {content[:300]!r}")

    for _ in range(200):
        one()
    profile = cProfile.Profile() if args.profile else None
    cpu, wall = [], []
    for _ in range(args.requests):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        if profile:
            profile.enable()
        one()
        if profile:
            profile.disable()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started_wall)
    cpu.sort()
    wall.sort()
    middle = len(cpu) // 2
    print(f"{args.app} {args.method} {args.path}: median CPU {cpu[middle] * 1000:.3f} ms,"
          f" median wall {wall[middle] * 1000:.3f} ms ({args.requests} requests)")  # fmt: skip
    if profile:
        profile.dump_stats(args.profile)


if __name__ == "__main__":
    main()
