#!/usr/bin/env bash
# Runs the load scenarios of docs/BENCHMARKS.md, each against a fresh
# server (a new bbolt file, durable commits as always) on this machine,
# and prints collab-bench's summary and its JSON line for each.
#
#   bash tools/bench/load.sh            # every scenario
#   bash tools/bench/load.sh typing     # the scenarios whose name matches
#
# Everything runs on loopback; each collab-bench run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."
only="${1:-}"
dur="${DURATION:-30s}"
dir=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/collab" ./cmd/collab
go build -o "$dir/collab-bench" ./cmd/collab-bench
go build -o "$dir/relay" ./tools/relay
port=18181
url=http://127.0.0.1:$port

# scenario NAME "SERVER FLAGS" COLLAB-BENCH FLAGS...
# A NAME starting with relay- runs the bare relay (tools/relay) instead of
# collab: the baseline, loaded by -raw clients.
scenario() {
  local name=$1 srv=$2
  shift 2
  [[ -z "$only" || "$name" == *"$only"* ]] || return 0
  rm -f "$dir/collab.db" "$dir/out.json"
  if [[ "$name" == relay-* ]]; then
    "$dir/relay" -addr 127.0.0.1:$port 2>/dev/null &
  else
    # shellcheck disable=SC2086 # srv is a list of flags
    "$dir/collab" -addr 127.0.0.1:$port -data "$dir/collab.db" -log-level warn $srv &
  fi
  pid=$!
  for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
  echo "== $name (server: ${srv:-defaults}; collab-bench $*)"
  "$dir/collab-bench" -url "$url" "$@" -json-out "$dir/out.json" || true
  echo "json: $(cat "$dir/out.json" 2>/dev/null)"
  kill "$pid"
  wait "$pid" || true
  pid=
}

# Closed loop needs more than the default 50 operations a second a session.
fast="-ops-per-second 100000"

scenario typing-100x10 "" -docs 100 -clients 10 -rate 2 -duration "$dur"
scenario relay-typing-100x10 "" -raw -docs 100 -clients 10 -rate 2 -duration "$dur"
scenario typing-100x10-nointerval "-commit-interval 0" -docs 100 -clients 10 -rate 2 -duration "$dur"
scenario closed-10x5 "$fast" -docs 10 -clients 5 -rate 0 -duration "$dur"
scenario relay-closed-10x5 "" -raw -docs 10 -clients 5 -rate 0 -duration "$dur"
scenario pair-1x50 "" -docs 1 -clients 50 -rate 5 -duration "$dur"
scenario size-5KB "" -docs 1 -clients 10 -rate 5 -doc-size 5KB -duration "$dur"
scenario size-5MB "" -docs 1 -clients 10 -rate 5 -doc-size 5MB -duration "$dur"
scenario idle-10000 "" -docs 1000 -idle 10000
