#!/usr/bin/env bash
# Install the browser the admin's end-to-end test drives (threads/tests/test_admin_browser.py):
# Debian's headless-capable Chromium and its matching WebDriver, /usr/bin/chromium
# and /usr/bin/chromedriver. Both come from Debian, at the same version; no test
# tool downloads a browser of its own. Quick when both are already installed;
# exits non-zero, loudly, if it cannot install them.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "ERROR: installing chromium needs root (or sudo), and neither is available." >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "Installing Debian's chromium and chromium-driver for the browser test" >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get update -q \
    || ! "${sudo[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver; then
    echo "ERROR: apt-get could not install chromium and chromium-driver; the admin browser test cannot run." >&2
    exit 1
fi

for binary in /usr/bin/chromium /usr/bin/chromedriver; do
    if [ ! -x "$binary" ]; then
        echo "ERROR: $binary is still missing after installing chromium and chromium-driver." >&2
        exit 1
    fi
done
/usr/bin/chromium --version >&2
/usr/bin/chromedriver --version >&2
