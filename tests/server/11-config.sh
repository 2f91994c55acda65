#!/usr/bin/env bash
# Settings come from the config file, the environment and the command line,
# later ones winning; a bad line is reported with its place.
. "$(dirname "$0")/lib.sh"

cat >"$WORK/escalator.conf" <<CONF
# the test configuration
tokens = "admin:from-the-file-1"
max_body = 2048
max_text = 4096
CONF

# The file's token and max_body; the environment raises max_body, the
# command line sets the clock.
TOKENS=admin:from-the-file-1
ESCALATOR_MAX_BODY=3072 start_server --config "$WORK/escalator.conf" --tokens ""
# --tokens "" on the command line wins over the file: no authentication.
api GET /v1/queues "" -
expect_status 200 "an empty tokens flag overrides the file"
big=$(head -c 2500 /dev/zero | tr '\0' y)
api POST /v1/evaluate "{\"id\":\"CF-1\",\"subject\":\"$big\"}" -
expect_status 200 "the environment's max_body (3072) over the file's (2048)"
big=$(head -c 3500 /dev/zero | tr '\0' y)
api POST /v1/evaluate "{\"id\":\"CF-1\",\"subject\":\"$big\"}" -
expect_status 413 "beyond the environment's max_body"
stop_server

ESCALATOR_CONFIG="$WORK/escalator.conf" start_server --tokens admin:from-the-file-1
api GET /v1/queues "" from-the-file-1
expect_status 200 "ESCALATOR_CONFIG names the file"
big=$(head -c 2500 /dev/zero | tr '\0' y)
api POST /v1/evaluate "{\"id\":\"CF-1\",\"subject\":\"$big\"}" from-the-file-1
expect_status 413 "the file's max_body"
stop_server

printf 'max_body = lots\n' >"$WORK/bad.conf"
if "$ESC" serve --config "$WORK/bad.conf" >"$WORK/out" 2>&1; then fail "a bad config file was accepted"; fi
grep -q "bad.conf:1: max_body: expected a whole number" "$WORK/out" || fail "message: $(cat "$WORK/out")"
printf 'colour = blue\n' >"$WORK/bad.conf"
if "$ESC" serve --config "$WORK/bad.conf" >"$WORK/out" 2>&1; then fail "an unknown setting was accepted"; fi
grep -q "bad.conf:1: unknown setting 'colour'" "$WORK/out" || fail "message: $(cat "$WORK/out")"
if ESCALATOR_WARN_SHARE=1.5 "$ESC" serve >"$WORK/out" 2>&1; then fail "a bad environment value was accepted"; fi
grep -q "ESCALATOR_WARN_SHARE: warn_share" "$WORK/out" || fail "message: $(cat "$WORK/out")"
