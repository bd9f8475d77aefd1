//! Helpers of the `e2e_run*` test files: agents that record their own lifetime, the
//! most of them alive at once, and `labj run` wrappers.

use super::*;

/// One agent's recorded lifetime.
#[derive(Debug, Clone)]
pub struct Alive {
    pub trial: String,
    pub variant: String,
    pub start: u128,
    pub end: u128,
}

/// A sh agent that records its lifetime under `<scratch>/rec/`, sleeps `sleep`, and
/// then runs `tail` (which must write the result).
pub fn recording_agent(s: &Scratch, sleep: &str, tail: &str) -> PathBuf {
    let rec = s.dir().join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    s.script(
        "agent.sh",
        &format!(
            r#"rec="{rec}/$AGENTLAB_TRIAL_ID"
echo "start $(date +%s%N) $AGENTLAB_VARIANT_ID" >>"$rec"
sleep {sleep}
echo "end $(date +%s%N) $AGENTLAB_VARIANT_ID" >>"$rec"
{tail}"#,
            rec = rec.display()
        ),
    )
}

/// Every agent's recorded interval; panics on a trial without both markers.
pub fn records(s: &Scratch) -> Vec<Alive> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(s.dir().join("rec")).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let (mut start, mut end, mut variant) = (None, None, String::new());
        for line in text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let ns: u128 = parts[1].parse().expect("date +%s%N gives nanoseconds");
            variant = parts.get(2).unwrap_or(&"").to_string();
            match parts[0] {
                "start" => start = Some(ns),
                "end" => end = Some(ns),
                other => panic!("unexpected record {other:?}"),
            }
        }
        out.push(Alive {
            trial: e.file_name().to_string_lossy().into_owned(),
            variant,
            start: start.unwrap_or_else(|| panic!("{:?}: no start", e.path())),
            end: end.unwrap_or_else(|| panic!("{:?}: no end", e.path())),
        });
    }
    out.sort_by(|a, b| a.trial.cmp(&b.trial));
    out
}

/// Most agents alive at one instant (touching intervals do not overlap).
pub fn max_alive<'a>(intervals: impl IntoIterator<Item = &'a Alive>) -> usize {
    let spans: Vec<(u128, u128)> = intervals.into_iter().map(|a| (a.start, a.end)).collect();
    max_overlap(&spans)
}

pub fn overlaps(a: &Alive, b: &Alive) -> bool {
    a.start < b.end && b.start < a.end
}

/// Rewrite the scratch experiment YAML (for settings `Scratch::experiment` fixes).
pub fn edit_experiment(s: &Scratch, from: &str, to: &str) {
    let p = s.dir().join("experiment.yaml");
    let yaml = std::fs::read_to_string(&p).unwrap();
    assert!(yaml.contains(from), "{from:?} not in experiment:\n{yaml}");
    std::fs::write(&p, yaml.replacen(from, to, 1)).unwrap();
}

pub fn labj_env(s: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Output {
    s.labj_cmd(args)
        .envs(env.iter().copied())
        .output()
        .expect("run labj")
}

/// `labj run --json <exp> [extra]`, asserting exit 0; returns the run directory.
pub fn run_ok(s: &Scratch, exp: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec!["run", "--json", exp.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = s.labj(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    run_dir_of(&out)
}

pub fn run_dir_of(out: &Output) -> PathBuf {
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("labj run --json printed no JSON ({e}): {}", text(out)));
    PathBuf::from(v["run_dir"].as_str().expect("run_dir"))
}

/// The payload of an event line from `labj events --json` (whatever key holds it).
pub fn payload(e: &Value) -> &Value {
    e.get("payload").unwrap_or(e)
}

/// `fact_trials` rows as (schedule_idx, classification, attempts).
pub fn trial_facts(run_dir: &Path) -> Vec<(String, String, String)> {
    fact_table(run_dir, "fact_trials")
        .into_iter()
        .map(|r| (r[0].clone(), r[6].clone(), r[9].clone()))
        .collect()
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}
