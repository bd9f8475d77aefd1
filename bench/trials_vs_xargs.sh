#!/bin/sh
# labj vs `xargs -P` on N no-op trials (default 2,000) at parallelism 2 and 8.
#
# Both sides run the same `sh -c` command that writes a fixed agent_result_v1 file; labj
# also creates each trial's directory, journals dispatch/completion/commit (group
# commit, WAL, synchronous=NORMAL), and stores evidence. Each configuration runs 3 times,
# interleaved with its baseline so machine noise hits both alike; medians and the ratio
# labj/xargs are printed. Target: ratio <= 1.5. Every labj run must end `completed`
# and pass `labj verify` (the journal is durable and intact).
#
# usage: bench/trials_vs_xargs.sh [N]   (from the repository root)
set -eu
N=${1:-2000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p labj --manifest-path "$ROOT/Cargo.toml"
LABJ="$ROOT/target/release/labj"
WORK=$(mktemp -d /tmp/labj-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

i=0; while [ $i -lt "$N" ]; do echo "{\"id\":\"t$i\"}"; i=$((i+1)); done > tasks.jsonl
CMD='echo "{\"schema_version\":\"agent_result_v1\",\"outcome\":\"success\"}" > "$AGENTLAB_RESULT_PATH"'
cat > exp.yaml <<YAML
version: "0.5"
experiment: {id: noop_bench, name: no-op trials}
dataset: {path: tasks.jsonl}
design:
  replications: 1
  max_concurrency: 2
  policies: {scheduling: variant_sequential, state: isolate_per_trial}
baseline: {variant_id: base, bindings: {}}
variant_plan: []
runtime:
  agent:
    command: ["sh", "-c", $(printf '%s' "$CMD" | sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/')]
    timeout_ms: 60000
YAML

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for P in 2 8; do
    : > labj_$P.txt; : > xargs_$P.txt
    for rep in 1 2 3; do
        rm -rf runs xout && mkdir xout
        t0=$(now)
        "$LABJ" --runs-dir runs run exp.yaml --max-concurrency "$P" --json > out.json
        t1=$(now)
        run=$(ls runs)
        grep -q '"status": "completed"' out.json || { echo "labj run did not complete"; cat out.json; exit 1; }
        "$LABJ" --runs-dir runs verify "$run" > /dev/null || { echo "labj verify failed"; exit 1; }
        awk "BEGIN{print $t1 - $t0}" >> labj_$P.txt
        t0=$(now)
        seq "$N" | AGENTLAB_CMD="$CMD" xargs -P "$P" -I{} env AGENTLAB_RESULT_PATH="$WORK/xout/{}.json" sh -c "$CMD"
        t1=$(now)
        [ "$(ls xout | wc -l)" -eq "$N" ] || { echo "xargs baseline lost files"; exit 1; }
        awk "BEGIN{print $t1 - $t0}" >> xargs_$P.txt
        printf 'P=%s rep %s: labj %.3fs  xargs %.3fs\n' "$P" "$rep" "$(tail -1 labj_$P.txt)" "$(tail -1 xargs_$P.txt)"
    done
    L=$(median < labj_$P.txt); X=$(median < xargs_$P.txt)
    R=$(awk "BEGIN{printf \"%.3f\", $L / $X}")
    v=$(awk "BEGIN{print ($R <= 1.5) ? \"PASS\" : \"FAIL\"}")
    jb=$(stat -c %s runs/*/journal.sqlite)
    printf 'P=%s  median labj %.3fs  median xargs %.3fs  ratio %s (target <= 1.5: %s)  journal %s bytes = %s bytes/trial\n' \
        "$P" "$L" "$X" "$R" "$v" "$jb" "$((jb / N))"
done
