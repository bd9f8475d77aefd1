#!/bin/sh
# Recovery at scale: a crashed run with N committed trials (default 100,000) and 8
# trials in flight at the crash, built by engine/examples/synth_run.rs through the real
# journal API. Measures, median of 3:
#   - `labj replay <run> --until <last idx>` wall time, as events/s (target >= 1,000,000);
#   - `labj continue <run>` latency from process start to its first new
#     `trial_dispatched` (read from that event's timestamp; target <= 1 s).
# Each continue runs on a fresh copy of the crashed run and must complete and verify.
#
# usage: bench/recovery_100k.sh [N]
set -eu
. "$(dirname "$0")/lib.sh"
N=${1:-100000}
bench_setup recovery
cargo build --release -q -p labj-engine --example synth_run --manifest-path "$ROOT/Cargo.toml"
SYNTH="$ROOT/target/release/examples/synth_run"
make_tasks 1000
write_experiment recovery_bench $((N / 1000 + 1)) 8 "$NOOP_AGENT"

echo "building a crashed run with $N committed trials and 8 in flight..."
t0=$(now_ms)
out=$("$SYNTH" exp.yaml runs "$N" 8)
t1=$(now_ms)
RUN=$(echo "$out" | cut -d' ' -f1)
EVENTS=$(echo "$out" | cut -d' ' -f2)
LAST=$((EVENTS - 1))
echo "synthetic journal: $EVENTS events in $((t1 - t0)) ms, $(stat -c %s "$RUN/journal.sqlite") bytes"

: > replay.txt; : > cont.txt
for rep in 1 2 3; do
    t0=$(now_ms)
    "$LABJ" replay "$RUN" --until "$LAST" > /dev/null
    t1=$(now_ms)
    echo $((t1 - t0)) >> replay.txt
done
for rep in 1 2 3; do
    rm -rf copy && cp -r "$RUN" copy
    t0=$(now_ms)
    "$LABJ" continue copy --json --fail-on-infra-error 100% > cont.json
    grep -q '"status": "completed"' cont.json || { echo "continue did not complete"; cat cont.json; exit 1; }
    ts=$("$LABJ" events copy --from "$EVENTS" --kind trial_dispatched --json | head -1 | sed 's/.*"ts":"\([^"]*\)".*/\1/')
    first=$(date -d "$ts" +%s%3N)
    echo $((first - t0)) >> cont.txt
    "$LABJ" verify copy > /dev/null || { echo "verify failed after continue"; exit 1; }
    lost=$("$LABJ" events copy --from "$EVENTS" --kind worker_lost | wc -l)
    echo "rep $rep: replay $(sed -n ${rep}p replay.txt) ms, continue first dispatch after $((first - t0)) ms ($lost worker_lost), run completed and verified"
done
R=$(median < replay.txt); C=$(median < cont.txt)
RATE=$(awk "BEGIN{printf \"%.0f\", $EVENTS / ($R / 1000)}")
bench_row "replay" "--until $LAST: $R ms ($EVENTS events)" "-" "$RATE ev/s" ">= 1000000 ev/s" "$(verdict "$RATE" '>=' 1000000)"
bench_row "continue" "first dispatch after $C ms ($EVENTS events)" "-" "-" "<= 1000 ms" "$(verdict "$C" '<=' 1000)"
