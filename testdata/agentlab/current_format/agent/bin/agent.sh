#!/bin/sh
# A shell agent in the original's current contract: reads its trial input, writes a
# trial_output_v1 result to AGENTLAB_RESULT_PATH and hook events (model_call_end with
# token usage, one per turn) to AGENTLAB_TRAJECTORY_PATH. It reports what it saw;
# secrets only as sha256 digests.
input=$(cat "$AGENTLAB_TRIAL_INPUT_PATH")
turns=$(printf '%s' "$input" | tr -d '\n' | sed -e 's/.*"turns": *\([0-9]*\).*/\1/')
i=1
while [ "$i" -le "$turns" ]; do
  printf '{"hooks_schema_version":"hook_events_v1","event_type":"model_call_end","seq":%d,"usage":{"tokens_in":%d,"tokens_out":1}}\n' "$i" "$((i * 10))" >> "$AGENTLAB_TRAJECTORY_PATH"
  printf '{"event_type":"tool_call_end","seq":%d,"usage":{"tokens_in":1000}}\n' "$i" >> "$AGENTLAB_TRAJECTORY_PATH"
  i=$((i + 1))
done
key_sha=$(printf '%s' "$API_KEY" | sha256sum | cut -d' ' -f1)
token_sha=$(sha256sum /run/agent/token 2>/dev/null | cut -d' ' -f1)
printf '{"schema_version":"trial_output_v1","ids":{"run_id":"%s","trial_id":"%s","variant_id":"%s","task_id":"%s","repl_idx":%s},"outcome":"success","metrics":{"resolved":1,"argv":"%s","cwd":"%s","image":"%s","model_env":"%s","key_sha":"%s","token_sha":"%s","path":"%s"}}' \
  "$AGENTLAB_RUN_ID" "$AGENTLAB_TRIAL_ID" "$AGENTLAB_VARIANT_ID" "$AGENTLAB_TASK_ID" "$AGENTLAB_REPL_IDX" \
  "$*" "$(pwd)" "$(cat /marker)" "$MODEL_NAME" "$key_sha" "$token_sha" "$PATH" > "$AGENTLAB_RESULT_PATH"
