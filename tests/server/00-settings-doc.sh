#!/usr/bin/env bash
# docs/api.md's settings table says what `escalator serve --help` prints
# (both come from the settings table of src/server/config.c).
set -u
ESC=${ESC:-build/asan/escalator}
bad=0
help=$("$ESC" serve --help) || { echo "serve --help failed"; exit 1; }
while read -r name type def _; do
    [ "$name" = config ] && continue
    [ "$def" = '""' ] && def=
    row=$(grep -E "^\| \`$name\` \|" docs/api.md) || { echo "docs/api.md lacks the setting $name"; bad=1; continue; }
    doc_type=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $3); print $3}')
    doc_def=$(echo "$row" | awk -F'|' '{gsub(/[ `]/, "", $4); print $4}')
    [ "$doc_type" = "$type" ] || { echo "$name: docs say type $doc_type, --help $type"; bad=1; }
    if [ -n "$def" ] && [ "$doc_def" != "$def" ]; then
        echo "$name: docs say default $doc_def, --help $def"; bad=1
    fi
done < <(echo "$help" | sed -n '/^  NAME /,/^$/p' | sed '1d;/^$/d')
n=$(grep -cE '^\| `[a-z_]+` \| (string|integer|duration|number|time) \|' docs/api.md)
m=$(echo "$help" | sed -n '/^  NAME /,/^$/p' | sed '1d;/^$/d' | grep -vc '^  config ')
[ "$n" = "$m" ] || { echo "docs/api.md has $n settings, --help $m"; bad=1; }
exit $bad
