#!/usr/bin/env bash
# POST /v1/policy/reload and SIGHUP swap the policy atomically; a policy
# that fails the check is refused and the old one stays.
. "$(dirname "$0")/lib.sh"
cp tests/server/policy.yaml "$WORK/policy.yaml"
start_server --policy "$WORK/policy.yaml"

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

api GET /metrics "" "$VIEWER"
grep -q '^escalator_policy_reloads_total 2$' "$WORK/body" || fail "reload counter: $(cat "$WORK/body")"
grep -q '^escalator_policy_reload_failures_total 1$' "$WORK/body" || fail "failure counter"
stop_server
