#!/usr/bin/env bash
# run.sh - golden-output tests of the escalator binary.
#
# Each case is a folder tests/cli/NN-name/ holding:
#   cmd           one bash command line, run from the repository root with
#                 $ESC set to the binary, $WORK to an empty scratch folder and
#                 stdin from /dev/null
#   expected.out  its exact stdout
#   expected.err  its exact stderr (no file: stderr must be empty)
#   expected.rc   its exit status
#
# usage: tests/cli/run.sh [-q] [CASE_DIR...]   every case by default, in name
#                                             order, so the simplest fail first
#        UPDATE=1 tests/cli/run.sh [CASE_DIR...]
#                                             rewrites the expected files from
#                                             what the binary does now
#   -q   print nothing for a case that passed, only the diff of one that failed
# ESC defaults to build/escalator. Exit status 1 when a case failed.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
ESC=${ESC:-build/escalator}
export ESC
quiet=0
if [ "${1:-}" = -q ]; then quiet=1; shift; fi
if [ $# -eq 0 ]; then
    set -- tests/cli/*/
fi
if [ ! -x "$ESC" ]; then
    echo "run.sh: $ESC is not built" >&2
    exit 2
fi

failed=0
for dir in "$@"; do
    dir=${dir%/}
    name=cli/${dir##*/}
    [ -f "$dir/cmd" ] || { echo "FAIL $name: no cmd file"; failed=$((failed + 1)); continue; }

    WORK=$(mktemp -d)
    export WORK
    out=$WORK.out err=$WORK.err
    timeout 120 bash -c "$(cat "$dir/cmd")" </dev/null >"$out" 2>"$err"
    rc=$?

    if [ "${UPDATE:-0}" = 1 ]; then
        cp "$out" "$dir/expected.out"
        if [ -s "$err" ]; then cp "$err" "$dir/expected.err"; else rm -f "$dir/expected.err"; fi
        echo "$rc" >"$dir/expected.rc"
        echo "updated $name (exit $rc)"
    else
        report=$(
            diff -u --label "$dir/expected.out" --label stdout "$dir/expected.out" "$out" 2>&1
            if [ -f "$dir/expected.err" ]; then
                diff -u --label "$dir/expected.err" --label stderr "$dir/expected.err" "$err" 2>&1
            else
                diff -u --label "(no expected.err)" --label stderr /dev/null "$err" 2>&1
            fi
            want=$(cat "$dir/expected.rc" 2>/dev/null || echo "(no expected.rc)")
            [ "$want" = "$rc" ] || echo "exit status: expected $want, got $rc"
        )
        if [ -n "$report" ]; then
            failed=$((failed + 1))
            [ $quiet = 1 ] || echo "FAIL $name"
            echo "\$ $(cat "$dir/cmd")"
            echo "$report"
        elif [ $quiet = 0 ]; then
            echo "ok   $name"
        fi
    fi
    rm -rf "$WORK" "$out" "$err"
done
[ $failed -eq 0 ]
