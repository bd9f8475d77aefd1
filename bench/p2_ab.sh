#!/bin/sh
# labj's own CPU per trial at concurrency 2, several builds side by side: 100 trials
# whose agent sleeps 0.2 s (`bench/concurrency.sh`'s P=2 case), each binary then
# `xargs -P 2` running the same agent, alternated REPS times, each under
# `perf stat -e task-clock` (the exact CPU of the whole process tree; GNU time counts in
# 10 ms steps, a tenth of a millisecond per trial here). Prints every run, then per
# binary the median CPU and the own CPU per trial = (median labj - median xargs) / 100.
# Target (issue 24): <= 1.0 ms per trial.
#
# usage: bench/p2_ab.sh REPS BIN [BIN...]   (BENCH_DIR the filesystem; needs perf)
set -eu
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || { echo "usage: bench/p2_ab.sh REPS BIN [BIN...]"; exit 2; }
REPS=$1
shift
command -v perf > /dev/null || { echo "needs perf (Debian package linux-perf)"; exit 1; }
for b in "$@"; do [ -x "$b" ] || { echo "not an executable: $b"; exit 1; }; done
LABJ_BIN=$1 bench_setup p2ab
N=100
make_tasks "$N"
write_experiment p2_ab 1 2 '["sh", "-c", "sleep 0.2; echo '"'"'{\"schema_version\":\"agent_result_v1\",\"outcome\":\"success\"}'"'"' > \"$AGENTLAB_RESULT_PATH\""]'
CMD="sleep 0.2; echo '{\"schema_version\":\"agent_result_v1\",\"outcome\":\"success\"}' > \"\$0\""
# task_clock FILE: the task-clock (ms) perf stat wrote to FILE.
task_clock() { awk -F, '/task-clock/ {print $1}' "$1"; }
: > runs.txt
rep=1
while [ "$rep" -le "$REPS" ]; do
    i=0
    for b in "$@"; do
        i=$((i + 1))
        rm -rf runs
        perf stat -x, -e task-clock -o stat.txt "$b" --runs-dir runs run exp.yaml --json > out.json 2> err.txt \
            || { echo "labj run failed ($b)"; cat err.txt; exit 1; }
        grep -q "\"succeeded\": $N" out.json || { echo "$b: not $N successes"; exit 1; }
        echo "bin$i $(task_clock stat.txt)" >> runs.txt
    done
    rm -rf xout && mkdir xout
    perf stat -x, -e task-clock -o stat.txt sh -c 'seq "$1" | xargs -P "$2" -I{} sh -c "$3" "$4/{}.json"' _ "$N" 2 "$CMD" "$WORK/xout"
    [ "$(ls xout | wc -l)" -eq "$N" ] || { echo "xargs baseline lost files"; exit 1; }
    echo "xargs $(task_clock stat.txt)" >> runs.txt
    echo "rep $rep (load $(cut -d' ' -f1 /proc/loadavg)): $(awk -v r="$rep" -v k=$(($# + 1)) 'NR > (r - 1) * k && NR <= r * k {printf "%s %s ms  ", $1, $2}' runs.txt)"
    rep=$((rep + 1))
done
med() { awk -v k="$1" '$1 == k {print $2}' runs.txt | median; }
XM=$(med xargs)
echo "xargs -P 2: median $XM ms"
i=0
for b in "$@"; do
    i=$((i + 1))
    M=$(med "bin$i")
    OWN=$(awk "BEGIN{printf \"%.3f\", ($M - $XM) / $N}")
    echo "bin$i $b: median $M ms, own CPU $OWN ms/trial"
    bench_row "own CPU/trial P=2, perf stat (bin$i)" "$OWN ms (labj $M ms CPU, median of $REPS)" "xargs $XM ms" "-" "<= 1.0 ms" "$(verdict "$OWN" '<=' 1.0)"
done
