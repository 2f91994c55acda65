#!/usr/bin/env bash
# Timers survive a restart: loaded into the heap at start, and those that
# came due while the server was down fire at start-up.
. "$(dirname "$0")/lib.sh"
start_server --ack-timeout 0
api POST /v1/tickets "$(ticket R-1)"
expect_status 201 "escalate (respond by 16:00, warning at 15:12)"
api POST /v1/tickets "$(ticket R-2 '.created_at = "2026-11-23T11:00:00Z"')"
stop_server

# Back at 15:30: the warnings came due while down.
start_server --ack-timeout 0 --clock-start 2026-11-23T15:30:00Z
api GET /v1/tickets/R-1
expect '[.events[] | select(.kind == "sla_warning") | .at]' '["2026-11-23T15:30:00Z"]' "the missed warning fires at start-up"
expect '[.events[] | select(.kind == "sla_breach")]' '[]'
grep -q "timers loaded, 2 due at start-up" "$WORK/log" || fail "start-up log: $(cat "$WORK/log")"
advance 30m
api GET /v1/tickets/R-1
expect '[.events[] | select(.kind == "sla_breach")]' '[]' "not before its time"
advance 1s
api GET /v1/tickets/R-1
expect '[.events[] | select(.kind == "sla_breach") | .at]' '["2026-11-23T16:00:01Z"]' "the loaded breach fires on time"
kill9_server

# After kill -9: nothing fires twice.
start_server --ack-timeout 0 --clock-start 2026-11-23T17:00:00Z
api GET /v1/tickets/R-1
expect '[.events[] | select(.kind == "sla_breach" or .kind == "sla_warning")] | length' '2'
api GET /v1/tickets/R-2
expect '[.events[] | select(.kind == "sla_breach" or .kind == "sla_warning")] | length' '2'
stop_server
