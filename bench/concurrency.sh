#!/bin/sh
# labj against `xargs -P` at high concurrency, where agents mostly wait (as agents
# waiting on model APIs do): N trials whose agent sleeps S seconds, at concurrency P.
# Each case is P:N:S; the defaults are the issue-24 cases
#
#     2:100:0.2  100:1000:1  500:2000:1  1000:4000:1
#
# For each case, labj and xargs run the same `sh -c "sleep S; echo {…} > result"`,
# interleaved REPS times (default 3; the previous run's directory deleted just before
# each run), each under GNU time: wall seconds and the CPU (user + system) of the whole
# process tree (labj and every agent it waited for; xargs and its agents). labj's own
# CPU per trial = (labj's CPU - xargs's CPU) / N, the agents' CPU being the same on both
# sides. Prints medians, the wall ratio labj/xargs and the own-CPU per trial. Targets:
# own CPU <= 1.0 ms per trial at every concurrency; wall <= 1.15x xargs at P=500 and
# <= 1.25x at P=1000 (none at lower P, where the agents' sleep dominates).
#
# 500-1,000 agents at once need headroom: each trial holds ~4 descriptors in labj (two
# pipes, a pidfd, a log) and 2-3 processes (sh, sleep). The script checks `ulimit -n`
# >= 8 x P and `ulimit -u` >= 4 x P (plus what runs already) and stops with the command
# to raise them otherwise.
#
# usage: bench/concurrency.sh [P:N:S ...]   (REPS=1 for one run per side; LABJ_BIN a
#        binary; BENCH_DIR the filesystem)
# The last lines are its rows of bench/run.sh's table (bench_row).
set -eu
. "$(dirname "$0")/lib.sh"
REPS=${REPS:-3}
[ $# -gt 0 ] || set -- 2:100:0.2 100:1000:1 500:2000:1 1000:4000:1
command -v /usr/bin/time > /dev/null || { echo "needs GNU time (Debian package 'time')"; exit 1; }
bench_setup conc
FS=$(df -T "$WORK" | awk 'NR==2{print $2}')

# timed OUT CMD...: run CMD under GNU time; appends "wall cpu" (seconds) to OUT.
timed() {
    out=$1
    shift
    /usr/bin/time -f "%e %U %S" -o time.txt "$@"
    awk '{printf "%s %.3f\n", $1, $2 + $3}' time.txt >> "$out"
}
# med FILE COLUMN: median of that column.
med() { awk -v c="$2" '{print $c}' "$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for case in "$@"; do
    P=${case%%:*}; rest=${case#*:}; N=${rest%%:*}; S=${rest#*:}
    nofile=$(ulimit -n); nproc=$(ulimit -u 2> /dev/null || ulimit -p 2> /dev/null || echo unlimited)
    if [ "$nofile" != unlimited ] && [ "$nofile" -lt $((8 * P)) ]; then
        echo "ulimit -n is $nofile: P=$P needs >= $((8 * P)) (run \`ulimit -n $((8 * P))\` first)"; exit 1
    fi
    if [ "$nproc" != unlimited ] && [ "$nproc" -lt $((4 * P + 1000)) ]; then
        echo "ulimit -u is $nproc: P=$P needs >= $((4 * P + 1000)) (run \`ulimit -u $((4 * P + 1000))\` first)"; exit 1
    fi
    make_tasks "$N"
    write_experiment conc_bench 1 "$P" '["sh", "-c", "sleep '"$S"'; echo '"'"'{\"schema_version\":\"agent_result_v1\",\"outcome\":\"success\"}'"'"' > \"$AGENTLAB_RESULT_PATH\""]'
    CMD="sleep $S; echo '{\"schema_version\":\"agent_result_v1\",\"outcome\":\"success\"}' > \"\$0\""
    : > labj.txt; : > xargs.txt
    rep=1
    while [ "$rep" -le "$REPS" ]; do
        rm -rf runs
        timed labj.txt "$LABJ" --runs-dir runs run exp.yaml --json > out.json 2> err.txt \
            || { echo "labj run failed"; cat err.txt; exit 1; }
        grep -q "\"succeeded\": $N" out.json || { echo "labj: not $N successes"; cat out.json; exit 1; }
        rm -rf xout && mkdir xout
        timed xargs.txt sh -c 'seq "$1" | xargs -P "$2" -I{} sh -c "$3" "$4/{}.json"' _ "$N" "$P" "$CMD" "$WORK/xout"
        [ "$(ls xout | wc -l)" -eq "$N" ] || { echo "xargs baseline lost files"; exit 1; }
        echo "P=$P N=$N sleep $S rep $rep (load $(cut -d' ' -f1 /proc/loadavg)): labj $(tail -1 labj.txt) s wall/cpu, xargs $(tail -1 xargs.txt) s wall/cpu"
        rep=$((rep + 1))
    done
    LW=$(med labj.txt 1); LC=$(med labj.txt 2); XW=$(med xargs.txt 1); XC=$(med xargs.txt 2)
    R=$(ratio "$LW" "$XW")
    OWN=$(awk "BEGIN{printf \"%.3f\", ($LC - $XC) * 1000 / $N}")
    echo "P=$P: labj $LW s wall, $LC s CPU; xargs $XW s wall, $XC s CPU; wall ratio $R; labj's own CPU $OWN ms/trial"
    bench_row "own CPU/trial P=$P ($FS)" "$OWN ms ($N x sleep $S: labj $LC s CPU)" "xargs $XC s CPU" "-" "<= 1.0 ms" "$(verdict "$OWN" '<=' 1.0)"
    case $P in
        500) T=1.15 ;;
        1000) T=1.25 ;;
        *) T="" ;;
    esac
    if [ -n "$T" ]; then
        bench_row "sleep wall P=$P ($FS)" "labj $LW s ($N x sleep $S)" "xargs -P $P $XW s" "$R" "<= $T" "$(verdict "$R" '<=' "$T")"
    else
        bench_row "sleep wall P=$P ($FS)" "labj $LW s ($N x sleep $S)" "xargs -P $P $XW s" "$R" "-" "info"
    fi
done
