#!/usr/bin/env bash
# clocks.sh - the SLA clocks of `escalator serve` with many open tickets:
# memory per open timer, start-up time with them, and the lag from a timer's
# due time to its escalation event with timers coming due at 1,000 a second
# on the real clock.
#
# usage: bench/clocks.sh          (bench/run.sh calls it; it also runs alone)
#
# Environment:
#   BENCH_CLOCK_TIMERS  open tickets (each with a running response timer),
#                       one figure per count (default "100000 1000000")
#   BENCH_RUNS          start-ups measured per count (default 3)
#   BENCH_LAG_SECONDS   seconds during which timers come due (default 10)
#   BENCH_LAG_RATE      timers coming due a second (default 1000)
#   BENCH_CLOCKS_OUT    its folder (default build/bench/clocks)
#   ESC                 the escalator binary (default build/escalator)
#   BENCH_PERF          1: a perf profile of the server (cpu-clock, call
#                       graphs) while the timers fire, in build/bench/clocks/
#
# The 1,000,000-ticket store takes 4.5 GB of disk (written without a journal,
# then switched to WAL as the server keeps it). The open tickets are put in
# the store directly, in the server's own
# schema: `escalator serve` first stores the first 40 tickets of the corpus
# through POST /v1/tickets (the template: the escalated ones, each with its
# ticket row, decision, escalation, level and armed respond:E.L.K timer),
# then SQL (sqlite3) copies them N times with new ticket and escalation ids,
# one armed response timer each. The messages and events are copied for
# the tickets whose timers fire in the lag run (the others keep their row,
# escalation, level and timer: start-up reads only the armed timers).
#
# Figures (RESULT lines, BENCHMARKS.md records a run):
#   start-up     seconds from exec to the bound port (the policy compiled,
#                the store opened, every armed timer loaded)
#   memory       peak RSS (VmHWM) after start-up, less the same server's
#                with no ticket: bytes per open timer; and the resident
#                set (VmRSS) once started
#   fire lag     sla_breach events: fired_ms - 1000 * due_at, p50, p99, max;
#                the same without the first second's timers (warm_*)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

SIZES=${BENCH_CLOCK_TIMERS:-100000 1000000}
RUNS=${BENCH_RUNS:-3}
LAG_SECONDS=${BENCH_LAG_SECONDS:-10}
RATE=${BENCH_LAG_RATE:-1000}
CFPB=${BENCH_CFPB:-$root/../shared/data/cfpb-complaints-sample/complaints_sample.csv}
POLICY=policies/meow-mobile.yaml
OUT=${BENCH_CLOCKS_OUT:-build/bench/clocks}

# shellcheck source=bench/lib.sh
. bench/lib.sh

bench_setup sqlite3 curl jq

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1e3 }'; }
kib() { awk -v k="$2" '$1 == k ":" { print $2 }' "/proc/$1/status"; }

# boot DB: starts the server on DB with the real clock; sets BOOT_MS (exec
# to the bound port), HWM_KIB and RSS_KIB (VmHWM and VmRSS then), LOADED
# (the timers it says it loaded). The server keeps running.
boot() {
    local t0 t1
    t0=$EPOCHREALTIME
    start_server "$OUT/server.log" --db "$1" --policy "$POLICY"
    t1=$EPOCHREALTIME
    BOOT_MS=$(ms "$t0" "$t1")
    curl -sf "$URL/healthz" >/dev/null
    HWM_KIB=$(kib "$SERVER_PID" VmHWM)
    RSS_KIB=$(kib "$SERVER_PID" VmRSS)
    LOADED=$(sed -n 's/.*: \([0-9]*\) timers loaded.*/\1/p' "$OUT/server.log" | tail -n 1)
}

section "clocks: setup"
say "sqlite3 $(sqlite3 --version | cut -d' ' -f1); sizes: $SIZES; $RUNS start-ups each;" \
    "fire lag: $RATE timers due a second for $LAG_SECONDS s"

# ---- the template -------------------------------------------------------------

tpl=$OUT/template.db
build/bench/gen_tickets --seed 1 --count 40 --cfpb "$CFPB" --now 2026-11-23T12:00:00Z \
    --out "$OUT/template.jsonl" 2>/dev/null
start_server "$OUT/template.log" --db "$tpl" --policy "$POLICY" --clock manual \
    --clock-start 2026-11-23T12:00:00Z
while read -r line; do
    printf '%s' "$line" | curl -sf -o /dev/null -X POST -H "Authorization: Bearer $AGENT" \
        -H 'Content-Type: application/json' --data-binary @- "$URL/v1/tickets"
done <"$OUT/template.jsonl"
stop_server
say "template: $(sqlite3 "$tpl" "SELECT count(*) FROM timers WHERE state = 'armed' AND cause LIKE 'respond:%'") escalated tickets with a respond timer, of 40"

# An empty store, migrated by the server itself.
empty=$OUT/empty.db
start_server "$OUT/server.log" --db "$empty" --policy "$POLICY"
stop_server

# build N DB FIRING: N open tickets copied from the template, their timers
# due in 30 days; the first FIRING with their messages and events.
build_db() {
    local n=$1 db=$2 firing=$3
    rm -f "$db" "$db-wal" "$db-shm"
    cp "$empty" "$db"
    sqlite3 "$db" <<EOF
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
ATTACH '$tpl' AS t;
CREATE TEMP TABLE tpl AS
    SELECT row_number() OVER (ORDER BY e.id) - 1 AS j, e.ticket_id AS tid, e.id AS eid,
           tm.cause AS cause, tm.data AS tdata
    FROM t.escalations e JOIN t.timers tm
         ON tm.ticket_id = e.ticket_id AND tm.state = 'armed' AND tm.cause LIKE 'respond:%';
CREATE TEMP TABLE n AS
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $n)
    SELECT i, 'K-' || i AS id, (SELECT j FROM tpl WHERE j = i % (SELECT count(*) FROM tpl)) AS j
    FROM c;
BEGIN;
INSERT INTO tickets (id, doc, status, level, priority, fired, decision, created_at,
                     updated_at, first_response_at, resolved_at, paused_at)
    SELECT n.id, json_set(tk.doc, '\$.id', n.id), tk.status, tk.level, tk.priority, tk.fired,
           json_set(tk.decision, '\$.ticket', n.id), tk.created_at, tk.updated_at,
           tk.first_response_at, tk.resolved_at, tk.paused_at
    FROM n JOIN tpl USING (j) JOIN t.tickets tk ON tk.id = tpl.tid;
INSERT INTO escalations (id, ticket_id, state, team, priority, opened_at, closed_at, owner,
                         acknowledged_at, respond_by, ack_repeats, levels)
    SELECT n.i, n.id, e.state, e.team, e.priority, e.opened_at, e.closed_at, e.owner,
           e.acknowledged_at, e.respond_by, e.ack_repeats, e.levels
    FROM n JOIN tpl USING (j) JOIN t.escalations e ON e.id = tpl.eid;
INSERT INTO escalation_levels (escalation_id, team, cause, started_at, ended_at, respond_by,
                               acknowledged_at, responded_at, breached_at)
    SELECT n.i, l.team, l.cause, l.started_at, l.ended_at, l.respond_by, l.acknowledged_at,
           l.responded_at, l.breached_at
    FROM n JOIN tpl USING (j) JOIN t.escalation_levels l ON l.escalation_id = tpl.eid
    ORDER BY n.i, l.id;
INSERT INTO timers (ticket_id, cause, due_at, state, data)
    SELECT n.id, 'respond:' || n.i || substr(tpl.cause, instr(substr(tpl.cause, 9), '.') + 8),
           unixepoch() + 30 * 86400, 'armed', json_set(tpl.tdata, '\$.escalation', n.i)
    FROM n JOIN tpl USING (j);
INSERT INTO messages (ticket_id, sender, at, body)
    SELECT n.id, m.sender, m.at, m.body
    FROM n JOIN tpl USING (j) JOIN t.messages m ON m.ticket_id = tpl.tid
    WHERE n.i <= $firing ORDER BY n.i, m.id;
INSERT INTO events (ticket_id, at, kind, actor, data)
    SELECT n.id, ev.at, ev.kind, ev.actor, ev.data
    FROM n JOIN tpl USING (j) JOIN t.events ev ON ev.ticket_id = tpl.tid
    WHERE n.i <= $firing ORDER BY n.i, ev.id;
COMMIT;
PRAGMA journal_mode = WAL;
EOF
} >/dev/null

results=$OUT/results.txt
: >"$results"
record() { tee -a "$results"; }

# ---- no timers: the baseline ---------------------------------------------------

# boots N DB [COPY]: $RUNS start-ups on DB (a fresh copy of COPY each time
# when given), each line "ms VmHWM VmRSS" in $OUT/boot.N.
boots() {
    local n=$1 db=$2 copy=${3:-} r
    : >"$OUT/boot.$n"
    for ((r = 1; r <= RUNS; r++)); do
        if [ -n "$copy" ]; then cp "$copy" "$db"; else sync; fi
        boot "$db"
        say "run $r: started in $BOOT_MS ms with $LOADED timers loaded; VmHWM $HWM_KIB KiB, VmRSS $RSS_KIB KiB"
        echo "$BOOT_MS $HWM_KIB $RSS_KIB" >>"$OUT/boot.$n"
        stop_server
    done
}

section "clocks: the server with no ticket (baseline)"
boots 0 "$OUT/run.db" "$empty"
read -r base_hwm _ _ < <(cut -d' ' -f2 "$OUT/boot.0" | stats)
read -r base_rss _ _ < <(cut -d' ' -f3 "$OUT/boot.0" | stats)
read -r base_ms base_ms_min base_ms_max < <(cut -d' ' -f1 "$OUT/boot.0" | stats)
echo "RESULT name=clocks_startup_0 items=0 bytes=0 runs=$RUNS median_s=$(awk -v m="$base_ms" 'BEGIN { printf "%.6f", m / 1e3 }') min_s=$(awk -v m="$base_ms_min" 'BEGIN { printf "%.6f", m / 1e3 }') max_s=$(awk -v m="$base_ms_max" 'BEGIN { printf "%.6f", m / 1e3 }') rate=0 unit=timers hwm_kib=$base_hwm rss_kib=$base_rss" | record

# ---- per size --------------------------------------------------------------------

firing=$((LAG_SECONDS * RATE))
for n in $SIZES; do
    [ "$firing" -le "$n" ] || firing=$n
    section "clocks: $n open tickets, one running response timer each"
    db=$OUT/timers-$n.db
    t0=$EPOCHREALTIME
    build_db "$n" "$db" "$firing"
    t1=$EPOCHREALTIME
    say "store built in $(ms "$t0" "$t1") ms: $(du -m "$db" | cut -f1) MB," \
        "$(sqlite3 "$db" "SELECT count(*) FROM timers WHERE state = 'armed'") armed timers"

    # start-up and memory, $RUNS times (nothing comes due: timers in 30 days)
    boots "$n" "$db"
    read -r b_ms b_min b_max < <(cut -d' ' -f1 "$OUT/boot.$n" | stats)
    read -r hwm hwm_min hwm_max < <(cut -d' ' -f2 "$OUT/boot.$n" | stats)
    read -r rss _ _ < <(cut -d' ' -f3 "$OUT/boot.$n" | stats)
    awk -v n="$n" -v runs="$RUNS" -v m="$b_ms" -v lo="$b_min" -v hi="$b_max" -v hwm="$hwm" \
        -v hlo="$hwm_min" -v hhi="$hwm_max" -v rss="$rss" -v bh="$base_hwm" -v br="$base_rss" 'BEGIN {
        printf "RESULT name=clocks_startup_%d items=%d bytes=0 runs=%d median_s=%.6f min_s=%.6f max_s=%.6f rate=%.1f unit=timers hwm_kib=%d hwm_min_kib=%d hwm_max_kib=%d rss_kib=%d peak_bytes_per_timer=%.1f peak_bytes_per_timer_min=%.1f peak_bytes_per_timer_max=%.1f resident_bytes_per_timer=%.1f\n",
               n, n, runs, m / 1e3, lo / 1e3, hi / 1e3, n / (m / 1e3), hwm, hlo, hhi, rss,
               (hwm - bh) * 1024 / n, (hlo - bh) * 1024 / n, (hhi - bh) * 1024 / n, (rss - br) * 1024 / n
    }' | record

    # fire lag: the first $firing timers come due at $RATE a second, from
    # a few seconds after the server is expected to be up.
    lead=$(awk -v m="$b_max" 'BEGIN { printf "%d", m / 1e3 * 2 + 5 }')
    due0=$(($(date +%s) + lead))
    sqlite3 "$db" "PRAGMA busy_timeout = 10000;
        UPDATE timers SET due_at = $due0 + (CAST(substr(ticket_id, 3) AS INTEGER) - 1) / $RATE
        WHERE state = 'armed' AND CAST(substr(ticket_id, 3) AS INTEGER) <= $firing;" >/dev/null
    last_event=$(sqlite3 "$db" "SELECT coalesce(max(id), 0) FROM events")
    boot "$db"
    say "fire lag: started in $BOOT_MS ms; $firing timers due from $(date -u -d "@$due0" +%H:%M:%S), $RATE a second"
    end=$((due0 + firing / RATE + 180))
    fired=0
    perf_pid=
    if [ "${BENCH_PERF:-0}" = 1 ]; then
        perf record -q -e cpu-clock --call-graph "${BENCH_PERF_CALLS:-fp}" -p "$SERVER_PID" \
            -o "$OUT/perf.$n.data" 2>/dev/null &
        perf_pid=$!
    fi
    # Watched from the side (a reader of the WAL database never blocks the
    # server); GET /metrics would count every ticket under the service lock.
    sleep $((due0 + firing / RATE - $(date +%s)))
    while [ "$(date +%s)" -lt "$end" ]; do
        fired=$(sqlite3 "$db" "SELECT count(*) FROM events WHERE id > $last_event
                               AND kind = 'sla_breach'" 2>/dev/null || echo 0)
        [ "${fired:-0}" -ge "$firing" ] && break
        sleep 1
    done
    hwm_lag=$(kib "$SERVER_PID" VmHWM)
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
    fi
    stop_server
    # The breaches of the timers set to come due (a breach that moves the
    # escalation up may arm a new level's timers, due at once: not counted).
    sqlite3 -separator ' ' "$db" "SELECT json_extract(data, '\$.fired_ms') - 1000 * json_extract(data, '\$.due_at'),
                   json_extract(data, '\$.fired_ms'), json_extract(data, '\$.due_at')
                   FROM events WHERE id > $last_event AND kind = 'sla_breach'
                   AND json_extract(data, '\$.cause') LIKE
                       'respond:' || CAST(substr(ticket_id, 3) AS INTEGER) || '.1.%'" |
        sort -g >"$OUT/lag.$n"
    # Also without the first second's timers: they fire on the caches of a
    # server just started (SQLite's pages, the allocator's), the others on
    # those of one that has been firing.
    awk -v n="$n" -v want="$firing" -v rate="$RATE" -v hwm="$hwm_lag" -v due0="$due0" '
        function pct(a, k, p,   i) { i = int(k * p) + 1; return a[i > k ? k : i] }
        { v[NR] = $1
          if ($3 > due0) w[++nw] = $1
          if (NR == 1 || $2 < first) first = $2
          if (NR == 1 || $2 > last) last = $2 }
        END {
            if (NR == 0) { print "no sla_breach event: nothing fired"; exit 1 }
            per_s = last > first ? (NR - 1) / ((last - first) / 1e3) : 0
            p50 = pct(v, NR, 0.50); p99 = pct(v, NR, 0.99)
            w50 = nw ? pct(w, nw, 0.50) : 0; w99 = nw ? pct(w, nw, 0.99) : 0
            printf "sla_breach events: %d of %d timers due; lag p50 %d ms, p99 %d ms, max %d ms; fired %.0f a second from first to last; VmHWM after: %d KiB\n",
                   NR, want, p50, p99, v[NR], per_s, hwm
            printf "without the first second (%d firings): lag p50 %d ms, p99 %d ms, max %d ms\n",
                   nw, w50, w99, nw ? w[nw] : 0
            printf "RESULT name=clocks_fire_lag_%d items=%d bytes=0 runs=1 median_s=%.6f min_s=%.6f max_s=%.6f rate=%d unit=firings p50_ms=%d p99_ms=%d max_ms=%d due=%d hwm_kib=%d fired_per_s=%.0f warm_p50_ms=%d warm_p99_ms=%d warm_max_ms=%d\n",
                   n, NR, p50 / 1e3, v[1] / 1e3, v[NR] / 1e3, rate, p50, p99, v[NR], want, hwm, per_s,
                   w50, w99, nw ? w[nw] : 0
        }' "$OUT/lag.$n" | record
    rm -f "$db" "$db-wal" "$db-shm"
done

# ---- targets -------------------------------------------------------------------

value() {
    awk -v name="$1" -v field="$2" '$2 == "name=" name {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == field) print kv[2] } }' "$results"
}
verdict() { if [ "$1" = 1 ]; then echo met; else echo MISSED; fi; }
section "clocks: targets"
for n in $SIZES; do
    b=$(value "clocks_startup_$n" peak_bytes_per_timer)
    s=$(value "clocks_startup_$n" median_s)
    p=$(value "clocks_fire_lag_$n" p99_ms)
    say "$n timers: $b bytes per open timer (peak RSS; target <= 256: $(verdict "$(awk -v b="$b" 'BEGIN { print (b <= 256) }')")," \
        "$(value "clocks_startup_$n" resident_bytes_per_timer) resident after start-up);" \
        "start-up $s s (target < 3 s at 1,000,000: $(verdict "$(awk -v s="$s" 'BEGIN { print (s < 3) }')"));" \
        "fire lag p99 $p ms, max $(value "clocks_fire_lag_$n" max_ms) ms (target < 100 ms: $(verdict "$(awk -v p="$p" 'BEGIN { print (p < 100) }')"));" \
        "after the first second p99 $(value "clocks_fire_lag_$n" warm_p99_ms) ms"
done
