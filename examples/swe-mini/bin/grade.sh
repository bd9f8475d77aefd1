#!/bin/sh
# swe-mini's grader: runs the task's hidden tests (/agentlab/hidden, mounted only here)
# against the copy of the agent's final workspace, inside the task image.
cd /agentlab/workspace || exit 2
if PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/agentlab/workspace \
    python3 -m unittest discover -s /agentlab/hidden -t /agentlab/hidden \
    > /agentlab/grader/hidden_tests.log 2>&1; then
    outcome=success; resolved=1
else
    outcome=failure; resolved=0
fi
printf '{"schema_version":"grade_result_v1","outcome":"%s","metrics":{"resolved":%s},"evidence":[{"class":"hidden_tests_log","path":"hidden_tests.log"}]}\n' \
    "$outcome" "$resolved" > "$AGENTLAB_GRADE_PATH"
