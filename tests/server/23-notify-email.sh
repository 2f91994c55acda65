#!/usr/bin/env bash
# E-mail through a real SMTP server on loopback (Debian's exim4 with a
# throwaway configuration and spool): the team's message with the seeds'
# subject line, the customer's message to the ticket's address, both read
# back from the delivered mailbox; a recipient the server refuses (550) is
# a dead letter at once with the server's reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/notify-lib.sh"
start_peer
start_smtp
cat >"$WORK/routes.json" <<JSON
{"smtp": {"url": "$SMTP_URL", "from": "Escalator <escalator@example.com>"},
 "routes": [
  {"channel": "email", "to": "l2-team", "addresses": ["l2@example.com", "lead@example.com"]},
  {"channel": "webhook", "to": "helpdesk", "kind": "email", "addresses": ["refused@example.com"]},
  {"channel": "slack", "to": "#nowhere", "url": "$PEER_URL/slack"}
]}
JSON
start_server --policy tests/notify/policy.yaml --notify-routes "$WORK/routes.json" --ack-timeout 0 \
    --notify-backoff 1s

api POST /v1/tickets '{"id":"E-1","channel":"email","subject":"Refund missing","customer":{"email":"ana@example.com","name":"Ana"},"fields":{"scenario":"standard"},"messages":[{"from":"customer","text":"Where is my refund?"}]}'
expect_status 201 "an e-mail ticket"
wait_for "both mails delivered" 30 notif_is "ticket=E-1&state=delivered" '[.notifications[] | .channel] | sort' '["customer","email","slack"]'
wait_for "the refused one" 30 notif_is "ticket=E-1&state=failed" '.count' 1
api GET "/v1/notifications?ticket=E-1&state=failed" "" "$VIEWER"
expect '[.notifications[] | [.to, .attempts]]' '[["helpdesk",1]]' "a 550 is not retried"
case $(printf '%s' "$BODY" | jq -r '.notifications[0].last_error') in
    *"smtp://127.0.0.1:$SMTP_PORT to refused@example.com"*"550"*) ;;
    *) fail "the refusal's reason: $(printf '%s' "$BODY" | jq -r '.notifications[0].last_error')" ;;
esac

wait_for "three mails in the mailbox" 20 sh -c "[ \$(grep -c '^Envelope-to: ' '$WORK/mail/mbox' 2>/dev/null) -ge 3 ]"
mbox=$WORK/mail/mbox
# mail_of ADDRESS: the message delivered to ADDRESS.
mail_of() {
    awk -v a="$1" '/^From / { if (hit) printf "%s", cur; cur = ""; hit = 0 }
        { cur = cur $0 "\n"; if (/^Envelope-to: / && $2 == a) hit = 1 }
        END { if (hit) printf "%s", cur }' "$mbox"
}
team=$(mail_of l2@example.com)
lead=$(mail_of lead@example.com)
cust=$(mail_of ana@example.com)
[ -n "$team" ] && [ -n "$lead" ] && [ -n "$cust" ] || fail "missing mail: $(cat "$mbox")"
echo "$team" | grep -qx 'Subject: Escalation to Senior support - Refund missing - Ticket #E-1' || fail "team subject: $team"
echo "$team" | grep -qx 'To: l2@example.com, lead@example.com' || fail "team To: $team"
echo "$team" | grep -qx 'From: Escalator <escalator@example.com>' || fail "From: $team"
echo "$team" | grep -qx 'X-Escalator-Idempotency-Key: E-1:escalation:1.1:email:l2-team' || fail "key: $team"
echo "$team" | grep -q '^Message-ID: <[0-9a-f]\{32\}@escalator>' || fail "Message-ID: $team"
echo "$team" | grep -qx 'Content-Type: text/plain; charset=UTF-8' || fail "plain text: $team"
echo "$team" | grep -q '^\[high\] Ticket E-1 escalated to Senior support: level 2' || fail "team body: $team"
echo "$cust" | grep -qx 'Subject: Re: Refund missing - Escalated to specialist team' || fail "customer subject: $cust"
echo "$cust" | grep -qx 'To: ana@example.com' || fail "customer To: $cust"
echo "$cust" | grep -qx 'Hi Ana,' || fail "the customer's message: $cust"
echo "$cust" | grep -q "your case E-1 is with our senior team. You'll hear back within 4 hours." || fail "timeline: $cust"
echo "$cust" | grep -q '^Subject: Re: Refund missing' && [ "$(echo "$cust" | grep -c '^Subject:')" = 1 ] ||
    fail "the Subject line of the template is the header, not the body: $cust"

# A customer without an address: a dead letter naming the missing field.
api POST /v1/tickets '{"id":"E-2","channel":"email","subject":"Hello","fields":{"scenario":"standard"}}'
wait_for "E-2's customer mail fails" 30 notif_is "ticket=E-2&channel=customer" '.notifications[0].state' '"failed"'
api GET "/v1/notifications?ticket=E-2&channel=customer" "" "$VIEWER"
expect '.notifications[0].last_error' "\"template: no value for 'ticket.customer.email'\""
stop_server
