#!/usr/bin/env bash
# On the real clock a response deadline's decision is made ahead of its
# due time, on another thread, and the firing takes it when nothing has
# changed since: the carrier must answer within 4 s here (the high
# priority's own window taken out).
# - CA-1 is left alone: its breach fires with the decision made ahead
#   (escalator_decisions_prepared_total counts it) and logs it as usual.
# - CA-2 is changed in the last second before its deadline (a new subject,
#   after the decision ahead was made): the firing decides again on the
#   changed ticket; the breach and its decision are logged the same way.
# - CA-3 sees the policy reloaded in its last second: decided again, by the
#   new policy.
. "$(dirname "$0")/lib.sh"
sed -e 's/{id: carrier, name: Carrier, tier: 3, respond_within: 4h, follow_up: 72h}/{id: carrier, name: Carrier, tier: 3, respond_within: 4s}/' \
    -e 's/{id: high, name: High, respond_within: 4h}/{id: high, name: High}/' tests/server/policy.yaml >"$WORK/policy.yaml"
start_server --clock real --ack-timeout 0 --policy "$WORK/policy.yaml"

now_ticket() {
    ticket "$1" ".created_at = (now | todate) | .messages |= map(.at = (now | todate)) ${2:-}"
}
api POST /v1/tickets "$(now_ticket CA-1)"
expect_status 201 "create CA-1"
expect '.escalation.team' '"carrier"'
api POST /v1/tickets "$(now_ticket CA-2)"
expect_status 201 "create CA-2"
due=$(printf '%s' "$BODY" | jq -r '.escalation.respond_by | fromdate')
# Under half a second before the deadline, after the decision ahead (made
# from two seconds before the breach, which fires one second after it).
sleep "$(awk -v d="$due" -v n="$EPOCHREALTIME" 'BEGIN { s = d - 0.4 - n; print (s > 0 ? s : 0) }')"
api POST /v1/tickets "$(now_ticket CA-2 '| .subject = "Still no number"')"
expect_status 200 "update CA-2 before its deadline"

for case in "CA-1 created,sla_breach" "CA-2 created,updated,sla_breach"; do
    id=${case% *}
    causes=$(printf '%s' "${case#* }" | jq -Rc 'split(",")')
    for i in $(seq 200); do
        api GET "/v1/tickets/$id"
        [ "$(printf '%s' "$BODY" | jq '[.events[] | select(.kind == "sla_breach")] | length')" = 1 ] &&
            break
        sleep 0.05
    done
    expect '[.events[] | select(.kind == "sla_breach")] | length' '1' "$id: the breach fired"
    expect '[.events[] | select(.kind == "decision") | .data.cause]' "$causes" \
        "$id: decided again at the breach"
    # The breach's decision event: the same members, in the same order,
    # whether its data was written ahead (CA-1) or at the breach (CA-2).
    expect '[.events[] | select(.kind == "decision")] | last | .data | keys_unsorted' \
        '["cause","escalate","priority","targets","respond_by","reasons"]' \
        "$id: the breach's decision event"
    expect '([.events[] | select(.kind == "decision")] | last | .data.reasons) == .decision.reasons' \
        'true' "$id: the event's reasons are the decision's"
done
api GET /v1/tickets/CA-2
expect '.decision.note | contains("Still no number")' 'true' "CA-2: decided on the changed ticket"

prepared_total() {
    curl -s -H "Authorization: Bearer $ADMIN" "$URL/metrics" |
        awk '/^escalator_decisions_prepared_total/ { print $2 }'
}
prepared=$(prepared_total)
[ "${prepared:-0}" -ge 1 ] || fail "no breach took a decision made ahead: $prepared"
[ "${prepared:-0}" -le 2 ] || fail "more decisions taken than breaches: $prepared"

# CA-3: the policy is reloaded (under another name) in the last second
# before the deadline, after the decision ahead was made: the breach is
# decided again, by the new policy.
api POST /v1/tickets "$(now_ticket CA-3)"
expect_status 201 "create CA-3"
due=$(printf '%s' "$BODY" | jq -r '.escalation.respond_by | fromdate')
sleep "$(awk -v d="$due" -v n="$EPOCHREALTIME" 'BEGIN { s = d - 0.4 - n; print (s > 0 ? s : 0) }')"
sed -i 's/^name: service-test$/name: service-test-reloaded/' "$WORK/policy.yaml"
api POST /v1/policy/reload "" "$ADMIN"
expect_status 200 "reload before CA-3's deadline"
for i in $(seq 200); do
    api GET /v1/tickets/CA-3
    [ "$(printf '%s' "$BODY" | jq '[.events[] | select(.kind == "sla_breach")] | length')" = 1 ] &&
        break
    sleep 0.05
done
expect '[.events[] | select(.kind == "decision") | .data.cause]' '["created","sla_breach"]' \
    "CA-3: decided again at the breach"
expect '.decision.policy' '"service-test-reloaded"' "CA-3: decided by the reloaded policy"
[ "$(prepared_total)" = "$prepared" ] || fail "CA-3 took a decision of the policy before"
stop_server
