#!/usr/bin/env bash
# docs-examples.sh - compiles the examples of a document, so a reference
# cannot drift from the compiler. Three kinds of fenced blocks are checked:
#
#   ```yaml policy      a complete policy, compiled as it is;
#   ```yaml example     part of a policy: its top-level keys replace those of
#                       the small base policy below, and the result compiles;
#   ```yaml condition   a `when:` block, compiled as the condition of a rule
#                       of the base policy.
#
# usage: tests/docs-examples.sh ESCALATOR FILE.md
# Prints the first line of each example that fails with its diagnostics;
# exits 1 when one fails or when the file has none.
set -u
esc=$1 doc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/base" <<'YAML'
escalator: 1
name: example
settings:
  refund_threshold: {default: 100}
fields:
  refund_amount: number
  port_in_rejections: integer
  issue_type: {type: string, values: [esim, port_in, payment, network, account, other]}
  troubleshooting_complete: boolean
  phone_number: string
  port_request_id: string
  carrier: string
levels:
  - {id: l1}
  - {id: l2}
calendars:
  - {id: carrier_hours, timezone: America/New_York}
teams:
  - {id: carrier}
priorities:
  - {id: critical}
  - {id: high}
actions:
  - {id: file_carrier_request}
signals:
  legal_threat: {phrases: [sue]}
  security: {phrases: [hacked]}
  customer_error: {phrases: [my mistake]}
  anger: {lexicon: anger}
templates:
  - {id: carrier, for: [carrier], note: "Carrier escalation"}
rules:
  - {id: persistent_issue, when: signals.legal_threat, targets: [carrier]}
YAML

# Splits the examples into $tmp/NNN-KIND-LINE.yaml.
awk -v dir="$tmp" '
    /^```yaml (policy|example|condition)[ \t]*$/ {
        n++; out = sprintf("%s/%03d-%s-%d.yaml", dir, n, $2, NR + 1); next
    }
    /^```/ && out { close(out); out = ""; next }
    out { print > out }
' "$doc"

# merge BASE FRAGMENT: the base without the top-level keys the fragment has,
# then the fragment.
merge() {
    awk '
        FNR == 1 { file++ }
        file == 2 && /^[a-z_]+:/ { k = $0; sub(/:.*/, "", k); have[k] = 1 }
        { line[file, FNR] = $0; count[file] = FNR }
        END {
            for (i = 1; i <= count[1]; i++) {
                l = line[1, i]
                if (l ~ /^[a-z_]+:/) { k = l; sub(/:.*/, "", k); skip = (k in have) }
                if (!skip) print l
            }
            for (i = 1; i <= count[2]; i++) print line[2, i]
        }
    ' "$1" "$2"
}

count=0 bad=0
for f in "$tmp"/[0-9]*.yaml; do
    [ -e "$f" ] || continue
    count=$((count + 1))
    name=${f##*/}
    kind=$(echo "$name" | cut -d- -f2)
    line=${name##*-}
    line=${line%.yaml}
    case $kind in
        policy) cp "$f" "$tmp/try.yaml" ;;
        example) merge "$tmp/base" "$f" >"$tmp/try.yaml" ;;
        condition)
            { grep -v '^rules:' "$tmp/base" | grep -v '^  - {id: persistent_issue'
              printf 'rules:\n  - id: example\n    targets: [carrier]\n'
              sed 's/^/    /' "$f"; } >"$tmp/try.yaml" ;;
    esac
    if ! "$esc" check "$tmp/try.yaml" >/dev/null 2>"$tmp/err"; then
        bad=$((bad + 1))
        echo "$doc:$line: this $kind does not compile:"
        sed "s|^$tmp/try.yaml|    $kind|" "$tmp/err"
    fi
done
if [ "$count" -eq 0 ]; then
    echo "$doc: no checked examples found"
    exit 1
fi
echo "$count examples, $bad failed"
[ "$bad" -eq 0 ]
