import json
import os

with open(os.environ["AGENTLAB_TASK_PATH"]) as f:
    task = json.load(f)
answer = "" if task["question"] == "skip" else str(eval(task["question"], {}))
with open(os.environ["AGENTLAB_RESULT_PATH"], "w") as f:
    json.dump({"schema_version": "agent_result_v1", "outcome": "success",
               "answer": answer, "metrics": {"chars": len(answer)}}, f)
