#!/usr/bin/env bash
# run-tests.sh - runs every test of escalator and counts them.
#
# usage: tests/run-tests.sh [SECTION...]
#   sections, in this order: exports unit cli policies docs server fuzz
#   (default: all)
#   exports   the shared library exports exactly the ESC_EXTERN API
#   unit      each tests/unit/test_*.c program
#   cli       each golden-output case in tests/cli/
#   policies  `escalator test P --require-coverage` for each policies/P.yaml
#             that has policies/cases/P.yaml
#   docs      the ```yaml policy examples of docs/*.md compile
#   server    each tests/server/NN-*.sh scenario: the real `escalator serve`
#             on a free loopback port with a temporary database, over HTTP
#   fuzz      each tests/fuzz/fuzz_*.c target for FUZZ_SECONDS (when built)
#
# Environment: ESC_BUILD (default build/asan: the escalator binary and
# tests/unit/ programs), FUZZ_BUILD (build/fuzz), ESC_SO
# (build/libescalator.so), FUZZ_SECONDS (10).
#
# Prints "ok   NAME" or "FAIL NAME" with the failure's output for each test
# and, as its last line, "N passed, N failed". Exit status 1 when anything
# failed. A failure never stops the run.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

ESC_BUILD=${ESC_BUILD:-build/asan}
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
ESC_SO=${ESC_SO:-build/libescalator.so}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
ESC=$ESC_BUILD/escalator
export ESC
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run NAME COMMAND...: runs one test, its output kept for when it fails.
run() {
    local name=$1
    shift
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        # A runaway failure shows its beginning and its end.
        if [ "$(wc -l <"$log")" -gt 200 ]; then
            head -n 100 "$log"; echo "    [...]"; tail -n 100 "$log"
        else
            cat "$log"
        fi
    fi
}

skip() { echo "skip $1"; }

# Every defined dynamic symbol of the library is declared ESC_EXTERN in the
# public header, and every ESC_EXTERN function is defined.
check_exports() {
    local want got
    want=$(sed -n 's/^ESC_EXTERN[^(]*[ *]\(esc_[a-z0-9_]*\)(.*/\1/p' include/escalator.h | sort -u)
    got=$(nm -D --defined-only "$ESC_SO" | awk '$3 !~ /^_/ {print $3}' | sort -u)
    local extra missing
    extra=$(comm -13 <(echo "$want") <(echo "$got"))
    missing=$(comm -23 <(echo "$want") <(echo "$got"))
    [ -z "$extra" ] || echo "exported but not in include/escalator.h:" $extra
    [ -z "$missing" ] || echo "declared ESC_EXTERN but not exported:" $missing
    [ -z "$extra$missing" ]
}

section_exports() {
    if [ -f "$ESC_SO" ]; then
        run exports/$(basename "$ESC_SO") check_exports
    else
        skip "exports ($ESC_SO not built)"
    fi
}

section_unit() {
    local src prog
    for src in tests/unit/test_*.c; do
        [ -e "$src" ] || continue
        prog=$ESC_BUILD/tests/unit/$(basename "$src" .c)
        if [ -x "$prog" ]; then
            run "unit/$(basename "$src" .c)" timeout 300 "$prog"
        else
            run "unit/$(basename "$src" .c)" sh -c "echo '$prog is not built'; false"
        fi
    done
}

section_cli() {
    local dir
    for dir in tests/cli/*/; do
        [ -f "$dir/cmd" ] || continue
        run "cli/$(basename "$dir")" tests/cli/run.sh -q "$dir"
    done
}

section_policies() {
    local policy cases
    for policy in policies/*.yaml; do
        [ -e "$policy" ] || continue
        cases=policies/cases/$(basename "$policy")
        if [ -f "$cases" ]; then
            run "policy/$(basename "$policy" .yaml)" \
                timeout 300 "$ESC" test "$policy" --require-coverage
        else
            skip "policy/$(basename "$policy" .yaml) (no $cases)"
        fi
    done
}

# Examples in the documentation that are marked as policies compile.
section_docs() {
    local doc
    for doc in docs/*.md; do
        grep -q '^```yaml policy' "$doc" || continue
        run "docs/$(basename "$doc")" tests/docs-examples.sh "$ESC" "$doc"
    done
}

section_server() {
    local t
    for t in tests/server/[0-9]*.sh; do
        [ -e "$t" ] || continue
        run "server/$(basename "$t" .sh)" timeout 120 bash "$t"
    done
}

# fuzz_NAME: its corpus grows in $FUZZ_BUILD/corpus/fuzz_NAME; it starts
# from tests/fuzz/corpus/NAME and the shipped inputs of its kind.
fuzz_seeds() {
    case $1 in
        fuzz_policy) echo tests/cli/fixtures ;;  # small policies: a whole pack takes seconds to compile under the fuzzer
        fuzz_ticket) echo examples/tickets ;;
    esac
    echo "tests/fuzz/corpus/${1#fuzz_}"
}

fuzz_one() {
    local name=$1 bin=$FUZZ_BUILD/$1 corpus=$FUZZ_BUILD/corpus/$1 dirs=() d
    mkdir -p "$corpus" "$FUZZ_BUILD/artifacts"
    for d in $(fuzz_seeds "$name"); do
        [ -d "$d" ] && dirs+=("$d")
    done
    "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD/artifacts/$name-" \
        "$corpus" "${dirs[@]}"
}

section_fuzz() {
    local src name
    for src in tests/fuzz/fuzz_*.c; do
        [ -e "$src" ] || continue
        name=$(basename "$src" .c)
        if [ -x "$FUZZ_BUILD/$name" ]; then
            run "fuzz/$name (${FUZZ_SECONDS}s)" fuzz_one "$name"
        else
            skip "fuzz/$name (not built: clang's libFuzzer runtime is missing)"
        fi
    done
}

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(exports unit cli policies docs server fuzz)
for s in "${sections[@]}"; do
    case $s in
        exports | unit | cli | policies | docs | server | fuzz) "section_$s" ;;
        *) echo "run-tests.sh: unknown section '$s' (expected exports, unit, cli, policies, docs, server or fuzz)" >&2; exit 2 ;;
    esac
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
