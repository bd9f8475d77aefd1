#!/bin/sh
# Records its AGENTLAB_* environment, argv and cwd in the trial dir, then succeeds.
env | grep '^AGENTLAB_' >"$AGENTLAB_TRIAL_DIR/env.txt"
printf '%s\n' "$@" >"$AGENTLAB_TRIAL_DIR/args.txt"
pwd >"$AGENTLAB_TRIAL_DIR/cwd.txt"
printf '{"outcome":"success"}' >"$AGENTLAB_RESULT_PATH"
