#!/bin/sh
# Fold and replay throughput at ~1,000,000 events, with projection snapshots and without
# (the baseline), side by side: journal/examples/snapshot_bench.rs builds the journal
# through `Journal::append` twice per repetition (snapshots every 50,000 events as labj
# takes them / none: the append cost they add), then times the fold from event 0 (chain
# checked: what verify/rebuild do; target >= 1,000,000 events/s), the fold from the
# latest snapshot (what continue/replay do) and `replay --until` at 8 spread indices
# from event 0 vs from the nearest snapshot. Every snapshot-based result is compared
# with the from-zero fold. Medians of 3.
#
# usage: bench/fold_replay.sh [EVENTS]     (default 1000000; BENCH_DIR picks the disk)
# The last line, `ROW|…`, is the summary bench/run.sh puts in its table.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000000}
cargo build --release -q -p labj-journal --example snapshot_bench --manifest-path "$ROOT/Cargo.toml"
exec "$ROOT/target/release/examples/snapshot_bench" --events "$N" --runs 3 --dir "${BENCH_DIR:-/tmp}"
