#!/usr/bin/env bash
# Every notification the shipped packs ask for, delivered by the channel it
# names: saas-tiers' P1 phone call (a pager route) + e-mail + dashboard
# alert, P2 e-mail + dashboard, P3 e-mail, and the customer told the
# timeline by e-mail; ai-handoff's page to the on-call support manager;
# meow-mobile's @channel alert in #cs-urgent, with on-call paged only after
# hours; ticket-process' urgent Slack message. (registrar's policy names
# no notification.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
start_smtp
cat >"$WORK/routes.json" <<JSON
{"smtp": {"url": "$SMTP_URL", "from": "support@example.com"},
 "routes": [
  {"channel": "phone", "to": "on-call-engineering", "url": "$PEER_URL/phone", "routing_key": "RK-ENG"},
  {"channel": "email", "to": "escalations", "addresses": ["escalations@example.com"]},
  {"channel": "dashboard", "to": "escalation-alerts", "url": "$PEER_URL/dashboard"},
  {"channel": "pager", "to": "on-call-support-manager", "url": "$PEER_URL/pager", "routing_key": "RK-MGR"},
  {"channel": "pager", "to": "on-call", "url": "$PEER_URL/pager", "routing_key": "RK-ONCALL"},
  {"channel": "slack", "to": "#cs-urgent", "url": "$PEER_URL/slack/cs-urgent"},
  {"channel": "slack", "to": "#support-escalations", "url": "$PEER_URL/slack/support-escalations"}
]}
JSON
serve_pack() { start_server --policy "policies/$1.yaml" --notify-routes "$WORK/routes.json" --ack-timeout 0 "${@:2}"; }
states() { # TICKET: [channel, to, state] of its escalation's deliveries, sorted
    api GET "/v1/notifications?ticket=$1&event=escalated" "" "$VIEWER"
    printf '%s' "$BODY" | jq -c '[.notifications[] | [.channel, .to, .state]] | sort'
}
settled() { [ "$(states "$1" | jq '[.[] | select(.[2] == "pending" or .[2] == "sending")] | length')" = 0 ]; }
# (Lifecycle events, such as the breach of a critical escalation a second
# later, tell the same recipients again; 26-notify-events.sh covers them.)

# saas-tiers: P1, P2, P3.
serve_pack saas-tiers
saas() { jq -nc --arg id "$1" --arg text "$2" '{id: $id, channel: "email", subject: "Ticket \($id)",
    customer: {email: "cy@example.com", name: "Cy"},
    messages: [{from: "customer", at: "2026-11-23T11:50:00Z", text: $text}]}'; }
api POST /v1/tickets "$(saas P1-1 'Our whole system is down, complete outage, data loss for all users.')"
expect '.decision.priority' '"p1"'
api POST /v1/tickets "$(saas P2-1 "The CSV export button is broken since yesterday's update.")"
expect '.decision.priority' '"p2"'
api POST /v1/tickets "$(saas P3-1 'This is not working, I want to speak to a manager, escalate this please.')"
expect '.decision.priority' '"p3"'
for t in P1-1 P2-1 P3-1; do wait_for "$t settled" 30 settled "$t"; done
[ "$(states P1-1)" = '[["customer","customer","delivered"],["dashboard","escalation-alerts","delivered"],["email","escalations","delivered"],["phone","on-call-engineering","delivered"]]' ] ||
    fail "P1: phone call + email + dashboard alert: $(states P1-1)"
[ "$(states P2-1)" = '[["customer","customer","delivered"],["dashboard","escalation-alerts","delivered"],["email","escalations","delivered"]]' ] ||
    fail "P2: email + dashboard alert: $(states P2-1)"
[ "$(states P3-1)" = '[["customer","customer","delivered"],["email","escalations","delivered"]]' ] ||
    fail "P3: email: $(states P3-1)"
[ "$(requests '[.[] | select(.path == "/phone") | .json | [.routing_key, .payload.severity, .payload.summary]]')" = \
  '[["RK-ENG","critical","P1 escalation P1-1: Ticket P1-1"]]' ] || fail "the phone call's page: $(requests '[.[] | select(.path == "/phone")]')"
[ "$(requests '[.[] | select(.path == "/dashboard") | .json.text]')" = '["P1 P1-1: Ticket P1-1","P2 P2-1: Ticket P2-1"]' ] ||
    fail "dashboard alerts: $(requests '[.[] | select(.path == "/dashboard") | .json.text]')"
wait_for "six mails" 20 sh -c "[ \$(grep -c '^Envelope-to: ' '$WORK/mail/mbox' 2>/dev/null) -ge 6 ]"
grep -qx 'Subject: Escalation to Level 4 - Ticket P1-1 - Ticket #P1-1' "$WORK/mail/mbox" || fail "P1 mail subject: $(grep '^Subject' "$WORK/mail/mbox")"
grep -qx 'Subject: Escalation to Level 3 - Ticket P2-1 - Ticket #P2-1' "$WORK/mail/mbox" || fail "P2 mail subject"
grep -qx 'Subject: Re: Ticket P1-1 - Escalated to specialist team' "$WORK/mail/mbox" || fail "the customer's subject"
grep -q "You'll hear from them within 15 minutes" "$WORK/mail/mbox" || fail "the customer is told the timeline"
stop_server

# ai-handoff: a critical hand-off pages the on-call support manager.
rm -f "$WORK/db"*
serve_pack ai-handoff
api POST /v1/tickets '{"id":"AI-1","channel":"chat","messages":[{"from":"customer","at":"2026-11-23T11:59:00Z","text":"I think my account was hacked, someone changed my password"}]}'
expect '.decision.priority' '"critical"'
wait_for "AI-1 settled" 30 settled AI-1
[ "$(states AI-1)" = '[["pager","on-call-support-manager","delivered"]]' ] || fail "ai-handoff: $(states AI-1)"
[ "$(requests '[.[] | select(.json.routing_key == "RK-MGR") | .json | [.event_action, .dedup_key, .payload.severity]]')" = \
  '[["trigger","AI-1:escalation:1.1:pager:on-call-support-manager","critical"]]' ] || fail "the page"
stop_server

# meow-mobile: 10:00 in New York is business hours (Slack only); 18:00 is
# after hours (Slack and a page). Bot tickets get the customer message back.
rm -f "$WORK/db"*
serve_pack meow-mobile --clock-start 2026-11-23T15:00:00Z
api POST /v1/tickets "$(jq -c '.id = "M-1"' examples/tickets/meow-05-account-takeover-urgent.json)"
expect '.decision.priority' '"critical"'
advance 8h
api POST /v1/tickets "$(jq -c '.id = "M-2"' examples/tickets/meow-05-account-takeover-urgent.json)"
for t in M-1 M-2; do wait_for "$t settled" 30 settled "$t"; done
[ "$(states M-1)" = '[["customer","customer","returned"],["slack","#cs-urgent","delivered"]]' ] || fail "in hours: $(states M-1)"
[ "$(states M-2)" = '[["customer","customer","returned"],["pager","on-call","delivered"],["slack","#cs-urgent","delivered"]]' ] ||
    fail "after hours: $(states M-2)"
case $(requests '[.[] | select(.path == "/slack/cs-urgent")] | .[0].json.text') in
    '"<!channel> URGENT ESCALATION\n\nCustomer: ivy.q@example.com\n'*'Need triage NOW.\n"') ;;
    *) fail "the urgent alert: $(requests '[.[] | select(.path == "/slack/cs-urgent")] | .[0].json.text')" ;;
esac
# An e-mail ticket: the customer gets the e-mail version of the message.
api POST /v1/tickets "$(jq -c '.id = "M-3" | .customer.email = "marisol@example.com"' examples/tickets/meow-03-refund-over-100-email.json)"
expect '.decision.escalate' 'true'
wait_for "M-3 settled" 30 settled M-3
[ "$(states M-3)" = '[["customer","customer","delivered"]]' ] || fail "meow e-mail ticket: $(states M-3)"
wait_for "the customer's mail" 20 grep -q '^Envelope-to: marisol@example.com' "$WORK/mail/mbox"
stop_server

# ticket-process: urgent goes to #support-escalations.
rm -f "$WORK/db"*
serve_pack ticket-process
api POST /v1/tickets '{"id":"TP-1","channel":"email","subject":"Outage","messages":[{"from":"customer","at":"2026-11-23T11:59:00Z","text":"The service is down for all our users, production outage"}]}'
expect '.decision.priority' '"urgent"'
wait_for "TP-1 settled" 30 settled TP-1
[ "$(states TP-1)" = '[["slack","#support-escalations","delivered"]]' ] || fail "ticket-process: $(states TP-1)"
[ "$(requests '[.[] | select(.path == "/slack/support-escalations") | .json.text]')" = '["URGENT escalation TP-1 to Operations: Outage"]' ] ||
    fail "the Slack text: $(requests '[.[] | select(.path == "/slack/support-escalations") | .json.text]')"
stop_server
