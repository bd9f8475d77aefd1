#!/bin/sh
# Peak RSS of `labj verify` against metric volume: runs whose trials each write M
# metrics (default 20,000), with 10 and with 40 trials. A streaming verify stays flat
# (target: 40-trial RSS <= 1.5x the 10-trial one).
#
# usage: bench/verify_rss.sh [M]     (LABJ_BIN=path: use that labj)
set -eu
. "$(dirname "$0")/lib.sh"
M=${1:-20000}
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; Debian package 'time')"; exit 1; }
bench_setup verify
METRICS='["sh", "-c", "awk '"'"'BEGIN{printf \"{\\\"schema_version\\\":\\\"agent_result_v1\\\",\\\"outcome\\\":\\\"success\\\",\\\"metrics\\\":{\"; for(i=0;i<'"$M"';i++) printf \"%s\\\"m%d\\\":%d\", (i?\",\":\"\"), i, i; print \"}}\"}'"'"' > \"$AGENTLAB_RESULT_PATH\""]'
for n in 10 40; do
    make_tasks "$n"
    write_experiment metrics_bench 1 2 "$METRICS"
    rm -rf runs
    "$LABJ" --runs-dir runs run exp.yaml --json > out.json 2> err.txt
    grep -q '"status": "completed"' out.json || { echo "metrics run did not complete"; cat out.json; exit 1; }
    /usr/bin/time -f '%M' -o vrss.txt "$LABJ" --runs-dir runs verify "$(ls runs)" > /dev/null
    eval "V$n=\$(tail -1 vrss.txt)"
    echo "verify of $n trials x $M metrics: peak RSS $(tail -1 vrss.txt) KB"
done
R=$(ratio "$V40" "$V10")
bench_row "verify RSS" "40 trials x $M metrics: $((V40 / 1024)) MB" "10 trials: $((V10 / 1024)) MB" "$R" "<= 1.5 (flat)" "$(verdict "$R" '<=' 1.5)"
