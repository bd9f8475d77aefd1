"""Misbehaves on its first attempt as its task says, then answers. The trial directory
(the parent of the task document) outlives attempts, so a marker there counts them."""
import json
import os
import sys

task = json.load(open(os.environ["AGENTLAB_TASK_PATH"], encoding="utf-8"))
marker = os.path.join(os.path.dirname(os.environ["AGENTLAB_TASK_PATH"]), "attempted")
first = not os.path.exists(marker)
open(marker, "a").close()
if first and task["id"] == "crash_once":
    sys.exit(3)
if first and task["id"] == "no_result_once":
    sys.exit(0)
outcome = "failure" if task["id"] == "wrong_answer" else "success"
with open(os.environ["AGENTLAB_RESULT_PATH"], "w", encoding="utf-8") as f:
    json.dump({"outcome": outcome, "metrics": {"first_attempt": first}}, f)
