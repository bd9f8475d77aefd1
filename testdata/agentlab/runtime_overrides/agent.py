"""Reports the runtime its variant was given: the command line (which io flags were
appended, trial paths abbreviated), env, policy and dependencies."""
import json
import os
import sys

trial = os.path.dirname(os.environ["AGENTLAB_TASK_PATH"])
argv = " ".join(a.replace(trial, "$TRIAL") for a in sys.argv[1:])
policy = json.load(open(os.environ["AGENTLAB_POLICY_PATH"], encoding="utf-8"))
deps = json.load(open(os.environ["AGENTLAB_DEPENDENCIES_PATH"], encoding="utf-8"))
result = {
    "schema_version": "agent_result_v1",
    "outcome": "success",
    "metrics": {
        "agent": os.environ.get("AGENT_NAME", "main"),
        "argv": argv,
        "greeting": os.environ.get("GREETING"),
        "extra": os.environ.get("EXTRA"),
        "policy_timeout_ms": policy["timeout_ms"],
        "env_timeout_ms": int(os.environ["AGENTLAB_TIMEOUT_MS"]),
        "services": ",".join(s["id"] for s in deps["services"]),
    },
}
with open(os.environ["AGENTLAB_RESULT_PATH"], "w", encoding="utf-8") as f:
    json.dump(result, f)
