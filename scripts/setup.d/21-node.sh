#!/bin/sh
# node runs the Node harness of the AgentLab compatibility suite
# (testdata/agentlab/node_harness/, cli/tests/agentlab_compat.rs): the original runner's
# demos ship their agent as `node ./harness.js`. Idempotent; loud when it cannot install.
set -eu
if ! command -v node >/dev/null 2>&1; then
    echo "installing: nodejs"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq || echo "WARNING: apt-get update failed" >&2
        apt-get install -y -qq nodejs >/dev/null || true
    fi
    if ! command -v node >/dev/null 2>&1; then
        echo "ERROR: node is missing and cannot be installed here (needs root and apt-get);" \
            "the AgentLab compatibility suite's Node harness test will fail" >&2
        exit 1
    fi
fi
node --version
