#!/bin/sh
# Peak RSS of `labj run` on a schedule of N instant trials (default 100,000: 1,000 tasks
# x 100 replications) at concurrency 8, measured by GNU time (%M, max resident set), and
# journal bytes per trial. Target: <= 100 MB. Also reports wall time and trials/s.
# Needs ~3 GB of disk for the trial directories, removed afterwards.
#
# usage: bench/rss_100k.sh [N]   (from the repository root; N a multiple of 1000)
set -eu
N=${1:-100000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p labj --manifest-path "$ROOT/Cargo.toml"
LABJ="$ROOT/target/release/labj"
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; Debian package 'time')"; exit 1; }
WORK=$(mktemp -d /tmp/labj-rss-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
i=0; while [ $i -lt 1000 ]; do echo "{\"id\":\"t$i\"}"; i=$((i+1)); done > tasks.jsonl
cat > exp.yaml <<YAML
version: "0.5"
experiment: {id: rss_bench, name: instant trials}
dataset: {path: tasks.jsonl}
design:
  replications: $((N / 1000))
  max_concurrency: 8
  policies: {scheduling: variant_sequential, state: isolate_per_trial}
baseline: {variant_id: base, bindings: {}}
variant_plan: []
runtime:
  agent:
    command: ["sh", "-c", "echo '{\"outcome\":\"success\"}' > \"\$AGENTLAB_RESULT_PATH\""]
    timeout_ms: 60000
YAML
t0=$(date +%s)
/usr/bin/time -f '%M' -o rss.txt "$LABJ" --runs-dir runs run exp.yaml --json > out.json
t1=$(date +%s)
grep -q '"status": "completed"' out.json || { echo "run did not complete"; exit 1; }
RUN=$(ls runs)
"$LABJ" --runs-dir runs verify "$RUN" > /dev/null || { echo "verify failed"; exit 1; }
KB=$(tail -1 rss.txt)
JB=$(stat -c %s "runs/$RUN/journal.sqlite")
printf '%s instant trials in %s s (%s trials/s); peak RSS %s KB = %.1f MB (target <= 100 MB: %s); journal %s bytes = %s bytes/trial\n' \
    "$N" "$((t1 - t0))" "$((N / (t1 - t0 + 1)))" "$KB" "$(awk "BEGIN{print $KB/1024}")" \
    "$(awk "BEGIN{print ($KB/1024 <= 100) ? \"PASS\" : \"FAIL\"}")" "$JB" "$((JB / N))"
