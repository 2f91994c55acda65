#!/usr/bin/env bash
# Tokens and roles: 401 without a known token, 403 for a role that may not.
. "$(dirname "$0")/lib.sh"
start_server

api POST /v1/evaluate "$(ticket A-1)" -
expect_status 401 "no token"
expect '.error.code' '"unauthorized"'
api POST /v1/evaluate "$(ticket A-1)" "not-a-token-at-all"
expect_status 401 "unknown token"
api POST /v1/evaluate "$(ticket A-1)" "${BOT}x"
expect_status 401 "a token with one more character"

api POST /v1/tickets "$(ticket A-1)" "$BOT"
expect_status 403 "a bot may not write tickets"
expect '.error.code' '"forbidden"'
api GET /v1/queues "" "$BOT"
expect_status 403 "a bot may not read queues"

api POST /v1/tickets "$(ticket A-1)" "$VIEWER"
expect_status 403 "a viewer may not write"
api POST /v1/evaluate "$(ticket A-1)" "$VIEWER"
expect_status 403 "a viewer may not evaluate"

api POST /v1/tickets "$(ticket A-1)" "$AGENT"
expect_status 201 "an agent creates a ticket"
api GET /v1/tickets/A-1 "" "$VIEWER"
expect_status 200 "a viewer reads it"
api GET /v1/queues/carrier "" "$VIEWER"
expect_status 200 "a viewer reads a queue"
api GET /metrics "" "$VIEWER"
expect_status 200 "a viewer reads the metrics"

api POST /v1/policy/reload "" "$AGENT"
expect_status 403 "an agent may not reload"
api POST /v1/admin/clock '{"advance":"1m"}' "$AGENT"
expect_status 403 "an agent may not move the clock"
api POST /v1/policy/reload "" "$ADMIN"
expect_status 200 "an admin reloads"
api GET /v1/admin/config "" "$AGENT"
expect_status 403 "an agent may not read the configuration"
api GET /v1/admin/config "" "$ADMIN"
expect_status 200 "an admin reads the configuration"
expect '.tokens' '["admin:***","agent:***","bot:***","viewer:***"]' "without the secrets"
expect '.clock' '"manual"'
expect '.ack_timeout' '"900s"'
grep -q "$ADMIN" "$WORK/body" && fail "a token leaked into the configuration"
stop_server

# Malformed token settings are refused at start.
if "$ESC" serve --tokens "root:abcdefgh12" --db "$WORK/db2" >"$WORK/out" 2>&1; then
    fail "an unknown role was accepted"
fi
grep -q "tokens: expected ROLE:TOKEN" "$WORK/out" || fail "no message for a bad tokens setting: $(cat "$WORK/out")"
