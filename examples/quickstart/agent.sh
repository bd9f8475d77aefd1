#!/bin/sh
# Quickstart agent (POSIX sh, no jq/python): answers one arithmetic task.
#
# Reads the task at $AGENTLAB_TASK_PATH and the variant's bindings at
# $AGENTLAB_BINDINGS_PATH, and writes an agent_result_v1 document to
# $AGENTLAB_RESULT_PATH. With `"double_check": false` in its bindings it gets large
# multiplications wrong on purpose, so the two quickstart variants differ.
set -eu

task=${AGENTLAB_TASK_PATH:?AGENTLAB_TASK_PATH is not set}
bindings=${AGENTLAB_BINDINGS_PATH:?AGENTLAB_BINDINGS_PATH is not set}
result=${AGENTLAB_RESULT_PATH:?AGENTLAB_RESULT_PATH is not set}

# First value of a numeric / string key, from compact or pretty-printed JSON.
json_num() {
    sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\(-\{0,1\}[0-9][0-9]*\).*/\1/p" "$2" | head -n 1
}
json_str() {
    sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1
}
trace() {
    if [ -n "${AGENTLAB_TRAJECTORY_PATH:-}" ]; then
        printf '{"step":%s,"event":"%s"}\n' "$1" "$2" >>"$AGENTLAB_TRAJECTORY_PATH"
    fi
}

task_id=$(json_str id "$task")
a=$(json_num a "$task")
b=$(json_num b "$task")
op=$(json_str op "$task")
trace 1 read_task

double_check=false
if grep -q '"double_check"[[:space:]]*:[[:space:]]*true' "$bindings"; then
    double_check=true
fi

# Files the task placed in the workspace (our cwd) count as notes read.
notes=0
for f in notes.txt data/notes.txt; do
    if [ -f "$f" ]; then notes=$((notes + 1)); fi
done

outcome=success
answer=""
if [ -z "$a" ] || [ -z "$b" ] || [ -z "$op" ]; then
    outcome=failure
else
    case "$op" in
        "+") answer=$((a + b)) ;;
        "-") answer=$((a - b)) ;;
        "*")
            answer=$((a * b))
            # The quick variant skips the double check and slips on big products.
            if [ "$double_check" = false ] && [ "$a" -ge 7 ]; then
                answer=$((answer + 1))
            fi
            ;;
        *) outcome=failure ;;
    esac
fi
trace 2 computed

# Think for 50..199 ms (deterministic per task) so trials overlap visibly.
ms=$((50 + (${a:-0} * 37 + ${b:-0} * 11) % 150))
if [ "$ms" -lt 0 ]; then ms=$((-ms)); fi
sleep "$(printf '0.%03d' "$ms")" 2>/dev/null || sleep 1

printf '{"schema_version":"agent_result_v1","outcome":"%s","answer":"%s","metrics":{"latency_ms":%s,"notes_read":%s},"ids":{"run_id":"%s","trial_id":"%s","variant_id":"%s","task_id":"%s","repl_idx":"%s"}}\n' \
    "$outcome" "$answer" "$ms" "$notes" \
    "${AGENTLAB_RUN_ID:-}" "${AGENTLAB_TRIAL_ID:-}" "${AGENTLAB_VARIANT_ID:-}" \
    "${task_id:-${AGENTLAB_TASK_ID:-}}" "${AGENTLAB_REPL_IDX:-}" >"$result"
trace 3 wrote_result
echo "agent: task ${task_id:-?} -> ${answer:-<none>} (${outcome})"
