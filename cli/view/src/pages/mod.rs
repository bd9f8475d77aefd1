//! One module per page. Each reads what it shows through the engine's read side and
//! the journal's typed reads (fact tables, snapshots, slot lookups): no page folds the
//! whole journal except the report, which is computed off the request path.

pub(crate) mod compare;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod trial;
pub(crate) mod trials;

use crate::html::esc;

/// `<span class=…>` for a classification or status.
pub(crate) fn class_span(c: &str) -> String {
    let k = match c {
        "success" | "completed" | "succeeded" => "ok",
        "running" | "paused" | "interrupted" => "warn",
        "skipped_pruned" | "cancelled" | "none" => "muted",
        _ => "bad",
    };
    format!("<span class=\"{k} cls\">{}</span>", esc(c))
}

/// Milliseconds as a short duration.
pub(crate) fn ms(v: u64) -> String {
    if v >= 60_000 {
        format!("{}m{:02}s", v / 60_000, (v / 1000) % 60)
    } else {
        format!("{:.2}s", v as f64 / 1000.0)
    }
}
