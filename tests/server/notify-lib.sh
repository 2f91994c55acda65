# notify-lib.sh - what the notification scenarios share, beside lib.sh: the
# HTTP receiver (tests/notify/peer.c) and a real SMTP server (Debian's
# exim4, with a throwaway configuration and spool under $WORK), routes
# files, and waiting for deliveries.
PEER=${PEER:-$(dirname "$ESC")/tests/notify/peer}
PEER_PID=
EXIM_PID=
PEER_SECRET=whsec-test-secret-0001

notify_cleanup() {
    [ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null
    [ -n "$EXIM_PID" ] && kill "$EXIM_PID" 2>/dev/null
    cleanup
}
trap notify_cleanup EXIT

# start_peer [SECRET]: the receiver; sets PEER_URL. Requests land in
# $WORK/requests.jsonl.
start_peer() {
    [ -x "$PEER" ] || { echo "$PEER is not built"; exit 1; }
    rm -f "$WORK/peer-port"
    "$PEER" serve --port-file "$WORK/peer-port" --log "$WORK/requests.jsonl" \
        --secret "${1:-$PEER_SECRET}" 2>>"$WORK/peer.log" &
    PEER_PID=$!
    local i
    for i in $(seq 100); do [ -s "$WORK/peer-port" ] && break; sleep 0.05; done
    [ -s "$WORK/peer-port" ] || { echo "the peer did not start"; exit 1; }
    PEER_URL=http://127.0.0.1:$(cat "$WORK/peer-port")
    touch "$WORK/requests.jsonl"
}

# start_smtp: exim4 on a free loopback port, accepting every recipient but
# refused@example.com and appending each delivered mail to $WORK/mail/mbox.
# Sets SMTP_URL.
start_smtp() {
    local exim
    exim=$(command -v exim4 || command -v exim || echo /usr/sbin/exim4)
    [ -x "$exim" ] || { echo "exim4 is not installed (scripts/deps.sh installs it)"; exit 1; }
    # exim runs a daemon (-bd) only for root or its own user.
    [ "$(id -u)" = 0 ] || { echo "the SMTP scenarios run exim4 as a daemon: run them as root"; exit 1; }
    SMTP_PORT=$("$PEER" free-port)
    mkdir -p "$WORK/spool" "$WORK/mail"
    chmod 1777 "$WORK/mail"
    # exim drops root for deliveries: the mailbox folder must be reachable.
    chmod 755 "$WORK"
    cat >"$WORK/exim.conf" <<CONF
primary_hostname = smtp.escalator.test
daemon_smtp_ports = $SMTP_PORT
local_interfaces = 127.0.0.1
spool_directory = $WORK/spool
log_file_path = $WORK/spool/%slog
exim_user = root
exim_group = root
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
keep_environment =
acl_smtp_rcpt = acl_rcpt
begin acl
acl_rcpt:
  deny recipients = refused@example.com
       message = no such mailbox here
  accept
begin routers
everyone:
  driver = accept
  transport = to_mbox
begin transports
to_mbox:
  driver = appendfile
  file = $WORK/mail/mbox
  user = nobody
  group = nogroup
  mode = 0644
  envelope_to_add
  return_path_add
CONF
    chmod 644 "$WORK/exim.conf"
    "$exim" -C "$WORK/exim.conf" -bdf -oX "$SMTP_PORT" -oP "$WORK/spool/exim.pid" \
        >>"$WORK/exim.out" 2>&1 &
    EXIM_PID=$!
    local i
    for i in $(seq 100); do
        grep -q "listening for SMTP" "$WORK/spool/mainlog" 2>/dev/null && break
        kill -0 "$EXIM_PID" 2>/dev/null || { echo "exim did not start:"; cat "$WORK/exim.out" "$WORK/spool/mainlog" 2>/dev/null; exit 1; }
        sleep 0.05
    done
    SMTP_URL=smtp://127.0.0.1:$SMTP_PORT
}

# requests JQ: the receiver's requests (a JSON array) through jq.
requests() {
    jq -sc "$1" "$WORK/requests.jsonl"
}

# wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
    local what=$1 secs=$2 i
    shift 2
    for i in $(seq $((secs * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    fail "timed out after ${secs}s waiting for $what"
}

# notif_is QUERY JQ VALUE: GET /v1/notifications?QUERY through jq is VALUE.
notif_is() {
    api GET "/v1/notifications?$1" "" "$VIEWER"
    [ "$STATUS" = 200 ] && [ "$(printf '%s' "$BODY" | jq -c "$2")" = "$3" ]
}
