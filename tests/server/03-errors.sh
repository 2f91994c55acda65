#!/usr/bin/env bash
# Malformed and oversize input: a JSON error naming the place, and the
# stored state unchanged.
. "$(dirname "$0")/lib.sh"
start_server --max-body 4096 --max-text 512

api POST /v1/tickets "$(ticket E-1)"
expect_status 201 "create"
api GET /v1/tickets/E-1
before=$(printf '%s' "$BODY" | jq -S .)

api POST /v1/tickets '{"id": "E-1", "status": '
expect_status 400 "truncated JSON"
expect '.error.code' '"invalid_json"'
expect '.error.message | test("line 1")' 'true'

api POST /v1/tickets "$(ticket E-1 '.messages[1].at = "yesterday"')"
expect_status 422 "a bad time in a message"
expect '.error.where' '"/messages/1/at"'

api POST /v1/tickets "$(ticket E-1 '.fields.port_in_rejections = "many"')"
expect_status 422 "a field of the wrong type"
expect '.error.where' '"/fields/port_in_rejections"'

api POST /v1/tickets "$(ticket E-1 '.status = "sleeping"')"
expect_status 422 "an unknown status"
expect '.error.where' '"/status"'

api POST /v1/tickets '[1, 2]'
expect_status 422 "not an object"

api POST /v1/tickets "$(ticket 'bad id/with slash')"
expect_status 422 "an id that cannot be a path segment"
expect '.error.where' '"/id"'

long=$(head -c 600 /dev/zero | tr '\0' x)
api POST /v1/tickets/E-1/messages "{\"from\":\"customer\",\"text\":\"$long\"}"
expect_status 422 "a text longer than max_text"
expect '.error.code' '"field_too_large"'
expect '.error.where' '"/text"'

big=$(head -c 5000 /dev/zero | tr '\0' y)
api POST /v1/tickets/E-1/messages "{\"from\":\"customer\",\"text\":\"$big\"}"
expect_status 413 "a body larger than max_body"
expect '.error.code' '"body_too_large"'

api POST /v1/tickets/E-1/messages '{"from":"robot","text":"hi"}'
expect_status 422 "an unknown sender"
expect '.error.where' '"/from"'

api POST /v1/tickets/E-1/events '{"type":"teleport"}'
expect_status 422 "an unknown event"
expect '.error.where' '"/type"'
api POST /v1/tickets/E-1/events '{"type":"escalate","team":"l2"}'
expect_status 422 "a manual escalation without a reason"
expect '.error.where' '"/reason"'
api POST /v1/tickets/E-1/events '{"type":"escalate","team":"martians","reason":"x"}'
expect_status 422 "a manual escalation to a team the policy lacks"
api POST /v1/tickets/E-1/events '{"type":"satisfaction","score":5}'
expect_status 409 "satisfaction before resolution"
api POST /v1/tickets/E-1/events '{"type":"status","status":"resolved","by":"x","extra":{"a":"'"$long"'"}}'
expect_status 422 "a long string anywhere in an event"
expect '.error.where' '"/extra/a"'

api POST /v1/tickets/NOPE/messages '{"from":"customer","text":"hi"}'
expect_status 404 "a message to an unknown ticket"
api GET /v1/nothing
expect_status 404 "an unknown path"
expect '.error.code' '"not_found"'
api DELETE /v1/tickets/E-1
expect_status 405 "a method the path does not take"
expect '.error.code' '"method_not_allowed"'
api POST /v1/tickets ''
expect_status 400 "no body"

api GET /v1/tickets/E-1
after=$(printf '%s' "$BODY" | jq -S .)
[ "$before" = "$after" ] || fail "refused requests changed the ticket: $(diff <(echo "$before") <(echo "$after") | head -20)"
stop_server
