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
# usage: bench/fold_replay.sh [EVENTS]     (default 1000000; BENCH_DIR picks the disk;
#        RUNS the repetitions, default 3; SNAPSHOT_BENCH_BIN a snapshot_bench binary to
#        run instead of building one, as bench/fold_before_after.sh does for a baseline)
# The last line is its row of bench/run.sh's table (bench_row).
set -eu
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000000}
BIN=${SNAPSHOT_BENCH_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --release -q -p labj-journal --example snapshot_bench --manifest-path "$ROOT/Cargo.toml"
    BIN="$ROOT/target/release/examples/snapshot_bench"
fi
"$BIN" --events "$N" --runs "${RUNS:-3}" --dir "${BENCH_DIR:-/tmp}" > fold_replay.$$.txt
grep -v '^ROW|' fold_replay.$$.txt
grep '^ROW|' fold_replay.$$.txt | while IFS='|' read -r _ a b c d e f; do bench_row "$a" "$b" "$c" "$d" "$e" "$f"; done
rm -f fold_replay.$$.txt
