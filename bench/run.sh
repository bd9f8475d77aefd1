#!/bin/sh
# Every labj benchmark from one entry point: runs each bench script in turn on the
# filesystem of BENCH_DIR (default /tmp; /dev/shm for tmpfs) with one release build, and
# prints ONE table at the end: benchmark, figure, baseline, ratio, target, verdict.
# Each script measures its figure side by side with its baseline (medians of 3,
# interleaved) and adds its rows through `bench_row` (lib.sh); a script that fails
# becomes a FAIL row naming its log. Sizes (full / --quick):
#
#   trials_vs_xargs.sh  200 no-op trials at P=2, 2 variants x 1,000 tasks (200) at P=2
#                       and P=8 vs xargs -P, previous run deleted just before each run;
#                       disk per trial (du); on BENCH_DIR and, when BENCH_DIR is not
#                       tmpfs, again on /dev/shm (both targets: tmpfs and ext4)
#   concurrency.sh      N trials sleeping S s at concurrency P vs xargs -P: labj's own
#                       CPU per trial (GNU time, whole process trees) and the wall
#                       ratio, at P = 2, 100, 500 (2,000 x 1 s), 1,000 (4,000 x 1 s);
#                       3 interleaved runs each (1 with --quick, fewer trials at P<500)
#   variants.sh         2,000 variants x 1 task vs 1 x 2,000 tasks (200), P=2
#   rss_1m.sh           describe + run of 100,000 tasks x 10 replications = 1,000,000
#                       slots (10,000 x 10), killed after 10,000 commits (2,000): peak
#                       RSS, time to first dispatch
#   rss_100k.sh         a run of 20,000 no-op trials (5,000) to completion: peak RSS
#   recovery_100k.sh    replay / continue of a crashed run of 333,000 committed trials
#                       (~1,000,000 events; 20,000 with --quick)
#   fold_replay.sh      fold of 1,000,000 events (100,000) from event 0 vs from snapshots,
#                       replay --until from the nearest snapshot, append cost of snapshots
#   continue_1m.sh      replay / continue to first dispatch of a ~1,000,000-event crashed
#                       run (33,000 trials) with vs without snapshots; finishes, verifies
#   journal_bench.sh    journal append and fold+verify, 1,000,000 events (100,000)
#   verify_rss.sh       verify peak RSS at 20,000 metrics per trial (2,000)
#   read_commands.sh    status/trials/report/export/inspect at 10,000 and 100,000 committed
#                       trials (3,000 / 30,000): medians of 3 and the ratio between sizes
#   view_pages.sh       every page of `labj view` on a crashed run of 100,000 committed
#                       trials (10,000 with --quick): median answer time, server peak RSS
#   sleep_trials.sh     64 x sleep 0.25 s at P=8 vs the ideal 2 s
#   full run only, when their component is there: remote_vs_local.sh,
#   container_overhead.sh (podman image), swe_mini.sh (the swe-mini task image),
#   slurm_throughput.sh (a Slurm cluster)
#
# usage: BENCH_DIR=/dev/shm bench/run.sh [--quick]
#        LABJ_BIN=path/to/labj bench/run.sh …    (use that binary, no release build)
#        BENCH_LOGS=dir: keep each script's output there (default: a temp dir, kept)
# A new bench script adds one `bench NAME script.sh ARGS` line below.
set -eu
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
. "$BENCH/lib.sh"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
export BENCH_DIR="${BENCH_DIR:-/tmp}"
if [ -z "${LABJ_BIN:-}" ]; then
    cargo build --release -q -p labj --manifest-path "$ROOT/Cargo.toml"
    LABJ_BIN="$ROOT/target/release/labj"
fi
export LABJ_BIN
LOGS=${BENCH_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/labj-bench-logs-XXXXXX")}
mkdir -p "$LOGS"
export BENCH_TABLE="$LOGS/table.md"
: > "$BENCH_TABLE"
FS=$(df -T "$BENCH_DIR" | awk 'NR==2{print $2}')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(now_ms)

# bench NAME SCRIPT [ARGS…]: run bench/SCRIPT, its output in $LOGS/NAME.log (shown).
bench() {
    name=$1
    shift
    echo "== $name: $* (BENCH_DIR=$BENCH_DIR, load $(cut -d' ' -f1-3 /proc/loadavg))"
    t0=$(now_ms)
    script=$1
    shift
    rc=0
    "$BENCH/$script" "$@" > "$LOGS/$name.log" 2>&1 || rc=$?
    sed 's/^/   /' "$LOGS/$name.log"
    if [ "$rc" != 0 ]; then
        bench_row "$name" "script failed (exit $rc): $LOGS/$name.log" "-" "-" "-" "FAIL" > /dev/null
    fi
    echo "   ($(( ($(now_ms) - t0) / 1000 )) s)"
}
# skipped NAME WHY: a row saying why a benchmark did not run.
skipped() { bench_row "$1" "not run: $2" "-" "-" "-" "SKIP" > /dev/null; }

# The no-op targets differ by filesystem: both are measured when /dev/shm is there.
noop_both() {
    bench noop trials_vs_xargs.sh "$1"
    if [ "$FS" != tmpfs ] && [ -d /dev/shm ]; then
        (export BENCH_DIR=/dev/shm && bench noop_tmpfs trials_vs_xargs.sh "$1")
    fi
}
if [ "$QUICK" = 1 ]; then
    noop_both 200
    (export REPS=1 && bench concurrency concurrency.sh 2:50:0.2 100:500:1 500:2000:1 1000:4000:1)
    bench variants variants.sh 200
    bench rss rss_1m.sh 10000 10 2000
    bench rss_complete rss_100k.sh 5000
    bench recovery recovery_100k.sh 20000
    bench fold fold_replay.sh 100000
    bench continue_1m continue_1m.sh 33000
    bench journal journal_bench.sh --events 100000 --runs 3 --dir "$BENCH_DIR"
    bench verify_rss verify_rss.sh 2000
    bench read_commands read_commands.sh 3000 30000
    bench view_pages view_pages.sh 10000
    bench sleep sleep_trials.sh
    bench idle idle.sh 8 4 2
else
    noop_both 1000
    bench concurrency concurrency.sh 2:100:0.2 100:1000:1 500:2000:1 1000:4000:1
    bench variants variants.sh 2000
    bench rss rss_1m.sh 100000 10 10000
    bench rss_complete rss_100k.sh 20000
    bench recovery recovery_100k.sh 333000
    bench fold fold_replay.sh 1000000
    bench continue_1m continue_1m.sh 333000
    bench journal journal_bench.sh --runs 3 --dir "$BENCH_DIR"
    bench verify_rss verify_rss.sh 20000
    bench read_commands read_commands.sh 10000 100000
    bench view_pages view_pages.sh 100000
    bench sleep sleep_trials.sh
    bench idle idle.sh 8 6 3
    bench remote remote_vs_local.sh 600
    if command -v podman > /dev/null && podman image exists localhost/labj-test-a:1 2> /dev/null; then
        bench container container_overhead.sh
    else
        skipped "container attempt" "podman or localhost/labj-test-a:1 missing (scripts/setup.d/40-podman.sh)"
    fi
    if command -v podman > /dev/null && podman image exists localhost/swe-mini:1 2> /dev/null; then
        bench swe_mini swe_mini.sh
    else
        skipped "swe-mini trial (agent + in-image grade)" "podman or localhost/swe-mini:1 missing (scripts/setup.d/42-swe-mini-image.sh)"
    fi
    if command -v sinfo > /dev/null && sinfo -h > /dev/null 2>&1; then
        LABJ=$LABJ_BIN bench slurm slurm_throughput.sh 200 16
    else
        skipped "slurm vs local" "no Slurm cluster answers (scripts/slurm-dev-cluster.sh start)"
    fi
fi
# journal_bench is a Rust example: its medians become rows here.
if [ -f "$LOGS/journal.log" ]; then
    A=$(sed -n 's/^median append: \([0-9]*\) ev\/s.*/\1/p' "$LOGS/journal.log")
    F=$(sed -n 's/^median fold: *\([0-9]*\) ev\/s.*/\1/p' "$LOGS/journal.log")
    [ -z "$A" ] || bench_row "journal append" "$A ev/s" "-" "-" "-" "info" > /dev/null
    [ -z "$F" ] || bench_row "journal fold+verify" "$F ev/s" "-" "-" ">= 2000000 ev/s" "$(verdict "$F" '>=' 2000000)" > /dev/null
fi

echo
echo "labj $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(uname -sr), BENCH_DIR $BENCH_DIR ($FS), $([ "$QUICK" = 1 ] && echo quick || echo full) run of $(( ($(now_ms) - START) / 1000 )) s, load average $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end; logs in $LOGS"
echo
echo "| benchmark | figure | baseline | ratio | target | verdict |"
echo "|---|---|---|---|---|---|"
cat "$BENCH_TABLE"
