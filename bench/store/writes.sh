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
    cpu0=$(awk '{print $14 + $15}' /proc/$PID/stat)
    TOKEN=agent-token-0002 PREFIX="$sync" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${SECS}s" \
        -s bench/store/post-tickets.lua "http://127.0.0.1:$port" >"$DIR/wrk.out"
    cpu1=$(awk '{print $14 + $15}' /proc/$PID/stat)
    grep -E '^(writes/s|acknowledged|errors|latency)' "$DIR/wrk.out"
    # The server's CPU time per acknowledged write: steadier than writes/s
    # on a machine shared with other work.
    awk -v c="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" '/^acknowledged/ {
        if ($2 > 0) printf "server CPU per write %.0f us\n", c / hz * 1e6 / $2 }' "$DIR/wrk.out"
    # Writes per commit, where the server counts them.
    curl -s -H "Authorization: Bearer agent-token-0002" "http://127.0.0.1:$port/metrics" |
        awk '/^escalator_commits_total/ {c = $2} /^escalator_committed_writes_total/ {w = $2}
             END {if (c > 0) printf "commits %d, writes per commit %.2f\n", c, w / c}'
    kill -TERM $PID; wait $PID || true; PID=
done
echo "== disk ($DIR)"
build/fsync-rate "$DIR" 3
