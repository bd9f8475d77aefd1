//! Requests to pages: the viewer's one router, above the site (runs, caches) and the
//! pages it renders.

use crate::html::{dec, Page};
use crate::pages;
use crate::site::{parse_query, Response, Site, ViewError};
use read::report;

/// Answers one request for `path` with the raw query string.
pub(crate) fn route(site: &Site, path: &str, query: &str) -> Response {
    let q = parse_query(query);
    let fragment = q.get("fragment").is_some_and(|v| v == "1");
    let segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(dec).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if segs == ["view.js"] {
        return Response {
            status: 200,
            content_type: "text/javascript; charset=utf-8",
            body: crate::html::script().as_bytes().to_vec(),
            headers: Vec::new(),
        };
    }
    let page: Result<Result<Page, Response>, ViewError> = match segs.as_slice() {
        [] => pages::runs::page(site).map(Ok),
        ["runs", id] => site
            .open_run(id, false)
            .and_then(|r| pages::run::page(site, &r, &q))
            .map(Ok),
        ["runs", id, "trials"] => site
            .open_run(id, false)
            .and_then(|r| pages::trials::page(&r, &q))
            .map(Ok),
        ["runs", id, "trials", n] => site
            .open_run(id, false)
            .and_then(|r| pages::trial::page(&r, &slot_arg(n)?))
            .map(Ok),
        ["runs", id, "trials", n, "blob", digest] => site
            .open_run(id, false)
            .and_then(|r| pages::trial::blob(&r, slot_arg(n)?, digest))
            .map(Err),
        ["runs", id, "compare"] => site
            .open_run(id, false)
            .and_then(|r| pages::compare::page(&r, &q))
            .map(Ok),
        ["runs", id, "report"] => site
            .open_run(id, false)
            .and_then(|r| pages::report::page(site, &r))
            .map(Ok),
        ["runs", id, "inspect"] => site
            .open_run(id, false)
            .and_then(|r| pages::run::inspect_page(&r))
            .map(Ok),
        _ => Err(ViewError::NotFound(format!("no page at {path}"))),
    };
    match page {
        Ok(Ok(p)) if fragment => Response::html(200, p.main()),
        Ok(Ok(p)) => Response::html(200, server_document(&p)),
        Ok(Err(raw)) => raw,
        Err(e) => {
            let p = Page {
                title: "error".into(),
                crumbs: vec![("runs".into(), "/".into())],
                body: format!(
                    "<h1>{}</h1><p id=\"error\">{}</p>",
                    e.status(),
                    crate::html::esc(&e.to_string())
                ),
                live: false,
            };
            Response::html(e.status(), server_document(&p))
        }
    }
}

/// A page as the server sends it: its script from `/view.js` (same origin; the
/// content security policy allows no inline script).
fn server_document(p: &Page) -> String {
    p.document(false)
        .replace("</body>", "<script src=\"/view.js\"></script></body>")
}

fn slot_arg(n: &str) -> Result<u64, ViewError> {
    report::parse_trial_id(n)
        .ok()
        .and_then(|id| id.strip_prefix("trial_").and_then(|d| d.parse().ok()))
        .ok_or_else(|| ViewError::BadRequest(format!("`{n}` is not a trial number")))
}
