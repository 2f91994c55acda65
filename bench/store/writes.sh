#!/usr/bin/env bash
# writes.sh - durable ticket writes per second: starts `escalator serve`
# (the optimised build) on a fresh database, drives POST /v1/tickets with
# wrk and bench/store/post-tickets.lua (every request a new ticket), and
# prints the 2xx rate for each synchronous setting; then the disk's
# fdatasync rate, the limit of one commit per fsync.
#
#   bench/store/writes.sh [SECONDS] [CONNECTIONS] [WRK_THREADS] [SERVER_THREADS]
#
# Environment: ESC (build/escalator), DIR (the database folder, default a
# temporary folder under build/), SYNC ("normal full").
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
SECS=${1:-10}
CONNS=${2:-64}
WRK_THREADS=${3:-2}
SERVER_THREADS=${4:-4}
ESC=${ESC:-build/escalator}
SYNC=${SYNC:-normal full}
mkdir -p build
DIR=${DIR:-$(mktemp -d "$root/build/writes.XXXXXX")}
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$DIR"' EXIT
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)"; exit 2; }
[ -x build/fsync-rate ] || cc -O2 -o build/fsync-rate bench/store/fsync-rate.c

for sync in $SYNC; do
    rm -f "$DIR"/db* "$DIR/port"
    "$ESC" serve --port 0 --port-file "$DIR/port" --db "$DIR/db" \
        --synchronous "$sync" --threads "$SERVER_THREADS" \
        --connections-per-ip 1024 --ack-timeout 0 \
        --tokens agent:agent-token-0002 --policy tests/server/policy.yaml \
        2>"$DIR/log" &
    PID=$!
    for _ in $(seq 100); do [ -s "$DIR/port" ] && break; sleep 0.05; done
    port=$(cat "$DIR/port")
    echo "== synchronous=$sync, $CONNS connections, ${SECS}s, server threads $SERVER_THREADS"
    TOKEN=agent-token-0002 PREFIX="$sync" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${SECS}s" \
        -s bench/store/post-tickets.lua "http://127.0.0.1:$port" |
        grep -E '^(writes/s|acknowledged|errors|latency)'
    kill -TERM $PID; wait $PID || true; PID=
done
echo "== disk ($DIR)"
build/fsync-rate "$DIR" 3
