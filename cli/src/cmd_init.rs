//! `labj init [DIR]`: a small experiment that runs as it is (a POSIX sh agent with two
//! variants, a grader, eight tasks), to be edited into a real one.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::ExitCode;

const EXPERIMENT: &str = r#"# A labj experiment. Run it:      labj run experiment.yaml
# Check it without running:        labj describe experiment.yaml
# Then read the results:           labj report <handle>   (`run` prints it first; `labj runs` lists them)
# Runs are kept in .lab/runs beside this file, whichever folder you run labj from.
version: "0.5"
experiment:
  id: my-eval
  name: My evaluation
dataset:
  path: tasks.jsonl              # one JSON task per line, relative to this file
design:
  replications: 2                # every (variant, task) runs twice
  random_seed: 1
  max_concurrency: 4
  policies:
    scheduling: paired_interleaved   # baseline and variant trials of a task run side by side
    state: isolate_per_trial
    retry:
      max_attempts: 1
baseline:                        # the reference every variant is compared with
  variant_id: baseline
  bindings: {careful: false}     # what the agent reads at $AGENTLAB_BINDINGS_PATH
variant_plan:
  - variant_id: careful
    bindings: {careful: true}
runtime:
  agent:
    command: ["./agent.sh"]      # run in a fresh workspace per trial
    timeout_ms: 30000
benchmark:
  grader:
    command: ["./grader.sh"]     # runs after the agent, writes grade.json
primary_metric: correct
"#;

const AGENT: &str = r#"#!/bin/sh
# The agent under test. labj gives it the task ($AGENTLAB_TASK_PATH), the variant's
# bindings ($AGENTLAB_BINDINGS_PATH) and where to write its agent_result_v1
# ($AGENTLAB_RESULT_PATH). Replace the arithmetic with a call to your agent.
set -eu
num() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\(-\{0,1\}[0-9][0-9]*\).*/\1/p" "$AGENTLAB_TASK_PATH" | head -n 1; }
a=$(num a)
b=$(num b)
answer=$((a * b))
# The baseline is sloppy with large products; the careful variant is not.
if ! grep -q '"careful"[[:space:]]*:[[:space:]]*true' "$AGENTLAB_BINDINGS_PATH" && [ "$a" -ge 7 ]; then
    answer=$((answer + 1))
fi
echo "computed $a*$b = $answer" >&2
printf '{"schema_version":"agent_result_v1","outcome":"success","answer":"%s","metrics":{}}\n' "$answer" >"$AGENTLAB_RESULT_PATH"
"#;

const GRADER: &str = r#"#!/bin/sh
# The grader: runs after the agent exited, in its own directory, on fresh copies of the
# task and of the agent's result; writes grade.json (grade_result_v1). The agent never
# sees or writes it.
set -eu
str() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }
expected=$(str expected "$AGENTLAB_TASK_PATH")
answer=$(str answer "$AGENTLAB_RESULT_PATH")
if [ "$answer" = "$expected" ]; then outcome=success; correct=1; else outcome=failure; correct=0; fi
printf '{"schema_version":"grade_result_v1","outcome":"%s","metrics":{"correct":%s}}\n' "$outcome" "$correct" >grade.json
"#;

fn tasks() -> String {
    let mut s = String::new();
    for (i, (a, b)) in [
        (2, 3),
        (4, 5),
        (6, 6),
        (7, 8),
        (9, 9),
        (12, 11),
        (3, 14),
        (8, 2),
    ]
    .iter()
    .enumerate()
    {
        s.push_str(&format!(
            "{{\"id\":\"mul_{:02}\",\"a\":{a},\"b\":{b},\"expected\":\"{}\"}}\n",
            i + 1,
            a * b
        ));
    }
    s
}

pub fn init(dir: &Path) -> Result<ExitCode> {
    let exp = dir.join("experiment.yaml");
    if exp.exists() {
        bail!(
            "{} already exists; labj init does not overwrite an experiment (choose another directory)",
            exp.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files: [(&str, &str, bool); 4] = [
        ("experiment.yaml", EXPERIMENT, false),
        ("agent.sh", AGENT, true),
        ("grader.sh", GRADER, true),
        ("tasks.jsonl", &tasks(), false),
    ];
    for (name, _, _) in &files {
        let p = dir.join(name);
        if p.exists() {
            bail!(
                "{} already exists; labj init writes only into a directory without experiment.yaml, agent.sh, grader.sh, tasks.jsonl",
                p.display()
            );
        }
    }
    for (name, text, exec) in files {
        let p = dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
        if exec {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("cannot make {} executable", p.display()))?;
        }
    }
    // The project marker: runs of this experiment go to <dir>/.lab/runs, and every
    // command run in <dir> or below finds them there (as git finds .git).
    let lab = dir.join(engine::run::LAB_DIR);
    std::fs::create_dir_all(&lab).with_context(|| format!("cannot create {}", lab.display()))?;
    let shown = dir.join("experiment.yaml");
    println!(
        "created {} (agent.sh, grader.sh, tasks.jsonl beside it; runs go to {})",
        shown.display(),
        lab.join("runs").display()
    );
    let here = dir.as_os_str().is_empty() || dir == Path::new(".");
    if here {
        println!("next: labj run experiment.yaml");
    } else {
        println!(
            "next: cd {} && labj run experiment.yaml",
            crate::render::shell_word(&dir.to_string_lossy())
        );
    }
    Ok(ExitCode::SUCCESS)
}
