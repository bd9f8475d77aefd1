"""Reports what the task boundary row put in its workspace and policy."""
import json
import os
import subprocess

policy = json.load(open(os.environ["AGENTLAB_POLICY_PATH"], encoding="utf-8"))
metrics = {
    "policy_timeout_ms": policy["timeout_ms"],
    "env_timeout_ms": int(os.environ["AGENTLAB_TIMEOUT_MS"]),
    "max_steps": policy.get("limits", {}).get("max_steps"),
}
if os.path.exists("notes/readme.txt"):
    metrics["notes"] = open("notes/readme.txt", encoding="utf-8").read()
if os.path.exists("run.sh"):
    metrics["run_sh_executable"] = os.access("run.sh", os.X_OK)
    metrics["run_sh_says"] = subprocess.run(
        ["./run.sh", "now"], capture_output=True, text=True, check=True
    ).stdout.strip()
if os.path.exists("data.bin"):
    metrics["data_hex"] = open("data.bin", "rb").read().hex()
with open(os.environ["AGENTLAB_RESULT_PATH"], "w", encoding="utf-8") as f:
    json.dump({"outcome": "success", "metrics": metrics}, f)
