#!/bin/sh
# Test grader; GRADE_MODE (from the agent env) picks what it writes to AGENTLAB_GRADE_PATH.
case "${GRADE_MODE:-success}" in
  success)
    echo "all tests passed" >grader_report.txt
    printf '{"schema_version":"grade_result_v1","outcome":"success","metrics":{"score":1,"graded":1},"evidence":[{"class":"grader_report","path":"grader_report.txt"}]}' >"$AGENTLAB_GRADE_PATH" ;;
  failure)
    printf '{"schema_version":"grade_result_v1","outcome":"failure","metrics":{"score":0}}' >"$AGENTLAB_GRADE_PATH" ;;
  malformed)
    printf '{"schema_version":"grade_result_v1","outcome":' >"$AGENTLAB_GRADE_PATH" ;;
  exit)
    exit 3 ;;
esac
