#!/usr/bin/env bash
# An escalation nobody acknowledges climbs ack_chain, one level per timeout,
# at most ack_max_repeats times; an acknowledgement stops it. Manual
# escalation with a reason.
. "$(dirname "$0")/lib.sh"
start_server --ack-timeout 15m --ack-chain l1,l2,carrier,engineering,legal --ack-max-repeats 3 --warn-share 0

api POST /v1/tickets "$(ticket C-1)"
expect '.escalation.team' '"carrier"'
advance 14m
expect '.timers_checked' '0'
advance 1m
api GET /v1/tickets/C-1
expect '.escalations[0].team' '"engineering"' "the first timeout moves it up"
expect '[.escalations[0].history[] | [.team, .started_at, .ended_at]]' '[["carrier","2026-11-23T12:00:00Z","2026-11-23T12:15:00Z"],["engineering","2026-11-23T12:15:00Z",null]]'
expect '.escalations[0].respond_by' '"2026-11-23T16:15:00Z"' "the new level gets the same 4h window"
expect '[.events[] | select(.kind == "ack_timeout") | .data.to]' '["engineering"]'
advance 15m
advance 15m
api GET /v1/tickets/C-1
expect '[.escalations[0].history[].team]' '["carrier","engineering","legal"]' "the top of the chain"
expect '.escalations[0].ack_repeats' '3'
advance 2h
api GET /v1/tickets/C-1
expect '[.events[] | select(.kind == "ack_timeout")] | length' '3' "bounded by ack_max_repeats"
expect '[.timers[] | select(.state == "armed" and (.cause | startswith("ack:")))] | length' '0'

# Acknowledged in time: nothing moves.
api POST /v1/tickets "$(ticket C-2)"
advance 10m
api POST /v1/tickets/C-2/events '{"type":"acknowledge","by":"omar","team":"carrier"}' "$AGENT"
expect_status 200 "acknowledge"
advance 1h
api GET /v1/tickets/C-2
expect '[.escalations[0].history[].team]' '["carrier"]'
expect '[.events[] | select(.kind == "ack_timeout")] | length' '0'

# Manual escalation with its reason; a new level needs a new acknowledgement.
api POST /v1/tickets/C-2/events '{"type":"escalate","team":"legal","reason":"regulator letter received","by":"omar"}' "$AGENT"
expect_status 200 "manual escalation"
expect '.escalation.team' '"legal"'
expect '.escalation.state' '"open"'
api GET /v1/tickets/C-2
expect '[.events[] | select(.kind == "level_change") | [.data.cause, .data.from, .data.why.reason, .actor]]' '[["manual: regulator letter received","carrier","regulator letter received","omar"]]'
stop_server
