#!/usr/bin/env bash
# A ticket's life cycle with each shipped pack, on the manual clock from
# Monday 2026-11-23 12:00 UTC: what each seed asks of the service.
. "$(dirname "$0")/lib.sh"

msg() { # ID CHANNEL TEXT: a ticket with one customer message
    jq -nc --arg id "$1" --arg ch "$2" --arg text "$3" '{id: $id, channel: $ch,
        subject: "Ticket \($id)", created_at: "2026-11-23T11:50:00Z",
        customer: {email: "cy@example.com", name: "Cy"},
        messages: [{from: "customer", at: "2026-11-23T11:50:00Z", text: $text}]}'
}
event() { api POST "/v1/tickets/$1/events" "$2" "$AGENT"; expect_status 200 "$1: $2"; }
kinds() { # ID KIND: the times of the ticket's events of that kind
    api GET "/v1/tickets/$1"
    printf '%s' "$BODY" | jq -c --arg k "$2" '[.events[] | select(.kind == $k) | .at]'
}
fresh() { stop_server; rm -f "$WORK/db"*; start_server --policy "policies/$1.yaml" "${@:2}"; }

# saas-tiers (seed 001): Level 2 acknowledges within 1 hour. Nobody does, so
# the escalation climbs to Level 3 (the next tier) with Level 3's 2-hour
# response time; Level 3 takes it, answers, resolves; the customer rates it.
start_server --policy policies/saas-tiers.yaml
api POST /v1/tickets "$(msg S-1 email 'This is not working, I want to speak to a manager, escalate this please.')"
expect '[.decision.priority, .escalation.team, .escalation.respond_by]' '["p3","l2","2026-11-23T16:00:00Z"]'
advance 59m
api GET /v1/tickets/S-1
expect '.escalations[0].team' '"l2"'
advance 1m
api GET /v1/tickets/S-1
expect '[.escalations[0].history[].team]' '["l2","l3"]' "Level 2 did not acknowledge within 1h"
expect '.escalations[0].respond_by' '"2026-11-23T15:00:00Z"' "Level 3 responds within 2 hours"
event S-1 '{"type":"acknowledge","by":"noor","team":"l3"}'
expect '[.escalation.state, .escalation.owner]' '["acknowledged","noor"]'
api POST /v1/tickets/S-1/messages '{"from":"agent","text":"We found the cause and are fixing it."}'
expect_status 200 "the agent's answer"
expect '.escalation.respond_by' 'null' "answered in time"
event S-1 '{"type":"status","status":"resolved"}'
event S-1 '{"type":"satisfaction","score":5}'
api GET /v1/metrics/summary "" "$VIEWER"
expect '[.escalated_tickets, .resolved, .sla_breached, .satisfaction.average]' '[1,1,0,5]'

# registrar (seed 000): a manager request goes to management (Level 4,
# resolution within 24 hours); the 4-hour response passes unanswered, then
# the resolution target.
fresh registrar
api POST /v1/tickets "$(msg R-1 chat 'I want to speak to a manager today, please. This is my third chat about the transfer.')"
expect '[.decision.level, .escalation.team, .escalation.respond_by, .escalation.resolve_by]' \
    '["l4","management","2026-11-23T16:00:00Z","2026-11-24T12:00:00Z"]'
event R-1 '{"type":"acknowledge","by":"mara"}'
advance 4h
advance 1s
[ "$(kinds R-1 sla_breach)" = '["2026-11-23T16:00:01Z"]' ] || fail "the response breach: $(kinds R-1 sla_breach)"
api GET /v1/queues/management "" "$VIEWER"
expect '[.tickets[] | [.ticket_id, .breach, .resolution]]' '[["R-1","breached","ok"]]'
advance 20h
[ "$(kinds R-1 resolution_breach)" = '["2026-11-24T12:00:01Z"]' ] || fail "the resolution target: $(kinds R-1 resolution_breach)"
api GET /v1/queues/management "" "$VIEWER"
expect '[.tickets[] | [.ticket_id, .resolution]]' '[["R-1","breached"]]'

# ai-handoff (seed 002): a critical hand-off must be acknowledged within 5
# minutes; its security team is on no chain (no tiers), so it is told
# again, at most ack_max_repeats times, until someone acknowledges.
fresh ai-handoff --ack-max-repeats 2
api POST /v1/tickets "$(msg A-1 chat 'I think my account was hacked, someone changed my password')"
expect '[.decision.priority, .decision.stop_conversation, .escalation.team]' '["critical",false,"security"]'
advance 5m
advance 5m
api GET /v1/tickets/A-1
expect '[.events[] | select(.kind == "ack_timeout") | [.at, .data.to]]' \
    '[["2026-11-23T12:05:00Z","security"],["2026-11-23T12:10:00Z","security"]]'
advance 30m
api GET /v1/tickets/A-1
expect '[.events[] | select(.kind == "ack_timeout")] | length' '2' "bounded"
event A-1 '{"type":"acknowledge","by":"sec-oncall","team":"security"}'
expect '.escalation.owner' '"sec-oncall"'

# ticket-process (seed 003): the receiving tier accepts and owns the
# ticket; follow-ups remind at 1h and 4h; waiting on the customer stops
# the clock, the customer's answer restarts it; resolved, then closed.
fresh ticket-process --warn-share 0
api POST /v1/tickets "$(msg T-1 email 'The service is down for all our users, production outage')"
expect '[.decision.priority, .escalation.team, .escalation.respond_by]' '["urgent","operations","2026-11-23T13:00:00Z"]'
event T-1 '{"type":"acknowledge","by":"ola","team":"operations"}'
event T-1 '{"type":"link","external_ticket":"OPS-77","system":"jira"}'
expect '.decision.ticket' '"T-1"'
api GET /v1/tickets/T-1
expect '.ticket.fields.external_ticket' '"OPS-77"'
advance 30m
event T-1 '{"type":"status","status":"pending"}'
advance 2h
[ "$(kinds T-1 sla_breach)" = '[]' ] || fail "breached while pending on the customer"
[ "$(kinds T-1 follow_up)" = '["2026-11-23T13:00:00Z"]' ] || fail "the 1h follow-up: $(kinds T-1 follow_up)"
api POST /v1/tickets/T-1/messages '{"from":"customer","text":"Here are the logs you asked for."}'
expect '.status' '"escalated"' "the customer's answer ends pending"
expect '.escalation.respond_by' '"2026-11-23T15:00:00Z"' "30 minutes were left"
advance 31m
[ "$(kinds T-1 sla_breach)" = '["2026-11-23T15:00:01Z"]' ] || fail "the resumed clock: $(kinds T-1 sla_breach)"
event T-1 '{"type":"status","status":"resolved"}'
event T-1 '{"type":"status","status":"closed"}'
api GET /v1/tickets/T-1
expect '[.status, (.timers | map(select(.state == "armed")) | length)]' '["closed",0]'

# meow-mobile (seed 004): a port-in rejected four times goes to the carrier;
# the agent answers, the customer writes again (the next-reply deadline),
# the ticket is resolved and reopened, which re-arms the rules.
fresh meow-mobile --ack-timeout 0
api POST /v1/tickets "$(jq -c '.id = "M-1"' examples/tickets/meow-01-port-in-rejected-four-times.json)"
expect '[.decision.targets[0], .escalation.team]' '["carrier","carrier"]'
advance 1h
api POST /v1/tickets/M-1/messages '{"from":"agent","text":"The carrier is on it; we will update you."}'
expect '.escalation.respond_by' 'null'
advance 1h
api POST /v1/tickets/M-1/messages '{"from":"customer","text":"Any news? I still cannot use my number."}'
expect '.escalation.respond_by' '"2026-11-23T18:00:00Z"' "the next reply within 4h"
event M-1 '{"type":"status","status":"resolved"}'
expect '.escalation' 'null'
event M-1 '{"type":"status","status":"reopened"}'
expect '[.status, .escalation.team, .escalation.id]' '["escalated","carrier",2]' "reopened: the rule fires again"
stop_server
