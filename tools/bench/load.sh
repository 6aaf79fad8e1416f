#!/usr/bin/env bash
# Runs the load scenarios of docs/BENCHMARKS.md, each against a fresh
# server (a new bbolt file, durable commits as always) on this machine,
# and prints collab-bench's summary and its JSON line for each.
#
#   bash tools/bench/load.sh            # every scenario
#   bash tools/bench/load.sh typing     # the scenarios whose name matches
#
# Everything runs on loopback; each collab-bench run is bounded in time.
only="${1:-}"
dur="${DURATION:-30s}"
port=18181
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# scenario NAME "SERVER FLAGS" COLLAB-BENCH FLAGS...
# A NAME starting with relay- runs the bare relay (tools/relay) instead of
# collab: the baseline, loaded by -raw clients.
scenario() {
  local name=$1 srv=$2
  shift 2
  [[ -z "$only" || "$name" == *"$only"* ]] || return 0
  if [[ "$name" == relay-* ]]; then
    start relay
  else
    # shellcheck disable=SC2086 # srv is a list of flags
    start collab $srv
  fi
  echo "== $name (server: ${srv:-defaults}; collab-bench $*)"
  "$dir/collab-bench" -url "$url" "$@" -json-out "$dir/out.json" || true
  echo "json: $(cat "$dir/out.json" 2>/dev/null)"
  stop
}

# Closed loop needs more than the default 50 operations a second a session.
fast="-ops-per-second 100000"

scenario typing-100x10 "" -docs 100 -clients 10 -rate 2 -duration "$dur"
scenario relay-typing-100x10 "" -raw -docs 100 -clients 10 -rate 2 -duration "$dur"
scenario typing-10x5 "" -docs 10 -clients 5 -rate 20 -duration "$dur"
scenario relay-typing-10x5 "" -raw -docs 10 -clients 5 -rate 20 -duration "$dur"
scenario hot-1x5 "$fast" -docs 1 -clients 5 -rate 0 -duration "$dur"
scenario relay-hot-1x5 "" -raw -docs 1 -clients 5 -rate 0 -duration "$dur"
scenario closed-10x5 "$fast" -docs 10 -clients 5 -rate 0 -duration "$dur"
scenario relay-closed-10x5 "" -raw -docs 10 -clients 5 -rate 0 -duration "$dur"
scenario pair-1x50 "" -docs 1 -clients 50 -rate 5 -duration "$dur"
scenario size-5KB "" -docs 1 -clients 10 -rate 5 -doc-size 5KB -duration "$dur"
scenario size-5MB "" -docs 1 -clients 10 -rate 5 -doc-size 5MB -duration "$dur"
scenario idle-10000 "" -docs 1000 -idle 10000
