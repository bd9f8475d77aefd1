#!/bin/sh
# Memory and start-up at 1,000,000 slots: TASKS tasks x REPS replications (default
# 100,000 x 10) of a no-op agent at concurrency 8.
#   - `labj describe exp.yaml`: peak RSS (GNU time %M) and wall time;
#   - `labj run exp.yaml`: time from process start to its first `trial_dispatched`
#     (that event's timestamp) and peak RSS of the whole process, stopped by
#     `labj kill` once FIRST slots (default 10,000) are committed.
# Target: peak RSS <= 300 MB (describe and run). The figures go to the summary table
# under bench/run.sh.
#
# usage: bench/rss_1m.sh [TASKS [REPS [FIRST]]]     (LABJ_BIN=path: use that labj)
set -eu
. "$(dirname "$0")/lib.sh"
TASKS=${1:-100000}
REPS=${2:-10}
FIRST=${3:-10000}
SLOTS=$((TASKS * REPS))
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; Debian package 'time')"; exit 1; }
command -v sqlite3 >/dev/null || { echo "needs sqlite3 (Debian package 'sqlite3')"; exit 1; }
bench_setup rss1m
make_tasks "$TASKS"
write_experiment rss_bench "$REPS" 8 "$NOOP_AGENT"

t0=$(now_ms)
/usr/bin/time -f '%M' -o describe_rss.txt "$LABJ" describe exp.yaml > describe.txt
t1=$(now_ms)
grep -q "of $SLOTS slots" describe.txt || { echo "describe does not report $SLOTS slots"; cat describe.txt; exit 1; }
DKB=$(tail -1 describe_rss.txt)
echo "describe: $SLOTS slots in $((t1 - t0)) ms, peak RSS $DKB KB"

rm -rf runs
t0=$(now_ms)
/usr/bin/time -f '%M' -o run_rss.txt "$LABJ" --runs-dir runs run exp.yaml --json > out.json 2> err.txt &
pid=$!
first=""
while :; do
    run=$(ls runs 2>/dev/null | head -1)
    if [ -n "$run" ] && [ -f "runs/$run/journal.sqlite" ]; then
        [ -n "$first" ] || first=$(sqlite3 "file:runs/$run/journal.sqlite?mode=ro" \
            "select ts from events where kind = 'trial_dispatched' order by idx limit 1" 2>/dev/null || true)
        n=$(journal_count "runs/$run/journal.sqlite" slot_committed)
        [ "${n:-0}" -lt "$FIRST" ] || break
    fi
    kill -0 "$pid" 2>/dev/null || { echo "the run ended before $FIRST commits"; cat out.json err.txt; exit 1; }
    sleep 0.2
done
t1=$(now_ms)
"$LABJ" --runs-dir runs kill "$run" > /dev/null
wait "$pid" || true
grep -q '"status": "killed"' out.json || { echo "the run did not end killed"; cat out.json err.txt; exit 1; }
"$LABJ" --runs-dir runs verify "$run" > /dev/null || { echo "verify failed"; exit 1; }
FD=$(( $(date -d "$first" +%s%3N) - t0 ))
RKB=$(tail -1 run_rss.txt)
N=$(journal_count "runs/$run/journal.sqlite" slot_committed)
echo "run: first dispatch after $FD ms; $N slots committed in $((t1 - t0)) ms, then killed; peak RSS $RKB KB"
DMB=$(awk "BEGIN{printf \"%.1f\", $DKB / 1024}")
RMB=$(awk "BEGIN{printf \"%.1f\", $RKB / 1024}")
bench_row "describe $SLOTS slots" "peak RSS $DMB MB" "-" "-" "<= 300 MB" "$(verdict "$DMB" '<=' 300)"
bench_row "run $SLOTS slots" "peak RSS $RMB MB after $N commits" "-" "-" "<= 300 MB" "$(verdict "$RMB" '<=' 300)"
bench_row "first dispatch" "$FD ms after start ($SLOTS slots)" "-" "-" "-" "info"
