#!/usr/bin/env bash
# deps.sh - installs the Debian packages escalator needs to build and test,
# when they are missing. Run as root, or as a user with sudo.
set -euo pipefail

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

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    # "install ok installed", "hold ok installed": the last word counts.
    [ "${status##* }" = installed ] || missing+=("$pkg")
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
