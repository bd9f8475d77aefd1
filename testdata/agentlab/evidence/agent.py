"""Edits its workspace and answers; writes a trajectory only when its task says so."""
import json
import os

task = json.load(open(os.environ["AGENTLAB_TASK_PATH"], encoding="utf-8"))
with open("answer.txt", "w", encoding="utf-8") as f:
    f.write(task["id"] + "\n")
if task["trajectory"]:
    with open(os.environ["AGENTLAB_TRAJECTORY_PATH"], "a", encoding="utf-8") as f:
        f.write(json.dumps({"event_type": "agent_step", "step": 1}) + "\n")
with open(os.environ["AGENTLAB_RESULT_PATH"], "w", encoding="utf-8") as f:
    json.dump({"outcome": "success", "metrics": {"steps": 1}}, f)
