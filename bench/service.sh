#!/usr/bin/env bash
# service.sh - the HTTP service under load: `escalator serve` against nginx
# serving a static JSON body of the same size, with the same wrk
# connections, threads and duration, on loopback.
#
# usage: bench/service.sh         (bench/run.sh calls it; it also runs alone)
#
# Environment:
#   BENCH_RUNS             wrk runs of each figure (default 3)
#   BENCH_SERVICE_SECONDS  seconds of each wrk run (default 4)
#   BENCH_WRK_THREADS      wrk threads (default 2)
#   BENCH_WRK_CONNECTIONS  wrk connections (default 16)
#   BENCH_SERVICE_TICKETS  distinct tickets the POST bodies cycle through
#                          (default 20000; from bench/gen_tickets)
#   BENCH_QUEUE_TICKETS    tickets seeded before GET /v1/queues/{team}
#                          (default 1000)
#   BENCH_CFPB             the CFPB complaints sample (see bench/run.sh)
#
# What it measures (BENCHMARKS.md records a run):
#   evaluate   POST /v1/evaluate (bot token), a different ticket each request
#   tickets    POST /v1/tickets (agent token), every request a new ticket: a
#              durable write (committed before the answer)
#   queue      GET /v1/queues/{team} (viewer token), the team with the most
#              open escalations after BENCH_QUEUE_TICKETS tickets
#   nginx      GET of a static file the size of each of those answers
#   light      POST /v1/evaluate with one connection per wrk thread
#   reload     POST /v1/evaluate while POST /v1/policy/reload runs every 2 s
# Each as a RESULT line (unit=requests: rate is requests/s, with p50_ms and
# p99_ms, and the CPU time a request took in the server and in wrk), then
# the store's floor (bench_store: SQLite alone storing the rows of the
# durable writes again, store_floor), the rate the cores allow evaluate and
# tickets with this parse, engine and store (service_*_ceiling), then the
# ratios to nginx. The server runs on the manual clock at
# 2026-11-23T12:00:00Z (the corpus's time), meow-mobile, 4 worker threads.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

RUNS=${BENCH_RUNS:-3}
HZ=$(getconf CLK_TCK)
SECONDS_RUN=${BENCH_SERVICE_SECONDS:-4}
THREADS=${BENCH_WRK_THREADS:-2}
CONNS=${BENCH_WRK_CONNECTIONS:-16}
TICKETS=${BENCH_SERVICE_TICKETS:-20000}
QUEUE_TICKETS=${BENCH_QUEUE_TICKETS:-1000}
CFPB=${BENCH_CFPB:-$root/../shared/data/cfpb-complaints-sample/complaints_sample.csv}
NOW=2026-11-23T12:00:00Z
POLICY=policies/meow-mobile.yaml
OUT=build/bench/service

# shellcheck source=bench/lib.sh
. bench/lib.sh

bench_setup wrk nginx curl jq

section "service: setup"
say "wrk $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f2), $(nginx -v 2>&1 | cut -d' ' -f3)"
say "wrk: $THREADS threads, $CONNS connections, ${SECONDS_RUN} s a run, $RUNS runs; server: 4 worker threads"
corpus=$OUT/tickets.jsonl
build/bench/gen_tickets --seed 1 --count "$TICKETS" --cfpb "$CFPB" --now "$NOW" --out "$corpus"

# series NAME URL ARGS...: wrk $RUNS times; prints each run and a RESULT
# line with the medians (rate: requests/s) and spreads (min .. max), and
# the CPU time a request took in the server (server_us: its user and system
# time over the run, all threads or nginx's processes) and in wrk
# (client_us).
series() {
    local name=$1 url=$2 line c0 c1 wrk_cpu n TIMEFORMAT='%U %S'
    shift 2
    : >"$OUT/$name.wrk"
    for ((r = 1; r <= RUNS; r++)); do
        c0=$(cpu_ticks)
        wrk_cpu=$( { time wrk -t"${WRK_T:-$THREADS}" -c"${WRK_C:-$CONNS}" -d"${SECONDS_RUN}s" \
                     "$url" "${@//@RUN@/$r}" >"$OUT/$name.out"; } 2>&1 )
        c1=$(cpu_ticks)
        line=$(grep '^WRK ' "$OUT/$name.out")
        n=$(field "$line" requests)
        line+=$(awk -v n="$n" -v s=$((c1 - c0)) -v hz="$HZ" -v w="$wrk_cpu" 'BEGIN {
            split(w, t, " "); n = n > 0 ? n : 1
            printf " server_us=%.1f client_us=%.1f", s / hz * 1e6 / n, (t[1] + t[2]) * 1e6 / n }')
        say "run $r: ${line#WRK }"
        echo "$line" >>"$OUT/$name.wrk"
    done
    awk -v name="$name" '
        function med(a, n,   i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
                t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        {   for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1], NR] = kv[2] }
            n = NR }
        END {
            split("requests duration_s rps p50_ms p99_ms max_ms non2xx errors bytes server_us client_us", keys, " ")
            for (k in keys) {
                lo[keys[k]] = 1e18; hi[keys[k]] = -1; sum[keys[k]] = 0
                for (r = 1; r <= n; r++) {
                    x = v[keys[k], r] + 0; a[r] = x; sum[keys[k]] += x
                    if (x < lo[keys[k]]) lo[keys[k]] = x
                    if (x > hi[keys[k]]) hi[keys[k]] = x
                }
                m[keys[k]] = med(a, n)
            }
            printf "RESULT name=%s items=%d bytes=%.0f runs=%d median_s=%.6f min_s=%.6f max_s=%.6f rate=%.1f unit=requests",
                   name, m["requests"], m["bytes"], n, m["duration_s"], lo["duration_s"], hi["duration_s"], m["rps"]
            printf " rps_min=%.1f rps_max=%.1f p50_ms=%.3f p50_min=%.3f p50_max=%.3f p99_ms=%.3f p99_min=%.3f p99_max=%.3f max_ms=%.3f non2xx=%d errors=%d mean_answer_bytes=%.0f",
                   lo["rps"], hi["rps"], m["p50_ms"], lo["p50_ms"], hi["p50_ms"],
                   m["p99_ms"], lo["p99_ms"], hi["p99_ms"], hi["max_ms"],
                   sum["non2xx"], sum["errors"], sum["bytes"] / sum["requests"]
            printf " server_us=%.1f client_us=%.1f\n", m["server_us"], m["client_us"]
        }' "$OUT/$name.wrk"
}

# header_bytes METHOD URL TOKEN [BODYFILE]: the size of one answer's head.
header_bytes() {
    local args=(-s -X "$1" -H "Authorization: Bearer $3" -D "$OUT/head" -o /dev/null)
    [ -n "${4:-}" ] && args+=(-H "Content-Type: application/json" --data-binary "@$4")
    curl "${args[@]}" "$2"
    wc -c <"$OUT/head"
}

# The answer sizes nginx has to match: the mean over a run of all bytes
# read per request, less the head of one answer.
body_size() {
    local name=$1 head=$2
    awk -v h="$head" '$2 == "name='"$name"'" {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "mean_answer_bytes") print int(kv[2] - h) } }' \
        "$OUT/results.txt"
}

results=$OUT/results.txt
: >"$results"
record() { tee -a "$results"; }

# ---- the escalation service ---------------------------------------------------

section "service: POST /v1/evaluate (bot), $CONNS connections"
start_server "$OUT/server.log" --db "$OUT/db" --clock manual --clock-start "$NOW" \
    --policy "$POLICY"
head -n 1 "$corpus" >"$OUT/one.json"
eval_head=$(header_bytes POST "$URL/v1/evaluate" "$BOT" "$OUT/one.json")
say "command: wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s -s bench/wrk/post.lua $URL -- $corpus /v1/evaluate BOT_TOKEN"
wrk -t"$THREADS" -c"$CONNS" -d2s -s bench/wrk/post.lua "$URL" -- "$corpus" /v1/evaluate "$BOT" >/dev/null
series service_evaluate "$URL" -s bench/wrk/post.lua -- "$corpus" /v1/evaluate "$BOT" | record

section "service: POST /v1/evaluate (bot), light load: $THREADS connections"
say "command: wrk -t$THREADS -c$THREADS -d${SECONDS_RUN}s -s bench/wrk/post.lua $URL -- $corpus /v1/evaluate BOT_TOKEN"
WRK_C=$THREADS series service_evaluate_light "$URL" -s bench/wrk/post.lua -- "$corpus" \
    /v1/evaluate "$BOT" | record

section "policy reload during load: POST /v1/evaluate while POST /v1/policy/reload every 2 s"
reload_s=$((SECONDS_RUN * 2))
say "command: wrk -t$THREADS -c$CONNS -d${reload_s}s -s bench/wrk/post.lua $URL -- $corpus /v1/evaluate BOT_TOKEN"
say "         with, from 1 s on, every 2 s: curl -X POST -H 'Authorization: Bearer ADMIN_TOKEN' $URL/v1/policy/reload"
SECONDS_RUN=$reload_s RUNS=1 series service_reload "$URL" -s bench/wrk/post.lua -- "$corpus" \
    /v1/evaluate "$BOT" >"$OUT/reload.result" &
wrk_pid=$!
sleep 1
reloads=0 reload_ok=0
: >"$OUT/reload.times"
while kill -0 "$wrk_pid" 2>/dev/null && [ $reloads -lt $((reload_s / 2 - 1)) ]; do
    t0=$EPOCHREALTIME
    code=$(curl -s -o "$OUT/reload.body" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $ADMIN" "$URL/v1/policy/reload")
    t1=$EPOCHREALTIME
    reloads=$((reloads + 1))
    [ "$code" = 200 ] && reload_ok=$((reload_ok + 1))
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1e3 }' >>"$OUT/reload.times"
    sleep 2
done
wait "$wrk_pid"
grep -v '^RESULT' "$OUT/reload.result" || true
read -r rmed rmin rmax < <(stats <"$OUT/reload.times")
say "policy reloads: $reloads, answered 200: $reload_ok; each took $rmed ms (median; $rmin .. $rmax)"
grep '^RESULT' "$OUT/reload.result" |
    sed "s/\$/ reloads=$reloads reloads_ok=$reload_ok reload_ms=$rmed/" | record
stop_server

section "service: POST /v1/tickets (agent), a new ticket each request: durable writes"
start_server "$OUT/server-tickets.log" --db "$OUT/db-tickets" --clock manual \
    --clock-start "$NOW" --policy "$POLICY"
tickets_head=$(header_bytes POST "$URL/v1/tickets" "$AGENT" "$OUT/one.json")
say "command: wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s -s bench/wrk/post.lua $URL -- $corpus /v1/tickets AGENT_TOKEN unique RUN"
series service_tickets "$URL" -s bench/wrk/post.lua -- "$corpus" /v1/tickets "$AGENT" \
    unique @RUN@ | record
stored=$(curl -s -H "Authorization: Bearer $VIEWER" "$URL/v1/metrics/summary" | jq .tickets)
say "tickets stored: $stored (synchronous = normal: each answer follows its commit)"
stop_server

# The store's floor: SQLite alone storing again the rows those writes
# stored, one COMMIT for every $CONNS writes (no more writes than there are
# connections can wait for one commit), and nothing else.
section "service: the store's floor, SQLite alone storing the rows of those writes"
make --no-print-directory -f Makefile -f bench/Makefile build/bench/bench_store >/dev/null
say "command: build/bench/bench_store $OUT/db-tickets $OUT 10000 $CONNS"
build/bench/bench_store "$OUT/db-tickets" "$OUT" 10000 "$CONNS" | record

section "service: GET /v1/queues/{team} (viewer), $QUEUE_TICKETS tickets seeded"
seed=$OUT/seed
mkdir -p "$seed"
head -n "$QUEUE_TICKETS" "$corpus" | split -l 1 -a 6 -d --additional-suffix=.json - "$seed/t"
start_server "$OUT/server-queue.log" --db "$OUT/db-queue" --clock manual --clock-start "$NOW" \
    --policy "$POLICY" --seed "$seed"
team=$(curl -s -H "Authorization: Bearer $VIEWER" "$URL/v1/queues" |
       jq -r '[.tickets[].team] | group_by(.) | max_by(length) | .[0]')
curl -s -H "Authorization: Bearer $VIEWER" "$URL/v1/queues/$team" >"$OUT/queue.json"
say "team $team: $(jq '.tickets | length' "$OUT/queue.json") open escalations, answer $(wc -c <"$OUT/queue.json") bytes"
queue_head=$(header_bytes GET "$URL/v1/queues/$team" "$VIEWER")
say "command: wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s -s bench/wrk/get.lua $URL/v1/queues/$team -- VIEWER_TOKEN"
series service_queue "$URL/v1/queues/$team" -s bench/wrk/get.lua -- "$VIEWER" | record
stop_server

# ---- nginx: a static body of the same size ------------------------------------

section "nginx: a static JSON file the size of each answer, same wrk settings"
static=$OUT/static
mkdir -p "$static"
for what in evaluate:service_evaluate:$eval_head tickets:service_tickets:$tickets_head \
            queue:service_queue:$queue_head; do
    IFS=: read -r file name head <<<"$what"
    size=$(body_size "$name" "$head")
    # {"padding":"xxx..."} of exactly $size bytes
    { printf '{"padding":"'; head -c $((size - 15)) /dev/zero | tr '\0' x; printf '"}\n'; } \
        >"$static/$file.json"
    say "$file.json: $(wc -c <"$static/$file.json") bytes (escalator's mean answer body: $size bytes)"
done
start_nginx "$static"
for file in evaluate tickets queue; do
    section "nginx: GET /$file.json"
    nginx_check "/$file.json" "$static/$file.json"
    say "command: wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s -s bench/wrk/get.lua $NGINX_URL/$file.json"
    series "nginx_$file" "$NGINX_URL/$file.json" -s bench/wrk/get.lua | record
done
stop_nginx

# ---- ratios and targets ---------------------------------------------------------

value() {
    awk -v name="$1" -v field="$2" '$2 == "name=" name {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == field) print kv[2] } }' "$results"
}
section "service: medians of $RUNS runs (spread: min .. max)"
for name in service_evaluate service_evaluate_light service_reload service_tickets \
            service_queue nginx_evaluate nginx_tickets nginx_queue; do
    printf '%-24s %9.0f requests/s (%.0f .. %.0f)  p50 %7.3f ms (%.3f .. %.3f)  p99 %7.3f ms (%.3f .. %.3f)  non-2xx %d, errors %d\n' \
        "$name" "$(value $name rate)" "$(value $name rps_min)" "$(value $name rps_max)" \
        "$(value $name p50_ms)" "$(value $name p50_min)" "$(value $name p50_max)" \
        "$(value $name p99_ms)" "$(value $name p99_min)" "$(value $name p99_max)" \
        "$(value $name non2xx)" "$(value $name errors)"
done

# ---- what a request costs in CPU -------------------------------------------------

# wrk and the server share this machine's cores, so that a route's rate is
# bounded by the CPU time a request takes in both. What a request cannot do
# without: wrk's part (measured on the route), the HTTP and TCP work of a
# server (nginx's, measured on the same body size), jansson's parse of the
# ticket and the engine's decision (both on the same tickets, one core);
# for POST /v1/tickets, the store's floor as well (SQLite alone storing the
# same rows, above). Their sum gives the highest rate the cores allow with
# this JSON library, this engine and this store; SQLite lets one writer at
# a time into a database, so the writer's own part of the floor bounds the
# durable writes on any number of cores. wrk
# spends more a request the slower the server answers (its loop runs on
# the clock): the smaller of the two routes' figures is the one taken.
section "service: what a request costs in CPU ($(nproc) cores)"
make --no-print-directory -f Makefile -f bench/Makefile build/bench/bench_parse \
    build/bench/bench_engine >/dev/null
parse_rate=$(build/bench/bench_parse "$corpus" plain | sed -n 's/^RESULT .* rate=\([0-9.]*\) .*/\1/p')
engine_rate=$(build/bench/bench_engine "$POLICY" "$corpus" "$NOW" |
              sed -n 's/^RESULT .* rate=\([0-9.]*\) .*/\1/p')
say "jansson parses the $TICKETS tickets at $parse_rate a second, the engine decides them at $engine_rate a second (medians of 3)"
for e in evaluate tickets; do
    awk -v e="$e" -v cores="$(nproc)" -v ps="$parse_rate" -v es="$engine_rate" \
        -v srv="$(value service_$e server_us)" -v cli="$(value service_$e client_us)" \
        -v cli_ev="$(value service_evaluate client_us)" \
        -v nsrv="$(value nginx_$e server_us)" -v ncli="$(value nginx_$e client_us)" \
        -v rate="$(value service_$e rate)" -v nrate="$(value nginx_$e rate)" \
        -v st="$([ "$e" = tickets ] && value store_floor cpu_us || echo 0)" \
        -v per="$(value store_floor per_commit)" -v writer="$(value store_floor writer_us)" 'BEGIN {
        p = 1e6 / ps; d = 1e6 / es
        printf "%-8s escalator %.1f us a request in the server, %.1f in wrk; nginx %.1f and %.1f\n", e, srv, cli, nsrv, ncli
        if (cli_ev < cli) cli = cli_ev
        floor = cli + nsrv + p + d + st; top = cores * 1e6 / floor
        # SQLite lets one writer at a time in: its own part bounds the rate
        # on any number of cores.
        if (st > 0 && writer > 0 && 1e6 / writer < top) top = 1e6 / writer
        printf "%-8s at least %.1f us a request: wrk %.1f + HTTP and TCP (nginx) %.1f + parse %.1f + decide %.1f", e, floor, cli, nsrv, p, d
        if (st > 0) printf " + store %.1f (SQLite alone, %d writes a commit; %.1f of it in the one writer)", st, per, writer
        printf "; at most %.0f requests/s on %d cores, %.1f %% of nginx (reached: %.0f)\n", top, cores, 100 * top / nrate, rate
        printf "RESULT name=service_%s_ceiling items=0 bytes=0 runs=1 median_s=%.6f min_s=%.6f max_s=%.6f rate=%.1f unit=requests floor_us=%.1f client_us=%.1f http_us=%.1f parse_us=%.1f decide_us=%.1f store_us=%.1f nginx_share=%.3f\n",
               e, floor / 1e6, floor / 1e6, floor / 1e6, top, floor, cli, nsrv, p, d, st, top / nrate
        if (e == "tickets")
            printf "tickets  20,000 writes/s leaves %.1f us of both cores a write; the floor above is %.1f (the server spends %.1f)\n",
                   cores * 1e6 / 20000, floor, srv
    }' | record
done

section "service: ratios and targets"
verdict() { if [ "$1" = 1 ]; then echo met; else echo MISSED; fi; }
for e in evaluate tickets queue; do
    awk -v e="$e" -v a="$(value service_$e rate)" -v b="$(value nginx_$e rate)" \
        'BEGIN { printf "%-8s escalator / nginx (same body size): %5.1f %%\n", e, 100 * a / b }'
done
ev=$(value service_evaluate rate) nx=$(value nginx_evaluate rate)
say "/v1/evaluate >= 50 % of nginx's rate: $(verdict "$(awk -v a="$ev" -v b="$nx" 'BEGIN { print (a >= b / 2) }')")" \
    "(the cores allow at most $(awk -v s="$(value service_evaluate_ceiling nginx_share)" 'BEGIN { printf "%.1f", 100 * s }') % with this parse and engine)"
say "/v1/evaluate p99 under 2 ms: $(value service_evaluate p99_ms) ms at $CONNS connections: $(verdict "$(awk -v p="$(value service_evaluate p99_ms)" 'BEGIN { print (p < 2) }')"); $(value service_evaluate_light p99_ms) ms at $THREADS connections ($(value service_evaluate_light rate) requests/s): $(verdict "$(awk -v p="$(value service_evaluate_light p99_ms)" 'BEGIN { print (p < 2) }')")"
say ">= 20,000 durable ticket writes/s: $(value service_tickets rate): $(verdict "$(awk -v a="$(value service_tickets rate)" 'BEGIN { print (a >= 20000) }')")" \
    "(this machine allows at most $(awk -v r="$(value service_tickets_ceiling rate)" 'BEGIN { printf "%.0f", r }') with this parse, engine and store)"
rf=$(( $(value service_reload non2xx) + $(value service_reload errors) ))
say "zero failed requests across $(value service_reload reloads) policy reloads: $rf failed: $(verdict "$([ "$rf" = 0 ] && echo 1)"); p99 $(value service_reload p99_ms) ms with reloads, $(value service_evaluate p99_ms) ms without"
# A figure made of error answers measures the errors: every run above must
# have been answered 2xx throughout.
bad=
for name in service_evaluate service_evaluate_light service_tickets service_queue \
            nginx_evaluate nginx_tickets nginx_queue; do
    n=$(( $(value $name non2xx) + $(value $name errors) ))
    [ "$n" = 0 ] || bad+=" $name ($n)"
done
if [ -n "$bad" ]; then
    say "WARNING: answers other than 2xx or socket errors in:$bad; those figures are void"
else
    say "every answer of the runs above was 2xx"
fi
