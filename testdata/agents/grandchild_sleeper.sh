#!/bin/sh
# Leaves a background grandchild behind and sleeps past any short timeout.
sleep 30 &
echo $! >"$AGENTLAB_TRIAL_DIR/grandchild.pid"
sleep 30
