#!/usr/bin/env bash
# kill -9 in the middle of a burst of writes: every write the server
# acknowledged (2xx) is there after the restart.
. "$(dirname "$0")/lib.sh"
start_server --ack-timeout 0

writer() {
    local w=$1 i id code
    for i in $(seq 1 2000); do
        id=K-$w-$i
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AGENT" \
            --data-binary "{\"id\":\"$id\",\"channel\":\"chat\",\"status\":\"open\",\"messages\":[{\"from\":\"customer\",\"text\":\"I will sue you, worker $w\"}]}" \
            "$URL/v1/tickets") || return 0
        [ "$code" = 201 ] && echo "$id" >>"$WORK/acked-tickets"
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AGENT" \
            --data-binary '{"from":"agent","text":"We are on it."}' \
            "$URL/v1/tickets/$id/messages") || return 0
        [ "$code" = 200 ] && echo "$id" >>"$WORK/acked-messages"
    done
}

touch "$WORK/acked-tickets" "$WORK/acked-messages"
pids=()
for w in 1 2 3 4; do
    writer "$w" &
    pids+=($!)
done
for i in $(seq 400); do
    [ "$(wc -l <"$WORK/acked-messages")" -ge 40 ] && break
    sleep 0.05
done
kill9_server
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done

n=$(wc -l <"$WORK/acked-tickets")
[ "$n" -ge 10 ] || fail "only $n writes were acknowledged before the kill"
start_server --ack-timeout 0
missing=0
while read -r id; do
    api GET "/v1/tickets/$id" "" "$VIEWER"
    if [ "$STATUS" != 200 ]; then
        echo "acknowledged ticket $id is missing"; missing=$((missing + 1))
    fi
done <"$WORK/acked-tickets"
while read -r id; do
    api GET "/v1/tickets/$id" "" "$VIEWER"
    if [ "$(printf '%s' "$BODY" | jq '[.ticket.messages[] | select(.from == "agent")] | length')" != 1 ]; then
        echo "acknowledged message of $id is missing"; missing=$((missing + 1))
    fi
done <"$WORK/acked-messages"
[ $missing -eq 0 ] || fail "$missing acknowledged writes lost"
echo "$n tickets and $(wc -l <"$WORK/acked-messages") messages acknowledged before kill -9, all there"
stop_server
