//! `labj runs`: the runs under the runs directory.

use crate::progress::human_duration;
use crate::runs_dir::RunsDir;
use anyhow::{Context, Result};
use std::process::ExitCode;

pub fn runs(rd: &RunsDir, json: bool) -> Result<ExitCode> {
    let runs_dir = &rd.dir;
    let list = read::report::runs::list(runs_dir)
        .with_context(|| format!("cannot list runs under {}", runs_dir.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        println!("{}", rd.nothing_here());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<6}  {:<36}  {:<16} {:<11} {:>13}  {:<19}  {:>8}",
        "handle", "run id", "experiment", "status", "progress", "created (UTC)", "duration"
    );
    for r in &list {
        let progress = format!("{}/{}", r.committed, r.total_slots);
        println!(
            "{:<6}  {:<36}  {:<16} {:<11} {:>13}  {:<19}  {:>8}",
            r.handle,
            r.run_id,
            r.experiment_id,
            r.status,
            progress,
            r.created.get(..19).unwrap_or(&r.created).replace('T', " "),
            r.duration_secs
                .map(human_duration)
                .unwrap_or_else(|| "-".into()),
        );
        if let Some(e) = &r.error {
            println!("    {e}");
        }
    }
    println!(
        "(runs under {}: {}; name a run by its handle, e.g. `labj status {}`)",
        runs_dir.display(),
        rd.how(),
        list.last().map(|r| r.handle.as_str()).unwrap_or("<handle>")
    );
    let crashed = list.iter().filter(|r| r.status == "crashed").count();
    if crashed > 0 {
        println!(
            "{crashed} crashed run(s): no labj process drives them; `labj continue <run>` picks them up"
        );
    }
    Ok(ExitCode::SUCCESS)
}
