#!/usr/bin/env bash
# The lifecycle notifications the shipped packs name with `on:`, each
# delivered by the channel it names, on the manual clock: saas-tiers'
# overdue alerts on the dashboard, the P1 breach phoned to engineering,
# the owning level's follow-up e-mail, the chain step that phones the next
# level, P4's e-mail response to a new question, and a manual escalation
# telling the receiving level; ai-handoff's pages to
# the on-call support manager, acknowledged and then resolved on the same
# incident; meow-mobile's #cs-urgent alerts and follow-up reminders to the
# owning team; registrar's team e-mails and management told of a breach;
# ticket-process' breach and follow-ups in #support-escalations.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
start_smtp
cat >"$WORK/routes.json" <<JSON
{"smtp": {"url": "$SMTP_URL", "from": "support@example.com"},
 "routes": [
  {"channel": "phone", "to": "on-call-engineering", "url": "$PEER_URL/phone/engineering", "routing_key": "RK-ENG"},
  {"channel": "phone", "to": "on-call-senior", "url": "$PEER_URL/phone/senior", "routing_key": "RK-SENIOR"},
$(for a in escalations l2-team l3-team engineering-team senior-cs engineering carrier-escalations technical-team abuse-team billing-team management legal-team support-agents; do printf '  {"channel": "email", "to": "%s", "addresses": ["%s@example.com"]},\n' "$a" "$a"; done)
  {"channel": "dashboard", "to": "escalation-alerts", "url": "$PEER_URL/dashboard"},
  {"channel": "pager", "to": "on-call-support-manager", "url": "$PEER_URL/pager", "routing_key": "RK-MGR"},
  {"channel": "pager", "to": "on-call", "url": "$PEER_URL/pager", "routing_key": "RK-ONCALL"},
  {"channel": "slack", "to": "#cs-urgent", "url": "$PEER_URL/slack/cs-urgent"},
  {"channel": "slack", "to": "#support-escalations", "url": "$PEER_URL/slack/support-escalations"}
]}
JSON
# sent TICKET: [event, channel, to, state] of every delivery of the ticket.
sent() {
    api GET "/v1/notifications?ticket=$1&limit=200" "" "$VIEWER"
    printf '%s' "$BODY" | jq -c '[.notifications[] | [.event, .channel, .to, .state]]'
}
# has TICKET EVENT CHANNEL TO: that delivery was delivered.
has() {
    sent "$1" | jq -e --arg e "$2" --arg c "$3" --arg t "$4" \
        'any(.[]; . == [$e, $c, $t, "delivered"])' >/dev/null
}
must() { wait_for "$1 $2 by $3 to $4" 20 has "$@"; }
# never TICKET EVENT CHANNEL TO: no such delivery at all.
never() {
    sent "$1" | jq -e --arg e "$2" --arg c "$3" --arg t "$4" \
        'all(.[]; .[0:3] != [$e, $c, $t])' >/dev/null || fail "$1: unexpected $2 by $3 to $4: $(sent "$1")"
}
mails_to() { grep -c "^Envelope-to: $1@example.com" "$WORK/mail/mbox" 2>/dev/null; }

# ---- saas-tiers ----------------------------------------------------------------
start_server --policy policies/saas-tiers.yaml --notify-routes "$WORK/routes.json" \
    --warn-share 0.8 --ack-timeout 30m --ack-chain l2,l3,l4
saas() { jq -nc --arg id "$1" --arg text "$2" '{id: $id, channel: "email", subject: "Ticket \($id)",
    customer: {email: "cy@example.com", name: "Cy"}, level: "l1",
    messages: [{from: "customer", at: "2026-11-23T11:50:00Z", text: $text}]}'; }
api POST /v1/tickets "$(saas P1-1 'Our whole system is down, complete outage, data loss for all users.')"
expect '.decision.priority' '"p1"'
api POST /v1/tickets "$(saas P2-1 "The CSV export button is broken since yesterday's update.")"
expect '.decision.targets' '["l3"]'
api POST /v1/tickets "$(saas P3-1 'This is not working, I want to speak to a manager, escalate this please.')"
expect '.decision.targets' '["l2"]'
# P4: a new question that no level holds yet: queued to Level 1, the
# customer gets the e-mail response.
api POST /v1/tickets '{"id":"P4-1","channel":"email","subject":"Adding a teammate","customer":{"email":"nadia@example.com","name":"Nadia"},"messages":[{"from":"customer","at":"2026-11-23T11:50:00Z","text":"Hi, how do I add a teammate to our workspace?"}]}'
expect '[.decision.priority, .decision.targets, .decision.escalate]' '["p4",["l1"],true]'
must P4-1 escalated email customer
wait_for "P4's e-mail response" 20 grep -q '^Envelope-to: nadia@example.com' "$WORK/mail/mbox"
grep -q 'Email response to nadia@example.com for P4-1' "$WORK/mail/mbox" || fail "P4's text: $(cat "$WORK/mail/mbox")"
# A manual escalation to Level 3, which names nobody for escalations: its
# other recipients (the follow-up e-mail, the senior on-call phone) are told.
api POST /v1/tickets "$(saas H-1 'How do I export my invoices?')"
expect '.decision.escalate' 'false'
api POST /v1/tickets/H-1/events '{"type":"escalate","team":"l3","reason":"reseller contract question"}' "$AGENT"
expect_status 200 "H-1 escalated by hand"
must H-1 escalated email l3-team
must H-1 escalated phone on-call-senior
wait_for "the hand-off mail" 20 grep -q 'Escalated by hand to Level 3: ticket H-1 (Ticket H-1). Reason: reseller contract question' "$WORK/mail/mbox"
api POST /v1/tickets/P1-1/events '{"type":"acknowledge","by":"eng-lead"}'
expect_status 200 "P1-1 acknowledged"
api POST /v1/tickets/P3-1/events '{"type":"acknowledge","by":"l2-agent"}'
expect_status 200 "P3-1 acknowledged"
must P1-1 acknowledged dashboard escalation-alerts
advance 12m   # 12:12: P1's pre-breach warning
must P1-1 sla_warning dashboard escalation-alerts
advance 3m1s  # 12:15: P1 breached: the dashboard and a phone call to engineering
must P1-1 sla_breach dashboard escalation-alerts
must P1-1 sla_breach phone on-call-engineering
never P1-1 sla_warning phone on-call-engineering
never P1-1 sla_breach email escalations
advance 15m   # 12:30: Level 3 did not acknowledge P2-1: the chain phones Level 4
must P2-1 ack_timeout phone on-call-engineering
never P2-1 ack_timeout dashboard escalation-alerts
[ "$(requests '[.[] | select(.path == "/phone/engineering" and .json.payload.custom_details.ticket == "P2-1") | .json | [.routing_key, .payload.custom_details.event, .payload.summary]]' | jq -c '.[] | select(.[1] == "ack_timeout")')" = \
  '["RK-ENG","ack_timeout","Not acknowledged: Level 3 did not take ticket P2-1 (Ticket P2-1) in time; escalated up the chain to Level 4."]' ] ||
    fail "the chain step's phone call: $(requests '[.[] | select(.path == "/phone/engineering") | .json]')"
advance 4h    # 16:30: P3-1's follow-up reminds Level 2 by e-mail; P3 breached
must P3-1 follow_up email l2-team
must P3-1 sla_breach email escalations
never P3-1 follow_up email escalations
wait_for "the follow-up mail" 20 sh -c "grep -q '^Subject: Follow-up due - Ticket #P3-1 - Level 2' '$WORK/mail/mbox'"
stop_server

# ---- ai-handoff: pages, acknowledged and resolved on one incident ---------------
rm -f "$WORK/db"*
start_server --policy policies/ai-handoff.yaml --notify-routes "$WORK/routes.json" --ack-timeout 0
hacked='{"channel":"chat","messages":[{"from":"customer","at":"2026-11-23T11:59:00Z","text":"I think my account was hacked, someone changed my password"}]}'
api POST /v1/tickets "$(printf '%s' "$hacked" | jq -c '.id = "AI-1"')"
expect '.decision.priority' '"critical"'
api POST /v1/tickets "$(printf '%s' "$hacked" | jq -c '.id = "AI-2"')"
must AI-1 escalated pager on-call-support-manager
api POST /v1/tickets/AI-1/events '{"type":"acknowledge","by":"sam"}'
must AI-1 acknowledged pager on-call-support-manager
api POST /v1/tickets/AI-1/events '{"type":"status","status":"resolved"}'
expect_status 200 "AI-1 resolved"
must AI-1 resolved pager on-call-support-manager
[ "$(requests '[.[] | select(.json.routing_key == "RK-MGR" and (.json.dedup_key | startswith("AI-1:"))) | .json | [.event_action, .dedup_key]]')" = \
  '[["trigger","AI-1:escalation:1.1:pager:on-call-support-manager"],["acknowledge","AI-1:escalation:1.1:pager:on-call-support-manager"],["resolve","AI-1:escalation:1.1:pager:on-call-support-manager"]]' ] ||
    fail "AI-1's incident: $(requests '[.[] | select(.json.routing_key == "RK-MGR") | .json]')"
# AI-2: nobody acknowledges within 5 minutes (the critical priority's
# acknowledge_within; security is on no chain) and nobody answers: the
# manager is paged again for each.
advance 5m1s
must AI-2 ack_timeout pager on-call-support-manager
must AI-2 sla_breach pager on-call-support-manager
api POST /v1/tickets/AI-2/events '{"type":"status","status":"closed"}'
expect_status 200 "AI-2 closed"
wait_for "AI-2's three incidents resolved" 20 notif_is "ticket=AI-2&event=resolved&state=delivered" '.count' 3
stop_server

# ---- meow-mobile: #cs-urgent hears of the acknowledgement; follow-ups --------
rm -f "$WORK/db"*
start_server --policy policies/meow-mobile.yaml --notify-routes "$WORK/routes.json" \
    --ack-timeout 0 --clock-start 2026-11-23T15:00:00Z
api POST /v1/tickets "$(jq -c '.id = "M-1"' examples/tickets/meow-05-account-takeover-urgent.json)"
expect '.decision.priority' '"critical"'
api POST /v1/tickets/M-1/events '{"type":"acknowledge","by":"tess"}'
must M-1 acknowledged slack "#cs-urgent"
api POST /v1/tickets "$(jq -c '.id = "M-2"' examples/tickets/meow-01-port-in-rejected-four-times.json)"
expect '.decision.targets[0]' '"carrier"'
api POST /v1/tickets "$(jq -c '.id = "M-3" | .customer.email = "marisol@example.com"' examples/tickets/meow-03-refund-over-100-email.json)"
expect '.decision.targets[0]' '"l2"'
advance 25h
must M-3 follow_up email senior-cs
never M-3 follow_up email carrier-escalations
advance 5d
must M-2 follow_up email carrier-escalations
stop_server

# ---- registrar: the team by e-mail; management hears of a critical breach ------
rm -f "$WORK/db"*
start_server --policy policies/registrar.yaml --notify-routes "$WORK/routes.json" --ack-timeout 0
api POST /v1/tickets '{"id":"R-1","channel":"email","subject":"Phishing site on a domain","customer":{"email":"rep@example.com","name":"Rep"},"messages":[{"from":"customer","at":"2026-11-23T11:59:00Z","text":"A domain registered with you hosts a phishing site imitating our bank. Please take it down."}]}'
expect '.decision.escalate' 'true'
team=$(printf '%s' "$BODY" | jq -r '.decision.targets[0]')
alias=${team//_/-}
must R-1 escalated email "$alias"
prio=$(printf '%s' "$BODY" | jq -r '.decision.priority')
advance 25h
must R-1 follow_up email "$alias"
if [ "$prio" = critical ]; then must R-1 sla_breach email management; else never R-1 sla_breach email management; fi
# A manual escalation tells the receiving team.
api POST /v1/tickets '{"id":"R-2","channel":"email","subject":"Question","customer":{"email":"q@example.com","name":"Q"},"messages":[{"from":"customer","at":"2026-11-24T12:59:00Z","text":"How do I change the nameservers of my domain?"}]}'
expect_status 201 "R-2"
api POST /v1/tickets/R-2/events '{"type":"escalate","team":"legal_team","reason":"court order attached"}' "$AGENT"
expect_status 200 "R-2 escalated by hand"
must R-2 escalated email legal-team
api GET "/v1/notifications?ticket=R-2&to=legal-team" "" "$VIEWER"
expect '.notifications[0].message.text' '"Escalated by hand to Legal Team: ticket R-2 (Question). Reason: court order attached"'
stop_server

# ---- ticket-process: breach and follow-ups of an urgent escalation -------------
rm -f "$WORK/db"*
start_server --policy policies/ticket-process.yaml --notify-routes "$WORK/routes.json" --ack-timeout 0
api POST /v1/tickets '{"id":"TP-1","channel":"email","subject":"Outage","messages":[{"from":"customer","at":"2026-11-23T11:59:00Z","text":"The service is down for all our users, production outage"}]}'
expect '.decision.priority' '"urgent"'
advance 1h1s
must TP-1 sla_breach slack "#support-escalations"
must TP-1 follow_up slack "#support-escalations"
[ "$(requests '[.[] | select(.path == "/slack/support-escalations") | .json.text]' | jq -r '.[1]')" != null ] || fail "no lifecycle Slack text"
stop_server
