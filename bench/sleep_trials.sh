#!/bin/sh
# 64 trials of `sleep 0.25` at concurrency 8: the ideal wall time is 8 waves x 0.25 s
# = 2.0 s. Prints each run, the median of 3 and its ratio to the ideal (target <= 1.15).
#
# usage: bench/sleep_trials.sh
set -eu
. "$(dirname "$0")/lib.sh"
bench_setup sleep
make_tasks 64
write_experiment sleep_bench 1 8 '["sh", "-c", "sleep 0.25; echo '"'"'{\"outcome\":\"success\"}'"'"' > \"$AGENTLAB_RESULT_PATH\""]'
: > t.txt
for rep in 1 2 3; do
    rm -rf runs
    t0=$(now_ms)
    "$LABJ" --runs-dir runs run exp.yaml --json > out.json 2> err.txt
    t1=$(now_ms)
    grep -q '"status": "completed"' out.json || { echo "run did not complete"; exit 1; }
    echo $((t1 - t0)) >> t.txt
    echo "rep $rep: $((t1 - t0)) ms"
done
M=$(median < t.txt)
R=$(awk "BEGIN{printf \"%.3f\", $M / 2000}")
bench_row "sleep 64x0.25 s P=8" "$M ms" "ideal 2000 ms" "$R" "<= 1.15" "$(verdict "$R" '<=' 1.15)"
