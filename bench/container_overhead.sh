#!/bin/sh
# Per-attempt overhead of a container trial vs a local one: the same no-op agent
# (`sh -c` writing a fixed agent_result_v1) as 20 sequential trials on the host, then
# in a podman container (image localhost/labj-test-a:1, built by
# scripts/setup.d/40-podman.sh). Prints the median trial duration (trial_completed
# duration_ms: prepare + container run + inspect/removal + storing results) of each and
# their difference.
#
# usage: bench/container_overhead.sh    (needs podman, runc and the test image)
# LABJ_CONTAINER_ARGS defaults to this project's VMs' flags; LABJ_BIN=path uses that
# labj instead of building a release one.
set -eu
. "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || { echo "podman missing: run scripts/setup.d/40-podman.sh"; exit 1; }
podman image exists localhost/labj-test-a:1 || { echo "image missing: run scripts/setup.d/40-podman.sh"; exit 1; }
export LABJ_CONTAINER_ENGINE=podman
export LABJ_CONTAINER_ARGS="${LABJ_CONTAINER_ARGS:---runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024}"
if [ -n "${LABJ_BIN:-}" ]; then
    # An already built labj (e.g. target/debug/labj): skips the release build.
    LABJ=$LABJ_BIN
    WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/labj-container-XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    cd "$WORK"
else
    bench_setup container
fi
make_tasks 20
durations() {
    sqlite3 "$(ls -d runs/*)/journal.sqlite" \
        "select json_extract(payload, '\$.duration_ms') from events where kind = 'trial_completed'"
}
run_mode() { # $1: name; exp.yaml already written
    rm -rf runs
    t0=$(now_ms)
    "$LABJ" --runs-dir runs run exp.yaml --json > out.json
    t1=$(now_ms)
    grep -q '"status": "completed"' out.json || { echo "$1 run did not complete"; cat out.json; exit 1; }
    n=$(durations | wc -l)
    [ "$n" -eq 20 ] || { echo "$1: expected 20 trials, got $n"; exit 1; }
    m=$(durations | median)
    echo "$1: 20 trials in $((t1 - t0)) ms wall, median trial $m ms" >&2
    echo "$m"
}
write_experiment local_noop 1 1 "$NOOP_AGENT"
LOCAL=$(run_mode local)
write_experiment container_noop 1 1 "$NOOP_AGENT"
cat >> exp.yaml <<YAML
    image: localhost/labj-test-a:1
  policy:
    sandbox: {mode: container}
YAML
CONTAINER=$(run_mode container)
echo "median per-attempt time: local $LOCAL ms, container $CONTAINER ms, container overhead $((CONTAINER - LOCAL)) ms"
bench_row "container attempt" "container $CONTAINER ms (median of 20)" "local $LOCAL ms" "+$((CONTAINER - LOCAL)) ms" "-" "info"
