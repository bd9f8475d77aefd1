#!/bin/sh
# swe-mini's scripted agent; the variant decides what it does:
#   oracle - applies the task's reference fix (/opt/swe-mini/fixes/<task>.patch) and commits it
#   noop   - changes nothing
#   half   - applies the fix to four of the eight tasks (about half)
# It runs in the task image (python3, git), in the task's git repository (its workspace),
# and never sees the hidden tests: they are mounted only into the grader's container.
set -eu
task=$AGENTLAB_TASK_ID
apply=0
case "$AGENTLAB_VARIANT_ID" in
    oracle) apply=1 ;;
    half) case "$task" in slugify|median|fizzbuzz|flatten) apply=1 ;; esac ;;
esac
if [ "$apply" = 1 ]; then
    git apply "/opt/swe-mini/fixes/$task.patch"
    git -c user.name=agent -c user.email=agent@example.invalid commit -q -a -m "Fix $task"
fi
if PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s tests -q >/dev/null 2>&1; then public=1; else public=0; fi
printf '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"applied_fix":%s,"public_tests_pass":%s}}\n' \
    "$apply" "$public" > "$AGENTLAB_RESULT_PATH"
