#!/usr/bin/env bash
# Starts the local PostgreSQL and Redis that the integration tests talk to, when they are not running already, so
# that CI always runs those tests instead of skipping them. Idempotent: a running server is left alone.
#   PostgreSQL: 127.0.0.1:5432, user postgres (trust auth on the CI image); each test run makes its own database.
#   Redis: 127.0.0.1:6379, no persistence.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if command -v pg_isready >/dev/null && ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || echo "ci-services: PostgreSQL did not start; its tests will skip" >&2
fi

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }
if command -v redis-server >/dev/null && ! redis_up; then
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis_up && break; sleep 0.2; done
  redis_up || echo "ci-services: Redis did not start; its tests will skip" >&2
fi
