#!/bin/sh
# The reading commands (`status`, `status --json`, `trials`, `report`, `export`,
# `inspect`) on two synthetic crashed runs, SMALL and LARGE committed trials (default
# 10,000 and 100,000: ~30,000 and ~300,000 events; one trial in 7 failed), medians of 3
# per command and size, and the ratio LARGE / SMALL: ~1 for a command that answers from
# what is materialized (status), ~LARGE/SMALL for one that folds every event.
#
# The runs are built by engine/examples/synth_run.rs (see continue_1m.sh) through the
# real run/journal API, with the schema of the labj that builds them; SYNTH_BIN=<a
# synth_run binary> skips building it. Output is discarded (`> /dev/null`), so the figure
# is the command's own time.
#
# usage: bench/read_commands.sh [SMALL] [LARGE]   (BENCH_DIR picks the disk; LABJ_BIN a
#        binary; SYNTH_BIN a synth_run binary)
# The last lines are its rows of bench/run.sh's table (bench_row).
set -eu
. "$(dirname "$0")/lib.sh"
SMALL=${1:-10000}
LARGE=${2:-100000}
bench_setup readcmds
if [ -z "${SYNTH_BIN:-}" ]; then
    cargo build --release -q -p labj-engine --example synth_run --manifest-path "$ROOT/Cargo.toml"
    SYNTH_BIN="$ROOT/target/release/examples/synth_run"
fi
make_tasks 1000
# build N: a crashed run of N committed trials (+8 in flight) under ./runN; prints its dir.
build() {
    mkdir -p "run$1"
    write_experiment read_bench $(($1 / 1000 + 1)) 8 "$NOOP_AGENT"
    out=$("$SYNTH_BIN" "$WORK/exp.yaml" "run$1" "$1" 8)
    echo "$out" | cut -d' ' -f1
}
RS=$(build "$SMALL")
RL=$(build "$LARGE")
events() { sqlite3 "file:$1/journal.sqlite?mode=ro" "select count(*) from events" 2>/dev/null || echo "?"; }
ES=$(events "$RS"); EL=$(events "$RL")
echo "runs: $SMALL trials = $ES events ($RS), $LARGE trials = $EL events ($RL)"
# med3 CMD...: median wall ms of 3 runs of `labj CMD…` (the script stops if one fails).
med3() {
    : > times.txt
    for _ in 1 2 3; do
        a=$(now_ms)
        "$LABJ" "$@" > /dev/null 2> err.txt || { echo "labj $* failed: $(cat err.txt)" >&2; return 1; }
        echo $(($(now_ms) - a)) >> times.txt
    done
    median < times.txt
}
ROWS=""
for cmd in "status" "status --json" "trials" "report" "export --table trials" "inspect"; do
    # shellcheck disable=SC2086 # cmd is split into its words on purpose
    s=$(med3 $cmd "$RS") || exit 1
    # shellcheck disable=SC2086
    l=$(med3 $cmd "$RL") || exit 1
    r=$(ratio "$l" "$([ "$s" -gt 0 ] && echo "$s" || echo 1)")
    echo "labj $cmd: $s ms at $ES events, $l ms at $EL events (x$r)"
    ROWS="$ROWS$cmd|$s|$l|$r
"
done
echo "$ROWS" | while IFS='|' read -r cmd s l r; do
    [ -n "$cmd" ] || continue
    case "$cmd" in
        status) target="<= 2.0 (flat)"; v=$(verdict "$r" '<=' 2) ;;
        *) target="-"; v="-" ;;
    esac
    bench_row "labj $cmd" "$l ms at $EL ev" "$s ms at $ES ev" "$r" "$target" "$v"
done
