#!/usr/bin/env bash
# Events beyond the escalation: the pre-breach warning, the breach, the
# acknowledgement, the follow-up reminder and the acknowledgement timeout
# that moves the escalation up the chain each tell the recipients of the
# escalation, on the manual clock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
cat >"$WORK/routes.json" <<JSON
{"routes": [
  {"channel": "slack", "to": "#cs-urgent", "url": "$PEER_URL/slack"},
  {"channel": "pager", "to": "on-call", "url": "$PEER_URL/pager", "routing_key": "RK"}
]}
JSON
start_server --policy tests/notify/policy.yaml --notify-routes "$WORK/routes.json" \
    --warn-share 0.8 --ack-timeout 2h --ack-chain l2,carrier

api POST /v1/tickets '{"id":"A-1","channel":"chat","subject":"Site down","fields":{"scenario":"urgent"}}'
expect_status 201 "A-1: critical, answer within 1h"
api POST /v1/tickets '{"id":"B-1","channel":"chat","subject":"Data gone","fields":{"scenario":"urgent"}}'
advance 10m
api POST /v1/tickets/B-1/events '{"type":"acknowledge","by":"maria"}'
expect_status 200 "B-1 acknowledged"
advance 50m
advance 1s
advance 1h
# A-1: warned at 12:48, breached at 13:00:01, not acknowledged by 14:00:
# up the chain to the carrier.
wait_for "A-1's four Slack messages" 20 notif_is "ticket=A-1&channel=slack&state=delivered" '.count' 4
api GET "/v1/notifications?ticket=A-1&channel=slack" "" "$VIEWER"
expect '[.notifications[] | .event]' '["escalated","sla_warning","sla_breach","ack_timeout"]'
expect '[.notifications[] | .message.text][1:]' \
    '["SLA warning: ticket A-1 (Site down) with Senior support must be answered by 2026-11-23T13:00:00Z.","SLA breached: ticket A-1 (Site down) was not answered by Senior support by 2026-11-23T13:00:00Z.","Not acknowledged: Senior support did not take ticket A-1 (Site down) in time; escalated up the chain to Carrier."]'
texts=$(requests '[.[] | select(.path == "/slack" and (.headers["idempotency-key"] | startswith("A-1:"))) | .json.text] | .[1:] | sort')
[ "$(printf '%s' "$texts" | jq length)" = 3 ] || fail "the receiver got: $texts"
# B-1: acknowledged, then its team's follow-up a day later.
advance 22h
wait_for "B-1's five Slack messages" 20 notif_is "ticket=B-1&channel=slack&state=delivered" '.count' 5
api GET "/v1/notifications?ticket=B-1&channel=slack" "" "$VIEWER"
expect '[.notifications[] | .event]' '["escalated","acknowledged","sla_warning","sla_breach","follow_up"]'
expect '[.notifications[] | .message.text][1]' '"Acknowledged: maria took ticket B-1 (Data gone) for Senior support."'
expect '[.notifications[] | .message.text][4]' '"Follow-up due: ticket B-1 (Data gone) is with Senior support; check on it and update the customer."'
expect '[.notifications[] | .message.subject][4]' '"Follow-up due - Ticket #B-1 - Senior support"'
api GET "/v1/notifications?ticket=B-1&channel=pager" "" "$VIEWER"
expect '[.notifications[] | [.event, .state]]' \
    '[["escalated","delivered"],["acknowledged","delivered"],["sla_warning","delivered"],["sla_breach","delivered"],["follow_up","delivered"]]'
# A pager acknowledges the incident its escalation opened.
[ "$(requests '[.[] | select(.path == "/pager" and .json.event_action == "acknowledge") | .json]')" = \
  '[{"routing_key":"RK","event_action":"acknowledge","dedup_key":"B-1:escalation:2.1:pager:on-call"}]' ] ||
    fail "the acknowledgement's page: $(requests '[.[] | select(.path == "/pager") | .json.event_action]')"
stop_server

# notify_events picks the lifecycle events that notify.
rm -f "$WORK/db"*
start_server --policy tests/notify/policy.yaml --notify-routes "$WORK/routes.json" \
    --warn-share 0.8 --ack-timeout 0 --notify-events sla_breach
api POST /v1/tickets '{"id":"C-1","channel":"chat","fields":{"scenario":"urgent"}}'
advance 2h
api GET "/v1/notifications?ticket=C-1&channel=slack" "" "$VIEWER"
expect '[.notifications[] | .event]' '["escalated","sla_breach"]'
stop_server
