#!/bin/sh
# Appends a nanosecond timestamp every ~50 ms for TICKS ticks (default 16), then succeeds.
n=0
while [ "$n" -lt "${TICKS:-16}" ]; do
  date +%s%N >>"$AGENTLAB_TRIAL_DIR/ticks.txt"
  sleep 0.05
  n=$((n + 1))
done
printf '{"outcome":"success"}' >"$AGENTLAB_RESULT_PATH"
