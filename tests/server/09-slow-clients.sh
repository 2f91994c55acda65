#!/usr/bin/env bash
# Slow clients: a connection that stops sending (in the headers or in the
# body) is closed after request_timeout, and others are served meanwhile.
. "$(dirname "$0")/lib.sh"
start_server --request-timeout 1s
port=${URL##*:}

exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /v1/evaluate HTTP/1.1\r\nHost: x\r\n' >&3
exec 4<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{"id":' "$BOT" >&4

api GET /healthz "" -
expect_status 200 "served while two clients stall"

sleep 2.5
timeout 5 cat <&3 >"$WORK/slow1"; rc=$?
[ $rc -ne 124 ] || fail "a client stalled in its headers was not disconnected"
timeout 5 cat <&4 >"$WORK/slow2"; rc=$?
[ $rc -ne 124 ] || fail "a client stalled in its body was not disconnected"
exec 3<&- 4<&-

# A body trickled a byte at a time, each within the idle timeout, is cut
# off once the whole has taken longer than request_timeout.
trap "" PIPE
exec 5<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n' "$BOT" >&5
closed=0
for i in $(seq 12); do
    sleep 0.4
    printf ' ' >&5 2>/dev/null || { closed=1; break; }
done
if [ $closed = 0 ]; then
    timeout 3 cat <&5 >"$WORK/slow3"; rc=$?
    [ $rc -ne 124 ] || fail "a trickling client was not cut off"
fi
exec 5<&-

api POST /v1/evaluate "$(ticket SL-1)" "$BOT"
expect_status 200 "still serving"
stop_server
