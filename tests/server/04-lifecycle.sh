#!/usr/bin/env bash
# A ticket's life: created quiet, a message escalates it, the receiving tier
# acknowledges and answers, troubleshooting, a linked external ticket,
# pending, resolved, satisfaction, reopened; queues ordered by deadline;
# `open` on an escalated ticket keeps it escalated.
. "$(dirname "$0")/lib.sh"
start_server --ack-timeout 0

api POST /v1/tickets "$(quiet_ticket L-1)" "$AGENT"
expect_status 201 "create a quiet ticket"
expect '.created' 'true'
expect '.decision.escalate' 'false'
expect '.escalation' 'null'

api POST /v1/tickets "$(quiet_ticket L-1)" "$AGENT"
expect_status 200 "the same id again updates"
expect '.created' 'false'

api POST /v1/tickets/L-1/messages '{"from":"customer","text":"I want to speak to a lawyer, I will sue you"}' "$AGENT"
expect_status 200 "a customer message"
expect '.decision.escalate' 'true'
expect '.escalation.team' '"l2"'
expect '.escalation.state' '"open"'
expect '.status' '"escalated"'
expect '.level' '"l2"'

# Another ticket with a later deadline, then one with an earlier one.
api POST /v1/tickets "$(ticket L-2)" "$AGENT"
expect_status 201 "a carrier escalation"
expect '.escalation.team' '"carrier"'

api GET /v1/queues "" "$VIEWER"
expect_status 200 "all queues"
expect '[.tickets[].ticket_id]' '["L-1","L-2"]' "ordered by deadline"
expect '[.tickets[].breach]' '["ok","ok"]'
api GET /v1/queues/carrier "" "$VIEWER"
expect '[.tickets[].ticket_id]' '["L-2"]' "one team's queue"

api POST /v1/tickets/L-1/events '{"type":"acknowledge","by":"lena","team":"carrier"}' "$AGENT"
expect_status 409 "acknowledging for a team that does not hold it"
api POST /v1/tickets/L-1/events '{"type":"acknowledge","by":"lena"}' "$AGENT"
expect_status 200 "acknowledge"
expect '.escalation.state' '"acknowledged"'
expect '.escalation.owner' '"lena"'

advance 5m
api POST /v1/tickets/L-1/messages '{"from":"agent","text":"I am looking into it personally."}' "$AGENT"
expect_status 200 "the first answer"
expect '.escalation.respond_by' 'null' "answered: no deadline left"

api POST /v1/tickets/L-1/events '{"type":"troubleshooting","step":"Checked the contract","result":"signed 2025"}' "$AGENT"
expect_status 200 "a troubleshooting step"
api POST /v1/tickets/L-1/events '{"type":"link","external_ticket":"JIRA-42","system":"jira"}' "$AGENT"
expect_status 200 "a linked external ticket"
api POST /v1/tickets/L-1/events '{"type":"status","status":"pending"}' "$AGENT"
expect_status 200 "pending on the customer"
expect '.status' '"pending"'
api POST /v1/tickets/L-1/events '{"type":"status","status":"resolved"}' "$AGENT"
expect_status 200 "resolved"
expect '.escalation' 'null' "no open escalation once resolved"
api POST /v1/tickets/L-1/events '{"type":"satisfaction","score":4,"comment":"fine"}' "$AGENT"
expect_status 200 "satisfaction after resolution"
api POST /v1/tickets/L-1/events '{"type":"status","status":"reopened"}' "$AGENT"
expect_status 200 "reopened"
expect '.status' '"escalated"' "reopening re-arms the rules: escalated again"
expect '.escalation.id' '3'

api GET /v1/tickets/L-1 "" "$VIEWER"
expect_status 200 "the ticket with its history"
expect '.ticket.troubleshooting' '[{"step":"Checked the contract","result":"signed 2025"}]'
expect '.ticket.fields.external_ticket' '"JIRA-42"'
expect '.ticket.messages | length' '3'
expect '[.events[].kind]' '["created","decision","updated","decision","message","decision","escalation","acknowledged","decision","message","decision","troubleshooting","decision","external_link","decision","status","decision","status","clock_resumed","decision","satisfaction","decision","status","decision","escalation"]'
expect '[.escalations[].state]' '["resolved","open"]'
expect '.escalations[0].history[0] | [.team, .acknowledged_at, .responded_at]' '["l2","2026-11-23T12:00:00Z","2026-11-23T12:05:00Z"]'
expect '.first_response_at' '"2026-11-23T12:05:00Z"'
expect '[.events[] | select(.kind == "satisfaction") | .data.score]' '[4]'

api GET /v1/metrics/summary "" "$VIEWER"
expect_status 200 "metrics summary"
expect '.tickets' '2'
expect '.escalated_tickets' '2'
expect '.escalation_rate' '1'
expect '[.levels[] | [.level, .entered, .resolved]]' '[["carrier",1,0],["l2",2,1]]'
expect '.repeat_escalations' '1'

# `open` (from the help desk, or by hand) on an escalated ticket leaves it
# with the level that holds it: still escalated, the escalation and its
# deadline kept. Only resolving or closing ends the escalation.
api POST /v1/tickets "$(ticket L-3)" "$AGENT"
expect_status 201 "another carrier escalation"
expect '.status' '"escalated"'
respond_by=$(printf '%s' "$BODY" | jq -c '.escalation.respond_by')
api POST /v1/tickets/L-3/events '{"type":"status","status":"open"}' "$AGENT"
expect_status 200 "status open on an escalated ticket"
expect '.status' '"escalated"' "still escalated after the status event"
expect '.escalation.state' '"open"'
expect '.escalation.respond_by' "$respond_by" "the deadline kept"
api POST /v1/tickets "$(ticket L-3 '.status = "open"')" "$AGENT"
expect_status 200 "the ticket sent again with status open"
expect '.status' '"escalated"' "still escalated when sent again"
expect '.escalation.team' '"carrier"'
api POST /v1/tickets/L-3/events '{"type":"status","status":"pending"}' "$AGENT"
expect '.status' '"pending"'
api POST /v1/tickets/L-3/events '{"type":"status","status":"open"}' "$AGENT"
expect_status 200 "open after pending, the escalation open"
expect '.status' '"escalated"' "back to escalated, as a customer's answer does"
api GET /v1/tickets/L-3 "" "$VIEWER"
expect '[.events[] | select(.kind == "status") | .data]' \
    '[{"from":"escalated","to":"pending"},{"from":"pending","to":"escalated","asked":"open"}]'
expect '[.timers[] | select(.state == "armed") | .cause | split(":")[0]] | sort' \
    '["follow_up","respond","warn"]' "the level's timers still armed"
stop_server
