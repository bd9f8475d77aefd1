#!/bin/sh
# The local sandbox (sandbox.mode: local with network none / root_read_only / resources)
# runs agents under bubblewrap. Idempotent; loud when it cannot install.
set -eu
if ! command -v bwrap >/dev/null 2>&1; then
    echo "installing: bubblewrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || echo "WARNING: apt-get update failed" >&2
    if ! apt-get install -y -qq bubblewrap; then
        echo "ERROR: cannot install bubblewrap: sandbox tests will fail" >&2
        exit 1
    fi
fi
bwrap --version
