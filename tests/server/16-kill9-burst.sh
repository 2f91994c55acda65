#!/usr/bin/env bash
# kill -9 in the middle of a burst of concurrent ticket writes, at the
# default synchronous setting: the writes arrive together, so they share
# commits (group commit), and every one the server answered 2xx is there
# after the restart, with its message. Answers that never came are allowed
# to be either there or not.
. "$(dirname "$0")/lib.sh"
start_server --ack-timeout 0

N=3000
# One curl runs every request, 48 at a time; each transfer prints
# "STATUS ID".
cfg=$WORK/burst.cfg
for i in $(seq 1 "$N"); do
    id=G-$i
    printf 'url = "%s/v1/tickets"\nheader = "Authorization: Bearer %s"\n' "$URL" "$AGENT"
    printf 'header = "Content-Type: application/json"\n'
    printf 'data-binary = "{\\"id\\":\\"%s\\",\\"channel\\":\\"chat\\",\\"status\\":\\"open\\",' "$id"
    printf '\\"messages\\":[{\\"from\\":\\"customer\\",\\"text\\":\\"burst %s\\"}]}"\n' "$id"
    printf 'output = "/dev/null"\nwrite-out = "%%{http_code} %s\\n"\n' "$id"
    [ "$i" -lt "$N" ] && printf 'next\n'
done >"$cfg"

curl -s -Z --parallel-max 48 -K "$cfg" >"$WORK/burst.out" 2>/dev/null &
burst=$!
for _ in $(seq 600); do
    [ "$(grep -c '^201 ' "$WORK/burst.out")" -ge 300 ] && break
    sleep 0.02
done
kill9_server
wait "$burst" 2>/dev/null

grep '^201 ' "$WORK/burst.out" | cut -d' ' -f2 | sort >"$WORK/acked"
n=$(wc -l <"$WORK/acked")
[ "$n" -ge 300 ] || fail "only $n writes were acknowledged before the kill"
[ "$n" -lt "$N" ] || fail "the kill came after the burst: all $N writes were answered"
bad=$(grep -Evc '^(201|000) ' "$WORK/burst.out")
[ "$bad" -eq 0 ] || fail "$bad answers were neither 201 nor a cut connection"

start_server --ack-timeout 0
cfg=$WORK/check.cfg
sep=
while read -r id; do
    printf '%surl = "%s/v1/tickets/%s"\nheader = "Authorization: Bearer %s"\n' "$sep" "$URL" "$id" "$VIEWER"
    printf 'output = "%s/got-%s"\nwrite-out = "%%{http_code} %s\\n"\n' "$WORK" "$id" "$id"
    sep='next
'
done <"$WORK/acked" >"$cfg"
curl -s -Z --parallel-max 16 -K "$cfg" >"$WORK/check.out" 2>"$WORK/check.err"
STATUS= BODY=$(head -c 2000 "$WORK/check.err")
missing=$(grep -vc '^200 ' "$WORK/check.out")
[ "$missing" -eq 0 ] || fail "$missing of $n acknowledged tickets are missing after kill -9: $(grep -v '^200 ' "$WORK/check.out" | head -5 | tr '\n' ' ')"
lost=0
while read -r id; do
    [ "$(jq -r '.ticket.messages[0].text' "$WORK/got-$id")" = "burst $id" ] || lost=$((lost + 1))
done <"$WORK/acked"
[ "$lost" -eq 0 ] || fail "$lost acknowledged tickets lost their message"
echo "$n of $N concurrent writes acknowledged before kill -9, all there"
stop_server
