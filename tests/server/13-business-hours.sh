#!/usr/bin/env bash
# Business hours: the policy's calendar (Paris office hours, a holiday)
# sets the deadline the service's timer fires at. 2h asked at 16:00 Paris
# on Wednesday 2026-11-25, with Thursday a holiday, is due at 10:00 Paris
# on Friday (09:00Z).
. "$(dirname "$0")/lib.sh"
start_server --policy tests/server/business-hours.yaml --clock-start 2026-11-25T15:00:00Z \
    --warn-share 0 --ack-timeout 0

api POST /v1/tickets "$(ticket BH-1)"
expect_status 201 "create"
expect '.escalation.respond_by' '"2026-11-27T09:00:00Z"'
api POST /v1/admin/clock '{"now":"2026-11-27T09:00:00Z"}'
[ "$(events BH-1 | jq 'map(select(. == "sla_breach")) | length')" = 0 ] || fail "breached over the night and the holiday"
advance 1s
api GET /v1/tickets/BH-1
expect '[.events[] | select(.kind == "sla_breach") | .at]' '["2026-11-27T09:00:01Z"]'
stop_server
