#!/bin/sh
# Throughput of no-op trials through Slurm (`--executor slurm`: one batch job per trial)
# against local threads at the same concurrency. Needs a reachable Slurm cluster
# (scripts/slurm-dev-cluster.sh start). Prints the wall time of each run, trials/s, the
# ratio local/slurm, and what bounds Slurm: the cost of one `sbatch` and the latency
# from submission to a job's end for a lone no-op job.
#
# usage: bench/slurm_throughput.sh [TRIALS (200)] [CONCURRENCY (16)] [EXTRA labj run ARGS…]
#        LABJ=/path/to/labj bench/slurm_throughput.sh …   (use that binary, no release build)
set -eu
N=${1:-200}
C=${2:-16}
shift 2 2>/dev/null || shift $#
. "$(dirname "$0")/lib.sh"
command -v sbatch >/dev/null 2>&1 || { echo "sbatch not found: start the cluster (scripts/slurm-dev-cluster.sh start)" >&2; exit 1; }
sinfo -h >/dev/null 2>&1 || { echo "the Slurm controller does not answer (scripts/slurm-dev-cluster.sh start)" >&2; exit 1; }
if [ -n "${LABJ:-}" ]; then
    # A given binary (e.g. a debug build): skip the release build of bench_setup.
    WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/labj-slurm-XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    cd "$WORK"
else
    bench_setup slurm
fi
make_tasks "$N"
write_experiment slurm_bench 1 "$C" "$NOOP_AGENT"

run_once() { # EXECUTOR [ARGS…]: wall ms of one run of N trials
    ex=$1
    shift
    rm -rf runs
    t0=$(now_ms)
    "$LABJ" --runs-dir runs run exp.yaml --json --executor "$ex" "$@" > out.json 2> err.txt
    t1=$(now_ms)
    grep -q '"status": "completed"' out.json || { echo "$ex run did not complete:" >&2; cat err.txt >&2; exit 1; }
    grep -q "\"succeeded\": $N" out.json || { echo "$ex run: not every trial succeeded" >&2; exit 1; }
    echo $((t1 - t0))
}

L=$(run_once local)
S=$(run_once slurm "$@")
echo "$N no-op trials at concurrency $C: local $L ms ($(awk "BEGIN{printf \"%.1f\", $N * 1000 / $L}") trials/s), slurm $S ms ($(awk "BEGIN{printf \"%.1f\", $N * 1000 / $S}") trials/s)"
echo "ratio slurm/local wall time: $(awk "BEGIN{printf \"%.1f\", $S / $L}")x"
bench_row "slurm vs local" "slurm $S ms ($N trials, concurrency $C)" "local $L ms" "$(ratio "$S" "$L")" "-" "info"

# What bounds it: submission cost (the coordinator submits serially) …
printf '#!/bin/sh\ntrue\n' > noop.sh
t0=$(now_ms)
ids=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    ids="$ids,$(sbatch --parsable -o /dev/null noop.sh)"
done
t1=$(now_ms)
echo "sbatch: $(( (t1 - t0) / 20 )) ms per submission (20 serial submissions)"
# … and the latency of one job from submission to its end (scheduler pass + launch).
while [ -n "$(squeue -h -j "${ids#,}" 2>/dev/null)" ]; do sleep 0.1; done
lat=""
for rep in 1 2 3; do
    t0=$(now_ms)
    id=$(sbatch --parsable -o /dev/null noop.sh)
    while squeue -h -j "$id" -t all -o %T 2>/dev/null | grep -qv COMPLETED; do sleep 0.02; done
    t1=$(now_ms)
    lat="$lat $((t1 - t0))"
done
echo "one no-op job, submission to COMPLETED: $(echo $lat | tr ' ' '\n' | median) ms (median of 3:$lat)"
echo "expected slurm wall time ~ N / C x that latency + N x sbatch cost; tune with --max-concurrency (more jobs in flight), the cluster's SchedulerParameters (sched_interval), and longer trials (the overhead is per trial, not per second of work)"
