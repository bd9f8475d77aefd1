#!/bin/sh
# `labj replay --until` and `labj continue` on a crashed run of ~1,000,000 events, with
# the projection snapshots its appends took and without them (rows deleted, so the fold
# starts from event 0: the baseline), interleaved, medians of 3.
#
# The run is built by engine/examples/synth_run.rs through the real run/journal API:
# COMMITTED trials (default 333,000: 999,000 + events) dispatched, completed (metrics,
# attempts, evidence and result blobs that exist) and committed, 8 more dispatched and
# left in flight, lease left to a dead pid: a SIGKILLed run. It must pass `labj verify`.
# Each measurement runs on a fresh copy. Continue is timed from process start to its
# first new `trial_dispatched` (that event's timestamp; target <= 1 s) and stopped
# there with `labj kill`; a last continue (with snapshots) runs the remaining slots to
# the end, and the run must then pass `labj verify` again.
#
# usage: bench/continue_1m.sh [COMMITTED]   (BENCH_DIR picks the disk; LABJ_BIN a binary;
#        RUN_DIR=<a crashed run this script built> skips building one)
# The last lines are its rows of bench/run.sh's table (bench_row).
set -eu
. "$(dirname "$0")/lib.sh"
N=${1:-333000}
bench_setup continue1m
command -v sqlite3 >/dev/null || { echo "needs sqlite3 (Debian package 'sqlite3')"; exit 1; }
q() { sqlite3 "file:$1/journal.sqlite?mode=ro" "$2"; }
if [ -n "${RUN_DIR:-}" ]; then
    # Reuse a crashed run built earlier by this script (only copies of it are changed).
    RUN=$RUN_DIR; t0=0; t1=0
    EVENTS=$(q "$RUN" "select count(*) from events")
else
    cargo build --release -q -p labj-engine --example synth_run --manifest-path "$ROOT/Cargo.toml"
    make_tasks 1000
    write_experiment recovery_bench $((N / 1000 + 1)) 8 "$NOOP_AGENT"
    t0=$(now_ms)
    out=$("$ROOT/target/release/examples/synth_run" "$WORK/exp.yaml" runs "$N" 8)
    t1=$(now_ms)
    RUN=$(echo "$out" | cut -d' ' -f1)
    EVENTS=$(echo "$out" | cut -d' ' -f2)
fi
LAST=$((EVENTS - 1))
MID=$((EVENTS / 2))
echo "crashed run: $EVENTS events in $((t1 - t0)) ms, $(du -sk "$RUN" | cut -f1) KB; snapshots (idx:bytes): $(q "$RUN" "select group_concat(idx || ':' || length(body), ' ') from proj_snapshots")"
"$LABJ" verify "$RUN" > verify.txt || { cat verify.txt; echo "the synthetic run does not verify"; exit 1; }
echo "labj verify: $(cut -c1-80 verify.txt)"

# fresh MODE: a copy of the crashed run in ./copy; MODE zero deletes its snapshots.
fresh() {
    rm -rf copy && cp -r "$RUN" copy
    [ "$1" = snap ] || sqlite3 copy/journal.sqlite "DELETE FROM proj_snapshots"
}
# timed CMD...: wall ms of CMD.
timed() { a=$(now_ms); "$@" > /dev/null; b=$(now_ms); echo $((b - a)); }
# first_dispatch: ms from the start of `labj continue copy` to its first new dispatch.
first_dispatch() {
    a=$(now_ms)
    "$LABJ" continue copy --json --fail-on-infra-error 100% > cont.json 2>&1 &
    pid=$!
    first=""
    while [ -z "$first" ]; do
        first=$(q copy "select ts from events where idx >= $EVENTS and kind = 'trial_dispatched' order by idx limit 1" 2>/dev/null || true)
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    "$LABJ" kill copy > /dev/null 2>&1 || true
    wait "$pid" || true
    [ -n "$first" ] || { echo "continue dispatched nothing" >&2; cat cont.json >&2; exit 1; }
    echo $(( $(date -d "$first" +%s%3N) - a ))
}

for f in rl_snap rl_zero rm_snap rm_zero c_snap c_zero; do : > $f.txt; done
for rep in 1 2 3; do
    for mode in snap zero; do
        fresh $mode
        timed "$LABJ" replay copy --until "$LAST" >> rl_$mode.txt
        timed "$LABJ" replay copy --until "$MID" >> rm_$mode.txt
        first_dispatch >> c_$mode.txt
    done
    echo "  rep $rep: replay --until $LAST: $(tail -1 rl_snap.txt) ms with snapshots / $(tail -1 rl_zero.txt) ms from 0;" \
        "--until $MID: $(tail -1 rm_snap.txt) / $(tail -1 rm_zero.txt) ms;" \
        "continue -> first dispatch: $(tail -1 c_snap.txt) / $(tail -1 c_zero.txt) ms"
done
fresh snap
"$LABJ" continue copy --json --fail-on-infra-error 100% > cont.json 2>&1 || { cat cont.json; exit 1; }
grep -q '"status": "completed"' cont.json || { echo "continue did not complete"; cat cont.json; exit 1; }
"$LABJ" verify copy > verify.txt || { cat verify.txt; echo "verify failed after continue"; exit 1; }
echo "continue to the end: completed, $(q copy "select count(*) from events where idx >= $EVENTS and kind = 'slot_committed'") slots committed by it, labj verify ok"
RL=$(median < rl_snap.txt); RLZ=$(median < rl_zero.txt)
RM=$(median < rm_snap.txt); RMZ=$(median < rm_zero.txt)
C=$(median < c_snap.txt); CZ=$(median < c_zero.txt)
echo "median replay --until $LAST: $RL ms with snapshots, $RLZ ms from event 0 ($(awk "BEGIN{printf \"%.0f\", $EVENTS / ($RLZ / 1000)}") ev/s)"
echo "median replay --until $MID: $RM ms with snapshots, $RMZ ms from event 0"
echo "median continue -> first dispatch: $C ms with snapshots, $CZ ms from event 0 (target <= 1000: $(verdict "$C" '<=' 1000))"
bench_row "continue $EVENTS ev" "first dispatch $C ms (from the latest snapshot)" "$CZ ms (from event 0)" "$(awk "BEGIN{printf \"%.2f\", $C / $CZ}")" "<= 1000 ms" "$(verdict "$C" '<=' 1000)"
bench_row "replay $EVENTS ev" "--until $LAST: $RL ms, --until $MID: $RM ms" "$RLZ / $RMZ ms (from event 0)" "$(awk "BEGIN{printf \"%.2f\", $RL / $RLZ}")" "-" "-"
