#!/bin/sh
# python3 with scipy: the reference implementation the statistics of `labj report` are
# checked against (engine/read/tests/report_stats_scipy.rs, cli/tests/e2e_report.rs). Debian's
# python3-scipy installs into /usr/bin/python3, which the tests try first.
set -eu
have() { "$1" -c 'import scipy, numpy' >/dev/null 2>&1; }
for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1 && have "$py"; then exit 0; fi
done
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq python3-scipy >/dev/null
fi
if ! have /usr/bin/python3; then
    echo "error: python3 with scipy is missing and cannot be installed here (not root or no apt-get);" \
        "the report statistics tests will fail naming scipy" >&2
    exit 1
fi
