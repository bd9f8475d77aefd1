#!/bin/sh
# labj vs `xargs -P` on no-op trials, on the filesystem of BENCH_DIR: 200 trials of one
# variant at parallelism 2, then 2 variants x T (default T = 1,000) at parallelism 2
# and 8.
#
# Both sides run the same `sh -c` command that writes a fixed agent_result_v1 file; labj
# also creates each trial's directory, journals dispatch/completion/commit and stores
# the evidence. Each side's output directory from the previous run is deleted just
# before it runs (as users do: on ext4 that is the slow case), labj and xargs
# interleaved 3 times; medians and the ratio labj/xargs. Targets (issue 24): at P=2
# <= 1.25 on tmpfs and <= 1.5 on any other filesystem (ext4), <= 1.10 at P=8. Every labj
# run must end `completed` and the last one pass `labj verify`; its directory gives the
# disk per trial (du: allocated blocks), target <= 5 KB.
#
# usage: bench/trials_vs_xargs.sh [T]     (LABJ_BIN=path: use that labj)
set -eu
. "$(dirname "$0")/lib.sh"
T=${1:-1000}
N=$((2 * T))
bench_setup xargs
FS=$(df -T "$WORK" | awk 'NR==2{print $2}')
make_tasks "$T"
mv tasks.jsonl all_tasks.jsonl
[ "$T" -ge 200 ] || { echo "T must be at least 200 (the 200-trial case takes its tasks)"; exit 1; }
# The baseline gets the result path as $0: one exec per item, like labj's spawn.
CMD='echo '"'"'{"schema_version":"agent_result_v1","outcome":"success"}'"'"' > "$0"'

P2_TARGET=1.5
[ "$FS" = tmpfs ] && P2_TARGET=1.25
# CASE = variants:trials per variant:P
for CASE in "1:200:2" "2:$T:2" "2:$T:8"; do
    V=${CASE%%:*}; rest=${CASE#*:}; PER=${rest%%:*}; P=${rest#*:}
    N=$((V * PER))
    head -n "$PER" all_tasks.jsonl > tasks.jsonl
    write_variants "$V" noop_bench "$P"
    : > labj_$P.txt; : > xargs_$P.txt
    for rep in 1 2 3; do
        rm -rf runs
        t0=$(now_ms)
        "$LABJ" --runs-dir runs run exp.yaml --json > out.json 2> err.txt
        t1=$(now_ms)
        grep -q '"status": "completed"' out.json || { echo "labj run did not complete"; cat out.json; exit 1; }
        echo $((t1 - t0)) >> labj_$P.txt
        rm -rf xout && mkdir xout
        t0=$(now_ms)
        seq "$N" | xargs -P "$P" -I{} sh -c "$CMD" "$WORK/xout/{}.json"
        t1=$(now_ms)
        [ "$(ls xout | wc -l)" -eq "$N" ] || { echo "xargs baseline lost files"; exit 1; }
        echo $((t1 - t0)) >> xargs_$P.txt
        echo "$V variant(s) x $PER P=$P rep $rep (load $(cut -d' ' -f1 /proc/loadavg)): labj $(tail -1 labj_$P.txt) ms  xargs $(tail -1 xargs_$P.txt) ms"
    done
    L=$(median < labj_$P.txt); X=$(median < xargs_$P.txt); R=$(ratio "$L" "$X")
    target=$P2_TARGET; [ "$P" = 8 ] && target=1.10
    bench_row "noop $V x $PER P=$P ($FS)" "labj $L ms ($N trials)" "xargs -P $P $X ms" "$R" "<= $target" "$(verdict "$R" '<=' $target)"
done
RUN=$(ls runs)
"$LABJ" --runs-dir runs verify "$RUN" > /dev/null || { echo "labj verify failed"; exit 1; }
KB=$(du -sk runs | cut -f1)
JKB=$(du -sk "runs/$RUN/journal.sqlite" | cut -f1)
PER=$(awk "BEGIN{printf \"%.2f\", $KB / $N}")
bench_row "disk/trial ($FS)" "$PER KB (du $KB KB / $N trials, journal $JKB KB)" "-" "-" "<= 5 KB" "$(verdict "$PER" '<=' 5)"
