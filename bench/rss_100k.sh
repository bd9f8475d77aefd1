#!/bin/sh
# Peak RSS of `labj run` on a schedule of N instant trials (default 100,000: 1,000 tasks
# x 100 replications) at concurrency 8, measured by GNU time (%M, max resident set), and
# journal bytes per trial. Target: <= 100 MB. Also reports wall time and trials/s.
# Needs ~5 GB of disk for the trial directories, removed afterwards.
#
# usage: bench/rss_100k.sh [N]   (N a multiple of 1000)
set -eu
. "$(dirname "$0")/lib.sh"
N=${1:-100000}
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; Debian package 'time')"; exit 1; }
bench_setup rss
make_tasks 1000
write_experiment rss_bench $((N / 1000)) 8 "$NOOP_AGENT"
t0=$(date +%s)
/usr/bin/time -f '%M' -o rss.txt "$LABJ" --runs-dir runs run exp.yaml --json > out.json 2> err.txt
t1=$(date +%s)
grep -q '"status": "completed"' out.json || { echo "run did not complete"; exit 1; }
RUN=$(ls runs)
"$LABJ" --runs-dir runs verify "$RUN" > /dev/null || { echo "verify failed"; exit 1; }
KB=$(tail -1 rss.txt)
MB=$(awk "BEGIN{printf \"%.1f\", $KB / 1024}")
JB=$(stat -c %s "runs/$RUN/journal.sqlite")
echo "$N instant trials in $((t1 - t0)) s ($((N / (t1 - t0 + 1))) trials/s); peak RSS $KB KB = $MB MB (target <= 100 MB: $(verdict "$MB" '<=' 100)); journal $JB bytes = $((JB / N)) bytes/trial"
bench_row "run to completion" "$N trials: peak RSS $MB MB, $((t1 - t0)) s" "-" "-" "<= 100 MB" "$(verdict "$MB" '<=' 100)"
