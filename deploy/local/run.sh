#!/usr/bin/env bash
# make run: a private Redis (data and AOF under .data/), the edge and the
# worker, in the foreground; Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/../.."
REDIS_PORT=${REDIS_PORT:-6390}
EDGE_PORT=${EDGE_PORT:-8080}
deploy/local/ensure-tools.sh
mkdir -p .data/redis
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$PWD/.data/redis" \
    --appendonly yes --appendfsync everysec --save '' \
    --daemonize yes --pidfile "$PWD/.data/redis/redis.pid" --logfile "$PWD/.data/redis/redis.log"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
export SHORTENER_REDIS="redis://127.0.0.1:$REDIS_PORT"
export SHORTENER_LOG_FORMAT=${SHORTENER_LOG_FORMAT:-text}
export SHORTENER_LISTEN=${SHORTENER_LISTEN:-127.0.0.1:$EDGE_PORT}
export SHORTENER_BASE_URL=${SHORTENER_BASE_URL:-http://localhost:$EDGE_PORT}
# a local trial: webhooks may go to a receiver on this machine
export SHORTENER_WEBHOOK_ALLOW_PRIVATE=${SHORTENER_WEBHOOK_ALLOW_PRIVATE:-true}
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
bin/worker --ops-listen 127.0.0.1:9101 & pids+=($!)
bin/edge --ops-listen 127.0.0.1:9100 & pids+=($!)
for _ in $(seq 50); do curl -fs "http://127.0.0.1:9100/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
cat <<MSG

  Redis  redis://127.0.0.1:$REDIS_PORT  (data and AOF in .data/redis)
  edge   $SHORTENER_BASE_URL  (metrics: http://127.0.0.1:9100/metrics)
  worker metrics: http://127.0.0.1:9101/metrics

  Try it:
    curl -s -X POST $SHORTENER_BASE_URL/api/v1/links -H 'Content-Type: application/json' -d '{"url":"https://example.com/hello?x=1"}'
    curl -i $SHORTENER_BASE_URL/CODE        # CODE from the answer above
  An API key:  SHORTENER_REDIS=$SHORTENER_REDIS bin/edge keys create --owner you
  Webhooks, the analytics page: see README.md (API > Webhooks) and $SHORTENER_BASE_URL/ui/

  Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
