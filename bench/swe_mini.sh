#!/bin/sh
# swe-mini end to end, and labj's per-trial cost against the same work typed by hand.
#
# 1. The whole benchmark (examples/swe-mini: 8 tasks x 3 variants, agent in the task
#    image, hidden tests graded in a fresh container of it): `labj run`, then the report.
# 2. Per-trial time, median of 10: labj running one task (oracle agent + in-image
#    grading) as 10 sequential replications (trial_completed duration_ms: staging,
#    agent container, workspace evidence, workspace copy, grader container, storing),
#    against the same two `podman run --rm` commands by hand (copy the task's workspace,
#    run the agent, copy the result, run the grader with the hidden tests), 10 times.
#
# usage: bench/swe_mini.sh   (needs podman + runc + the image: scripts/setup.d/40-podman.sh,
#        scripts/setup.d/42-swe-mini-image.sh). LABJ_BIN=path uses that labj instead of
#        building a release one; LABJ_CONTAINER_ARGS defaults to this project's VMs' flags.
set -eu
. "$(dirname "$0")/lib.sh"
IMAGE=localhost/swe-mini:1
command -v podman >/dev/null || { echo "podman missing: run scripts/setup.d/40-podman.sh"; exit 1; }
podman image exists "$IMAGE" || { echo "$IMAGE missing: run scripts/setup.d/42-swe-mini-image.sh"; exit 1; }
export LABJ_CONTAINER_ENGINE=podman
export LABJ_CONTAINER_ARGS="${LABJ_CONTAINER_ARGS:---runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024}"
bench_setup swe-mini
SWE="$ROOT/examples/swe-mini"

# 1. The whole benchmark.
cp -a "$SWE" swe
t0=$(now_ms)
"$LABJ" --runs-dir runs run swe/experiment.yaml --quiet > run.txt 2>&1 || { cat run.txt; exit 1; }
t1=$(now_ms)
run=$(ls -d runs/*)
echo "== swe-mini: 24 trials in $((t1 - t0)) ms wall"
"$LABJ" --runs-dir runs report "$run"

# 2a. labj, one task, 10 replications, sequential.
sed -e 's/replications: 1/replications: 10/' -e 's/max_concurrency: 2/max_concurrency: 1/' \
    -e '/^variant_plan:/,/^runtime:/{/^  - /d}' -e 's/^variant_plan:$/variant_plan: []/' \
    -e 's#path: tasks.jsonl#path: one.jsonl#' swe/experiment.yaml > swe/one.yaml
head -n 1 swe/tasks.jsonl > swe/one.jsonl
rm -rf runs
"$LABJ" --runs-dir runs run swe/one.yaml --quiet > one.txt 2>&1 || { cat one.txt; exit 1; }
j="$(ls -d runs/*)/journal.sqlite"
ok=$(sqlite3 "$j" "select count(*) from events where kind='trial_completed' and json_extract(payload,'\$.classification')='success'")
[ "$ok" -eq 10 ] || { echo "labj: expected 10 resolved trials, got $ok"; exit 1; }
LABJ_MS=$(sqlite3 "$j" "select json_extract(payload,'\$.duration_ms') from events where kind='trial_completed'" | median)

# 2b. By hand: the same agent and grader, the same mounts, two `podman run --rm`.
python3 - swe/one.jsonl ws0 <<'PY'
import base64, json, os, sys
row = json.loads(open(sys.argv[1]).readline())
for w in row["workspace_files"]:
    p = os.path.join(sys.argv[2], w["path"])
    os.makedirs(os.path.dirname(p), exist_ok=True)
    data = base64.b64decode(w["content"]) if w.get("encoding") == "base64" else w["content"].encode()
    open(p, "wb").write(data)
PY
task=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["task"]["id"])' swe/one.jsonl)
# shellcheck disable=SC2086
by_hand() {
    rm -rf ws out grader gws && cp -a ws0 ws && mkdir out grader
    podman run --rm --network none $LABJ_CONTAINER_ARGS \
        -v "$PWD/ws:/agentlab/workspace" -v "$PWD/out:/agentlab/out" \
        -v "$PWD/swe/bin:/opt/swe-mini/bin:ro" -v "$PWD/swe/fixes:/opt/swe-mini/fixes:ro" \
        -w /agentlab/workspace -e AGENTLAB_TASK_ID="$task" -e AGENTLAB_VARIANT_ID=oracle \
        -e AGENTLAB_RESULT_PATH=/agentlab/out/result.json \
        "$IMAGE" sh /opt/swe-mini/bin/agent.sh
    cp -a ws gws
    podman run --rm --network none $LABJ_CONTAINER_ARGS \
        -v "$PWD/gws:/agentlab/workspace" -v "$PWD/grader:/agentlab/grader" \
        -v "$PWD/swe/hidden/$task:/agentlab/hidden:ro" -v "$PWD/swe/bin:/opt/swe-mini/bin:ro" \
        -w /agentlab/workspace -e AGENTLAB_GRADE_PATH=/agentlab/grader/grade.json \
        "$IMAGE" sh /opt/swe-mini/bin/grade.sh
    grep -q '"outcome":"success"' grader/grade.json || { echo "by hand: not resolved"; exit 1; }
}
: > hand.txt
for _ in 1 2 3 4 5 6 7 8 9 10; do
    a=$(now_ms); by_hand; b=$(now_ms)
    echo $((b - a)) >> hand.txt
done
HAND_MS=$(median < hand.txt)
echo "== per trial (agent + in-image grading), median of 10: labj $LABJ_MS ms, by hand (2 x podman run --rm) $HAND_MS ms, ratio $(ratio "$LABJ_MS" "$HAND_MS")"
bench_row "swe-mini trial (agent + in-image grade)" "labj $LABJ_MS ms (median of 10)" "by hand $HAND_MS ms" "$(ratio "$LABJ_MS" "$HAND_MS")" "-" "info"
