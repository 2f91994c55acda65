#!/usr/bin/env bash
# The routes file is read again on POST /v1/policy/reload and on SIGHUP; a
# bad one is refused and the routes in force stay. GET /metrics counts
# deliveries by channel: delivered, failed attempts, retries, dead letters.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
routes() { # PATH: #cs-urgent goes to the receiver's PATH; the faults' routes
    cat >"$WORK/routes.json" <<JSON
{"routes": [
  {"channel": "slack", "to": "#cs-urgent", "url": "$PEER_URL$1"},
  {"channel": "pager", "to": "on-call", "url": "$PEER_URL/pager", "routing_key": "RK"},
  {"channel": "webhook", "to": "flaky", "url": "$PEER_URL/flaky/1/x"},
  {"channel": "webhook", "to": "not-found", "url": "$PEER_URL/fail/404/x"}
]}
JSON
}
urgent() { api POST /v1/tickets "{\"id\":\"$1\",\"channel\":\"chat\",\"subject\":\"Down\",\"fields\":{\"scenario\":\"urgent\"}}"; expect_status 201 "$1"; }
slack_path() { # TICKET: the path its Slack message was posted to
    requests "[.[] | select(.path | startswith(\"/slack\")) | select(.headers[\"idempotency-key\"] | startswith(\"$1:\")) | .path] | .[0]"
}
routes /slack/one
start_server --policy tests/notify/policy.yaml --notify-routes "$WORK/routes.json" --ack-timeout 0 \
    --notify-max-attempts 3 --notify-backoff 1s
urgent U-1
wait_for "U-1 on /slack/one" 20 sh -c "[ \"\$(jq -sc '[.[] | select(.path == \"/slack/one\")] | length' '$WORK/requests.jsonl')\" = 1 ]"

# POST /v1/policy/reload reads the routes again.
routes /slack/two
api POST /v1/policy/reload "" "$ADMIN"
expect_status 200 "reload with new routes"
urgent U-2
wait_for "U-2 delivered" 20 notif_is "ticket=U-2&channel=slack&state=delivered" '.count' 1
[ "$(slack_path U-2)" = '"/slack/two"' ] || fail "U-2 went to $(slack_path U-2)"

# A bad routes file is refused with the reason; the old routes stay.
printf '{"routes": [{"channel": "slack", "to": "#cs-urgent", "url": "%s/slack/three", "colour": "red"}]}' "$PEER_URL" >"$WORK/routes.json"
api POST /v1/policy/reload "" "$ADMIN"
expect_status 422 "a bad routes file"
expect '.error.code' '"invalid_routes"'
expect '.error.where' "\"$WORK/routes.json\""
case $(printf '%s' "$BODY" | jq -r .error.message) in *"unknown key 'colour'"*) ;; *) fail "the reason: $BODY" ;; esac
printf 'not json' >"$WORK/routes.json"
api POST /v1/policy/reload "" "$ADMIN"
expect_status 422 "a routes file that is not JSON"
urgent U-3
wait_for "U-3 delivered" 20 notif_is "ticket=U-3&channel=slack&state=delivered" '.count' 1
[ "$(slack_path U-3)" = '"/slack/two"' ] || fail "after a refused reload U-3 went to $(slack_path U-3)"

# SIGHUP reads them too.
routes /slack/four
# The log says "reloaded" once a reload; the POST reload above said it already.
reloads() { grep -c "policy tests/notify/policy.yaml reloaded" "$WORK/log"; }
before=$(reloads)
more_reloads() { [ "$(reloads)" -gt "$before" ]; }
kill -HUP "$SERVER_PID"
wait_for "the reload by SIGHUP" 20 more_reloads
urgent U-4
wait_for "U-4 delivered" 20 notif_is "ticket=U-4&channel=slack&state=delivered" '.count' 1
[ "$(slack_path U-4)" = '"/slack/four"' ] || fail "after SIGHUP U-4 went to $(slack_path U-4)"

# The counters: flaky fails once and is retried, not-found is a dead letter
# at once, two pages (on-call, with the four Slack messages) are delivered.
api POST /v1/tickets '{"id":"F-1","channel":"email","subject":"Broken","fields":{"scenario":"faults"},"messages":[{"from":"customer","text":"It broke"}]}'
expect_status 201 "F-1"
wait_for "flaky delivered" 20 notif_is "ticket=F-1&to=flaky&state=delivered" '.count' 1
wait_for "not-found dead" 20 notif_is "ticket=F-1&to=not-found&state=failed" '.count' 1
metric() { api GET /metrics "" "$VIEWER"; printf '%s\n' "$BODY" | awk -v k="$1" '$1 == k {print $2}'; }
[ "$(metric 'escalator_notifications_delivered_total{channel="slack"}')" = 4 ] || fail "slack delivered: $(metric 'escalator_notifications_delivered_total{channel="slack"}')"
[ "$(metric 'escalator_notifications_delivered_total{channel="pager"}')" = 4 ] || fail "pager delivered"
[ "$(metric 'escalator_notifications_delivered_total{channel="webhook"}')" = 1 ] || fail "webhook delivered"
# F-1's other webhooks have no route here: each a dead letter at once.
dead=$(notif_is "ticket=F-1&channel=webhook&state=failed" '.count' x; printf '%s' "$BODY" | jq .count)
[ "$(metric 'escalator_notifications_dead_lettered_total{channel="webhook"}')" = "$dead" ] || fail "webhook dead letters: $(metric 'escalator_notifications_dead_lettered_total{channel="webhook"}') of $dead"
[ "$(metric 'escalator_notifications_retried_total{channel="webhook"}')" = 1 ] || fail "webhook retried"
[ "$(metric 'escalator_notifications_failed_total{channel="webhook"}')" = $((dead + 1)) ] || fail "webhook failed attempts"
[ "$(metric 'escalator_notifications_failed_total{channel="slack"}')" = 0 ] || fail "slack failed"
api GET /metrics "" "$VIEWER"
printf '%s\n' "$BODY" | grep -qx '# TYPE escalator_notifications_dead_lettered_total counter' || fail "the TYPE line"
stop_server
