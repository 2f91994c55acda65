# lib.sh - what the server scenarios share: start the real `escalator serve`
# on a free loopback port (port 0, the bound port read back from
# --port-file) with a temporary database and the manual clock, drive it with
# curl, check answers with jq, and always stop it at the end.
#
# A scenario sources this file, then calls start_server, api, expect ... A
# failed expectation prints what was expected and what came, and exits 1.
set -u

ESC=${ESC:-build/asan/escalator}
WORK=$(mktemp -d)
SERVER_PID=
START=2026-11-23T12:00:00Z
ADMIN=admin-token-0001
AGENT=agent-token-0002
BOT=bot-token-0003
VIEWER=viewer-token-0004
TOKENS="admin:$ADMIN,agent:$AGENT,bot:$BOT,viewer:$VIEWER"

cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -9 "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_server [SETTING...]: the server with the test defaults; later
# arguments override them.
start_server() {
    rm -f "$WORK/port"
    "$ESC" serve --port 0 --port-file "$WORK/port" --db "$WORK/db" \
        --clock manual --clock-start "$START" --tokens "$TOKENS" \
        --policy tests/server/policy.yaml "$@" >>"$WORK/log" 2>&1 &
    SERVER_PID=$!
    local i
    for i in $(seq 200); do
        [ -s "$WORK/port" ] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "the server did not start:"; cat "$WORK/log"; exit 1
        fi
        sleep 0.05
    done
    [ -s "$WORK/port" ] || { echo "no port after 10 s:"; cat "$WORK/log"; exit 1; }
    URL=http://127.0.0.1:$(cat "$WORK/port")
    rm -f "$WORK/port"
}

# stop_server: SIGTERM, and the server must exit 0 (under ASan: no leak).
stop_server() {
    kill -TERM "$SERVER_PID"
    local rc=0
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    if [ $rc -ne 0 ]; then
        echo "the server exited with $rc:"; cat "$WORK/log"; exit 1
    fi
}

kill9_server() {
    kill -9 "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}

# api METHOD PATH [BODY|@FILE] [TOKEN]: sets STATUS and BODY. TOKEN
# defaults to the admin's; "-" sends none.
api() {
    local method=$1 path=$2 data=${3:-} token=${4:-$ADMIN} args=()
    [ "$token" != - ] && args+=(-H "Authorization: Bearer $token")
    if [ -n "$data" ]; then
        args+=(-H "Content-Type: application/json" --data-binary "$data")
    fi
    STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" "${args[@]}" \
        "$URL$path") || STATUS=000
    BODY=$(cat "$WORK/body")
}

fail() {
    echo "FAILED: $*"
    echo "  last status: ${STATUS:-}"
    echo "  last body:   ${BODY:0:2000}"
    echo "  server log:"; sed 's/^/    /' "$WORK/log" | tail -n 30
    exit 1
}

# expect_status CODE [WHAT]
expect_status() {
    [ "$STATUS" = "$1" ] || fail "${2:-request}: expected HTTP $1, got $STATUS"
}

# expect JQ_EXPR VALUE [WHAT]: jq -c of the last body must print VALUE.
expect() {
    local got
    got=$(printf '%s' "$BODY" | jq -c "$1" 2>&1)
    [ "$got" = "$2" ] || fail "${3:-$1}: expected $2, got $got"
}

# ticket ID [JQ_UPDATE]: a port-in rejected four times (it goes to the
# carrier, high priority: respond within 4h, follow up after 72h).
ticket() {
    jq -c --arg id "$1" ".id = \$id | ${2:-.}" tests/server/port-in.json
}

# A ticket that escalates nowhere.
quiet_ticket() {
    jq -nc --arg id "$1" '{id: $id, channel: "chat", created_at: "2026-11-23T11:00:00Z",
        status: "open", level: "l1",
        messages: [{from: "customer", at: "2026-11-23T11:00:00Z", text: "How do I change my plan?"}]}'
}

advance() {
    api POST /v1/admin/clock "{\"advance\":\"$1\"}"
    expect_status 200 "advance the clock by $1"
}

# events ID: the kinds of the ticket's event log, as a compact JSON array.
events() {
    api GET "/v1/tickets/$1"
    expect_status 200 "GET /v1/tickets/$1"
    printf '%s' "$BODY" | jq -c '[.events[].kind]'
}
