#!/bin/sh
# The app's server: uvicorn, with the proxy it trusts named explicitly.
#
#   FORWARDED_ALLOW_IPS=10.0.0.2 scripts/serve.sh --host 0.0.0.0 --port 8000 --workers 4
#
# FORWARDED_ALLOW_IPS (comma-separated addresses or networks of the reverse
# proxies in front of the app) set: uvicorn takes the client address and
# scheme from X-Forwarded-For / X-Forwarded-Proto, but only on connections
# from those addresses. Unset or empty: no proxy, and no proxy header is
# believed (--no-proxy-headers). Left to itself, uvicorn believes them from
# 127.0.0.1, so anything that can reach the port on loopback could pick the
# address that the rate limits count by. Other arguments go to uvicorn as
# they are. Read from the environment only, not from .env.
set -eu
cd "$(dirname "$0")/.."
if [ -n "${FORWARDED_ALLOW_IPS:-}" ]; then
    set -- --proxy-headers --forwarded-allow-ips "$FORWARDED_ALLOW_IPS" "$@"
else
    set -- --no-proxy-headers "$@"
fi
exec "${UVICORN_PYTHON:-.venv/bin/python}" -m uvicorn chat_project.asgi:application "$@"
