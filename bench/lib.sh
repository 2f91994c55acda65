# lib.sh - what bench/service.sh and bench/clocks.sh share: the real
# `escalator serve` and nginx started as plain processes on free loopback
# ports, always stopped at the end, and medians of several runs.
#
# A script sets OUT (its folder under build/bench/) and sources this file.

ADMIN=bench-admin-0001
AGENT=bench-agent-0002
BOT=bench-bot-0003
VIEWER=bench-viewer-0004
TOKENS="admin:$ADMIN,agent:$AGENT,bot:$BOT,viewer:$VIEWER"
ESC=${ESC:-build/escalator}
# Debian puts nginx in /usr/sbin, which a user's PATH may lack.
PATH=$PATH:/usr/sbin

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }

SERVER_PID=
NGINX_PID=
bench_cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null
        wait "$NGINX_PID" 2>/dev/null
    fi
    SERVER_PID= NGINX_PID=
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# bench_setup TOOL...: each TOOL on the path, a fresh $OUT, escalator and
# the corpus generator built.
bench_setup() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { say "$tool is missing: make bench-deps"; exit 1; }
    done
    rm -rf "$OUT"
    mkdir -p "$OUT"
    make --no-print-directory all >/dev/null
    make --no-print-directory -f Makefile -f bench/Makefile build/bench/gen_tickets >/dev/null
}

# free_port: a loopback port nothing listens on.
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    echo "no free port" >&2
    return 1
}

# start_server LOG SETTING...: `escalator serve` on a free port (port 0, read
# back from --port-file); sets SERVER_PID and URL. Waits until it listens.
start_server() {
    local log=$1 portfile=$OUT/server.port
    shift
    rm -f "$portfile"
    "$ESC" serve --port 0 --port-file "$portfile" --tokens "$TOKENS" "$@" >"$log" 2>&1 &
    SERVER_PID=$!
    while [ ! -s "$portfile" ]; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            say "the server did not start:"
            tail -n 20 "$log"
            exit 1
        fi
        sleep 0.01
    done
    URL=http://127.0.0.1:$(cat "$portfile")
}

# stop_server: SIGTERM, and wait for the exit.
stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# start_nginx ROOT: nginx (Debian's) as a plain foreground process with its
# own configuration under $OUT/nginx, serving the files of ROOT as JSON on a
# free loopback port; sets NGINX_PID and NGINX_URL. Never the system
# service: its own prefix, pid file, logs and temporary folders.
start_nginx() {
    local root=$1 dir port
    dir=$(realpath -m "$OUT/nginx")
    port=$(free_port)
    mkdir -p "$dir/tmp" "$dir/logs"
    # Started by root, nginx's workers would run as nobody, who cannot read
    # files under a home folder such as /root: they run as the caller.
    local user=
    [ "$(id -u)" = 0 ] && user="user $(id -un) $(id -gn);"
    cat >"$dir/nginx.conf" <<EOF
# written by bench/lib.sh
daemon off;
$user
master_process on;
worker_processes ${NGINX_WORKERS:-auto};
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    types { }
    default_type application/json;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $(realpath "$root");
        location / { }
    }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" &
    NGINX_PID=$!
    NGINX_URL=http://127.0.0.1:$port
    for _ in $(seq 500); do
        curl -s -o /dev/null "$NGINX_URL/" && return
        if ! kill -0 "$NGINX_PID" 2>/dev/null; then
            say "nginx did not start:"
            cat "$dir/logs/error.log"
            exit 1
        fi
        sleep 0.01
    done
    say "nginx does not answer on $NGINX_URL"
    exit 1
}

# nginx_check PATH FILE: exits unless nginx answers GET PATH with 200 and
# FILE's bytes (an error page instead would make every nginx figure void).
nginx_check() {
    local got want
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$NGINX_URL$1")
    want="200 $(wc -c <"$2")"
    if [ "$got" != "$want" ]; then
        say "nginx answers GET $1 with status and size '$got', not '$want':"
        tail -n 5 "$(realpath -m "$OUT/nginx")/logs/error.log"
        exit 1
    fi
}

stop_nginx() {
    kill -QUIT "$NGINX_PID"
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=
}

# cpu_ticks: the CPU time (user and system, clock ticks) of the server being
# measured so far: escalator's process, or nginx's master and workers.
cpu_ticks() {
    local pids=() p t=0
    [ -n "$SERVER_PID" ] && pids+=("$SERVER_PID")
    [ -n "$NGINX_PID" ] && pids+=("$NGINX_PID" $(pgrep -P "$NGINX_PID" || true))
    for p in "${pids[@]}"; do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

# field LINE NAME: the value of NAME=VALUE in a line.
field() {
    tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n 1
}

# stats: the median, min and max of the numbers on stdin, one a line.
stats() {
    sort -g | awk '{ v[NR] = $1 }
        END { med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%s %s %s\n", med, v[1], v[NR] }'
}
