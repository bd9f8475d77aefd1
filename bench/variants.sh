#!/bin/sh
# Linear in variants: V variants x 1 task against 1 variant x V tasks (default V =
# 2,000) of a no-op agent at concurrency 2, each run preceded by deleting the previous
# run's directory, the two interleaved 3 times; medians and their ratio. Target: ratio
# <= 1.2 (a trial costs the same whatever the number of variants). Every run must end
# `completed`.
#
# usage: bench/variants.sh [V]     (LABJ_BIN=path: use that labj; BENCH_DIR: filesystem)
set -eu
. "$(dirname "$0")/lib.sh"
V=${1:-2000}
bench_setup variants
FS=$(df -T "$WORK" | awk 'NR==2{print $2}')
mkdir many one
(cd many && make_tasks 1 && write_variants "$V" many_variants 2)
(cd one && make_tasks "$V" && write_variants 1 one_variant 2)
timed_run() { # DIR: run DIR/exp.yaml into DIR/runs (deleted first), print wall ms
    rm -rf "$1/runs"
    t0=$(now_ms)
    (cd "$1" && "$LABJ" --runs-dir runs run exp.yaml --json > out.json 2> err.txt)
    t1=$(now_ms)
    grep -q '"status": "completed"' "$1/out.json" || { echo "labj run in $1 did not complete" >&2; cat "$1/out.json" >&2; exit 1; }
    grep -q "\"succeeded\": $V" "$1/out.json" || { echo "labj run in $1: not $V successes" >&2; exit 1; }
    echo $((t1 - t0))
}
: > many.txt; : > one.txt
for rep in 1 2 3; do
    timed_run many >> many.txt
    timed_run one >> one.txt
    echo "rep $rep: $V variants x 1 task $(tail -1 many.txt) ms, 1 variant x $V tasks $(tail -1 one.txt) ms"
done
M=$(median < many.txt); O=$(median < one.txt); R=$(ratio "$M" "$O")
bench_row "variants ($FS)" "$V variants x 1 task: $M ms" "1 x $V tasks: $O ms" "$R" "<= 1.2" "$(verdict "$R" '<=' 1.2)"
