#!/bin/sh
# Succeeds at once with one metric.
printf '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"score":0.75,"steps":3}}\n' >"$AGENTLAB_RESULT_PATH"
