#!/usr/bin/env bash
# Install what the tests need from Debian: PostgreSQL server binaries and chromium.
# Does nothing when they are there already; needs root (or sudo) otherwise.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "system packages missing: ${missing[*]}. Install them as root (apt-get install ${missing[*]})." >&2
    exit 1
fi
echo "setup: installing ${missing[*]} from Debian"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
