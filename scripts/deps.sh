#!/usr/bin/env bash
# deps.sh - installs the Debian packages escalator needs to build and test,
# when they are missing. Run as root, or as a user with sudo.
#
# usage: scripts/deps.sh          what `make`, `make test` and `make run` need
#        scripts/deps.sh bench    that, and what the benchmarks need too
set -euo pipefail

group=${1:-}
case $group in
    "" | bench) ;;
    *) echo "usage: scripts/deps.sh [bench]" >&2; exit 2 ;;
esac

# Debian 12 package names, one a line: a new dependency is one more line.
PACKAGES=(
    build-essential    # gcc, make, libc headers
    pkg-config
    clang              # fuzz targets (libFuzzer)
    libclang-rt-14-dev # clang's libFuzzer and sanitizer runtimes
    libfyaml-dev       # policies and case files (YAML)
    libjansson-dev     # tickets and decisions (JSON)
    libutf8proc-dev    # Unicode folding and normalisation
    libicu-dev         # time zones for business-hours calendars
    libvectorscan-dev  # one-pass multi-pattern phrase matching
    libstemmer-dev     # Snowball word stems
    libcmocka-dev      # unit tests
    libmicrohttpd-dev  # the HTTP server of `escalator serve`
    libsqlite3-dev     # the embedded store of `escalator serve`
    libcurl4-openssl-dev # notification delivery: webhooks and SMTP
    libssl-dev         # HMAC-SHA256 signatures of webhooks
    exim4-daemon-light # a real SMTP server for the notification tests
    curl               # server integration tests, `make run`'s example
    jq                 # server integration tests
)

# What `make bench` needs as well (bench/run.sh, bench/service.sh,
# bench/clocks.sh): never installed by `make test`.
BENCH_PACKAGES=(
    nginx-light        # the static-file peer of the service benchmark
    wrk                # the HTTP load generator
    nodejs             # the json-rules-engine peer
    npm                # its package (bench/package-lock.json)
    sqlite3            # seeding and reading the benchmark databases
    procps             # ps, free: the machine's state next to the figures
)
[ "$group" = bench ] && PACKAGES+=("${BENCH_PACKAGES[@]}")

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    # "install ok installed", "hold ok installed": the last word counts.
    [ "${status##* }" = installed ] && continue
    # node from another source (NodeSource's nodejs) brings its own npm,
    # which Debian's npm package would conflict with.
    [ "$pkg" = npm ] && command -v npm >/dev/null 2>&1 && continue
    missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "deps.sh: these Debian packages are missing: ${missing[*]}" >&2
    echo "deps.sh: run as root (or install sudo), or install them with:" >&2
    echo "    apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
