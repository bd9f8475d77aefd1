#!/bin/sh
# The viewer's browser tests (cli/tests/e2e_view_browser.rs) drive headless Chromium
# over WebDriver: Debian's chromium and chromium-driver. Idempotent; loud when it
# cannot install.
set -eu
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "installing: chromium chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || echo "WARNING: apt-get update failed" >&2
    if ! apt-get install -y -qq chromium chromium-driver; then
        echo "ERROR: cannot install chromium/chromium-driver: the viewer's browser tests will fail" >&2
        exit 1
    fi
fi
chromium --version
chromedriver --version
