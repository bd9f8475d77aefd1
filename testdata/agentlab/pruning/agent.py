"""Answers wrongly (variant `wrong`) or exits non-zero without an answer (`crashy`)."""
import json
import os
import sys

bindings = json.load(open(os.environ["AGENTLAB_BINDINGS_PATH"], encoding="utf-8"))
if bindings["mode"] == "crash":
    print("crashing", file=sys.stderr)
    sys.exit(1)
with open(os.environ["AGENTLAB_RESULT_PATH"], "w", encoding="utf-8") as f:
    json.dump({"outcome": "failure", "metrics": {"score": 0}}, f)
