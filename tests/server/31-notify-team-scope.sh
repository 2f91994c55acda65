#!/usr/bin/env bash
# A team's notify entries are scoped to the team: with two target teams,
# each follow-up reminds the team that owns it only; a team's entries for
# the breach tell it while it has the escalation; a rule's entry is sent
# for the events it names only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
cat >"$WORK/routes.json" <<JSON
{"routes": [
  {"channel": "webhook", "to": "*", "url": "$PEER_URL/hook"}
]}
JSON
cat >"$WORK/policy.yaml" <<'YAML'
escalator: 1
name: team-scope
fields:
  scenario: string
teams:
  - id: l2
    name: Level 2
    respond_within: 4h
    follow_up: 1h
    notify:
      - {on: [follow_up, sla_breach], channel: webhook, to: l2-desk}
  - id: carrier
    name: Carrier
    respond_within: 4h
    follow_up: 2h
    notify:
      - {on: follow_up, channel: webhook, to: carrier-desk}
priorities:
  - {id: high, respond_within: 3h}
rules:
  - id: both
    when: fields.scenario == "both"
    targets: [l2, carrier]
    priority: high
    notify:
      - {on: sla_warning, channel: webhook, to: rule-desk, text: "warning for {{ticket.id}}"}
YAML
start_server --policy "$WORK/policy.yaml" --notify-routes "$WORK/routes.json" --ack-timeout 0 \
    --warn-share 0.5
api POST /v1/tickets '{"id":"S-1","channel":"email","subject":"Two teams","fields":{"scenario":"both"}}'
expect '[.decision.targets, .escalation.team]' '[["l2","carrier"],"l2"]'
sent() {
    api GET "/v1/notifications?ticket=S-1&limit=100" "" "$VIEWER"
    printf '%s' "$BODY" | jq -c '[.notifications[] | select(.state == "delivered") | [.event, .to]]'
}
advance 1h1s   # 13:00: l2's follow-up
advance 30m    # 13:30: the warning (half of 3h)
advance 30m    # 14:00: the carrier's follow-up
advance 1h     # 15:00: the breach
wait_for "four deliveries" 20 sh -c "[ \$(jq -s length '$WORK/requests.jsonl') -ge 4 ]"
sleep 1
[ "$(sent)" = '[["follow_up","l2-desk"],["sla_warning","rule-desk"],["follow_up","carrier-desk"],["sla_breach","l2-desk"]]' ] ||
    fail "each event to its own recipients: $(sent)"
[ "$(requests '[.[] | .json.text] | .[1]')" = '"warning for S-1"' ] || fail "the rule's own text: $(requests '[.[] | .json.text]')"
stop_server
