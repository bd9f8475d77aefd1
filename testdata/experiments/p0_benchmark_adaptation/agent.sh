#!/bin/sh
# Placeholder agent for describing the p0 shape; the experiment is not meant to run here
# (its grader is a node program that is not bundled).
echo '{"outcome":"failure"}' > "$AGENTLAB_RESULT_PATH"
