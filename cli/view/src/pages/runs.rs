//! Runs: every run under the runs directory with its status (crashed included),
//! progress, experiment, created and duration.

use crate::html::{a, esc, table, Page};
use crate::site::{Links, Site, ViewError};

pub(crate) fn page(site: &Site) -> Result<Page, ViewError> {
    let dir = match site.only() {
        Some(only) => only.parent().map(|p| p.to_path_buf()).unwrap_or_default(),
        None => site.runs_dir().to_path_buf(),
    };
    let mut runs = read::report::runs::list(&dir)
        .map_err(|e| ViewError::Other(format!("cannot list {}: {e}", dir.display())))?;
    if let Some(only) = site.only() {
        runs.retain(|r| r.dir == only);
    }
    let live = runs
        .iter()
        .any(|r| r.live || r.status == "running" || r.status == "paused");
    let rows: Vec<Vec<String>> = runs
        .iter()
        .rev()
        .map(|r| {
            let name = r
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let links = Links {
                export: false,
                run_id: name,
            };
            let frac = if r.total_slots > 0 {
                r.committed as f64 / r.total_slots as f64
            } else {
                0.0
            };
            vec![
                a(&links.run(None), &r.run_id),
                esc(&r.experiment_id),
                format!(
                    "{}{}",
                    super::class_span(&r.status),
                    r.error
                        .as_deref()
                        .map(|e| format!(" <span class=\"muted\">{}</span>", esc(e)))
                        .unwrap_or_default()
                ),
                format!(
                    "<span class=\"barbg\"><span class=\"bar\" style=\"width:{:.0}px\"></span></span> {}/{}",
                    frac * 160.0,
                    r.committed,
                    r.total_slots
                ),
                esc(&r.created),
                r.duration_secs
                    .map(|s| super::ms((s * 1000.0) as u64))
                    .unwrap_or_else(|| "–".into()),
            ]
        })
        .collect();
    let body = format!(
        "<h1>Runs</h1><p class=\"muted\">{} run(s) under {}</p>{}",
        runs.len(),
        esc(&dir.display().to_string()),
        table(
            "runs",
            &[
                "run",
                "experiment",
                "status",
                "progress",
                "created",
                "duration"
            ],
            &rows
        )
    );
    Ok(Page {
        title: "runs".into(),
        crumbs: vec![("runs".into(), "/".into())],
        body,
        live,
    })
}
