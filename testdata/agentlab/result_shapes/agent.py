import json
import os

with open(os.environ["AGENTLAB_TASK_PATH"]) as f:
    task = json.load(f)
result = {
    "schema_version": "agent_result_v1",
    "ids": {
        "run_id": os.environ["AGENTLAB_RUN_ID"],
        "trial_id": os.environ["AGENTLAB_TRIAL_ID"],
        "variant_id": os.environ["AGENTLAB_VARIANT_ID"],
        "task_id": os.environ["AGENTLAB_TASK_ID"],
        "repl_idx": int(os.environ["AGENTLAB_REPL_IDX"]),
    },
    "outcome": task["outcome"],
    "metrics": {
        "latency_ms": 12.5,
        "label": "t-" + task["id"],
        "passed_lint": task["outcome"] == "success",
        "reward": None,
    },
}
with open(os.environ["AGENTLAB_RESULT_PATH"], "w") as f:
    json.dump(result, f)
