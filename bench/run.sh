#!/usr/bin/env bash
# run.sh - escalator's benchmarks, side by side with the physical limits and
# with the rules engine a developer would pick instead.
#
# usage: bench/run.sh                   the recorded run: 1,000,000 tickets
#        BENCH_TICKETS=20000 bench/run.sh   a quick try
#
# Environment:
#   BENCH_TICKETS  corpus size in tickets (default 1000000)
#   BENCH_RUNS     timed runs of each figure, reported as median and spread
#                  (default 3)
#   BENCH_SEED     the generator's seed (default 1)
#   PEER_TICKETS   tickets the json-rules-engine peer decides: a prefix of
#                  the corpus, since it decides about 3,000 a second
#                  (default 10000, at most BENCH_TICKETS)
#   BENCH_CFPB     the CFPB complaints sample the customer text comes from
#                  (default ../shared/data/cfpb-complaints-sample/
#                  complaints_sample.csv from the repository root; generated
#                  text when it is absent)
#
# What it measures (BENCHMARKS.md explains each figure and records a run):
#   corpus      generator speed; size in tickets and bytes; every rule and
#               suppression of meow-mobile and ai-handoff fires somewhere
#   1. per pack (meow-mobile, ai-handoff), one core:
#      triage    `escalator triage --jsonl` end to end, decisions to /dev/null
#      engine    esc_engine_evaluate() on tickets already parsed (bench_engine)
#      limit B   Vectorscan over the same message bytes for the same phrases
#                (bench_scan), and with the pack's regexes as well
#   limit A     jansson parsing the same lines, nothing else (bench_parse);
#               its runs take turns with triage's, and the ratio of the two
#               is the median of the runs' ratios
#   peer        json-rules-engine with a 16-rule subset of meow-mobile
#               (bench/peer/), against escalator with the same subset on the
#               same tickets; agreement of their decisions
#   2. service  bench/service.sh: POST /v1/evaluate, POST /v1/tickets
#               (durable), GET /v1/queues/{team} with wrk, against nginx
#               serving a static body of the same size
#   3. clocks   bench/clocks.sh: 100,000 and 1,000,000 open tickets with
#               running timers: start-up, memory per timer, fire lag
#   4. policy   compile time of each of the five packs (bench_compile); a
#               policy reload under load (bench/service.sh)
# then the ratios against the targets. Nothing here is part of `make test`.
#
# Everything it writes goes to build/bench/; the npm package goes to
# bench/node_modules (git-ignored). Exit status 0 when every figure was
# measured (a missed target is reported, not an error), 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

TICKETS=${BENCH_TICKETS:-1000000}
RUNS=${BENCH_RUNS:-3}
SEED=${BENCH_SEED:-1}
PEER_TICKETS=${PEER_TICKETS:-10000}
[ "$PEER_TICKETS" -le "$TICKETS" ] || PEER_TICKETS=$TICKETS
CFPB=${BENCH_CFPB:-$root/../shared/data/cfpb-complaints-sample/complaints_sample.csv}
NOW=2026-11-23T12:00:00Z
PACKS=(meow-mobile ai-handoff)
OUT=build/bench
export BENCH_RUNS=$RUNS

mkdir -p "$OUT"
results=$OUT/results.txt
: >"$results"

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }

# record: prints its input and keeps its RESULT lines (bench/common.h
# format) for the summary.
record() { tee "$OUT/last.txt"; grep '^RESULT ' "$OUT/last.txt" >>"$results" || true; }

# median_result NAME ITEMS BYTES SECONDS...: the RESULT line of runs that
# took SECONDS each (ITEMS tickets, BYTES bytes a run): their median.
median_result() {
    local name=$1 items=$2 bytes=$3
    shift 3
    printf '%s\n' "$@" | sort -g | awk -v name="$name" -v n="$items" -v b="$bytes" '
        { t[NR] = $1 }
        END {
            med = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            printf "RESULT name=%s items=%d bytes=%.0f runs=%d median_s=%.6f min_s=%.6f max_s=%.6f rate=%.1f unit=tickets\n",
                   name, n, b, NR, med, t[1], t[NR], n / med
        }'
}

# seconds COMMAND...: runs COMMAND (output to /dev/null) and prints its wall
# time in seconds.
seconds() {
    local t0 t1
    t0=$EPOCHREALTIME
    "$@" >/dev/null
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }'
}

# timed NAME ITEMS BYTES COMMAND...: runs COMMAND $RUNS times (output to
# /dev/null), prints each wall time and a RESULT line with the median.
timed() {
    local name=$1 items=$2 bytes=$3
    shift 3
    local times=() s
    for ((r = 1; r <= RUNS; r++)); do
        s=$(seconds "$@")
        times+=("$s")
        awk -v r="$r" -v s="$s" -v n="$items" \
            'BEGIN { printf "run %d: %d tickets in %.3f s: %.0f tickets/s\n", r, n, s, n / s }'
    done
    median_result "$name" "$items" "$bytes" "${times[@]}" | record
}

# value NAME FIELD: a field of a recorded RESULT line.
value() {
    awk -v name="$1" -v field="$2" '$2 == "name=" name {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == field) print kv[2] } }' "$results"
}

# ---- the machine, the build ---------------------------------------------------

section "machine"
say "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "cores:   $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
say "memory:  $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
say "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min; other work on the machine skews every figure)"
say "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include 2>/dev/null || echo ' + uncommitted changes')"
say "tickets: $TICKETS, runs: $RUNS, seed: $SEED, now: $NOW"

section "build"
make --no-print-directory all >/dev/null
make --no-print-directory -f Makefile -f bench/Makefile bench-programs >/dev/null
say "build/escalator, build/bench/: up to date ($(cc --version | head -1))"

# ---- the corpus -------------------------------------------------------------

section "corpus"
corpus=$OUT/corpus-$TICKETS-$SEED.jsonl
t0=$EPOCHREALTIME
$OUT/gen_tickets --seed "$SEED" --count "$TICKETS" --cfpb "$CFPB" --now "$NOW" --out "$corpus"
t1=$EPOCHREALTIME
corpus_bytes=$(stat -c %s "$corpus")
awk -v a="$t0" -v b="$t1" -v n="$TICKETS" -v by="$corpus_bytes" 'BEGIN {
    printf "generated in %.2f s (%.0f tickets/s); %.1f MB, %.0f bytes a ticket\n",
           b - a, n / (b - a), by / 1e6, by / n }'

# Every rule and suppression of both packs fires somewhere (on the first
# 20,000 tickets): the corpus exercises all of each pack.
sample=$OUT/sample.jsonl
head -n 20000 "$corpus" >"$sample"
for pack in "${PACKS[@]}"; do
    build/escalator triage --policy "policies/$pack.yaml" --now "$NOW" --jsonl "$sample" \
        >"$OUT/sample.$pack.out"
    build/escalator check --dump "policies/$pack.yaml" 2>/dev/null |
        jq -r '(.rules[].id), ("suppression:" + .suppressions[].id)' | sort >"$OUT/items.$pack"
    jq -r '(.reasons[].rule // empty), (.suppressed[].rules[]),
           ("suppression:" + .suppressed[].suppression)' "$OUT/sample.$pack.out" |
        sort -u >"$OUT/fired.$pack"
    never=$(comm -23 "$OUT/items.$pack" "$OUT/fired.$pack" | tr '\n' ' ')
    escalated=$(jq -r 'select(.escalate) | .ticket' "$OUT/sample.$pack.out" | wc -l)
    say "$pack: $(comm -12 "$OUT/items.$pack" "$OUT/fired.$pack" | wc -l) of" \
        "$(wc -l <"$OUT/items.$pack") rules and suppressions fire in the first" \
        "$(wc -l <"$sample") tickets ($escalated escalate)${never:+; never: $never}"
done

# ---- 1. triage throughput, one core ----------------------------------------

# Triage and limit A (jansson alone parsing the same lines) take turns: run
# r of limit A follows run r of triage with each pack, so that each ratio
# of triage to limit A is taken at one moment of a shared machine (measured
# minutes apart, the ratio moved with the machine's load). The ratio's
# figure is the median of the runs' ratios.
section "1. escalator triage --jsonl end to end, and limit A (jansson parsing the same lines), taking turns"
for pack in "${PACKS[@]}"; do
    say "command: build/escalator triage --policy policies/$pack.yaml --now $NOW --jsonl $corpus > /dev/null"
done
say "command: BENCH_RUNS=1 $OUT/bench_parse $corpus plain"
declare -A triage_s
limit_a_s=()
for ((r = 1; r <= RUNS; r++)); do
    for pack in "${PACKS[@]}"; do
        s=$(seconds build/escalator triage --policy "policies/$pack.yaml" --now "$NOW" \
            --jsonl "$corpus")
        triage_s[$pack]+="$s "
        awk -v r="$r" -v p="$pack" -v s="$s" -v n="$TICKETS" \
            'BEGIN { printf "run %d, %s: %d tickets in %.3f s: %.0f tickets/s\n", r, p, n, s, n / s }'
    done
    s=$(BENCH_RUNS=1 "$OUT/bench_parse" "$corpus" plain |
        sed -n 's/^RESULT name=limit_a_jansson_parse .* median_s=\([0-9.]*\) .*/\1/p')
    [ -n "$s" ] || { say "limit A failed"; exit 1; }
    limit_a_s+=("$s")
    awk -v r="$r" -v s="$s" -v n="$TICKETS" \
        'BEGIN { printf "run %d, limit A: %d lines in %.3f s: %.0f lines/s\n", r, n, s, n / s }'
done
for pack in "${PACKS[@]}"; do
    key=${pack//-/_}
    # shellcheck disable=SC2086
    median_result "triage_${key}" "$TICKETS" "$corpus_bytes" ${triage_s[$pack]} | record
    # The runs' ratios: limit A's time over triage's, run by run.
    # shellcheck disable=SC2086
    paste -d' ' <(printf '%s\n' ${triage_s[$pack]}) <(printf '%s\n' "${limit_a_s[@]}") |
        awk '{ print 100 * $2 / $1 }' | sort -g | awk -v name="triage_limit_a_${key}" '
            { v[NR] = $1 }
            END {
                med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                printf "RESULT name=%s items=%d bytes=0 runs=%d median_s=0 min_s=0 max_s=0 rate=%.2f unit=percent min=%.2f max=%.2f\n",
                       name, NR, NR, med, v[1], v[NR]
            }' | record
done
median_result limit_a_jansson_parse "$TICKETS" "$corpus_bytes" "${limit_a_s[@]}" | record

for pack in "${PACKS[@]}"; do
    key=${pack//-/_}
    section "1. $pack: the engine alone, tickets already parsed"
    say "command: $OUT/bench_engine policies/$pack.yaml $corpus $NOW"
    $OUT/bench_engine "policies/$pack.yaml" "$corpus" "$NOW" |
        sed "s/name=engine_alone/name=engine_${key}/" | record

    section "1. $pack: limit B, Vectorscan over the same message bytes"
    say "command: $OUT/bench_scan policies/$pack.yaml $corpus"
    $OUT/bench_scan "policies/$pack.yaml" "$corpus" |
        sed "s/name=limit_b_/name=limit_b_${key}_/" | record
done

# Limit A above is jansson as it comes (malloc). With the region allocator
# triage gives it, jansson is measured on the peer's tickets below (the same
# kind of lines): a third pass over the whole corpus would add a minute to
# make bench.

# ---- 1. the json-rules-engine peer --------------------------------------------

section "1. peer: json-rules-engine, 16 rules of meow-mobile, first $PEER_TICKETS tickets"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    say "node and npm are missing: apt-get install nodejs npm (Debian 12)"
    exit 1
fi
if [ ! -d bench/node_modules/json-rules-engine ]; then
    (cd bench && npm ci --no-audit --no-fund --loglevel=error)
fi
say "json-rules-engine $(node -p "require('./bench/node_modules/json-rules-engine/package.json').version"), node $(node --version)"
prefix=$OUT/prefix-$PEER_TICKETS.jsonl
head -n "$PEER_TICKETS" "$corpus" >"$prefix"
prefix_bytes=$(stat -c %s "$prefix")
# peer NAME ARGS...: runs the peer $RUNS times, records the median.
peer() {
    local name=$1 output times=()
    shift
    say "command: node bench/peer/run.js $prefix $*"
    for ((r = 1; r <= RUNS; r++)); do
        output=$(node bench/peer/run.js "$prefix" "$@")
        grep -v '^RESULT' <<<"$output"
        times+=("$(grep '^RESULT' <<<"$output" | sed 's/.*median_s=\([0-9.]*\).*/\1/')")
    done
    median_result "$name" "$PEER_TICKETS" "$prefix_bytes" "${times[@]}" | record
}
peer peer_json_rules_engine
say "and with the tickets parsed beforehand (JSON.parse not timed):"
peer peer_engine_only --parsed

section "1. escalator with the same 16 rules, same tickets, end to end"
say "command: build/escalator triage --policy bench/peer/meow-subset.yaml --now $NOW --jsonl $prefix > /dev/null"
timed triage_meow_subset "$PEER_TICKETS" "$prefix_bytes" \
    build/escalator triage --policy bench/peer/meow-subset.yaml --now "$NOW" --jsonl "$prefix"

section "1. escalator's engine alone with the same 16 rules, same tickets"
say "command: $OUT/bench_engine bench/peer/meow-subset.yaml $prefix $NOW"
$OUT/bench_engine bench/peer/meow-subset.yaml "$prefix" "$NOW" |
    sed "s/name=engine_alone/name=engine_meow_subset/" | record

section "1. limit A on the peer's tickets: jansson alone, no decision at all"
say "command: $OUT/bench_parse $prefix"
$OUT/bench_parse "$prefix" | sed "s/name=limit_a_/name=peer_limit_a_/" | record

section "1. peer: same decisions?"
build/escalator triage --policy bench/peer/meow-subset.yaml --now "$NOW" --jsonl "$prefix" \
    >"$OUT/subset.escalator.out"
node bench/peer/run.js "$prefix" --out "$OUT/subset.peer.out" >/dev/null
node bench/peer/compare.js "$OUT/subset.escalator.out" "$OUT/subset.peer.out" | record

# ---- 2. the service, 3. the clocks, 4. a policy reload under load ---------------

section "2. and 4. the service under load, against nginx; a policy reload under load"
say "command: bench/service.sh"
bench/service.sh | record

section "3. the clocks: open tickets with running SLA timers"
say "command: bench/clocks.sh"
bench/clocks.sh | record

# ---- 4. policy compile time -------------------------------------------------

section "4. policy compile time (esc_policy_load_file, YAML to the compiled policy)"
say "command: $OUT/bench_compile policies/*.yaml"
$OUT/bench_compile policies/*.yaml | record

# ---- summary -----------------------------------------------------------------

section "summary (medians of $RUNS runs; spread = min .. max)"
awk '$2 ~ /^name=/ {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        if (v["unit"] == "percent")
            printf "%-40s %10.2f %%\n", v["name"], v["rate"]
        else if (v["name"] ~ /_ceiling$/)
            printf "%-40s %10.0f requests/s at most (%.1f us of CPU a request); %.1f %% of nginx\n",
                   v["name"], v["rate"], v["floor_us"], 100 * v["nginx_share"]
        else if (v["unit"] == "requests")
            printf "%-40s %10.0f requests/s (%.0f .. %.0f); p50 %.3f ms, p99 %.3f ms\n",
                   v["name"], v["rate"], v["rps_min"], v["rps_max"], v["p50_ms"], v["p99_ms"]
        else if (v["unit"] == "timers")
            printf "%-40s %10.3f s start-up (%.3f .. %.3f); VmHWM %d KiB%s\n",
                   v["name"], v["median_s"], v["min_s"], v["max_s"], v["hwm_kib"],
                   v["items"] ? sprintf(", %.0f bytes an open timer", v["peak_bytes_per_timer"]) : ""
        else if (v["unit"] == "firings")
            printf "%-40s %10d fired; lag p50 %d ms, p99 %d ms, max %d ms; after the first second p99 %d ms\n",
                   v["name"], v["items"], v["p50_ms"], v["p99_ms"], v["max_ms"], v["warm_p99_ms"]
        else if (v["unit"] == "writes")
            printf "%-40s %10.0f writes/s on one core (%.1f us of CPU a write, %.1f in the one writer, %d writes a commit)\n",
                   v["name"], v["rate"], v["cpu_us"], v["writer_us"], v["per_commit"]
        else if (v["unit"] == "compilations")
            printf "%-40s %10.1f ms       (%.1f .. %.1f ms)\n", v["name"],
                   v["median_s"] * 1e3, v["min_s"] * 1e3, v["max_s"] * 1e3
        else
            printf "%-40s %10.0f tickets/s  (%.0f .. %.0f; %.3f s, %.3f .. %.3f s)\n",
                   v["name"], v["rate"], v["items"] / v["max_s"], v["items"] / v["min_s"],
                   v["median_s"], v["min_s"], v["max_s"]
    }' "$results"

section "ratios and targets"
# ratio NAME A B TARGET: A / B against a target (a fraction or a factor).
ratio() {
    awk -v what="$1" -v a="$2" -v b="$3" -v target="$4" 'BEGIN {
        r = a / b
        verdict = r >= target ? "met" : "MISSED"
        if (target < 1)
            printf "%-58s %6.1f %%   target >= %.0f %%: %s\n", what, 100 * r, 100 * target, verdict
        else
            printf "%-58s %6.1f x   target >= %.0f x: %s\n", what, r, target, verdict
    }'
}
limit_a=$(value limit_a_jansson_parse rate)
for pack in "${PACKS[@]}"; do
    key=${pack//-/_}
    ratio "$pack: engine alone / limit B (phrases)" \
        "$(value "engine_$key" rate)" "$(value "limit_b_${key}_vectorscan_phrases" rate)" 0.25
    ratio "$pack: engine alone / limit B (phrases + regexes)" \
        "$(value "engine_$key" rate)" "$(value "limit_b_${key}_phrases_and_regexes" rate)" 0.25
    # Taken run by run (section 1): the median of the runs' ratios.
    ratio "$pack: triage --jsonl end to end / limit A, run by run" \
        "$(value "triage_limit_a_$key" rate)" 100 0.5
    ratio "$pack: triage / limit A, region allocator (first $PEER_TICKETS)" \
        "$(value "triage_$key" rate)" "$(value peer_limit_a_jansson_region rate)" 0.5
done
ratio "meow subset: escalator / json-rules-engine, same tickets" \
    "$(value triage_meow_subset rate)" "$(value peer_json_rules_engine rate)" 50
ratio "meow subset: engine alone / peer on parsed tickets" \
    "$(value engine_meow_subset rate)" "$(value peer_engine_only rate)" 50
ratio "limit A (bare jansson parse) / json-rules-engine" \
    "$limit_a" "$(value peer_json_rules_engine rate)" 50
# The bound on any escalator that parses with jansson: jansson alone on the
# very tickets the peer decides, with whichever allocator is faster.
peer_limit_a=$(awk -v a="$(value peer_limit_a_jansson_parse rate)" \
    -v b="$(value peer_limit_a_jansson_region rate)" 'BEGIN { print (a + 0 > b + 0) ? a : b }')
ratio "jansson alone, peer's tickets, faster allocator / peer" \
    "$peer_limit_a" "$(value peer_json_rules_engine rate)" 50
ratio "meow-mobile (all 32 rules) / json-rules-engine (16 rules)" \
    "$(value triage_meow_mobile rate)" "$(value peer_json_rules_engine rate)" 50
say "peer decisions equal to escalator's: $(value peer_agreement rate) % of $PEER_TICKETS tickets"
say "all RESULT lines: $results"
