#!/usr/bin/env bash
# SLA clocks on the manual clock: the pre-breach warning, the breach (which
# re-evaluates the ticket), follow-up reminders, the clock paused while the
# ticket is pending on the customer, and the next-reply deadline.
. "$(dirname "$0")/lib.sh"
start_server --ack-timeout 0 --warn-share 0.8

api POST /v1/tickets "$(ticket S-1)"
expect_status 201 "a carrier escalation (high: respond within 4h)"
expect '.escalation.respond_by' '"2026-11-23T16:00:00Z"'

advance 3h
[ "$(events S-1)" = '["created","decision","escalation"]' ] || fail "something fired before the warning: $(events S-1)"
advance 15m
api GET /v1/tickets/S-1
expect '.escalations[0].respond_by' '"2026-11-23T16:00:00Z"'
expect '[.events[] | select(.kind == "sla_warning") | .at]' '["2026-11-23T15:12:00Z"]' "the warning at 80% of 4h"
api GET /v1/queues/carrier "" "$VIEWER"
expect '[.tickets[] | .breach]' '["warning"]'

advance 1h
api GET /v1/tickets/S-1
expect '[.events[] | select(.kind == "sla_breach") | .at]' '["2026-11-23T16:00:01Z"]' "the breach, the first second past respond_by"
expect '[.events[] | select(.kind == "decision") | .data.cause] | last' '"sla_breach"' "the breach re-evaluates the ticket"
expect '.escalations[0].history[0].breached_at' '"2026-11-23T16:00:01Z"'
expect '[.timers[] | select(.cause | startswith("respond:")) | .state]' '["fired"]'
api GET /v1/queues/carrier "" "$VIEWER"
expect '[.tickets[] | .breach]' '["breached"]'

advance 3d
api GET /v1/tickets/S-1
expect '[.events[] | select(.kind == "follow_up") | [.at, .data.follow_up_team]]' '[["2026-11-26T12:00:00Z","carrier"]]' "the decision's follow-up"
expect '[.notifications[].kind]' '["escalation","sla_warning","sla_breach","follow_up"]' "the outbox"
advance 10d
api GET /v1/tickets/S-1
expect '[.events[] | select(.kind == "sla_breach" or .kind == "follow_up" or .kind == "sla_warning")] | length' '3' "each fires once"

# A breach re-evaluates the ticket: here the policy's rule on the time
# senior support left the customer waiting escalates it further.
api POST /v1/tickets "$(quiet_ticket B-1)"
api POST /v1/tickets/B-1/messages '{"from":"customer","text":"I have talked to my lawyer."}'
expect '.escalation.team' '"l2"'
advance 4h
api GET /v1/tickets/B-1
expect '.escalations[0].team' '"l2"' "not before the breach"
advance 1s
api GET /v1/tickets/B-1
expect '.escalations[0].team' '"engineering"' "the breach escalated it"
expect '[.events[] | select(.kind == "level_change") | [.data.from, .data.team, .data.why.rules]]' '[["l2","engineering",["l2_response_overdue"]]]'

# Paused while pending on the customer.
api POST /v1/tickets "$(ticket P-1 '.created_at = "2026-12-06T16:00:00Z" | .messages |= map(.at = "2026-12-06T16:00:00Z")')"
expect_status 201 "a second escalation"
t0=$(printf '%s' "$BODY" | jq -r '.escalation.opened_at')
expect '.escalation.respond_by' "\"$(date -u -d "$t0 + 4 hours" +%Y-%m-%dT%H:%M:%SZ)\""
advance 1h
api POST /v1/tickets/P-1/events '{"type":"status","status":"pending"}'
expect_status 200 "pending"
api GET /v1/tickets/P-1
expect '[.timers[] | select(.cause | startswith("respond:")) | [.state, .remaining_s]]' '[["paused",10801]]'
api GET /v1/queues/carrier "" "$VIEWER"
expect '[.tickets[] | select(.ticket_id == "P-1") | .breach]' '["paused"]'
advance 10h
[ "$(events P-1 | jq 'map(select(. == "sla_breach")) | length')" = 0 ] || fail "a paused clock breached"
api POST /v1/tickets/P-1/messages '{"from":"customer","text":"Here is the account number you asked for."}'
expect_status 200 "the customer answers: the clock runs again"
expect '.status' '"escalated"' "back to escalated: the escalation is still open"
advance 2h59m
[ "$(events P-1 | jq 'map(select(. == "sla_breach")) | length')" = 0 ] || fail "breached before the 3 hours left"
advance 2m
[ "$(events P-1 | jq 'map(select(. == "sla_breach")) | length')" = 1 ] || fail "no breach after the 3 hours left: $(events P-1)"

# The next reply: an answer clears the deadline, the customer's next
# message starts a new one.
api POST /v1/tickets "$(ticket N-1)"
api POST /v1/tickets/N-1/messages '{"from":"agent","text":"On it."}'
expect '.escalation.respond_by' 'null'
advance 1h
api POST /v1/tickets/N-1/messages '{"from":"customer","text":"Any news?"}'
now=$(curl -s -X POST -H "Authorization: Bearer $ADMIN" -d '{"advance":"0s"}' "$URL/v1/admin/clock" | jq -r .now)
expect '.escalation.respond_by' "\"$(date -u -d "$now + 4 hours" +%Y-%m-%dT%H:%M:%SZ)\"" "the next-reply deadline"
advance 4h1s
[ "$(events N-1 | jq 'map(select(. == "sla_breach")) | length')" = 1 ] || fail "the next reply did not breach"
stop_server
