#!/usr/bin/env bash
# kill -9 with undelivered notifications: some waiting for a receiver that
# is down (pending, retrying), some in flight to one that stalls (sending).
# After the restart each is delivered, with the idempotency key it had, so a
# receiver can drop the copies that at-least-once delivery may bring.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
routes() { # routes URL_OF_SLACK URL_OF_PAGER
    cat >"$WORK/routes.json" <<JSON
{"routes": [
  {"channel": "slack", "to": "#cs-urgent", "url": "$1"},
  {"channel": "pager", "to": "on-call", "url": "$2", "routing_key": "RK"}
]}
JSON
}
down=http://127.0.0.1:$("$PEER" free-port)/down
routes "$PEER_URL/slow/20000/slack" "$down"
start_server --policy tests/notify/policy.yaml --notify-routes "$WORK/routes.json" \
    --ack-timeout 0 --notify-backoff 1s --notify-timeout 30s
for i in 1 2 3 4 5; do
    api POST /v1/tickets "{\"id\":\"K-$i\",\"channel\":\"chat\",\"subject\":\"Down $i\",\"fields\":{\"scenario\":\"urgent\"}}"
    expect_status 201 "urgent ticket K-$i"
done
# Every Slack message is in flight, every page waits for a retry.
wait_for "five Slack messages in flight" 20 notif_is "channel=slack&state=sending" '.count' 5
wait_for "the pages to fail once" 20 notif_is "channel=pager" '[.notifications[] | .attempts >= 1] | all' true
api GET "/v1/notifications?state=delivered" "" "$VIEWER"
expect '.count' '0' "nothing delivered before the kill"
kill9_server

# The receivers are back (the routes file points at them again).
routes "$PEER_URL/slack" "$PEER_URL/pager"
start_server --policy tests/notify/policy.yaml --notify-routes "$WORK/routes.json" \
    --ack-timeout 0 --notify-backoff 1s --notify-timeout 30s
wait_for "all ten delivered after the restart" 30 notif_is "state=delivered" '.count' 10
for i in 1 2 3 4 5; do
    for k in "K-$i:escalation:$i.1:slack:#cs-urgent" "K-$i:escalation:$i.1:pager:on-call"; do
        n=$(requests "[.[] | select(.headers[\"idempotency-key\"] == \"$k\" and (.path == \"/slack\" or .path == \"/pager\"))] | length")
        [ "$n" = 1 ] || fail "$k reached the live receiver $n times"
    done
done
# The stalled receiver saw each Slack message once before the kill: the
# copy after the restart carries the same key.
[ "$(requests '[.[] | select(.path == "/slow/20000/slack") | .headers["idempotency-key"]] | unique | length')" = 5 ] ||
    fail "the first attempts: $(requests '[.[] | .path]')"
api GET "/v1/notifications?channel=slack" "" "$VIEWER"
expect '[.notifications[] | .attempts]' '[2,2,2,2,2]' "the attempt cut by the kill counts"
stop_server
