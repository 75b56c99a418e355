#!/bin/sh
# The app's HTTP server in production: gunicorn sync workers (WSGI). The
# WebSocket at /ws/ is served by uvicorn (scripts/serve.sh) behind the same
# proxy, and the two share events through Redis (REDIS_URL), README "Production".
#
#   FORWARDED_ALLOW_IPS=10.0.0.2 REDIS_URL=redis://... scripts/serve-http.sh --bind 0.0.0.0:8000 --workers 4
#
# FORWARDED_ALLOW_IPS (comma-separated addresses or networks of the reverse
# proxies in front of the app): gunicorn takes the scheme from
# X-Forwarded-Proto, and chat_project/proxy.py the client address from
# X-Forwarded-For, only on connections from those addresses. Unset or empty:
# no proxy is trusted (gunicorn's own default would trust 127.0.0.1). Other
# arguments go to gunicorn as they are. Read from the environment only, not
# from .env.
set -eu
cd "$(dirname "$0")/.."
FORWARDED_ALLOW_IPS="${FORWARDED_ALLOW_IPS:-}"
export FORWARDED_ALLOW_IPS
exec "${GUNICORN_PYTHON:-.venv/bin/python}" -m gunicorn chat_project.wsgi:application \
    --forwarded-allow-ips "$FORWARDED_ALLOW_IPS" "$@"
