#!/usr/bin/env bash
# No storms: at most notify_rate_limit messages per notify_rate_window to
# one (channel, recipient); what exceeds it is held and then folded into
# one digest message, never dropped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
cat >"$WORK/routes.json" <<JSON
{"routes": [{"channel": "slack", "to": "#storm", "url": "$PEER_URL/storm"}]}
JSON
start_server --policy tests/notify/policy.yaml --notify-routes "$WORK/routes.json" --ack-timeout 0 \
    --notify-rate-limit 3 --notify-rate-window 4s
for i in 1 2 3 4 5 6 7 8; do
    api POST /v1/tickets "{\"id\":\"R-$i\",\"channel\":\"chat\",\"fields\":{\"scenario\":\"storm\"}}"
    expect_status 201 "storm ticket R-$i"
done
wait_for "three sent, five held" 20 notif_is "channel=slack" '[.notifications[] | .state] | sort' \
    '["delivered","delivered","delivered","held","held","held","held","held"]'
api GET "/v1/notifications?state=held" "" "$VIEWER"
expect '[.notifications[] | .last_error] | unique' '["held by the rate limit: goes out in the next digest"]'
[ "$(requests 'length')" = 3 ] || fail "three messages within the window, got $(requests 'length')"

wait_for "the digest" 20 notif_is "event=digest&state=delivered" '.count' 1
api GET "/v1/notifications?event=digest" "" "$VIEWER"
digest=$(printf '%s' "$BODY" | jq '.notifications[0].id')
expect '[.notifications[0].message.items[] | .ticket]' '["R-4","R-5","R-6","R-7","R-8"]' "the digest names each held one"
api GET "/v1/notifications?state=digested" "" "$VIEWER"
expect '[.notifications[] | .digest_id] | unique' "[$digest]" "each held one points at its digest"
expect '.count' '5'
[ "$(requests 'length')" = 4 ] || fail "three messages and one digest, got $(requests 'length')"
text=$(requests '.[3].json.text')
[ "$text" = '"5 notifications held back by the rate limit (3 per 4s to #storm):\n\n- storm R-4\n- storm R-5\n- storm R-6\n- storm R-7\n- storm R-8"' ] ||
    fail "the digest's text: $text"
stop_server
