#!/usr/bin/env bash
# The clocks in business hours (Paris office hours, Thursday 2026-11-26 a
# holiday), asked at 16:00 Paris on Wednesday 2026-11-25:
# - the response deadline (4h) is Friday 12:00 Paris, its warning (half
#   the window) Friday 10:00, the resolution target (the carrier's 16h)
#   Monday 16:00;
# - the carrier's acknowledgement window (1h) ends at 17:00 Wednesday, and
#   then the escalation climbs the chain the teams' tiers make (no
#   ack_chain setting): l1, carrier, managers;
# - pending on the customer stops the clocks; what is left is counted in
#   opening hours and runs again from the resumption;
# - a missed resolution target is logged, shown in the queue and in the
#   metrics, as is the customer's satisfaction.
. "$(dirname "$0")/lib.sh"
start_server --policy tests/server/clocks.yaml --clock-start 2026-11-25T15:00:00Z \
    --warn-share 0.5

api POST /v1/tickets "$(ticket CL-1)"
expect_status 201 "create"
expect '.decision.respond_by' '"2026-11-27T11:00:00Z"'
expect '.decision.resolve_by' '"2026-11-30T15:00:00Z"'
expect '.escalation.resolve_by' '"2026-11-30T15:00:00Z"'
api GET /v1/tickets/CL-1
expect '[.timers[] | [.cause, .due_at]] | sort' \
    '[["ack:1.1.0","2026-11-25T16:00:00Z"],["resolve:1","2026-11-30T15:00:01Z"],["respond:1.1.2","2026-11-27T11:00:01Z"],["warn:1.1.2","2026-11-27T09:00:00Z"]]' \
    "timers in opening hours"
advance 59m
api GET /v1/tickets/CL-1
expect '.escalations[0].team' '"carrier"' "inside the acknowledgement window"
advance 1m
api GET /v1/tickets/CL-1
expect '[.escalations[0].history[].team]' '["carrier","managers"]' "up the chain by tier"
expect '[.events[] | select(.kind == "ack_timeout") | .data.to]' '["managers"]'
expect '.escalations[0].respond_by' '"2026-11-25T17:00:00Z"' "the managers' own 1h window"
expect '.escalations[0].resolve_by' '"2026-11-30T15:00:00Z"' "the resolution target stays"

# Paused over the night and the holiday: 3h30 of the response window and
# 15h30 of the resolution target (each timer one second more) are left at
# 16:30 Paris; resumed at 09:00
# Paris on Friday they end at 12:30 Friday and 16:30 Monday.
stop_server
start_server --policy tests/server/clocks.yaml --clock-start 2026-11-25T15:00:00Z \
    --warn-share 0 --db "$WORK/db2"
api POST /v1/tickets "$(ticket CL-2)"
api POST /v1/tickets/CL-2/events '{"type":"acknowledge","by":"ines","team":"carrier"}' "$AGENT"
expect_status 200 "acknowledge"
advance 30m
api POST /v1/tickets/CL-2/events '{"type":"status","status":"pending"}' "$AGENT"
expect_status 200 "pending"
api GET /v1/tickets/CL-2
expect '[.timers[] | select(.state == "paused") | [.cause, .remaining_s]] | sort' \
    '[["resolve:1",55801],["respond:1.1.2",12601]]' "what is left, in opening hours"
api POST /v1/admin/clock '{"now":"2026-11-27T08:00:00Z"}'
api POST /v1/tickets/CL-2/events '{"type":"status","status":"open"}' "$AGENT"
expect_status 200 "resume"
expect '.escalation.respond_by' '"2026-11-27T11:30:00Z"'
expect '.escalation.resolve_by' '"2026-11-30T15:30:00Z"'

# The resolution target passes.
api POST /v1/admin/clock '{"now":"2026-11-30T15:30:01Z"}'
api GET /v1/tickets/CL-2
expect '[.events[] | select(.kind == "resolution_breach") | [.at, .data.resolve_by]]' \
    '[["2026-11-30T15:30:01Z","2026-11-30T15:30:00Z"]]'
expect '.escalations[0].resolution_breached_at' '"2026-11-30T15:30:01Z"'
api GET "/v1/notifications?ticket=CL-2&event=resolution_breach" "" "$VIEWER"
expect '[.notifications[] | [.channel, .to, .message.text]]' \
    '[["webhook","carrier-desk","Resolution target missed: ticket CL-2 (Can'"'"'t bring my number over) with Carrier was not resolved by 2026-11-30T15:30:00Z."]]' \
    "the carrier's desk is told"
api GET /v1/queues/carrier "" "$VIEWER"
expect '[.tickets[] | [.ticket_id, .resolution]]' '[["CL-2","breached"]]'
api POST /v1/tickets/CL-2/events '{"type":"status","status":"resolved"}' "$AGENT"
api POST /v1/tickets/CL-2/events '{"type":"satisfaction","score":4,"comment":"slow but fixed"}' "$AGENT"
expect_status 200 "satisfaction"
api GET /v1/metrics/summary "" "$VIEWER"
expect '[.resolution_met, .resolution_breached, .resolution_compliance]' '[0,1,0]'
expect '.satisfaction' '{"responses":1,"average":4}'
api GET /metrics "" "$VIEWER"
printf '%s' "$BODY" | grep -qx 'escalator_resolution_breaches_total 1' ||
    fail "resolution breaches in /metrics"
stop_server
