"""Benchmark the chat API at two scales: production server, real load generator.

    .venv/bin/python bench/run_bench.py --db sqlite
    .venv/bin/python bench/run_bench.py --db postgres

For each scale (by default 200,000 and 2,000,000 messages, each with the hot
user `scale_hot` of 1,800 direct threads and 200 groups, the hot thread of
50,000 messages and the hot group of 100 members and 50,000 messages) it:

1. makes a scratch database (SQLite: /tmp/chat_bench_<scale>.sqlite3;
   PostgreSQL: the database chat_bench_<scale>, dropped and created again),
   runs `migrate` and `manage.py seed_scale`;
2. serves the app with its production HTTP server, `gunicorn chat_project.wsgi:application
   --workers 2` (sync workers; `--server uvicorn` for chat_project.asgi on uvicorn),
   with DEBUG off, on 127.0.0.1, and beside it the plain DRF baseline of
   bench/plain/ (its tables filled from the app's, same database), served the
   same way (`--no-plain`: without);
3. drives every endpoint in turn with wrk (`-t2 -c4`, a warm-up, then a timed
   run; bench/wrk.lua) with scale_hot's JWT, after checking that one request
   of each answers 2xx; the six endpoints the baseline has too are driven on
   it back to back with ours (`--also-server uvicorn`: and on the app under
   the other server), and each run records the server processes' CPU time
   per request;
4. prints a table per scale (requests/s, p50, p99, server CPU ms per request,
   throughput as a share of the floor endpoint `GET /api/ping/` measured in
   the same run and as a share of the plain DRF app's) and at the end
   each endpoint's p50 at the large scale over the small one, and writes it all
   to bench/results-<db>.md and bench/results-<db>.json.

Targets (issue 6 and the group issue): at the large scale, throughput of the
cases marked so at least FLOOR_SHARE_TARGET of the floor's (the thread list
among them) and p50 at most LATENCY_RATIO_TARGET x the small scale's; at each
scale, a send to the 100-member hot group with a p50 at most
GROUP_SEND_RATIO_TARGET x a direct send's to one thread (`send_hot`: both
lock one thread row per request, so the ratio is the cost of the group).

The floor is measured first and last; the ratios use the mean of the two.
Requires wrk (`apt-get install wrk`) and, for --db postgres, a server that
`--pg-url` reaches as a user allowed to create databases.
A benchmark, not a test: nothing here fails on a slow result.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WRK_SCRIPT = BENCH / "wrk.lua"
# The plain DRF baseline (bench/plain/README.md), served and loaded like the app.
PLAIN = BENCH / "plain"

HOT_USER, PEER_USER, PASSWORD = "scale_hot", "scale_peer", "bench-password"

# Whose throughput must be at least this share of the floor's at the large
# scale, and whose p50 may grow at most by this factor from small to large
# (issue 6). A deep ?offset= page is exempt from the latter.
FLOOR_SHARE_TARGET = 0.5
LATENCY_RATIO_TARGET = 1.25
# A send to the 100-member group: p50 at most this times a direct send's (same scale).
GROUP_SEND_RATIO_TARGET = 2.0
# The cases the plain DRF baseline has too (same paths, same ids, same data).
PLAIN_CASES = {"floor", "floor_end", "thread_list", "unread_count", "page_first", "mark_read", "send"}


class Case:
    def __init__(self, key, name, lines, *, floor_target=False, latency_target=True, note="", p50_within=None):
        self.key, self.name, self.lines = key, name, lines  # lines: (method, path, token variable, body)
        self.floor_target, self.latency_target, self.note = floor_target, latency_target, note
        # (other case's key, factor): this case's p50 at most factor x the other's, at the same scale.
        self.p50_within = p50_within

    @property
    def shown_request(self) -> str:
        """The request, or with several, their shapes: `POST /api/threads/<id>/messages/ (500 threads)`."""
        if len(self.lines) == 1:
            return f"{self.lines[0][0]} {self.lines[0][1]}"
        shapes = {f"{m} {re.sub(r'/threads/[0-9]+/', '/threads/<id>/', p)}": None for m, p, _, _ in self.lines}
        if len(shapes) == 1:
            return f"{next(iter(shapes))} ({len(self.lines)} threads, round robin)"
        return " then ".join(f"{m} {p}" for m, p, _, _ in self.lines)


def log(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)


def scale_label(messages: int) -> str:
    if messages % 1_000_000 == 0:
        return f"{messages // 1_000_000}m"
    if messages % 1_000 == 0:
        return f"{messages // 1_000}k"
    return str(messages)


# ------------------------------------------------------------------- databases


def pg_admin(args):
    import psycopg  # the app's driver, in the virtualenv

    return psycopg.connect(f"{args.pg_url.rstrip('/')}/postgres", autocommit=True)


def database_url(args, label: str) -> str:
    if args.db == "sqlite":
        return f"sqlite:///{Path(args.sqlite_dir) / f'chat_bench_{label}.sqlite3'}"
    return f"{args.pg_url.rstrip('/')}/chat_bench_{label}"


def drop_database(args, label: str) -> None:
    if args.db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(args.sqlite_dir, f"chat_bench_{label}.sqlite3{suffix}").unlink(missing_ok=True)
    else:
        with pg_admin(args) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS chat_bench_{label} WITH (FORCE)")


def database_exists(args, label: str) -> bool:
    if args.db == "sqlite":
        return Path(args.sqlite_dir, f"chat_bench_{label}.sqlite3").exists()
    with pg_admin(args) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [f"chat_bench_{label}"]).fetchone()
        return found is not None


def create_database(args, label: str) -> None:
    drop_database(args, label)
    if args.db == "postgres":
        with pg_admin(args) as conn:
            conn.execute(f"CREATE DATABASE chat_bench_{label}")


# ---------------------------------------------------------------- subprocesses


def app_env(args, url: str) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "chat_project.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "bench-secret-key-only-for-the-benchmark-0123456789-abcdefghij",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": url,
            # No rate limits: the load comes from one user and one address.
            "CHAT_THROTTLE_TOKEN": "1000000/second",
            "CHAT_THROTTLE_REGISTER": "1000000/second",
            "CHAT_THROTTLE_MESSAGE_SEND": "1000000/second",
            "CHAT_THROTTLE_MESSAGE_EDIT": "1000000/second",
            "CHAT_THROTTLE_DELETE": "1000000/second",
            "CHAT_THROTTLE_MARK_READ": "1000000/second",
            "CHAT_THROTTLE_THREAD_CREATE": "1000000/second",
            # Several server processes need a shared channel layer for their events.
            "REDIS_URL": args.redis_url,
            # One token lasts the whole run.
            "JWT_ACCESS_TOKEN_LIFETIME_MINUTES": "600",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def run(cmd: list[str], env: dict, *, echo: bool = True, cwd: Path = ROOT) -> str:
    """Run a command in the project directory, echo its output as it comes, return it."""
    output = []
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            output.append(line)
            if echo:
                print("    " + line, end="", flush=True)
    if proc.returncode:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{''.join(output[-30:])}")
    return "".join(output)


def seed_options(args, messages: int) -> list[str]:
    # Enough users for scale_hot's direct threads (one partner each).
    users = max(args.min_users, messages // args.messages_per_user, args.hot_threads + 1)
    return [
        "--users", str(users),
        "--threads-per-user", str(args.threads_per_user),
        "--messages", str(messages),
        "--hot-threads", str(args.hot_threads),
        "--hot-thread-messages", str(args.hot_thread_messages),
        "--unread-share", str(args.unread_share),
        "--groups", str(args.groups),
        "--group-members", str(args.group_members),
        "--group-messages", str(int(messages * args.group_share)),
        "--hot-groups", str(args.hot_groups),
        "--hot-group-members", str(args.hot_group_members),
        "--hot-group-messages", str(args.hot_group_messages),
        "--seed", str(args.seed),
    ]  # fmt: skip


def prepare_database(args, label: str, messages: int, env: dict) -> dict:
    """Scratch database, migrate, seed; returns seed_scale's summary (with the wall time)."""
    summary_file = Path(tempfile.gettempdir(), f"chat_bench_{args.db}_{label}.json")
    options = seed_options(args, messages)
    if args.reuse and summary_file.exists() and database_exists(args, label):
        summary = json.loads(summary_file.read_text())
        if summary.get("seed_options") == options:
            log(f"reusing chat_bench_{label} (seeded before with the same options)")
            summary["reused"] = True
            return summary
    log(f"creating chat_bench_{label} ({args.db}), migrating")
    create_database(args, label)
    run([args.python, "manage.py", "migrate", "--no-input", "-v0"], env)
    log(f"seed_scale {' '.join(options)}")
    started = time.perf_counter()
    run([args.python, "manage.py", "seed_scale", *options, "--summary-json", str(summary_file)], env)
    wall = time.perf_counter() - started
    summary = json.loads(summary_file.read_text())
    summary.update({"seed_options": options, "seed_wall_seconds": round(wall, 1)})
    summary_file.write_text(json.dumps(summary, indent=2))
    log(f"seeded in {wall:.1f} s")
    return summary


def check_redis(url: str) -> None:
    """Exit with a hint unless something answers PING at the Redis URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(64).startswith(b"+PONG") or parts.password:
                return
    except OSError:
        pass
    sys.exit(f"No Redis answers at {url}: start one (apt-get install redis-server) or pass --redis-url ''.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVER_APPS = {
    # (directory, WSGI application, ASGI application)
    "ours": (ROOT, "chat_project.wsgi:application", "chat_project.asgi:application"),
    "plain": (PLAIN, "plain.wsgi:application", "plain.asgi:application"),
}


class Server:
    """The production server (gunicorn sync workers, or uvicorn) with one app,
    in a process group of its own."""

    def __init__(self, args, env: dict, log_path: Path, app: str = "ours", kind: str | None = None):
        kind = kind or args.server
        self.port = free_port() if app != "ours" or not args.port or kind != args.server else args.port
        self.base = f"http://127.0.0.1:{self.port}"
        cwd, wsgi, asgi = SERVER_APPS[app]
        bin_dir = str(Path(args.python).parent)
        if kind == "gunicorn":
            gunicorn = shutil.which("gunicorn", path=bin_dir) or "gunicorn"
            cmd = [gunicorn, wsgi, "--workers", str(args.workers), "--bind", f"127.0.0.1:{self.port}"]
        else:
            uvicorn = shutil.which("uvicorn", path=bin_dir) or "uvicorn"
            cmd = [
                uvicorn, asgi, "--workers", str(args.workers),
                "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log", "--lifespan", "off",
            ]  # fmt: skip
        self.command = " ".join([kind, *cmd[1:]])
        self.log_file = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"{kind} exited with {self.proc.returncode}; see {log_path}")
            try:
                status, _ = http(self.base, "GET", "/api/health/")
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        sys.exit(f"{kind} did not answer within 60 s; see {log_path}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's processes (its session: master and workers).

        Unlike throughput, it hardly depends on what else the machine runs, so
        CPU ms per request compares servers and apps on a shared machine.
        """
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            # After the command: state, ppid, pgrp, session, ..., utime (12th), stime (13th).
            if int(fields[3]) == self.proc.pid:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log_file.close()


def http(base: str, method: str, path: str, token: str | None = None, body: dict | None = None):
    """One request as wrk sends it (behind a TLS proxy: X-Forwarded-Proto https); (status, JSON or None)."""
    headers = {"Accept": "application/json", "X-Forwarded-Proto": "https"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


# ----------------------------------------------------------------------- cases


def build_cases(args, probe: dict, floor_path: str) -> list[Case]:
    hot = probe["hot_thread_id"]
    threads = probe["hot_user_thread_ids"]
    directs, groups = probe["hot_user_direct_ids"], probe["hot_user_group_ids"]
    others = [t for t in directs if t != hot] or [hot]
    body = json.dumps({"text": "Benchmark message: on my way, five minutes!"})
    messages = f"/api/threads/{hot}/messages/"
    hot_token, peer_token = "BENCH_TOKEN_HOT", "BENCH_TOKEN_PEER"
    floor = [("GET", floor_path, hot_token, "")]
    cases = [
        Case("floor", "floor: authenticated no-op", floor, latency_target=False),
        Case("thread_list", f"thread list ({len(directs):,} direct + {len(groups):,} groups)",
             [("GET", "/api/threads/", hot_token, "")], floor_target=True),
        Case("unread_count", "total unread count", [("GET", "/api/threads/unread_count/", hot_token, "")],
             floor_target=True),
        Case("page_first", "message page, first", [("GET", messages, hot_token, "")]),
        Case("page_offset", f"message page, ?offset={probe['before_back']}",
             [("GET", f"{messages}?offset={probe['before_back']}", hot_token, "")], latency_target=False),
        Case("page_before", f"message page, ?before=<id {probe['before_back']} back>",
             [("GET", f"{messages}?before={probe['before_id']}", hot_token, "")], floor_target=True),
        Case("page_after", f"message page, ?after=<id {probe['before_back']} back>",
             [("GET", f"{messages}?after={probe['before_id']}", hot_token, "")], floor_target=True),
        Case("mark_read", "mark thread read",
             [("POST", f"/api/threads/{t}/mark_as_read/", hot_token, "") for t in threads], floor_target=True,
             note="round robin over scale_hot's threads, groups included: after the first pass there is "
             "little left to mark"),
        Case("send", "send message",
             [("POST", f"/api/threads/{t}/messages/", hot_token, body) for t in others], floor_target=True,
             note="round robin over scale_hot's direct threads other than the hot one"),
        Case("send_hot", "send message, hot thread", [("POST", messages, hot_token, body)],
             note="every request locks the same thread row"),
        Case("send_mark_pair", "scale_peer sends, scale_hot marks read (alternating)",
             [("POST", messages, peer_token, body), ("POST", f"/api/threads/{hot}/mark_as_read/", hot_token, "")],
             note="latencies of both requests together; each mark marks one new message"),
    ]  # fmt: skip
    group = probe.get("hot_group_id")
    if group:
        size = f"{probe['hot_group_members']} members"
        group_messages = f"/api/threads/{group}/messages/"
        cases += [
            Case("group_send", f"group send, hot group ({size})", [("POST", group_messages, hot_token, body)],
                 p50_within=("send_hot", GROUP_SEND_RATIO_TARGET),
                 note="every request locks the same group row and updates its members' unread counts"),
            Case("group_page", f"group message page, first ({size})", [("GET", group_messages, hot_token, "")],
                 note="with every member's read position"),
            Case("group_send_mark_pair", "group: scale_peer sends, scale_hot marks read (alternating)",
                 [("POST", group_messages, peer_token, body),
                  ("POST", f"/api/threads/{group}/mark_as_read/", hot_token, "")],
                 note="latencies of both requests together; each mark moves scale_hot's read position past "
                 "one new message"),
        ]  # fmt: skip
    cases.append(Case("floor_end", "floor again (end of run)", floor, latency_target=False))
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.key in wanted or c.key in {"floor", "floor_end"}]
    return cases


def run_wrk(args, base: str, case: Case, env: dict, duration: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".requests", delete=False) as file:
        for method, path, token, body in case.lines:
            file.write(f"{method}\t{path}\t{token}\t{body}\n")
    try:
        cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration:g}s", "--timeout", "10s",
               "-s", str(WRK_SCRIPT), base, "--", file.name]  # fmt: skip
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    finally:
        os.unlink(file.name)
    found = re.search(r"^BENCH_JSON (.*)$", result.stdout, re.MULTILINE)
    if result.returncode or not found:
        sys.exit(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    data = json.loads(found.group(1))
    seconds = data["duration_us"] / 1e6
    errors = sum(data["errors"].values())
    return {
        "requests": data["requests"],
        "seconds": round(seconds, 2),
        "rps": round(data["requests"] / seconds, 1),
        "p50_ms": data["latency_us"]["p50"] / 1000,
        "p90_ms": data["latency_us"]["p90"] / 1000,
        "p99_ms": data["latency_us"]["p99"] / 1000,
        "mean_ms": round(data["latency_us"]["mean"] / 1000, 3),
        "max_ms": data["latency_us"]["max"] / 1000,
        "errors": errors,
        "error_detail": data["errors"],
    }


def preflight(base: str, case: Case, tokens: dict) -> tuple[int, str]:
    """One request of the case, to see that it answers 2xx (wrk only counts >= 400 as errors)."""
    method, path, token, body = case.lines[0]
    status, answer = http(base, method, path, tokens[token], json.loads(body) if body else None)
    return status, json.dumps(answer)[:300] if answer is not None else ""


def get_tokens(base: str) -> dict:
    tokens = {}
    for variable, username in (("BENCH_TOKEN_HOT", HOT_USER), ("BENCH_TOKEN_PEER", PEER_USER)):
        status, answer = http(base, "POST", "/api/token/", body={"username": username, "password": PASSWORD})
        if status != 200:
            sys.exit(f"POST /api/token/ on {base} for {username} answered {status}: {answer}")
        tokens[variable] = answer["access"]
    return tokens


def prepare_plain(args, env: dict) -> None:
    """The plain baseline's tables in the same database, filled from the app's (same users, ids, texts)."""
    log("plain DRF baseline: migrate, copy the data")
    run([args.python, "manage.py", "migrate", "plain", "--no-input", "-v0"], env, cwd=PLAIN)
    run([args.python, "manage.py", "copy_from_chat"], env, cwd=PLAIN)


def bench_figures(rows: list[dict], floor_keys=("floor", "floor_end")) -> float | None:
    """Medians per row; each row's throughput over the mean of the floor's first and last run."""
    floors = [r["rps"] for r in rows if r["key"] in floor_keys and "rps" in r]
    floor_rps = sum(floors) / len(floors) if floors else None
    for row in rows:
        if "rps" in row and floor_rps:
            row["floor_share"] = round(row["rps"] / floor_rps, 3)
    return floor_rps


def bench_scale(args, messages: int) -> dict:
    label = scale_label(messages)
    url = database_url(args, label)
    env = app_env(args, url)
    summary = prepare_database(args, label, messages, env)
    plain_env = {**env, "DJANGO_SETTINGS_MODULE": "plain.settings"}
    if args.plain:
        prepare_plain(args, plain_env)
    probe = json.loads(run([args.python, "bench/probe.py", "--back", str(args.back)], env, echo=False))
    log(
        f"hot thread {probe['hot_thread_id']} ({probe['hot_thread_messages']} messages), "
        f"{len(probe['hot_user_direct_ids'])} direct threads and {len(probe['hot_user_group_ids'])} groups of "
        f"{HOT_USER}, hot group {probe['hot_group_id']} ({probe['hot_group_members']} members, "
        f"{probe['hot_group_messages']} messages), ?before={probe['before_id']}"
    )

    log_path = Path(tempfile.gettempdir(), f"chat_bench_{args.db}_{label}_{args.server}.log")
    server = Server(args, env, log_path)
    plain_server = other_server = None
    features = {}
    try:
        if args.plain:
            plain_log = Path(tempfile.gettempdir(), f"chat_bench_{args.db}_{label}_{args.server}_plain.log")
            plain_server = Server(args, plain_env, plain_log, app="plain")
        if args.also_server:
            other_log = Path(tempfile.gettempdir(), f"chat_bench_{args.db}_{label}_{args.also_server}.log")
            other_server = Server(args, env, other_log, kind=args.also_server)
        tokens = get_tokens(server.base)
        wrk_env = {**os.environ, **tokens}
        plain_tokens = get_tokens(plain_server.base) if plain_server else {}
        plain_wrk_env = {**os.environ, **plain_tokens}

        floor_path = args.floor_path
        status, _ = http(server.base, "GET", floor_path, tokens["BENCH_TOKEN_HOT"])
        if status != 200:
            log(f"GET {floor_path} answered {status}: the floor is GET /api/users/me/ instead")
            floor_path = "/api/users/me/"
        features["floor_path"] = floor_path
        features["before_supported"] = check_before(server.base, probe, tokens["BENCH_TOKEN_HOT"])
        if not features["before_supported"]:
            log("?before= is not supported (the page is the first one): measured all the same, flagged")

        cases = build_cases(args, probe, floor_path)
        rows = {}
        for case in cases:
            status, answer = preflight(server.base, case, tokens)
            rows[case.key] = {"key": case.key, "name": case.name, "request": case.shown_request, "note": case.note,
                              "floor_target": case.floor_target, "latency_target": case.latency_target,
                              "p50_within": case.p50_within, "preflight_status": status, "runs": []}  # fmt: skip
            if not 200 <= status < 300:
                log(f"{case.name}: {case.lines[0][0]} {case.lines[0][1]} answered {status} {answer}; skipped")
                rows[case.key]["skipped"] = f"answered {status}"
            if plain_server and case.key in PLAIN_CASES:
                status, answer = preflight(plain_server.base, case, plain_tokens)
                rows[case.key]["plain"] = {"key": case.key, "preflight_status": status, "runs": []}
                if not 200 <= status < 300:
                    log(f"plain {case.name}: answered {status} {answer}; skipped")
                    rows[case.key]["plain"]["skipped"] = f"answered {status}"
            if other_server and case.key in PLAIN_CASES:
                rows[case.key]["other_server"] = {"key": case.key, "server": args.also_server, "runs": []}
        servers = {"ours": server, "plain": plain_server, (args.also_server or "")[:5]: other_server}
        load_before = os.getloadavg()
        for round_number in range(1, args.rounds + 1):
            if args.rounds > 1:
                log(f"round {round_number} of {args.rounds}")
            for case in cases:
                # Ours and the baseline back to back, who goes first alternating from round to round.
                targets = [("ours", rows[case.key], server.base, wrk_env)]
                if "plain" in rows[case.key]:
                    plain = ("plain", rows[case.key]["plain"], plain_server.base, plain_wrk_env)
                    targets.insert(0 if round_number % 2 == 0 else 1, plain)
                if "other_server" in rows[case.key]:
                    targets.append((args.also_server[:5], rows[case.key]["other_server"], other_server.base, wrk_env))
                for who, row, base, run_env in targets:
                    if "skipped" in row:
                        continue
                    if args.warmup > 0:
                        run_wrk(args, base, case, run_env, args.warmup)
                    cpu_before = servers[who].cpu_seconds()
                    result = run_wrk(args, base, case, run_env, args.duration)
                    cpu = servers[who].cpu_seconds() - cpu_before
                    result["server_cpu_ms"] = round(1000 * cpu / result["requests"], 3) if result["requests"] else None
                    row["runs"].append(result)
                    log(
                        f"{who:<5} {case.name:<55} {result['rps']:>8.1f} req/s  p50 {result['p50_ms']:7.2f} ms  "
                        f"cpu {result['server_cpu_ms'] or 0:6.2f} ms/req  "
                        f"p99 {result['p99_ms']:7.2f} ms"
                        + (f"  ERRORS {result['errors']}" if result["errors"] else "")
                    )
        results = [summarize(row) for row in rows.values()]
        plain_rows = [summarize(row["plain"]) for row in results if "plain" in row]
        other_rows = [summarize(row["other_server"]) for row in results if "other_server" in row]
        load_after = os.getloadavg()
    finally:
        for each in (server, plain_server, other_server):
            if each:
                each.stop()

    floor_rps = bench_figures(results)
    plain_floor_rps = bench_figures(plain_rows)
    bench_figures(other_rows)
    for row in results:
        plain = row.get("plain")
        if plain and "rps" in plain and "rps" in row:
            # "x plain DRF": our throughput over the baseline's, same endpoint, same run.
            row["plain_share"] = round(row["rps"] / plain["rps"], 3)
        other = row.get("other_server")
        if other and plain and "rps" in other and "rps" in plain:
            other["plain_share"] = round(other["rps"] / plain["rps"], 3)
    if not args.keep:
        drop_database(args, label)
    return {
        "label": label,
        "messages": messages,
        "database_url": url,
        "seed": summary,
        "probe": {k: v for k, v in probe.items() if not k.endswith("_ids")},
        "features": features,
        "server": server.command,
        "floor_rps": round(floor_rps, 1) if floor_rps else None,
        "plain_floor_rps": round(plain_floor_rps, 1) if plain_floor_rps else None,
        "plain_server": plain_server.command if plain_server else None,
        "other_server": other_server.command if other_server else None,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "results": results,
    }


def summarize(row: dict) -> dict:
    """One row per case: with several rounds, the median of each figure over the rounds."""
    runs = row["runs"]
    if not runs:
        return row
    for name in ("rps", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "server_cpu_ms"):
        values = [run[name] for run in runs if run.get(name) is not None]
        if values:
            row[name] = statistics.median(values)
    row["requests"] = sum(run["requests"] for run in runs)
    row["errors"] = sum(run["errors"] for run in runs)
    return row


def check_before(base: str, probe: dict, token: str) -> bool:
    """Whether ?before=<id> pages from that id (rather than being ignored)."""
    path = f"/api/threads/{probe['hot_thread_id']}/messages/"
    status, page = http(base, "GET", f"{path}?before={probe['before_id']}", token)
    if status != 200 or not page or not page.get("results"):
        return False
    return all(message["id"] < probe["before_id"] for message in page["results"])


# --------------------------------------------------------------------- reports


def machine_info(args) -> dict:
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": "unknown",
        "cores": os.cpu_count(),
        "memory_gb": None,
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.MULTILINE).group(1)
        meminfo = Path("/proc/meminfo").read_text()
        info["memory_gb"] = round(int(re.search(r"MemTotal:\s*(\d+)", meminfo).group(1)) / 1024**2, 1)
    except (OSError, AttributeError):
        pass
    versions = run(
        [args.python, "-c", "import django, rest_framework, uvicorn, gunicorn, sqlite3; "
         "print(django.get_version(), rest_framework.__version__, uvicorn.__version__, gunicorn.__version__, "
         "sqlite3.sqlite_version)"],
        os.environ, echo=False,
    ).split()  # fmt: skip
    info.update(dict(zip(["django", "drf", "uvicorn", "gunicorn", "sqlite"], versions, strict=False)))
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    info["wrk"] = (wrk.stdout or wrk.stderr).splitlines()[0].split(" [")[0] if (wrk.stdout or wrk.stderr) else "?"
    if args.db == "postgres":
        with pg_admin(args) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            info["shared_buffers"] = conn.execute("SHOW shared_buffers").fetchone()[0]
    else:
        info["sqlite_python_module"] = sqlite3.sqlite_version
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True, check=False)  # fmt: skip
    info["commit"] = git.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    return info


def fmt(value, digits=1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def relative_verdict(row: dict, results: list[dict]) -> str | None:
    """The verdict on a case's p50 against another case's at the same scale, or None."""
    if not row.get("p50_within") or "p50_ms" not in row:
        return None
    other_key, factor = row["p50_within"]
    other = next((r for r in results if r["key"] == other_key and r.get("p50_ms")), None)
    if other is None:
        return f"not judged: p50 <= {factor:g} x {other_key} ({other_key} not measured)"
    ratio = row["p50_ms"] / other["p50_ms"]
    return (
        f"{'ok' if ratio <= factor else 'MISSED'}: p50 <= {factor:g} x {other['name']} "
        f"({fmt(row['p50_ms'], 2)} / {fmt(other['p50_ms'], 2)} ms = {ratio:.2f})"
    )


def scale_table(scale: dict) -> list[str]:
    seed = scale["seed"]
    other_kind = next((r["other_server"]["server"] for r in scale["results"] if "other_server" in r), None)
    seeded = "reused" if seed.get("reused") else f"seeded in {fmt(seed.get('seed_wall_seconds'))} s"
    lines = [
        f"### {scale['messages']:,} messages ({seed['users']:,} users, {seed['threads']:,} threads, "
        f"{seed['unread']:,} unread; {seeded})",
        "",
        f"Hot thread {scale['probe']['hot_thread_id']}: {scale['probe']['hot_thread_messages']:,} messages; "
        f"{HOT_USER} has {seed['hot_user_threads']:,} direct threads and {seed.get('hot_user_groups', 0):,} groups"
        + (f"; hot group {scale['probe']['hot_group_id']}: {scale['probe']['hot_group_members']} members, "
           f"{scale['probe']['hot_group_messages']:,} messages" if scale["probe"].get("hot_group_id") else "")
        + f". Floor: `GET {scale['features']['floor_path']}`, "
        f"{fmt(scale['floor_rps'])} requests/s (mean of its runs first and last)"
        + (f"; the plain DRF baseline's {fmt(scale['plain_floor_rps'])}" if scale.get("plain_floor_rps") else "")
        + ". Load average "
        f"{scale['load_average_before'][0]:.2f} before, {scale['load_average_after'][0]:.2f} after.",
        "",
        "| Endpoint | Request | Requests/s | p50 ms | p99 ms | server CPU ms/req | x floor | plain DRF: req/s, p50 ms, "
        "CPU ms/req | x plain DRF "
        + (f"| ours on {other_kind}: req/s, p50 ms, CPU ms/req | x plain DRF ({other_kind}) " if other_kind else "")
        + "| Errors |",
        "| --- | --- |" + " ---: |" * (8 + 2 * bool(other_kind)),
    ]
    for row in scale["results"]:
        name = row["name"]
        if row["key"] == "page_before" and not scale["features"].get("before_supported"):
            name += " (?before= not supported: first page)"
        if "skipped" in row:
            cells = " |" * (7 + 2 * bool(other_kind))
            lines.append(f"| {name} | `{row['request']}` | skipped: {row['skipped']} |{cells}")
            continue
        plain = row.get("plain") or {}
        plain_cell = (
            f"{fmt(plain['rps'])}, {fmt(plain['p50_ms'], 2)}, {fmt(plain.get('server_cpu_ms'), 2)}"
            if "rps" in plain
            else "-"
        )
        errors = row["errors"] + plain.get("errors", 0)
        other_cells = ""
        if other_kind:
            other = row.get("other_server") or {}
            other_cells = (
                f" {fmt(other['rps'])}, {fmt(other['p50_ms'], 2)}, {fmt(other.get('server_cpu_ms'), 2)} "
                f"| {fmt(other.get('plain_share'), 2)} |"
                if "rps" in other
                else " - | - |"
            )
            errors += other.get("errors", 0)
        lines.append(
            f"| {name} | `{row['request']}` | {fmt(row['rps'])} | {fmt(row['p50_ms'], 2)} | {fmt(row['p99_ms'], 2)} "
            f"| {fmt(row.get('server_cpu_ms'), 2)} | {fmt(row.get('floor_share'), 2)} | {plain_cell} "
            f"| {fmt(row.get('plain_share'), 2)} |{other_cells}"
            f" {errors or ''} |"
        )
    notes = [f"{row['name']}: {row['note']}." for row in scale["results"] if row.get("note")]
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    spreads = round_ratios(scale["results"])
    if spreads:
        # The medians hide how far one round can stray on a shared machine.
        lines += ["", "x plain DRF in each round, in the order they ran:", "", *[f"- {spread}" for spread in spreads]]
    verdicts = [(row["name"], relative_verdict(row, scale["results"])) for row in scale["results"]]
    verdicts = [f"{name}: {verdict}." for name, verdict in verdicts if verdict]
    if verdicts:
        lines += ["", "Targets at this scale:", "", *[f"- {verdict}" for verdict in verdicts]]
    return lines


def round_ratios(results: list[dict]) -> list[str]:
    """Per case that the baseline has too and that ran more than one round:
    our requests/s over the baseline's in each round."""
    spreads = []
    for row in results:
        ours, theirs = row.get("runs", []), (row.get("plain") or {}).get("runs", [])
        if len(ours) > 1 and len(ours) == len(theirs) and all(run["rps"] for run in theirs):
            ratios = ", ".join(fmt(mine["rps"] / plain["rps"], 2) for mine, plain in zip(ours, theirs, strict=True))
            spreads.append(f"{row['name']}: {ratios}")
    return spreads


def comparison_table(small: dict, large: dict) -> list[str]:
    small_label, large_label = small["label"], large["label"]
    lines = [
        f"### {large['messages']:,} against {small['messages']:,} messages",
        "",
        f"Targets: at {large['messages']:,} messages, throughput at least {FLOOR_SHARE_TARGET} of the floor; "
        f"p50 at most {LATENCY_RATIO_TARGET} x the p50 at {small['messages']:,} (a deep `?offset=` page is exempt); "
        f"a group send's p50 at most {GROUP_SEND_RATIO_TARGET:g} x a direct send's to one thread.",
        "",
        f"| Endpoint | p50 ms ({small_label}) | p50 ms ({large_label}) | p50 {large_label}/{small_label} "
        f"| p99 {large_label}/{small_label} | x floor ({small_label}) | x floor ({large_label}) | Targets |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    small_rows = {r["key"]: r for r in small["results"]}
    for row in large["results"]:
        before = small_rows.get(row["key"])
        if before is None or "rps" not in row or "rps" not in before:
            continue
        ratio = row["p50_ms"] / before["p50_ms"] if before["p50_ms"] else None
        tail_ratio = row["p99_ms"] / before["p99_ms"] if before["p99_ms"] else None
        verdicts = []
        if row["floor_target"] and row.get("floor_share") is not None:
            ok = row["floor_share"] >= FLOOR_SHARE_TARGET
            verdicts.append(f"{'ok' if ok else 'MISSED'}: x floor >= {FLOOR_SHARE_TARGET}")
        if row["latency_target"] and ratio is not None:
            ok = ratio <= LATENCY_RATIO_TARGET
            verdicts.append(f"{'ok' if ok else 'MISSED'}: p50 ratio <= {LATENCY_RATIO_TARGET}")
        relative = relative_verdict(row, large["results"])
        if relative:
            verdicts.append(relative.split(" (")[0] + f" ({large_label})")
        lines.append(
            f"| {row['name']} | {fmt(before['p50_ms'], 2)} | {fmt(row['p50_ms'], 2)} | {fmt(ratio, 2)} "
            f"| {fmt(tail_ratio, 2)} | {fmt(before.get('floor_share'), 2)} | {fmt(row.get('floor_share'), 2)} "
            f"| {'; '.join(verdicts)} |"
        )
    return lines


def report(args, data: dict) -> str:
    machine = data["machine"]
    db_name = "PostgreSQL" if args.db == "postgres" else "SQLite"
    db_version = machine.get("postgresql") or machine.get("sqlite")
    lines = [
        f"## {db_name}",
        "",
        f"`{data['command']}`, {machine['date']}, commit {machine['commit']}.",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB; {machine['os']}; "
        f"Python {machine['python']}, Django {machine.get('django')}, DRF {machine.get('drf')}, "
        f"{args.server} {machine.get(args.server)}, {db_name} {db_version}"
        + (f" (shared_buffers {machine['shared_buffers']})" if machine.get("shared_buffers") else "")
        + f", {machine['wrk']}.",
        "",
        f"Server: `{data['scales'][0]['server'] if data['scales'] else ''}`, DEBUG off, "
        + ("the plain DRF baseline (bench/plain/) served the same way beside it, its figures taken back to back "
           "with ours; " if args.plain else "")
        + (f"events through Redis (`{args.redis_url}`)" if args.redis_url else "in-memory events")
        + ". Load: "
        f"`wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s` per endpoint after a "
        f"{args.warmup:g} s warm-up, on loopback, one endpoint at a time, with {HOT_USER}'s JWT"
        + (f"; {args.rounds} rounds, medians shown." if args.rounds > 1 else "."),
        "",
    ]
    for scale in data["scales"]:
        lines += [*scale_table(scale), ""]
    if len(data["scales"]) >= 2:
        lines += [*comparison_table(data["scales"][0], data["scales"][-1]), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="See docs/benchmarks.md.")
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--scales", default="200000,2000000", help="message counts, comma-separated")
    parser.add_argument("--duration", type=float, default=10, help="seconds of each timed wrk run (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of the untimed run before (default 2)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every endpoint this many times over and report the medians (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument("--server", choices=["gunicorn", "uvicorn"], default="gunicorn",
                        help="HTTP server of both apps: gunicorn sync workers (production, WSGI) or uvicorn (ASGI)")
    parser.add_argument("--also-server", choices=["gunicorn", "uvicorn"],
                        help="serve the app with this server too, measured in the same rounds (the plain cases)")
    parser.add_argument(
        "--no-plain", dest="plain", action="store_false",
                        help="skip the plain DRF baseline (bench/plain/)")
    parser.add_argument("--port", type=int, help="server port (default: a free one)")
    parser.add_argument("--hot-threads", type=int, default=1800, help="direct threads of scale_hot (default 1800)")
    parser.add_argument("--hot-thread-messages", type=int, default=50_000)
    parser.add_argument("--groups", type=int, default=1000, help="groups, scale_hot's included (default 1000)")
    parser.add_argument("--hot-groups", type=int, default=200,
                        help="groups of scale_hot, the hot group first (default 200; 0: no group cases)")
    parser.add_argument("--group-members", type=int, default=10, help="members of each other group (default 10)")
    parser.add_argument("--group-share", type=float, default=0.1,
                        help="share of each scale's messages in the groups other than the hot one (default 0.1)")
    parser.add_argument("--hot-group-members", type=int, default=100)
    parser.add_argument("--hot-group-messages", type=int, default=50_000)
    parser.add_argument("--back", type=int, default=40_000,
                        help="?offset= of the deep page, and how far back the ?before= id lies (default 40000)")
    parser.add_argument("--messages-per-user", type=int, default=200,
                        help="users = messages / this, at least --min-users (default 200)")
    parser.add_argument("--min-users", type=int, default=1000)
    parser.add_argument("--threads-per-user", type=float, default=10)
    parser.add_argument("--unread-share", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--floor-path", default="/api/ping/")
    parser.add_argument("--only", help="comma-separated case keys to run (the floor always runs), for trying things")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server (no database name) where chat_bench_<scale> is made")
    parser.add_argument("--sqlite-dir", default=tempfile.gettempdir())
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15",
                        help="Redis for the channel layer, as production runs several workers ('' for none)")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a scratch database kept (--keep) by an earlier run with the same seed options")
    parser.add_argument("--out", help="results file without extension (default bench/results-<db>)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk).")
    scales = [int(s.replace("_", "")) for s in args.scales.split(",") if s.strip()]
    if args.redis_url:
        check_redis(args.redis_url)

    try:
        python = str(Path(sys.executable).relative_to(ROOT))
    except ValueError:
        python = "python"
    command = " ".join([python, "bench/run_bench.py", *sys.argv[1:]])
    data = {"db": args.db, "command": command, "machine": machine_info(args), "scales": []}
    for messages in scales:
        log(f"=== {args.db}, {messages:,} messages ===")
        data["scales"].append(bench_scale(args, messages))
        print("\n" + "\n".join(scale_table(data["scales"][-1])) + "\n", flush=True)
    text = report(args, data)
    if len(scales) >= 2:
        print("\n".join(comparison_table(data["scales"][0], data["scales"][-1])) + "\n")
    out = Path(args.out) if args.out else BENCH / f"results-{args.db}"
    out.with_suffix(".md").write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    log(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")
    if args.plain and not args.out:
        # The chart and the docs table from every results file there is (bench/plot.py).
        try:
            import plot
        except ImportError as error:  # matplotlib is a dev dependency
            log(f"no chart: {error}")
        else:
            plot.main([])


if __name__ == "__main__":
    main()
