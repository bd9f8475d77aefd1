#!/bin/sh
printf '%s' "{\"outcome\":\"success\"}" > "$AGENTLAB_RESULT_PATH"
