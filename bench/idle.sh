#!/bin/sh
# What a run costs while every trial waits (as agents waiting on a model API do): K
# trials whose agent sleeps S seconds, at concurrency K. After the dispatches (1.5 s in),
# the script samples for W seconds (default 3):
#   - labj's process CPU (all its threads, not the agents': the sum of each thread's
#     /proc/<pid>/task/<tid>/schedstat, in ns), in ms per second;
#   - the coordinator's thread (labj's main thread): its CPU (schedstat) and its
#     voluntary context switches (its wake-ups), per second.
# Then it lets the run finish and checks it completed. No target (issue 24 sets none for
# an idle run); the figure says whether the coordinator sleeps until something happens
# (about one wake a second: the heartbeat) or polls.
#
# usage: bench/idle.sh [K] [S] [W]   (defaults 8 6 3; LABJ_BIN a binary; BENCH_DIR the
#        filesystem). The last line is its row of bench/run.sh's table (bench_row).
set -eu
. "$(dirname "$0")/lib.sh"
K=${1:-8}
S=${2:-6}
W=${3:-3}
bench_setup idle
make_tasks "$K"
write_experiment idle_bench 1 "$K" '["sh", "-c", "sleep '"$S"'; echo '"'"'{\"schema_version\":\"agent_result_v1\",\"outcome\":\"success\"}'"'"' > \"$AGENTLAB_RESULT_PATH\""]'
"$LABJ" --runs-dir runs run exp.yaml --json > out.json 2> err.txt &
PID=$!
sleep 1.5
[ -d "/proc/$PID" ] || { echo "labj exited early"; cat err.txt; exit 1; }
# proc_cpu: CPU of every thread of labj (ns); main_ns: the main thread's (ns);
# main_wakes: its voluntary context switches.
proc_cpu() { cat /proc/"$PID"/task/*/schedstat | awk '{s += $1} END {printf "%.0f", s}'; }
main_ns() { cut -d' ' -f1 "/proc/$PID/task/$PID/schedstat"; }
main_wakes() { awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$PID/task/$PID/status"; }
C0=$(proc_cpu); N0=$(main_ns); V0=$(main_wakes); T0=$(now_ms)
sleep "$W"
C1=$(proc_cpu); N1=$(main_ns); V1=$(main_wakes); T1=$(now_ms)
wait "$PID" || { echo "labj run failed"; cat err.txt; exit 1; }
grep -q "\"succeeded\": $K" out.json || { echo "labj: not $K successes"; cat out.json; exit 1; }
SECS=$(awk "BEGIN{print ($T1 - $T0) / 1000}")
PROC=$(awk "BEGIN{printf \"%.3f\", ($C1 - $C0) / 1e6 / $SECS}")
MAIN=$(awk "BEGIN{printf \"%.3f\", ($N1 - $N0) / 1e6 / $SECS}")
WAKES=$(awk "BEGIN{printf \"%.1f\", ($V1 - $V0) / $SECS}")
echo "K=$K agents sleeping ${S}s, sampled ${SECS}s (load $(cut -d' ' -f1 /proc/loadavg)): labj process $PROC ms CPU/s, coordinator thread $MAIN ms CPU/s, $WAKES wakes/s"
bench_row "idle run, $K agents sleeping" "labj $PROC ms CPU/s; coordinator $MAIN ms CPU/s, $WAKES wakes/s" "-" "-" "-" "info"
