#!/usr/bin/env bash
# On the real clock the timer thread sleeps until the earliest due time and
# fires it then, with no request to wake it.
. "$(dirname "$0")/lib.sh"
start_server --clock real --ack-timeout 1s --ack-chain carrier,engineering --ack-max-repeats 1

api POST /v1/tickets "$(ticket RC-1 '.created_at = (now | todate) | .messages |= map(.at = (now | todate))')"
expect_status 201 "create"
expect '.escalation.team' '"carrier"'
for i in $(seq 100); do
    api GET /v1/tickets/RC-1
    [ "$(printf '%s' "$BODY" | jq -r '.escalations[0].team')" = engineering ] && break
    sleep 0.05
done
expect '.escalations[0].team' '"engineering"' "the acknowledgement timeout fired on its own"
expect '[.events[] | select(.kind == "ack_timeout")] | length' '1'
api POST /v1/admin/clock '{"advance":"1m"}'
expect_status 409 "no manual clock to move"
expect '.error.code' '"clock_not_manual"'
stop_server
