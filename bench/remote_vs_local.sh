#!/bin/sh
# Remote workers vs the local backend on N no-op trials (default 600): 3 `labj worker
# serve` processes × 4 slots on 127.0.0.1 against `labj run` with local threads at
# concurrency 12, in the same script run. Interleaved 3 times; medians and the
# throughput ratio remote/local are printed. Target: remote >= 80% of local. Every run
# must end `completed` and pass `labj verify`.
#
# usage: bench/remote_vs_local.sh [N]      (LABJ_BIN=path/to/labj skips the release build)
set -eu
. "$(dirname "$0")/lib.sh"
N=${1:-600}
bench_setup remote
make_tasks "$N"
write_experiment noop_remote 1 12 "$NOOP_AGENT"
export LABJ_BENCH_TOKEN=bench-token-$$
PIDS=""
ENDPOINTS=""
for w in 1 2 3; do
    "$LABJ" worker serve --listen 127.0.0.1:0 --slots 4 --token-env LABJ_BENCH_TOKEN \
        --work-dir "worker$w" > "worker$w.out" 2> "worker$w.err" &
    PIDS="$PIDS $!"
done
trap 'kill $PIDS 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for w in 1 2 3; do
    i=0
    until grep -q listening "worker$w.out"; do
        i=$((i + 1)); [ "$i" -lt 300 ] || { echo "worker $w did not start"; cat "worker$w.err"; exit 1; }
        sleep 0.1
    done
    ENDPOINTS="$ENDPOINTS --remote-endpoint $(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "worker$w.out")"
done

: > local.txt; : > remote.txt
for rep in 1 2 3; do
    t0=$(now_ms)
    "$LABJ" --runs-dir "local_$rep" run exp.yaml --max-concurrency 12 --json > out.json
    t1=$(now_ms)
    grep -q '"status": "completed"' out.json || { echo "local run did not complete"; cat out.json; exit 1; }
    "$LABJ" --runs-dir "local_$rep" verify "$(ls "local_$rep")" > /dev/null || { echo "verify failed"; exit 1; }
    echo $((t1 - t0)) >> local.txt
    t0=$(now_ms)
    # shellcheck disable=SC2086
    "$LABJ" --runs-dir "remote_$rep" run exp.yaml --max-concurrency 12 --json \
        --executor remote --remote-token-env LABJ_BENCH_TOKEN $ENDPOINTS > out.json
    t1=$(now_ms)
    grep -q '"status": "completed"' out.json || { echo "remote run did not complete"; cat out.json; exit 1; }
    "$LABJ" --runs-dir "remote_$rep" verify "$(ls "remote_$rep")" > /dev/null || { echo "verify failed"; exit 1; }
    echo $((t1 - t0)) >> remote.txt
    echo "rep $rep: local $(tail -1 local.txt) ms  remote $(tail -1 remote.txt) ms"
done
L=$(median < local.txt); R=$(median < remote.txt)
TL=$(awk "BEGIN{printf \"%.1f\", $N * 1000 / $L}")
TR=$(awk "BEGIN{printf \"%.1f\", $N * 1000 / $R}")
RATIO=$(awk "BEGIN{printf \"%.3f\", $L / $R}")
echo "N=$N  median local $L ms ($TL trials/s)  median remote $R ms ($TR trials/s, 3 workers x 4 slots)  throughput remote/local $RATIO (target >= 0.8: $(verdict "$RATIO" '>=' 0.8))"
bench_row "remote vs local" "remote $R ms ($N trials, 3 workers x 4 slots)" "local $L ms" "$RATIO (throughput)" ">= 0.8" "$(verdict "$RATIO" '>=' 0.8)"
