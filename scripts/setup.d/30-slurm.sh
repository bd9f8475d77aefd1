#!/bin/sh
# A one-node Slurm cluster for the `--executor slurm` tests (cli/tests/e2e_slurm.rs).
# When it cannot start, say so loudly and let the other tests run: every Slurm test then
# fails naming the cluster.
cd "$(dirname "$0")/../.."
if ! sh scripts/slurm-dev-cluster.sh start; then
    echo "" >&2
    echo "!!! setup: the Slurm dev cluster did not start; the e2e_slurm tests will FAIL" >&2
    echo "!!! (run scripts/slurm-dev-cluster.sh start as root to see why)" >&2
    echo "" >&2
fi
exit 0
