#!/bin/sh
# The fold targets of issue 24, before and after, side by side in one run, through the
# existing scripts:
#   - bench/journal_bench.sh: fold+verify of 1,000,000 events (target >= 2,000,000 ev/s);
#   - bench/fold_replay.sh 100000: fold from event 0 of 100,000 events (>= 1,000,000 ev/s);
#   - bench/read_commands.sh: `labj status` at 100,000 vs 10,000 committed trials
#     (ratio <= 2.0: flat), and at its `--quick` sizes, 30,000 vs 3,000 (the 30,000-trial
#     run's newest snapshot is 40,010 events back, the 100,000-trial run's 10).
# "before" runs the binaries in BASE_DIR (journal_bench, snapshot_bench and labj, built
# from the baseline commit, e.g. `git worktree add` + `cargo build --release` there and
# copied out); "after" this tree's release build. The two journal benches alternate
# before/after one run at a time, 3 runs each, and print medians; read_commands runs
# once per binary (its own medians of 3 per command and size), the same synth_run
# building both sides' runs. The machine's load is printed at the start and the end.
#
# usage: bench/fold_before_after.sh BASE_DIR   (BENCH_DIR picks the disk, default /dev/shm)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/lib.sh"
BASE=$(cd "${1:?usage: bench/fold_before_after.sh BASE_DIR}" && pwd)
for b in journal_bench snapshot_bench labj; do
    [ -x "$BASE/$b" ] || { echo "$BASE/$b: no such binary" >&2; exit 2; }
done
export BENCH_DIR=${BENCH_DIR:-/dev/shm}
cargo build --release -q -p labj-journal --example journal_bench --example snapshot_bench --manifest-path "$ROOT/Cargo.toml"
cargo build --release -q -p labj-engine --example synth_run --manifest-path "$ROOT/Cargo.toml"
cargo build --release -q -p labj --manifest-path "$ROOT/Cargo.toml"
NEW="$ROOT/target/release"
OUT=$(mktemp -d "${TMPDIR:-/tmp}/fold-before-after-XXXXXX")
trap 'rm -rf "$OUT"' EXIT
echo "load at start: $(cat /proc/loadavg); $(nproc) cores; BENCH_DIR=$BENCH_DIR"

# journal_bench: the fold+verify rate of each run.
for i in 1 2 3; do
    for side in before after; do
        if [ $side = before ]; then bin="$BASE/journal_bench"; else bin="$NEW/examples/journal_bench"; fi
        JOURNAL_BENCH_BIN=$bin "$ROOT/bench/journal_bench.sh" --events 1000000 --runs 1 --dir "$BENCH_DIR" > "$OUT/jb.txt"
        r=$(sed -n 's/.*fold+verify *[0-9.]*s = *\([0-9]*\) ev\/s.*/\1/p' "$OUT/jb.txt")
        echo "journal_bench run $i $side: fold+verify $r ev/s"
        echo "$r" >> "$OUT/jb.$side"
    done
done
# fold_replay 100000: the from-0 fold rate and its CPU per event.
for i in 1 2 3; do
    for side in before after; do
        if [ $side = before ]; then bin="$BASE/snapshot_bench"; else bin="$NEW/examples/snapshot_bench"; fi
        (cd "$OUT" && SNAPSHOT_BENCH_BIN=$bin RUNS=1 "$ROOT/bench/fold_replay.sh" 100000 > "$OUT/fr.txt")
        r=$(sed -n 's/.*fold from 0 [0-9.]*s = \([0-9]*\) ev\/s (\([0-9.]*\) CPU.*/\1 \2/p' "$OUT/fr.txt")
        echo "fold_replay 100000 run $i $side: from event 0 ${r% *} ev/s, ${r#* } CPU us/event"
        echo "${r% *}" >> "$OUT/fr.$side"
        echo "${r#* }" >> "$OUT/frcpu.$side"
    done
done
# read_commands: the `status` row with each labj, at both pairs of sizes.
for sizes in "10000 100000" "3000 30000"; do
    for side in before after; do
        if [ $side = before ]; then bin="$BASE/labj"; else bin="$NEW/labj"; fi
        # shellcheck disable=SC2086 # two sizes
        LABJ_BIN=$bin SYNTH_BIN="$NEW/examples/synth_run" "$ROOT/bench/read_commands.sh" $sizes > "$OUT/rc.$side.${sizes% *}"
        grep '^labj status: ' "$OUT/rc.$side.${sizes% *}" | sed "s/^/read_commands $side: /"
    done
done
echo "load at end: $(cat /proc/loadavg)"

jb_b=$(median < "$OUT/jb.before"); jb_a=$(median < "$OUT/jb.after")
fr_b=$(median < "$OUT/fr.before"); fr_a=$(median < "$OUT/fr.after")
fc_b=$(median < "$OUT/frcpu.before"); fc_a=$(median < "$OUT/frcpu.after")
st() { grep '^| labj status |' "$OUT/rc.$1" | cut -d'|' -f5 | tr -d ' '; }
echo
echo "| target | before (median of 3) | after (median of 3) | target | verdict after |"
echo "|---|---|---|---|---|"
echo "| journal_bench fold+verify 1,000,000 ev | $jb_b ev/s | $jb_a ev/s | >= 2000000 ev/s | $(verdict "$jb_a" '>=' 2000000) |"
echo "| fold_replay fold from event 0, 100,000 ev | $fr_b ev/s ($fc_b CPU us/ev) | $fr_a ev/s ($fc_a CPU us/ev) | >= 1000000 ev/s | $(verdict "$fr_a" '>=' 1000000) |"
echo "| read_commands status 100k / 10k trials | x$(st before.10000) | x$(st after.10000) | <= 2.0 | $(verdict "$(st after.10000)" '<=' 2) |"
echo "| read_commands status 30k / 3k trials | x$(st before.3000) | x$(st after.3000) | <= 2.0 | $(verdict "$(st after.3000)" '<=' 2) |"
