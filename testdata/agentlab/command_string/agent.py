#!/usr/bin/env python3
"""Records its argv; the task and result paths come from the io flag forms."""
import json
import os
import sys

argv = sys.argv[1:]
task_path = argv[0].removeprefix("--task=")
result_path = argv[1].removeprefix("result:")
with open(task_path) as f:
    task = json.load(f)
with open(result_path, "w") as f:
    json.dump({
        "outcome": "success",
        "metrics": {
            "argv": " ".join(a.replace(os.environ["AGENTLAB_TRIAL_DIR"], "$TRIAL") for a in argv),
            "read_prompt": task["prompt"],
            "argc": len(argv),
        },
    }, f)
