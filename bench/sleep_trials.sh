#!/bin/sh
# 64 trials of `sleep 0.25` at concurrency 8: the ideal wall time is 8 waves x 0.25 s
# = 2.0 s. Prints each run, the median of 3 and its ratio to the ideal (target <= 1.15).
#
# usage: bench/sleep_trials.sh   (from the repository root)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p labj --manifest-path "$ROOT/Cargo.toml"
LABJ="$ROOT/target/release/labj"
WORK=$(mktemp -d /tmp/labj-sleep-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
i=0; while [ $i -lt 64 ]; do echo "{\"id\":\"t$i\"}"; i=$((i+1)); done > tasks.jsonl
cat > exp.yaml <<'YAML'
version: "0.5"
experiment: {id: sleep_bench, name: sleep 0.25}
dataset: {path: tasks.jsonl}
design:
  replications: 1
  max_concurrency: 8
  policies: {scheduling: variant_sequential, state: isolate_per_trial}
baseline: {variant_id: base, bindings: {}}
variant_plan: []
runtime:
  agent:
    command: ["sh", "-c", "sleep 0.25; echo '{\"outcome\":\"success\"}' > \"$AGENTLAB_RESULT_PATH\""]
    timeout_ms: 60000
YAML
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: > t.txt
for rep in 1 2 3; do
    rm -rf runs
    t0=$(date +%s%3N)
    "$LABJ" --runs-dir runs run exp.yaml --json > out.json
    t1=$(date +%s%3N)
    grep -q '"status": "completed"' out.json || { echo "run did not complete"; exit 1; }
    echo $((t1 - t0)) >> t.txt
    echo "rep $rep: $((t1 - t0)) ms"
done
M=$(median < t.txt)
R=$(awk "BEGIN{printf \"%.3f\", $M / 2000}")
printf '64 x sleep 0.25 at concurrency 8: median %s ms, ideal 2000 ms, ratio %s (target <= 1.15: %s)\n' \
    "$M" "$R" "$(awk "BEGIN{print ($R <= 1.15) ? \"PASS\" : \"FAIL\"}")"
