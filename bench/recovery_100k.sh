#!/bin/sh
# Recovery at scale: a crashed run with N committed trials (default 100,000) and 8
# trials in flight at the crash, built by engine/examples/synth_run.rs through the real
# journal API. Measures, median of 3:
#   - `labj replay <run> --until <last idx>` wall time (target <= 1 s);
#   - `labj continue <run>` latency from process start to its first new
#     `trial_dispatched` (read from that event's timestamp; target <= 1 s).
# Each continue runs on a fresh copy of the crashed run and must complete and verify.
#
# usage: bench/recovery_100k.sh [N]   (from the repository root)
set -eu
N=${1:-100000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p labj --manifest-path "$ROOT/Cargo.toml"
cargo build --release -q -p labj-engine --example synth_run --manifest-path "$ROOT/Cargo.toml"
LABJ="$ROOT/target/release/labj"
SYNTH="$ROOT/target/release/examples/synth_run"
WORK=$(mktemp -d /tmp/labj-recovery-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

TASKS=1000
REPL=$(( N / TASKS + 1 ))
i=0; while [ $i -lt $TASKS ]; do echo "{\"id\":\"t$i\"}"; i=$((i+1)); done > tasks.jsonl
cat > exp.yaml <<YAML
version: "0.5"
experiment: {id: recovery_bench, name: recovery at scale}
dataset: {path: tasks.jsonl}
design:
  replications: $REPL
  max_concurrency: 8
  policies: {scheduling: variant_sequential, state: isolate_per_trial}
baseline: {variant_id: base, bindings: {}}
variant_plan: []
runtime:
  agent:
    command: ["sh", "-c", "echo '{\"outcome\":\"success\"}' > \"\$AGENTLAB_RESULT_PATH\""]
    timeout_ms: 60000
YAML

echo "building a crashed run with $N committed trials and 8 in flight..."
t0=$(date +%s%3N)
out=$("$SYNTH" exp.yaml runs "$N" 8)
t1=$(date +%s%3N)
RUN=$(echo "$out" | cut -d' ' -f1)
EVENTS=$(echo "$out" | cut -d' ' -f2)
LAST=$((EVENTS - 1))
echo "synthetic journal: $EVENTS events in $((t1 - t0)) ms, $(stat -c %s "$RUN/journal.sqlite") bytes"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: > replay.txt; : > cont.txt
for rep in 1 2 3; do
    t0=$(date +%s%3N)
    "$LABJ" replay "$RUN" --until "$LAST" > /dev/null
    t1=$(date +%s%3N)
    echo $((t1 - t0)) >> replay.txt
done
for rep in 1 2 3; do
    rm -rf copy && cp -r "$RUN" copy
    t0=$(date +%s%3N)
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
printf 'replay --until %s over %s events: median %s ms (target <= 1000: %s)\n' "$LAST" "$EVENTS" "$R" "$([ "$R" -le 1000 ] && echo PASS || echo FAIL)"
printf 'continue -> first new dispatch: median %s ms (target <= 1000: %s)\n' "$C" "$([ "$C" -le 1000 ] && echo PASS || echo FAIL)"
