#!/usr/bin/env bash
# Notifications delivered by the channel the policy names: a Slack
# incoming webhook (mrkdwn escaped, <!channel> on the urgent path), a
# PagerDuty Events v2 trigger with its dedup key, a generic webhook signed
# with HMAC-SHA256; the customer message handed back for a chat ticket; an
# unmapped recipient and a missing SMTP relay end as failed deliveries with
# the reason, visible in GET /v1/notifications?state=failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
cat >"$WORK/routes.json" <<JSON
{"routes": [
  {"channel": "slack", "to": "#cs-urgent", "url": "$PEER_URL/slack/T000/B000/XXXX"},
  {"channel": "pager", "to": "on-call", "url": "$PEER_URL/pager/v2/enqueue", "routing_key": "R0UTINGKEY"},
  {"channel": "webhook", "to": "helpdesk", "url": "$PEER_URL/hook", "secret": "$PEER_SECRET"},
  {"channel": "email", "to": "l2-team", "addresses": ["l2@example.com"]}
]}
JSON
start_server --policy tests/notify/policy.yaml --notify-routes "$WORK/routes.json" --ack-timeout 0

api POST /v1/tickets '{"id":"U-1","channel":"chat","subject":"Site down","customer":{"email":"ana@example.com"},"fields":{"scenario":"urgent"},"messages":[{"from":"customer","text":"Nothing loads"}]}'
expect_status 201 "an urgent ticket"
expect '[.decision.notifications[] | .channel]' '["pager","slack"]'
wait_for "two deliveries for U-1" 20 notif_is "ticket=U-1&state=delivered" '.count' 2

# Slack: text only, mrkdwn escaped, @channel as Slack's special mention.
slack=$(requests '[.[] | select(.path | startswith("/slack/"))] | .[0].json.text')
case $slack in
    '"<!channel> URGENT ESCALATION\n\nCustomer: ana@example.com\nIssue: Site down &lt;script&gt; &amp; more\n"') ;;
    *) fail "the Slack text: $slack" ;;
esac
[ "$(requests '[.[] | select(.path | startswith("/slack/"))] | .[0].json | keys')" = '["text"]' ] || fail "Slack gets {text}"

# PagerDuty Events API v2.
pd=$(requests '[.[] | select(.path == "/pager/v2/enqueue")] | .[0].json')
[ "$(printf '%s' "$pd" | jq -c '[.routing_key, .event_action, .dedup_key, .payload.severity, .payload.source, .payload.summary]')" = \
  '["R0UTINGKEY","trigger","U-1:escalation:1.1:pager:on-call","critical","escalator","CRITICAL U-1: Urgent"]' ] ||
    fail "the PagerDuty event: $pd"
[ "$(requests '[.[] | select(.path == "/pager/v2/enqueue")] | .[0].headers["idempotency-key"]')" = '"U-1:escalation:1.1:pager:on-call"' ] ||
    fail "the idempotency key header"

api GET "/v1/notifications?ticket=U-1" "" "$VIEWER"
expect '[.notifications[] | [.channel, .to, .state, .attempts, .idempotency_key]]' \
    '[["pager","on-call","delivered",1,"U-1:escalation:1.1:pager:on-call"],["slack","#cs-urgent","delivered",1,"U-1:escalation:1.1:slack:#cs-urgent"]]'
id=$(printf '%s' "$BODY" | jq '.notifications[0].id')
api GET "/v1/notifications/$id" "" "$VIEWER"
expect_status 200 "one notification"
expect '[.event, .message.ticket.id, .message.severity]' '["escalated","U-1","critical"]'

# The same fact is not told twice: a level change with the same decision
# text notifies nobody again.
api POST /v1/tickets/U-1/events '{"type":"escalate","team":"carrier","reason":"carrier side"}'
expect_status 200 "moved to the carrier"
sleep 1
api GET "/v1/notifications?ticket=U-1" "" "$VIEWER"
expect '.count' '2' "the same texts to the same recipients are not sent again"

# A chat ticket: the webhook is signed, the customer message is handed
# back in the answer, the unrouted Slack channel and the e-mail without a
# relay fail with their reasons.
api POST /v1/tickets '{"id":"S-1","channel":"chat","subject":"Refund","fields":{"scenario":"standard"},"messages":[{"from":"customer","text":"Where is my refund?"}]}'
expect_status 201 "a standard escalation"
wait_for "the webhook" 20 notif_is "ticket=S-1&channel=webhook" '.notifications[0].state' '"delivered"'
hook=$(requests '[.[] | select(.path == "/hook")] | .[0]')
[ "$(printf '%s' "$hook" | jq -r .signature)" = ok ] || fail "the webhook's signature does not verify: $hook"
[ "$(printf '%s' "$hook" | jq -c '[.json.event, .json.ticket.id, .json.channel, .json.to, .json.priority, .json.team, .headers["x-escalator-event"]]')" = \
  '["escalated","S-1","webhook","helpdesk","high","l2","escalated"]' ] || fail "the webhook body: $hook"
api GET "/v1/notifications?ticket=S-1&channel=customer" "" "$VIEWER"
expect '[.notifications[] | .state]' '["returned"]' "a chat customer gets the message in the API answer"
wait_for "two failures" 20 notif_is "state=failed" '.count' 2
api GET "/v1/notifications?state=failed" "" "$VIEWER"
expect '[.notifications[] | [.ticket, .channel, .to, .attempts]]' '[["S-1","email","l2-team",1],["S-1","slack","#nowhere",1]]'
expect '[.notifications[] | .last_error]' '["no SMTP relay: the routes file has no \"smtp\" section","no route for slack recipient '"'"'#nowhere'"'"' in notify_routes"]'

api GET "/v1/notifications?state=nonsense" "" "$VIEWER"
expect_status 422 "an unknown state"
api GET "/v1/notifications/999" "" "$VIEWER"
expect_status 404 "an unknown notification"
api GET "/v1/notifications" "" "-"
expect_status 401 "a token is needed"
stop_server
