#!/usr/bin/env bash
# Zendesk events beyond created, comment_added and status_changed: a
# priority change becomes fields.zendesk_priority (and may escalate), an
# agent assignment acknowledges the escalation, changed tags become
# fields.zendesk_tags (whole, or added and removed), a group assignment sets
# the level. An assignment where nothing is escalated is not applied.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
ZD_SECRET=zendesk-signing-secret-2
cat >"$WORK/routes.json" <<JSON
{"routes": [
  {"channel": "webhook", "to": "urgent-desk", "url": "$PEER_URL/urgent"},
  {"channel": "webhook", "to": "l2-desk", "url": "$PEER_URL/l2"}
]}
JSON
cat >"$WORK/policy.yaml" <<'YAML'
escalator: 1
name: zendesk-events
fields:
  zendesk_priority: {type: string, values: [low, normal, high, urgent]}
  zendesk_tags: list
teams:
  - {id: l1, name: Front line, respond_within: 24h}
  - id: l2
    name: Level 2
    respond_within: 4h
    notify:
      - {channel: webhook, to: l2-desk}
  - {id: legal, name: Legal, respond_within: 24h}
priorities:
  - id: urgent
    respond_within: 1h
    notify:
      - {channel: webhook, to: urgent-desk}
  - id: normal
rules:
  - id: zendesk_urgent
    when: fields.zendesk_priority == urgent
    targets: [l2]
    priority: urgent
  - id: legal_tag
    when: fields.zendesk_tags has legal
    escalate: false
    tags: [legal_review]
YAML
start_server --policy "$WORK/policy.yaml" --notify-routes "$WORK/routes.json" --ack-timeout 0 \
    --clock real --inbound-secret "$ZD_SECRET"
n=0
# zd TYPE DETAIL EVENT: posts a signed Zendesk event about ticket 77.
zd() {
    n=$((n + 1))
    local ts f=$WORK/event-$n.json
    ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    printf '{"type": "zen:event-type:%s", "id": "evt-%s", "time": "%s", "subject": "zen:ticket:77", "detail": %s, "event": %s}' \
        "$1" "$n" "$ts" "$2" "$3" >"$f"
    STATUS=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "Content-Type: application/json" \
        -H "X-Zendesk-Webhook-Signature: $("$PEER" sign --secret "$ZD_SECRET" --timestamp "$ts" "$f")" \
        -H "X-Zendesk-Webhook-Signature-Timestamp: $ts" \
        --data-binary "@$f" "$URL/v1/inbound/zendesk") || STATUS=000
    BODY=$(cat "$WORK/body")
}
zd ticket.agent_assignment_changed '{"id": "77", "assignee_id": "5"}' '{"current": {"id": "5"}}'
expect_status 404 "an event about a ticket escalator does not know"
zd ticket.created '{"id": "77", "subject": "Sync stopped", "description": "Our sync stopped.", "status": "open", "priority": "normal", "via": {"channel": "email"}}' '{}'
expect_status 201 "created"
expect '.result.decision.escalate' 'false'
# Assigned while nothing is escalated: nothing to acknowledge, no retry.
zd ticket.agent_assignment_changed '{"id": "77", "assignee_id": "5"}' '{"current": {"id": "5"}}'
expect_status 200 "an assignment without an escalation"
expect '[.applied, .reason.code]' '[false,"not_escalated"]'

zd ticket.priority_changed '{"id": "77", "priority": "urgent"}' '{"current": "urgent", "previous": "normal"}'
expect_status 200 "priority changed"
expect '[.applied, .result.decision.priority, .result.status, .result.escalation.team]' '[true,"urgent","escalated","l2"]'
wait_for "the urgent desk and Level 2 told" 20 notif_is "ticket=zendesk-77&state=delivered" '.count' 2
api GET /v1/tickets/zendesk-77 "" "$VIEWER"
expect '[.ticket.fields.zendesk_priority, (.ticket.messages | length)]' '["urgent",1]'

zd ticket.agent_assignment_changed '{"id": "77", "assignee_id": "5"}' '{"current": {"id": "5"}, "previous": null}'
expect_status 200 "an agent takes the ticket"
expect '[.applied, .result.escalation.state, .result.escalation.owner]' '[true,"acknowledged","zendesk-agent-5"]'

zd ticket.tags_changed '{"id": "77", "tags": ["sync", "legal"]}' '{"tags_added": ["legal"], "tags_removed": []}'
expect_status 200 "tags changed"
expect '[.result.decision.tags | index("legal_review") != null]' '[true]'
zd ticket.tags_changed '{"id": "77"}' '{"tags_added": ["vip"], "tags_removed": ["legal"]}'
expect_status 200 "tags added and removed"
api GET /v1/tickets/zendesk-77 "" "$VIEWER"
expect '.ticket.fields.zendesk_tags' '["sync","vip"]'

zd ticket.group_assignment_changed '{"id": "77", "group_id": "360"}' '{"current": {"id": "360", "name": "Legal"}}'
expect_status 200 "group changed"
api GET /v1/tickets/zendesk-77 "" "$VIEWER"
expect '.ticket.level' '"legal"'
zd ticket.priority_changed '{"id": "77"}' '{"current": null}'
expect_status 200 "priority cleared"
api GET /v1/tickets/zendesk-77 "" "$VIEWER"
expect '.ticket.fields | has("zendesk_priority")' 'false'
zd ticket.tags_changed '{"id": "77"}' '{}'
expect_status 422 "tags_changed without tags"
expect '.error.where' '"/detail/tags"'
stop_server
