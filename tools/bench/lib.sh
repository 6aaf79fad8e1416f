# Shared by the load scripts (source it after setting port): builds
# collab, collab-bench and the relay into a temporary directory, and
# starts and stops one server at a time on 127.0.0.1:$port, each with a
# fresh data file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
dir=$(mktemp -d)
pid=
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/collab" ./cmd/collab
go build -o "$dir/collab-bench" ./cmd/collab-bench
go build -o "$dir/relay" ./tools/relay
url=http://127.0.0.1:$port

# start relay | start collab [FLAGS...]: a new server, once it answers.
start() {
  rm -f "$dir"/collab.db* "$dir/out.json"
  if [[ $1 == relay ]]; then
    "$dir/relay" -addr "127.0.0.1:$port" 2>/dev/null &
  else
    shift
    "$dir/collab" -addr "127.0.0.1:$port" -data "$dir/collab.db" -log-level warn "$@" &
  fi
  pid=$!
  for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
}

stop() {
  kill "$pid"
  wait "$pid" || true
  pid=
}
