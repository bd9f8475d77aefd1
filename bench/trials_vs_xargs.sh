#!/bin/sh
# labj vs `xargs -P` on N no-op trials (default 2,000) at parallelism 2 and 8.
#
# Both sides run the same `sh -c` command that writes a fixed agent_result_v1 file; labj
# also creates each trial's directory, journals dispatch/completion/commit (group
# commit, WAL, synchronous=NORMAL), and stores evidence. Each configuration runs 3 times,
# interleaved with its baseline so machine noise hits both alike; medians and the ratio
# labj/xargs are printed. Target: ratio <= 1.5. Every labj run must end `completed`
# and pass `labj verify` (the journal is durable and intact).
#
# usage: bench/trials_vs_xargs.sh [N]
set -eu
. "$(dirname "$0")/lib.sh"
N=${1:-2000}
bench_setup xargs
make_tasks "$N"
write_experiment noop_bench 1 2 "$NOOP_AGENT"
# The baseline gets the result path as $0: one exec per item, like labj's spawn.
CMD='echo '"'"'{"schema_version":"agent_result_v1","outcome":"success"}'"'"' > "$0"'

for P in 2 8; do
    : > labj_$P.txt; : > xargs_$P.txt
    for rep in 1 2 3; do
        # Fresh directories, nothing deleted until the end: on ext4, creating files
        # right after deleting tens of thousands slows inode allocation for both sides.
        runs="runs_${P}_$rep"; xout="xout_${P}_$rep"; mkdir "$xout"
        t0=$(now_ms)
        "$LABJ" --runs-dir "$runs" run exp.yaml --max-concurrency "$P" --json > out.json
        t1=$(now_ms)
        grep -q '"status": "completed"' out.json || { echo "labj run did not complete"; cat out.json; exit 1; }
        "$LABJ" --runs-dir "$runs" verify "$(ls "$runs")" > /dev/null || { echo "labj verify failed"; exit 1; }
        echo $((t1 - t0)) >> labj_$P.txt
        t0=$(now_ms)
        seq "$N" | xargs -P "$P" -I{} sh -c "$CMD" "$WORK/$xout/{}.json"
        t1=$(now_ms)
        [ "$(ls "$xout" | wc -l)" -eq "$N" ] || { echo "xargs baseline lost files"; exit 1; }
        echo $((t1 - t0)) >> xargs_$P.txt
        echo "P=$P rep $rep: labj $(tail -1 labj_$P.txt) ms  xargs $(tail -1 xargs_$P.txt) ms"
    done
    L=$(median < labj_$P.txt); X=$(median < xargs_$P.txt)
    R=$(awk "BEGIN{printf \"%.3f\", $L / $X}")
    JB=$(stat -c %s "$runs"/*/journal.sqlite)
    echo "P=$P  median labj $L ms  median xargs $X ms  ratio $R (target <= 1.5: $(verdict "$R" '<=' 1.5))  journal $JB bytes = $((JB / N)) bytes/trial"
done
