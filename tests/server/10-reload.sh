#!/usr/bin/env bash
# POST /v1/policy/reload and SIGHUP swap the policy atomically; a policy
# that fails the check is refused and the old one stays. Open tickets keep
# their deadlines; the reload says how many would change, and
# ?recompute=true moves them.
. "$(dirname "$0")/lib.sh"
cp tests/server/policy.yaml "$WORK/policy.yaml"
start_server --policy "$WORK/policy.yaml" --ack-timeout 0

api POST /v1/evaluate "$(ticket P-1)" "$BOT"
expect '.targets' '["carrier"]'

# The same policy with the threshold raised: the ticket no longer
# escalates.
sed 's/default: 3,/default: 10,/' tests/server/policy.yaml >"$WORK/policy.yaml"
api POST /v1/policy/reload
expect_status 200 "reload"
expect '.generation' '2'
api POST /v1/evaluate "$(ticket P-1)" "$BOT"
expect '.targets | index("carrier")' 'null' "the new policy decides"

# A broken policy is refused; the last good one stays.
printf 'escalator: 1\nname: broken\nteams: [\n' >"$WORK/policy.yaml"
api POST /v1/policy/reload
expect_status 422 "a broken policy"
expect '.error.code' '"invalid_policy"'
expect '.error.where | startswith("'"$WORK"'/policy.yaml:")' 'true'
api POST /v1/evaluate "$(ticket P-1)" "$BOT"
expect_status 200 "still evaluating"
expect '.targets | index("carrier")' 'null' "with the last good policy"

# SIGHUP reloads the original pack.
cp tests/server/policy.yaml "$WORK/policy.yaml"
kill -HUP "$SERVER_PID"
for i in $(seq 100); do
    grep -q "reloaded" "$WORK/log" && [ "$(grep -c reloaded "$WORK/log")" -ge 2 ] && break
    sleep 0.05
done
api POST /v1/evaluate "$(ticket P-1)" "$BOT"
expect '.targets' '["carrier"]' "SIGHUP swapped the policy back"

# Deadlines: P-2 is escalated to the carrier (high: respond within 4h). A
# policy that answers high in 2h would move its deadline; a plain reload
# reports it and keeps it, ?recompute=true moves it (and its warning).
api POST /v1/tickets "$(ticket P-2)"
expect '.escalation.respond_by' '"2026-11-23T16:00:00Z"'
advance 30m
sed 's/{id: high, name: High, respond_within: 4h}/{id: high, name: High, respond_within: 2h}/' \
    tests/server/policy.yaml >"$WORK/policy.yaml"
grep -q 'respond_within: 2h}' "$WORK/policy.yaml" || fail "the test policy changed: fix the sed"
api POST /v1/policy/reload
expect_status 200 "reload"
expect '.deadlines | [.open_escalations, .would_change, .recomputed]' '[1,1,false]'
expect '.deadlines.changes' '[{"ticket":"P-2","team":"carrier","respond_by":{"from":"2026-11-23T16:00:00Z","to":"2026-11-23T14:00:00Z"}}]'
api GET /v1/tickets/P-2
expect '.escalations[0].respond_by' '"2026-11-23T16:00:00Z"' "a plain reload keeps the deadline"
api POST '/v1/policy/reload?recompute=maybe'
expect_status 400 "recompute must be true or false"
api POST '/v1/policy/reload?recompute=true'
expect_status 200 "reload with recompute"
expect '.deadlines | [.would_change, .recomputed]' '[1,true]'
api GET /v1/tickets/P-2
expect '.escalations[0].respond_by' '"2026-11-23T14:00:00Z"' "recomputed"
expect '[.timers[] | select(.state == "armed" and (.cause | test("^(respond|warn):"))) | [.cause, .due_at]] | sort' \
    '[["respond:1.1.2","2026-11-23T14:00:01Z"],["warn:1.1.2","2026-11-23T13:36:00Z"]]'
expect '[.events[] | select(.kind == "deadlines_recomputed") | .actor]' '["reload"]'
api POST '/v1/policy/reload?recompute=true'
expect '.deadlines.would_change' '0' "nothing left to move"
advance 91m
api GET /v1/tickets/P-2
expect '[.events[] | select(.kind == "sla_breach") | .at]' '["2026-11-23T14:00:01Z"]' "the new deadline fires"

api GET /metrics "" "$VIEWER"
grep -q '^escalator_policy_reloads_total 5$' "$WORK/body" || fail "reload counter: $(cat "$WORK/body")"
grep -q '^escalator_policy_reload_failures_total 1$' "$WORK/body" || fail "failure counter"
stop_server
