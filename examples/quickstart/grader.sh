#!/bin/sh
# Quickstart grader (POSIX sh): compares the agent's answer with the task's expected
# answer. Runs after the agent exited, in its own directory (attempt_<n>/grader/) that
# labj filled with fresh copies of the task and a snapshot of the agent's result
# (AGENTLAB_TASK_PATH, AGENTLAB_RESULT_PATH). Writes grade.json (grade_result_v1, the
# file AGENTLAB_GRADE_PATH names) and grade_report.txt in the current directory.
set -eu

task=${AGENTLAB_TASK_PATH:?AGENTLAB_TASK_PATH is not set}
result=${AGENTLAB_RESULT_PATH:?AGENTLAB_RESULT_PATH is not set}

json_str() {
    sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1
}

expected=$(json_str expected "$task")
answer=""
if [ -f "$result" ]; then
    answer=$(json_str answer "$result")
fi

if [ -n "$expected" ] && [ "$answer" = "$expected" ]; then
    outcome=success
    correct=1
else
    outcome=failure
    correct=0
fi

{
    echo "task:     ${AGENTLAB_TASK_ID:-?}"
    echo "variant:  ${AGENTLAB_VARIANT_ID:-?}"
    echo "expected: ${expected:-<missing>}"
    echo "answer:   ${answer:-<missing>}"
    echo "verdict:  $outcome"
} >grade_report.txt

printf '{"schema_version":"grade_result_v1","outcome":"%s","metrics":{"correct":%s},"evidence":[{"class":"grader_report","path":"grade_report.txt"}]}\n' \
    "$outcome" "$correct" >grade.json
