# Shared by the bench scripts (sourced, POSIX sh). Each script runs from anywhere.

# bench_setup NAME: build release labj (or use $LABJ_BIN when set), set ROOT and LABJ,
# cd into a fresh work dir under $BENCH_DIR (default /tmp), removed on exit.
bench_setup() {
    ROOT=$(cd "$(dirname "$0")/.." && pwd)
    if [ -n "${LABJ_BIN:-}" ]; then
        LABJ=$LABJ_BIN
    else
        cargo build --release -q -p labj --manifest-path "$ROOT/Cargo.toml"
        LABJ="$ROOT/target/release/labj"
    fi
    WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/labj-$1-XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
    cd "$WORK"
}

# make_tasks N: tasks.jsonl with N plain tasks t0..t{N-1}.
make_tasks() {
    awk -v n="$1" 'BEGIN{for (i = 0; i < n; i++) printf "{\"id\":\"t%d\"}\n", i}' > tasks.jsonl
}

# write_experiment ID REPLICATIONS MAX_CONCURRENCY COMMAND: exp.yaml, one variant over
# tasks.jsonl; COMMAND is a YAML flow sequence, e.g. '["sh", "-c", "true"]'.
write_experiment() {
    cat > exp.yaml <<YAML
version: "0.5"
experiment: {id: $1, name: $1}
dataset: {path: tasks.jsonl}
design:
  replications: $2
  max_concurrency: $3
  policies: {scheduling: variant_sequential, state: isolate_per_trial}
baseline: {variant_id: base, bindings: {}}
variant_plan: []
runtime:
  agent:
    command: $4
    timeout_ms: 60000
YAML
}

# write_variants N ID MAX_CONCURRENCY: exp.yaml with N variants (the baseline and N-1
# variants binding k) over tasks.jsonl, the no-op agent, one replication.
write_variants() {
    write_experiment "$2" 1 "$3" "$NOOP_AGENT"
    [ "$1" -gt 1 ] || return 0
    awk -v n="$1" '/^variant_plan: \[\]$/ {
        print "variant_plan:"
        for (i = 1; i < n; i++) printf "  - {variant_id: v%d, bindings: {k: %d}}\n", i, i
        next
    } {print}' exp.yaml > exp2.yaml
    mv exp2.yaml exp.yaml
}

# The agent command every no-op bench uses: write a fixed agent_result_v1.
NOOP_AGENT='["sh", "-c", "echo '"'"'{\"schema_version\":\"agent_result_v1\",\"outcome\":\"success\"}'"'"' > \"$AGENTLAB_RESULT_PATH\""]'

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# verdict VALUE OP TARGET: PASS or FAIL (OP is <= or >=).
verdict() { awk "BEGIN{print ($1 $2 $3) ? \"PASS\" : \"FAIL\"}"; }

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }

# bench_row NAME FIGURE BASELINE RATIO TARGET VERDICT: one row of the summary table
# (markdown), printed and, under bench/run.sh, appended to $BENCH_TABLE.
bench_row() {
    line="| $1 | $2 | $3 | $4 | $5 | $6 |"
    echo "$line"
    [ -z "${BENCH_TABLE:-}" ] || echo "$line" >> "$BENCH_TABLE"
}

journal_count() { # JOURNAL KIND: number of KIND events (0 while the file is not there)
    sqlite3 "file:$1?mode=ro" "select count(*) from events where kind = '$2'" 2>/dev/null || echo 0
}
