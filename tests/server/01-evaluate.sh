#!/usr/bin/env bash
# POST /v1/evaluate decides without storing anything; a bot may call it.
. "$(dirname "$0")/lib.sh"
start_server

api POST /v1/evaluate "$(ticket EV-1)" "$BOT"
expect_status 200 "evaluate as a bot"
expect '.ticket' '"EV-1"'
expect '.escalate' 'true'
expect '.targets' '["carrier"]'
expect '[.reasons[].rule]' '["port_in_rejected"]'
expect '.respond_by' '"2026-11-23T16:00:00Z"' "respond_by from the manual clock"

api GET /v1/tickets/EV-1
expect_status 404 "an evaluated ticket is not stored"
expect '.error.code' '"not_found"'

api POST /v1/evaluate '{"id": "EV-2", "fields": {"port_in_rejections": "four"}}' "$BOT"
expect_status 422 "a field of the wrong type"
expect '.error.code' '"invalid_ticket"'
expect '.error.where' '"/fields/port_in_rejections"'

api GET /healthz "" -
expect_status 200 "health needs no token"
stop_server
