#!/usr/bin/env bash
# Journal throughput benchmark: 1,000,000 events appended in batches of 100, then folded
# back with chain verification (target: 2,000,000 ev/s, issue 24); 3 runs on fresh
# files. Extra arguments go to the program (--events N --batch N --runs N --dir DIR).
# JOURNAL_BENCH_BIN=<a journal_bench binary> runs that one instead of building it
# (bench/fold_before_after.sh: a baseline built from another commit).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${JOURNAL_BENCH_BIN:-}" ]; then
    exec "$JOURNAL_BENCH_BIN" "$@"
fi
cargo build --release -p labj-journal --example journal_bench
exec target/release/examples/journal_bench "$@"
