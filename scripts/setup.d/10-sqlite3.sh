#!/bin/sh
# The sqlite3 CLI lets the tamper tests edit a journal the way a user would.
set -eu
command -v sqlite3 >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null
else
    echo "warning: sqlite3 CLI missing and cannot be installed here (not root or no apt-get)" >&2
fi
