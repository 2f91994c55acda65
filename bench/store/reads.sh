#!/usr/bin/env bash
# reads.sh - reads while writes pour in: GET /v1/tickets/ID latency with
# wrk while a second wrk drives POST /v1/tickets (bench/store/
# post-tickets.lua) at the same server; then the same reads alone.
#
#   bench/store/reads.sh [SECONDS] [WRITE_CONNECTIONS] [SERVER_THREADS]
#
# Environment: ESC (build/escalator), SYNC (normal).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
SECS=${1:-8}
CONNS=${2:-64}
SERVER_THREADS=${3:-8}
ESC=${ESC:-build/escalator}
SYNC=${SYNC:-normal}
mkdir -p build
DIR=$(mktemp -d "$root/build/reads.XXXXXX")
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$DIR"' EXIT
"$ESC" serve --port 0 --port-file "$DIR/port" --db "$DIR/db" --synchronous "$SYNC" \
    --threads "$SERVER_THREADS" --connections-per-ip 1024 --ack-timeout 0 \
    --tokens agent:agent-token-0002 --policy tests/server/policy.yaml 2>"$DIR/log" &
PID=$!
for _ in $(seq 100); do [ -s "$DIR/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$DIR/port")
curl -s -o /dev/null -H "Authorization: Bearer agent-token-0002" \
    --data-binary @tests/server/port-in.json "$url/v1/tickets"
id=$(jq -r .id tests/server/port-in.json)
reads() {
    wrk -t1 -c4 -d"${SECS}s" --latency -H "Authorization: Bearer agent-token-0002" \
        "$url/v1/tickets/$id" | grep -E 'Requests/sec|^ +(50|99)%'
}
echo "== GET /v1/tickets/$id during $CONNS writing connections (synchronous=$SYNC)"
TOKEN=agent-token-0002 wrk -t1 -c"$CONNS" -d"$((SECS + 2))s" -s bench/store/post-tickets.lua \
    "$url" >"$DIR/writes" &
w=$!
sleep 1
reads
wait $w
grep '^writes/s' "$DIR/writes"
echo "== the same reads alone"
reads
kill -TERM $PID
wait $PID || true
PID=
