#!/usr/bin/env bash
# Make sure a local service the tests need is answering, starting it if not.
#   scripts/ensure-service.sh postgres   PostgreSQL on 127.0.0.1:5432 (Debian's pg_ctlcluster)
#   scripts/ensure-service.sh redis      Redis on 127.0.0.1:6379
# Exits non-zero, loudly, if the service still does not answer: CI must never
# skip the runs that need it.
set -euo pipefail

service=${1:?usage: $0 postgres|redis}

case "$service" in
postgres)
    ready() { pg_isready -q -h 127.0.0.1 -p 5432 -U postgres; }
    start() {
        local version
        version=$(ls /etc/postgresql | sort -V | tail -n 1)
        pg_ctlcluster --skip-systemctl-redirect "$version" main start
    }
    ;;
redis)
    ready() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }
    start() {
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
            --dir /var/lib/redis --logfile /var/log/redis/ci.log
    }
    ;;
*)
    echo "unknown service: $service" >&2
    exit 2
    ;;
esac

if ready; then
    exit 0
fi
echo "$service is not answering; starting it" >&2
start || true
for _ in $(seq 30); do
    if ready; then
        echo "$service started" >&2
        exit 0
    fi
    sleep 1
done
echo "ERROR: $service is still not answering after starting it; cannot run the tests that need it." >&2
exit 1
