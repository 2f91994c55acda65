#!/usr/bin/env bash
# Faults end in a retry or the dead letter, with the reason, and never
# block the engine: a receiver that answers 500, one that is too slow, one
# that hangs up, a host name that does not resolve, a 404 (not retried), a
# template that names a missing field (not retried), a receiver that fails
# twice. An admin sends a failed one again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
cat >"$WORK/routes.json" <<JSON
{"smtp": {"url": "smtp://127.0.0.1:9", "from": "escalator@example.com"},
 "routes": [
  {"channel": "webhook", "to": "answers-500", "url": "$PEER_URL/fail/500/x"},
  {"channel": "webhook", "to": "too-slow", "url": "$PEER_URL/slow/4000/x"},
  {"channel": "webhook", "to": "hangs-up", "url": "$PEER_URL/drop/x"},
  {"channel": "webhook", "to": "no-such-host", "url": "http://no-such-host.invalid:9/x"},
  {"channel": "webhook", "to": "not-found", "url": "$PEER_URL/fail/404/x"},
  {"channel": "webhook", "to": "flaky", "url": "$PEER_URL/flaky/2/x"},
  {"channel": "email", "to": "pager-mail", "addresses": ["{{ticket.fields.pager_email}}"]}
]}
JSON
start_server --policy tests/notify/policy.yaml --notify-routes "$WORK/routes.json" --ack-timeout 0 \
    --notify-max-attempts 2 --notify-backoff 1s --notify-timeout 2s

api POST /v1/tickets '{"id":"F-1","channel":"email","subject":"Broken","fields":{"scenario":"faults"},"messages":[{"from":"customer","text":"It broke"}]}'
expect_status 201 "a ticket whose notifications all meet a fault"
# The engine goes on while the receivers stall.
t=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $AGENT" \
    --data-binary "$(quiet_ticket Q-1)" "$URL/v1/tickets")
awk -v t="$t" 'BEGIN { exit !(t < 1.5) }' || fail "a write took ${t}s while deliveries stalled"

wait_for "seven dead letters" 60 notif_is "state=failed" '.count' 7
api GET "/v1/notifications?state=failed&ticket=F-1" "" "$VIEWER"
reason() { printf '%s' "$BODY" | jq -r --arg to "$1" '.notifications[] | select(.to == $to) | "\(.attempts) \(.last_error)"'; }
case $(reason answers-500) in "2 gave up after 2 attempts: http://127.0.0.1:"*": HTTP 500: {\"error\":\"told to fail\"}") ;; *) fail "500: $(reason answers-500)" ;; esac
case $(reason too-slow) in "2 gave up after 2 attempts: "*"imeout"*) ;; *) fail "slow: $(reason too-slow)" ;; esac
case $(reason hangs-up) in "2 gave up after 2 attempts: "*"nothing"*) ;; *) fail "drop: $(reason hangs-up)" ;; esac
case $(reason no-such-host) in "2 gave up after 2 attempts: http://no-such-host.invalid:9: "*"resolve"*) ;; *) fail "dns: $(reason no-such-host)" ;; esac
case $(reason not-found) in "1 http://127.0.0.1:"*": HTTP 404: "*) ;; *) fail "404 is not retried: $(reason not-found)" ;; esac
case $(reason flaky) in "2 gave up after 2 attempts: "*"HTTP 500"*) ;; *) fail "flaky: $(reason flaky)" ;; esac
[ "$(reason pager-mail)" = "1 template: no value for 'ticket.fields.pager_email'" ] || fail "template: $(reason pager-mail)"
# Each retry came after the backoff, not at once.
[ "$(requests '[.[] | select(.path == "/fail/500/x")] | length')" = 2 ] || fail "two attempts at the 500"

# The admin sends the flaky one again: its third request succeeds.
id=$(printf '%s' "$BODY" | jq '.notifications[] | select(.to == "flaky") | .id')
api POST "/v1/notifications/$id/resend" "" "$VIEWER"
expect_status 403 "a viewer may not resend"
api POST "/v1/notifications/$id/resend"
expect_status 200 "resend"
expect '[.state, .attempts]' '["pending",0]'
wait_for "the resent one" 20 notif_is "ticket=F-1&to=flaky" '.notifications[0].state' '"delivered"'
api GET "/v1/notifications/$id" "" "$VIEWER"
expect '[.state, .attempts, .last_error]' '["delivered",1,null]'
api POST "/v1/notifications/$id/resend"
expect_status 200 "a delivered one may be sent again on purpose"
wait_for "the second resend" 20 notif_is "ticket=F-1&to=flaky" '.notifications[0].state' '"delivered"'
[ "$(requests '[.[] | select(.path == "/flaky/2/x")] | length')" = 4 ] || fail "four requests to the flaky receiver"
api GET /v1/tickets/F-1
expect '[.events[] | select(.kind == "notification_resent") | .data.was]' '["failed","delivered"]'
api POST /v1/notifications/999/resend
expect_status 404 "unknown"
stop_server
