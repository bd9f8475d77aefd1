//! Compare: two trials side by side, usually two variants on the same (task,
//! replication), reached from the report's flipped pairs: `?a=SLOT&b=SLOT`, or
//! `?base=V&variant=W&task=T&repl=R` (slots looked up in the fact table).

use crate::html::{a, esc, Page};
use crate::site::{RunCtx, ViewError};
use std::collections::BTreeMap;
use std::fmt::Write;

fn slot(
    run: &RunCtx,
    q: &BTreeMap<String, String>,
    key: &str,
    variant_key: &str,
) -> Result<u64, ViewError> {
    if let Some(s) = q.get(key).filter(|s| !s.is_empty()) {
        return s
            .parse()
            .map_err(|_| ViewError::BadRequest(format!("{key}=`{s}` is not a trial number")));
    }
    let (Some(v), Some(t), Some(r)) = (q.get(variant_key), q.get("task"), q.get("repl")) else {
        return Err(ViewError::BadRequest(format!(
            "compare needs {key}=SLOT, or {variant_key}=VARIANT with task=TASK and repl=N"
        )));
    };
    let r: u32 = r
        .parse()
        .map_err(|_| ViewError::BadRequest(format!("repl=`{r}` is not a replication index")))?;
    run.journal.slot_of(v, t, r, u64::MAX)?.ok_or_else(|| {
        ViewError::NotFound(format!(
            "no committed trial of variant `{v}` on task `{t}` replication {r}"
        ))
    })
}

pub(crate) fn page(run: &RunCtx, q: &BTreeMap<String, String>) -> Result<Page, ViewError> {
    let sa = slot(run, q, "a", "base")?;
    let sb = slot(run, q, "b", "variant")?;
    render(run, sa, sb)
}

pub(crate) fn render(run: &RunCtx, sa: u64, sb: u64) -> Result<Page, ViewError> {
    let da = super::trial::load(run, sa)?;
    let db = super::trial::load(run, sb)?;
    let links = &run.links;
    let label = |d: &super::trial::TrialData| {
        d.row
            .as_ref()
            .map(|r| format!("{} · {} · repl {}", r.variant_id, r.task_id, r.repl_idx))
            .unwrap_or_else(|| journal::trial_id_of(d.slot))
    };
    let mut b = String::from("<h1>Compare</h1>");
    if let (Some(x), Some(y)) = (&da.row, &db.row) {
        if x.task_id != y.task_id || x.repl_idx != y.repl_idx {
            b.push_str(
                "<p class=\"warn\">These trials are not on the same (task, replication).</p>",
            );
        }
    }
    let _ = write!(
        b,
        "<div class=\"cols\"><div id=\"left\"><h2>{} — {}</h2>{}</div><div id=\"right\"><h2>{} — {}</h2>{}</div></div>",
        a(&links.trial(sa), &journal::trial_id_of(sa)),
        esc(&label(&da)),
        super::trial::body(run, &da, "l-", false),
        a(&links.trial(sb), &journal::trial_id_of(sb)),
        esc(&label(&db)),
        super::trial::body(run, &db, "r-", false),
    );
    let mut crumbs = vec![];
    if !links.export {
        crumbs.push(("runs".to_string(), links.runs()));
    }
    crumbs.push((run.id.clone(), links.run(None)));
    crumbs.push(("report".into(), links.report()));
    crumbs.push(("compare".into(), links.compare(sa, sb)));
    Ok(Page {
        title: format!("compare {sa} and {sb}"),
        crumbs,
        body: b,
        live: false,
    })
}
