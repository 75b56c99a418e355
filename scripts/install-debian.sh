#!/usr/bin/env bash
# Install Debian packages that the project runs as programs, only when missing:
#
#   scripts/install-debian.sh /usr/bin/chromium=chromium /usr/bin/chromedriver=chromium-driver
#   scripts/install-debian.sh /usr/bin/wrk=wrk
#
# Each argument is BINARY=PACKAGE. Quick when every binary is already there;
# otherwise one apt-get update and install of the missing packages, and a
# non-zero exit, loudly, if any binary is still missing afterwards. The admin's
# browser test uses Debian's Chromium and its matching WebDriver (no test tool
# downloads a browser of its own); the benchmark uses Debian's wrk.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 BINARY=PACKAGE..." >&2
    exit 2
fi

missing=()
for pair in "$@"; do
    binary="${pair%%=*}"
    package="${pair#*=}"
    if [ ! -x "$binary" ]; then
        missing+=("$package")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "ERROR: installing ${missing[*]} needs root (or sudo), and neither is available." >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "Installing Debian's ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get update -q \
    || ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    echo "ERROR: apt-get could not install ${missing[*]}." >&2
    exit 1
fi

for pair in "$@"; do
    binary="${pair%%=*}"
    if [ ! -x "$binary" ]; then
        echo "ERROR: $binary is still missing after installing ${missing[*]}." >&2
        exit 1
    fi
    "$binary" --version 2>&1 | head -1 >&2 || true
done
