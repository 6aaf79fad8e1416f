#!/usr/bin/env bash
# Runs the cluster scenarios of docs/BENCHMARKS.md against three collab
# nodes on this machine, each embedding its NATS server (-nats-embed, the
# three forming one JetStream cluster, stream R3), and the same scenarios
# against one single node, side by side. Each run starts on fresh files.
# collab-bench spreads each document's clients over the three nodes and
# sums their CPU time (every process, NATS servers included). Beside the
# typing scenario, tools/natsprobe measures what NATS alone costs for its
# messages (three processes, the same stream through collab's Log, no
# editing).
#
#   bash tools/bench/cluster.sh            # every scenario
#   bash tools/bench/cluster.sh hot        # the scenarios whose name matches
#   NODE_PROCS=1 bash tools/bench/cluster.sh typing   # each node's GOMAXPROCS
only="${1:-}"
dur="${DURATION:-20s}"
port=18191
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
pids=()
trap 'kill "${pids[@]}" "${pid:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
urls=http://127.0.0.1:18201,http://127.0.0.1:18202,http://127.0.0.1:18203
routes=nats-route://127.0.0.1:16201,nats-route://127.0.0.1:16202,nats-route://127.0.0.1:16203

# start_cluster [FLAGS...]: three nodes, once each is ready.
start_cluster() {
  rm -rf "$dir"/n?.db* "$dir/out.json"
  pids=()
  for i in 1 2 3; do
    GOMAXPROCS="${NODE_PROCS:-$(nproc)}" "$dir/collab" -addr "127.0.0.1:1820$i" -data "$dir/n$i.db" -log-level warn "$@" \
      -nats-embed -nats-server-name "n$i" -nats-listen "127.0.0.1:1420$i" \
      -nats-cluster-listen "127.0.0.1:1620$i" -nats-routes "$routes" &
    pids+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:1820$i/readyz" >/dev/null && break; sleep 0.1; done
  done
}

stop_cluster() {
  kill "${pids[@]}"
  wait "${pids[@]}" || true
  pids=()
}

# scenario NAME "SERVER FLAGS" COLLAB-BENCH FLAGS...: on the cluster, then
# on a single node.
scenario() {
  local name=$1 srv=$2
  shift 2
  [[ -z "$only" || "$name" == *"$only"* ]] || return 0
  # shellcheck disable=SC2086 # srv is a list of flags
  start_cluster $srv
  echo "== $name, cluster of three (server: ${srv:-defaults}; collab-bench $*)"
  "$dir/collab-bench" -url "$urls" "$@" -json-out "$dir/out.json" || true
  echo "json: $(cat "$dir/out.json" 2>/dev/null)"
  stop_cluster
  # shellcheck disable=SC2086
  start collab $srv
  echo "== $name, single node (server: ${srv:-defaults}; collab-bench $*)"
  "$dir/collab-bench" -url "$url" "$@" -json-out "$dir/out.json" || true
  echo "json: $(cat "$dir/out.json" 2>/dev/null)"
  stop
}

fast="-ops-per-second 100000"

scenario typing-100x10 "" -docs 100 -clients 10 -rate 1 -duration "$dur"
scenario hot-1x30 "" -docs 1 -clients 30 -rate 5 -duration "$dur"
scenario closed-10x5 "$fast" -docs 10 -clients 5 -rate 0 -duration "$dur"

# NATS alone, carrying the typing scenario's messages (one a typing edit).
if [[ -z "$only" || typing-100x10-nats-only == *"$only"* ]]; then
  go build -o "$dir/natsprobe" ./tools/natsprobe
  echo "== typing-100x10-nats-only: three processes, each an embedded NATS server appending and following through collab's Log (no editing)"
  GOMAXPROCS="${NODE_PROCS:-$(nproc)}" "$dir/natsprobe" -rate 1000 -docs 100 -duration "$dur"
fi
