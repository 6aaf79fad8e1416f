#!/usr/bin/env bash
# Runs the typing load (DOCS documents, default 100, × 10 clients × 2 edits/s) against the
# bare relay and against collab, alternating, ROUNDS times (default 3), each
# against a fresh server, and prints for each run the server's CPU per
# edit and collab-bench's p99 submit → every peer.
#
#   bash tools/bench/side.sh                      # collab with its defaults
#   SERVER_FLAGS=-direct-commits bash tools/bench/side.sh
#   DOCS=30 bash tools/bench/side.sh              # 600 edits/s offered
#
# With perf installed (and allowed), CPU is perf stat's task-clock of the
# server over 10 s of steady load; without it, collab-bench's figure (from
# /metrics, over the whole measured window). For collab it also prints the
# group commits' p99 and slowest: a run whose slowest commit took 100 ms
# met a disk stall (tools/fsyncprobe measures the disk alone).
rounds="${ROUNDS:-3}"
docs="${DOCS:-100}"
port=18183
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
perf_ok=false
if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then perf_ok=true; fi

for _ in $(seq "$rounds"); do
  for which in relay collab; do
    raw=()
    if [[ $which == relay ]]; then
      start relay
      raw=(-raw)
    else
      # shellcheck disable=SC2086 # a list of flags
      start collab ${SERVER_FLAGS:-}
    fi
    "$dir/collab-bench" -url "$url" "${raw[@]}" -docs "$docs" -clients 10 -rate 2 -duration 20s \
      -json-out "$dir/out.json" >"$dir/out.txt" 2>&1 &
    bench=$!
    cpu=""
    if $perf_ok; then
      sleep 5
      ms=$(perf stat --timeout 10000 -x, -e task-clock -p "$pid" 2>&1 | awk -F, '/task-clock/ {print $1}')
      # 10 s at 20 edits/s a document.
      cpu=$(awk -v ms="$ms" -v docs="$docs" 'BEGIN {printf "%.0f µs (perf stat)", ms * 1000 / (docs * 200)}')
    fi
    wait "$bench" || true
    read -r p99 metrics < <(python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print(d["allPeersMs"]["p99"], round(d["serverCpuPerOpUs"]))' "$dir/out.json")
    # The summary's own line, for collab: "p99 ≤ 3.2 ms, slowest ≤ 25.6 ms".
    commits=$(sed -n 's/^ *server commits: *\(.*\) (collab_commit_seconds.*/; commits (fsync) \1/p' "$dir/out.txt")
    echo "$which: CPU per edit ${cpu:-$metrics µs (/metrics)}, /metrics $metrics µs; p99 submit → every peer $p99 ms${commits}"
    stop
  done
done
