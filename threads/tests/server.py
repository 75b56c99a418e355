"""Run the app with its production server (uvicorn) in a subprocess, for tests
that need a real server and a real HTTP client."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.db import connection

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database this test run uses, for a server in another process."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    host, port = settings.get("HOST") or "127.0.0.1", settings.get("PORT") or 5432
    user = settings.get("USER") or "postgres"
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


def production_env(**overrides: str) -> dict[str, str]:
    """Environment of a production deployment: DEBUG off, a real key, hosts set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="chat_project.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="server-test-key-" + "x" * 50,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=test_database_url(),
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@contextlib.contextmanager
def uvicorn_server(
    env: dict[str, str], log_path: Path | None = None, processes: list | None = None, *, http_server: str = "uvicorn"
):
    """Serve chat_project.asgi with uvicorn on a free loopback port; yield its
    base URL. With `log_path`, its output (access log included) goes there;
    with `processes`, its Popen is appended (a test may kill it). With
    http_server="gunicorn": chat_project.wsgi on gunicorn's sync workers,
    production's HTTP server (scripts/serve-http.sh), instead."""
    port = free_port()
    if http_server == "gunicorn":
        command = ["sh", str(PROJECT_ROOT / "scripts" / "serve-http.sh"), "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", "2", "--access-logfile", "-"] if log_path else ["--workers", "2"]
    else:
        # The production command (scripts/serve.sh): proxy headers only from FORWARDED_ALLOW_IPS.
        command = ["sh", str(PROJECT_ROOT / "scripts" / "serve.sh"), "--host", "127.0.0.1", "--port", str(port)]
        command = command if log_path else [*command, "--no-access-log"]
    log = open(log_path, "w") if log_path else None  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT, env={**env, "UVICORN_PYTHON": sys.executable, "GUNICORN_PYTHON": sys.executable},
        stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    if processes is not None:
        processes.append(process)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = log_path.read_text() if log else process.stdout.read()
                raise RuntimeError(f"{http_server} exited early:\n{output}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{http_server} did not start listening within 30 s")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            log.close()


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    """One real HTTP request; returns (status, headers, body bytes). No redirects followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def redis_answering(url: str) -> str:
    """`url` if Redis answers there (`make test` starts it with
    scripts/ensure-service.sh redis); else the test fails, never skips."""
    reply = subprocess.run(["redis-cli", "-u", url, "ping"], capture_output=True, text=True)
    assert reply.stdout.strip() == "PONG", "Redis is not answering; run scripts/ensure-service.sh redis"
    return url
