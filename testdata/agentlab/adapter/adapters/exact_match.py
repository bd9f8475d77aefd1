"""An exact-match benchmark adapter written to the original runner's adapter contract."""
import json
import os
from pathlib import Path

run_dir = Path(os.environ["AGENTLAB_RUN_DIR"])
manifest = json.loads(Path(os.environ["AGENTLAB_ADAPTER_MANIFEST_PATH"]).read_text())
bench = {k: manifest["benchmark"][k] for k in ("name", "split")}
bench["adapter_id"] = manifest["adapter_id"]

predictions, scores = [], []
for line in Path(os.environ["AGENTLAB_EVIDENCE_RECORDS_PATH"]).read_text().splitlines():
    record = json.loads(line)
    ids = record["ids"]
    task = json.loads((run_dir / record["paths"]["trial_input"]).read_text())["task"]
    result = json.loads((run_dir / record["paths"]["trial_output"]).read_text())
    answer = result.get("answer", "")
    predictions.append({"schema_version": "benchmark_prediction_record_v1", "ids": ids,
                        "benchmark": bench, "prediction": {"kind": "text", "value": answer}})
    if answer == "":
        verdict = "missing"
    else:
        verdict = "pass" if answer == task["expected"] else "fail"
    scores.append({"schema_version": "benchmark_score_record_v1", "ids": ids,
                   "benchmark": bench, "verdict": verdict,
                   "primary_metric_name": "resolved",
                   "primary_metric_value": 1.0 if verdict == "pass" else 0.0,
                   "metrics": {"expected": task["expected"], "answered": answer != ""},
                   "evaluator": manifest["evaluator"]})

for path, rows in ((os.environ["AGENTLAB_PREDICTIONS_PATH"], predictions),
                   (os.environ["AGENTLAB_SCORES_PATH"], scores)):
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
