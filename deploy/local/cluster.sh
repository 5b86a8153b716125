#!/usr/bin/env bash
# Starts a local three-master Redis Cluster on ports 7101-7103 (data under
# .data/cluster), runs the command given (with SHORTENER_TEST_REDIS_URL
# naming the cluster), then stops the cluster.
#   deploy/local/cluster.sh go test ./...
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/local/ensure-tools.sh
BASE=${CLUSTER_BASE_PORT:-7101}
PORTS=("$BASE" "$((BASE + 1))" "$((BASE + 2))")
DIR="$PWD/.data/cluster"
stop() {
  for p in "${PORTS[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
}
trap stop EXIT
stop
rm -rf "$DIR"
for p in "${PORTS[@]}"; do
  mkdir -p "$DIR/$p"
  redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "nodes-$p.conf" --cluster-node-timeout 5000 \
    --appendonly no --save '' --dir "$DIR/$p" --daemonize yes \
    --logfile "$DIR/$p/log" --pidfile "$DIR/$p/pid"
done
for p in "${PORTS[@]}"; do
  for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
redis-cli --cluster create "127.0.0.1:${PORTS[0]}" "127.0.0.1:${PORTS[1]}" "127.0.0.1:${PORTS[2]}" \
  --cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 100); do
  redis-cli -p "${PORTS[0]}" cluster info | grep -q 'cluster_state:ok' && break
  sleep 0.1
done
redis-cli -p "${PORTS[0]}" cluster info | grep -q 'cluster_state:ok' || { echo "cluster did not come up" >&2; exit 1; }
echo "redis cluster up on ${PORTS[*]}" >&2
export SHORTENER_TEST_REDIS_URL="redis://127.0.0.1:${PORTS[0]},redis://127.0.0.1:${PORTS[1]},redis://127.0.0.1:${PORTS[2]}"
"$@"
