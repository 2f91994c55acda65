#!/usr/bin/env bash
# Signed webhooks both ways. Outbound: X-Escalator-Signature is
# HMAC-SHA256 over "TIMESTAMP.BODY" with the route's secret, and the
# receiver (tests/notify/peer.c, the check docs/notifications.md shows)
# accepts it only with the right secret. Inbound: Zendesk's webhook events,
# authenticated by X-Zendesk-Webhook-Signature, become tickets, messages and
# status changes; a bad or stale signature is refused, a retried event is
# applied once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
ZD_SECRET=zendesk-signing-secret-1
cat >"$WORK/routes.json" <<JSON
{"routes": [
  {"channel": "webhook", "to": "helpdesk", "url": "$PEER_URL/hook", "secret": "$PEER_SECRET"},
  {"channel": "slack", "to": "#nowhere", "kind": "webhook", "url": "$PEER_URL/other", "secret": "not-the-receivers-secret"},
  {"channel": "email", "to": "l2-team", "kind": "webhook", "url": "$PEER_URL/unsigned"}
]}
JSON
start_server --policy tests/notify/policy.yaml --notify-routes "$WORK/routes.json" --ack-timeout 0 \
    --clock real --inbound-secret "$ZD_SECRET"

# zendesk FILE [TIMESTAMP [SIGNATURE]]: posts FILE as Zendesk would.
zendesk() {
    local ts=${2:-$(date -u +%Y-%m-%dT%H:%M:%SZ)} sig
    sig=${3:-$("$PEER" sign --secret "$ZD_SECRET" --timestamp "$ts" "$1")}
    STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "Content-Type: application/json" \
        -H "X-Zendesk-Webhook-Signature: $sig" -H "X-Zendesk-Webhook-Signature-Timestamp: $ts" \
        --data-binary "@$1" "$URL/v1/inbound/zendesk") || STATUS=000
    BODY=$(cat "$WORK/body")
}
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$WORK/created.json" <<JSON
{"type": "zen:event-type:ticket.created", "account_id": 12514403, "id": "01HN-created-1",
 "time": "$now", "zendesk_event_version": "2022-11-06", "subject": "zen:ticket:35436",
 "detail": {"id": "35436", "subject": "Refund or I sue", "description": "My lawyer will call you about the refund.",
            "status": "OPEN", "priority": "HIGH", "requester_id": "6596848315901",
            "requester": {"email": "zoe@example.com", "name": "Zoe"},
            "via": {"channel": "web_form"}, "created_at": "$now", "updated_at": "$now"},
 "event": {"current": {"status": "OPEN"}}}
JSON
zendesk "$WORK/created.json"
expect_status 201 "a signed ticket.created"
expect '[.ticket, .applied, .result.status, .result.escalation.team]' '["zendesk-35436",true,"escalated","l2"]'
api GET /v1/tickets/zendesk-35436 "" "$VIEWER"
expect '[.ticket.channel, .ticket.subject, .ticket.customer.email, .ticket.messages[0].from, .ticket.messages[0].text]' \
    '["web","Refund or I sue","zoe@example.com","customer","My lawyer will call you about the refund."]'

# The escalation's webhooks: signed with the receiver's secret (ok), with
# another secret (bad), unsigned (bad).
wait_for "three webhooks" 20 notif_is "ticket=zendesk-35436&state=delivered" '.count' 3
[ "$(requests '[.[] | select(.path == "/hook") | .signature]')" = '["ok"]' ] || fail "the right secret verifies"
[ "$(requests '[.[] | select(.path == "/other") | .signature]')" = '["bad"]' ] || fail "another secret does not"
[ "$(requests '[.[] | select(.path == "/unsigned") | .signature]')" = '["bad"]' ] || fail "no signature does not"
[ "$(requests '[.[] | select(.path == "/hook") | (.headers["x-escalator-signature"] | test("^t=[0-9]+,v1=[0-9a-f]{64}$"))]')" = '[true]' ] ||
    fail "the header's form"

# Comments: the requester's and an agent's.
cat >"$WORK/comment.json" <<JSON
{"type": "zen:event-type:ticket.comment_added", "id": "01HN-comment-1", "time": "$now",
 "subject": "zen:ticket:35436", "detail": {"id": "35436", "status": "OPEN"},
 "event": {"comment": {"id": "1", "body": "Any news?", "is_public": true,
                       "author": {"id": "6596848315901", "is_staff": false, "name": "Zoe"}}}}
JSON
zendesk "$WORK/comment.json"
expect_status 200 "a comment"
jq '.id = "01HN-comment-2" | .event.comment.body = "We are on it." | .event.comment.author.is_staff = true' \
    "$WORK/comment.json" >"$WORK/reply.json"
zendesk "$WORK/reply.json"
expect_status 200 "an agent's reply"
api GET /v1/tickets/zendesk-35436 "" "$VIEWER"
expect '[.ticket.messages[] | [.from, .text]]' \
    '[["customer","My lawyer will call you about the refund."],["customer","Any news?"],["agent","We are on it."]]'

# Zendesk retries what it did not see answered: applied once.
zendesk "$WORK/comment.json"
expect_status 200 "the same event again"
expect '.applied' 'false'
api GET /v1/tickets/zendesk-35436 "" "$VIEWER"
expect '.ticket.messages | length' '3' "a retried event adds nothing"

# Refused: a bad signature, a stale one, none.
zendesk "$WORK/comment.json" "" "c2lnbmF0dXJlLW9mLXNvbWV0aGluZy1lbHNl"
expect_status 401 "a bad signature"
expect '.error.code' '"invalid_signature"'
old=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
jq '.id = "01HN-comment-3"' "$WORK/comment.json" >"$WORK/late.json"
zendesk "$WORK/late.json" "$old"
expect_status 401 "a signature an hour old"
expect '.error.code' '"stale_signature"'
STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' --data-binary "@$WORK/late.json" "$URL/v1/inbound/zendesk")
BODY=$(cat "$WORK/body")
expect_status 401 "no signature"
api GET /v1/tickets/zendesk-35436 "" "$VIEWER"
expect '.ticket.messages | length' '3' "nothing refused was applied"

# Solved in Zendesk: resolved here. Other event types are acknowledged and
# ignored.
cat >"$WORK/solved.json" <<JSON
{"type": "zen:event-type:ticket.status_changed", "id": "01HN-status-1", "time": "$now",
 "subject": "zen:ticket:35436", "detail": {"id": "35436", "status": "SOLVED"},
 "event": {"current": "SOLVED", "previous": "OPEN"}}
JSON
zendesk "$WORK/solved.json"
expect_status 200 "solved"
expect '.result.status' '"resolved"'
jq -n '{type: "zen:event-type:user.active_changed", id: "u-1", detail: {id: "1"}, event: {}}' >"$WORK/user.json"
zendesk "$WORK/user.json"
expect_status 200 "a user event"
expect '.applied' 'false'
jq -n '{type: "zen:event-type:ticket.comment_added", id: "bad-1", detail: {id: "35436"}, event: {comment: {}}}' >"$WORK/bad.json"
zendesk "$WORK/bad.json"
expect_status 422 "a comment without a body"
expect '.error.where' '"/event/comment/body"'
stop_server

# Without inbound_secret the endpoint is off.
start_server --policy tests/notify/policy.yaml
zendesk "$WORK/user.json"
expect_status 404 "inbound webhooks off"
api GET /v1/admin/config
expect '.inbound_secret' '""'
stop_server
start_server --policy tests/notify/policy.yaml --inbound-secret "$ZD_SECRET"
api GET /v1/admin/config
expect '.inbound_secret' '"***"' "the secret is not shown"
stop_server
