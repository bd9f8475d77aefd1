"""A plain harness: reads the task document from --input, writes its result to
--output, knows nothing of the runner besides those two flags."""
import argparse
import json
import os

p = argparse.ArgumentParser()
p.add_argument("--input", required=True)
p.add_argument("--output", required=True)
p.add_argument("--trial", required=True)
p.add_argument("--trial-input", required=True)
args = p.parse_args()

with open(args.input) as f:
    task = json.load(f)
with open(args.trial_input) as f:
    trial_input = json.load(f)

result = {
    "outcome": "success",
    "answer": task.get("prompt", ""),
    "metrics": {
        "read_prompt": task.get("prompt"),
        "input_is_task_path": args.input == os.environ["AGENTLAB_TASK_PATH"],
        "output_is_result_path": args.output == os.environ["AGENTLAB_RESULT_PATH"],
        "trial_arg": args.trial,
        "trial_input_task_id": trial_input["ids"]["task_id"],
        "workspace_notes": os.path.exists("notes.txt"),
        "task_image": os.environ.get("AGENTLAB_TASK_IMAGE"),
    },
}
with open(args.output, "w") as f:
    json.dump(result, f)
