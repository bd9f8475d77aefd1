//! `labj view RUN --export DIR`: the same pages as static files in one flat directory
//! (`index.html` the run, `report.html`, `trials-N.html`, `trial-SLOT.html`,
//! `compare-A-B.html`, `blob-DIGEST.txt`), with no script and nothing fetched: it can be
//! zipped and opened anywhere. Time travel and filtering need the server.

use crate::pages;
use crate::site::{Site, ViewError};
use journal::TrialQuery;
use std::path::Path;

/// What an export wrote.
#[derive(Debug, Default)]
pub struct ExportSummary {
    /// HTML pages written (run, report, trial lists, one per trial, comparisons).
    pub pages: u64,
    /// Evidence blobs copied as `blob-DIGEST.txt` (each digest once).
    pub blobs: u64,
    /// Bytes written, pages and blobs together.
    pub bytes: u64,
}

fn write(out: &Path, name: &str, body: &[u8], s: &mut ExportSummary) -> Result<(), ViewError> {
    let path = out.join(name);
    std::fs::write(&path, body)
        .map_err(|e| ViewError::Other(format!("cannot write {}: {e}", path.display())))?;
    s.bytes += body.len() as u64;
    Ok(())
}

/// Writes the static export of the run in `run_dir` into `out`, which must be new or
/// empty (an export never overwrites). A blob that cannot be read is left out and its
/// trial page says so; any other failure stops the export with the file it names.
pub fn export(run_dir: &Path, out: &Path) -> Result<ExportSummary, ViewError> {
    let name = run_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            ViewError::BadRequest(format!("{} names no run directory", run_dir.display()))
        })?
        .to_string();
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(ViewError::BadRequest(format!(
                    "{} exists and is not empty: export into a new or empty directory",
                    out.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(out)
            .map_err(|e| ViewError::Other(format!("cannot create {}: {e}", out.display())))?,
        Err(e) => {
            return Err(ViewError::Other(format!(
                "cannot read {}: {e}",
                out.display()
            )))
        }
    }
    let site = Site::new(
        run_dir.parent().map(Path::to_path_buf).unwrap_or_default(),
        Some(run_dir.to_path_buf()),
    );
    let run = site.open_run(&name, true)?;
    let mut s = ExportSummary::default();
    let page = |file: &str, p: crate::html::Page, s: &mut ExportSummary| {
        s.pages += 1;
        write(out, file, p.document(false).as_bytes(), s)
    };
    page(
        "index.html",
        pages::run::page(&site, &run, &Default::default())?,
        &mut s,
    )?;
    page("report.html", pages::report::page(&site, &run)?, &mut s)?;
    let (first, n_pages) = pages::trials::export_page(&run, 0)?;
    page("trials-1.html", first, &mut s)?;
    for i in 1..n_pages {
        let (p, _) = pages::trials::export_page(&run, i)?;
        page(&format!("trials-{}.html", i + 1), p, &mut s)?;
    }
    // Every committed trial, in slot order, a page of the fact table at a time.
    let mut offset = 0;
    loop {
        let rows = run
            .journal
            .fact_trials_page(&TrialQuery {
                committed_before: u64::MAX,
                offset,
                limit: 1000,
                ..Default::default()
            })?
            .rows;
        if rows.is_empty() {
            break;
        }
        offset += rows.len() as u64;
        for r in rows {
            let slot = r.schedule_idx;
            page(
                &format!("trial-{slot}.html"),
                pages::trial::page(&run, &slot)?,
                &mut s,
            )?;
            let d = pages::trial::load(&run, slot)?;
            for digest in pages::trial::digests(&d) {
                let file = format!("blob-{digest}.txt");
                if out.join(&file).exists() {
                    continue;
                }
                match pages::trial::read_blob(&run, &digest, usize::MAX) {
                    Ok(b) => {
                        write(out, &file, &b.head, &mut s)?;
                        s.blobs += 1;
                    }
                    // A remote run's blob that never came home: the page says so.
                    Err(e) => tracing::warn!(digest = %digest, "blob not exported: {e}"),
                }
            }
        }
    }
    for (a, b) in pages::report::flipped_slots(&site, &run) {
        page(
            &format!("compare-{a}-{b}.html"),
            pages::compare::render(&run, a, b)?,
            &mut s,
        )?;
    }
    Ok(s)
}
