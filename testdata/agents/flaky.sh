#!/bin/sh
# Reports outcome error on attempt 1 and success afterwards.
if [ "$AGENTLAB_ATTEMPT" = 1 ]; then
  printf '{"outcome":"error","error":"transient"}' >"$AGENTLAB_RESULT_PATH"
else
  printf '{"outcome":"success","metrics":{"attempt":%s}}' "$AGENTLAB_ATTEMPT" >"$AGENTLAB_RESULT_PATH"
fi
