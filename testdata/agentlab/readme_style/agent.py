"""The original runner's "Minimal Runtime Program": reads task, bindings, dependencies
and policy from the AGENTLAB_* paths, writes agent_result_v1 to AGENTLAB_RESULT_PATH."""
import json
import os

task = json.load(open(os.environ["AGENTLAB_TASK_PATH"], "r", encoding="utf-8"))
bindings = json.load(open(os.environ["AGENTLAB_BINDINGS_PATH"], "r", encoding="utf-8"))
deps = json.load(open(os.environ["AGENTLAB_DEPENDENCIES_PATH"], "r", encoding="utf-8"))
policy = json.load(open(os.environ["AGENTLAB_POLICY_PATH"], "r", encoding="utf-8"))

prompt = task["input"]["prompt"]
result = {
    "schema_version": "agent_result_v1",
    "ids": {
        "run_id": os.environ["AGENTLAB_RUN_ID"],
        "trial_id": os.environ["AGENTLAB_TRIAL_ID"],
        "variant_id": os.environ["AGENTLAB_VARIANT_ID"],
        "task_id": os.environ["AGENTLAB_TASK_ID"],
        "repl_idx": int(os.environ["AGENTLAB_REPL_IDX"]),
    },
    "outcome": "success",
    "answer": {"message": "done"},
    "metrics": {
        "prompt_words": len(prompt.split()),
        "read_task_id": task["task_id"],
        "model": bindings["model"],
        "services": len(deps["services"]),
        "timeout_ms": policy["timeout_ms"],
    },
}

with open(os.environ["AGENTLAB_RESULT_PATH"], "w", encoding="utf-8") as f:
    json.dump(result, f)
print(f"{os.environ['AGENTLAB_TASK_ID']} ({task['task_id']}): {prompt}")
