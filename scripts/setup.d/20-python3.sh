#!/bin/sh
# python3 runs the agents and adapters of the AgentLab compatibility suite
# (testdata/agentlab/, cli/tests/agentlab_compat.rs), written as the original runner's
# users write theirs.
set -eu
command -v python3 >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq python3-minimal >/dev/null
fi
command -v python3 >/dev/null 2>&1 || {
    echo "error: python3 is missing and cannot be installed here (not root or no apt-get);" \
        "the AgentLab compatibility tests will fail" >&2
    exit 1
}
