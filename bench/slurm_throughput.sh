#!/bin/sh
# Throughput of no-op trials through Slurm against local threads at the same
# concurrency, side by side: local, pilot workers (`--slurm-workers W`: at most W
# long-lived worker jobs) and one batch job per trial (`--executor slurm` alone). Needs a
# reachable Slurm cluster (scripts/slurm-dev-cluster.sh start). Prints the wall time of
# each run (median of REPS), trials/s, the ratios to local (pilot: PASS within 1.5x), the
# most worker jobs `squeue` showed queued or running at once during the pilot runs
# (sampled every 50 ms; PASS when <= W), and what bounds one job per trial: the cost of
# one `sbatch` and the latency from submission to a lone no-op job's end.
#
# usage: bench/slurm_throughput.sh [TRIALS (200)] [CONCURRENCY (16)] [EXTRA labj run ARGS…]
#        LABJ=/path/to/labj bench/slurm_throughput.sh …   (use that binary, no release build)
#        WORKERS=4 (pilot worker jobs), REPS=3 (runs of each mode), PER_TRIAL=0 (skip the
#        one-job-per-trial run)
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

W=${WORKERS:-4}
REPS=${REPS:-3}

run_once() { # EXECUTOR [ARGS…]: wall ms of one run of N trials
    ex=$1
    shift
    rm -rf runs
    # No worker job of an earlier run may still hold a node slot.
    while [ -n "$(squeue -h -o %j 2>/dev/null | grep '^labj-pilot-')" ]; do sleep 0.1; done
    t0=$(now_ms)
    "$LABJ" --runs-dir runs run exp.yaml --json --executor "$ex" "$@" > out.json 2> err.txt
    t1=$(now_ms)
    grep -q '"status": "completed"' out.json || { echo "$ex run did not complete:" >&2; cat err.txt >&2; exit 1; }
    grep -q "\"succeeded\": $N" out.json || { echo "$ex run: not every trial succeeded" >&2; exit 1; }
    echo $((t1 - t0))
}

runs_of() { # EXECUTOR [ARGS…]: median wall ms of REPS runs
    all=""
    for _ in $(seq "$REPS"); do all="$all $(run_once "$@")"; done
    echo "$all" | tr ' ' '\n' | grep . | median
}

# The most pilot worker jobs queued or running at once, sampled while the runs go.
: > most.txt
( while [ ! -e stop-sampling ]; do
      { squeue -h -o %j 2>/dev/null || true; } | grep -c '^labj-pilot-' >> most.txt || true
      sleep 0.05
  done ) &
SAMPLER=$!

L=$(runs_of local)
P=$(runs_of slurm --slurm-workers "$W" "$@")
touch stop-sampling
wait "$SAMPLER"
MOST=$(sort -n most.txt | tail -1)
rate() { awk "BEGIN{printf \"%.1f\", $N * 1000 / $1}"; }
echo "$N no-op trials at concurrency $C (median of $REPS): local $L ms ($(rate "$L") trials/s), slurm pilot ($W workers) $P ms ($(rate "$P") trials/s)"
echo "ratio slurm pilot/local wall time: $(ratio "$P" "$L")x (target 1.5x: $(verdict "$P" "<=" "1.5 * $L"))"
echo "pilot worker jobs queued or running at once, most seen by squeue: $MOST (limit $W: $(verdict "$MOST" "<=" "$W"))"
bench_row "slurm pilot vs local" "pilot $P ms ($N trials, concurrency $C, $W workers)" "local $L ms" "$(ratio "$P" "$L")" "1.5" "$(verdict "$P" "<=" "1.5 * $L")"
bench_row "slurm pilot jobs at once" "$MOST (squeue, every 50 ms)" "limit $W" "-" "$W" "$(verdict "$MOST" "<=" "$W")"
if [ "${PER_TRIAL:-1}" = 0 ]; then
    exit 0
fi
S=$(run_once slurm "$@")
echo "slurm one job per trial: $S ms ($(rate "$S") trials/s); ratio to local $(ratio "$S" "$L")x"
bench_row "slurm per-trial jobs vs local" "slurm $S ms ($N trials, concurrency $C)" "local $L ms" "$(ratio "$S" "$L")" "-" "info"

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
