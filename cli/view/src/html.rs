//! HTML building blocks: escaping (every string that came from a run goes through
//! [`esc`]), the page frame with its inline style and script, and small tables.
//! Nothing here fetches anything: the style and the script are inline.

use std::fmt::Write;

/// Escapes text for an HTML text node or a double-quoted attribute.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query or path component.
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes a percent-encoded component (`+` is a space); invalid escapes stay as they are.
pub(crate) fn dec(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A page: its title, navigation trail and body. `live` pages poll their own address
/// and replace `<main>` when it changed (a running run); others never poll.
pub(crate) struct Page {
    pub title: String,
    pub crumbs: Vec<(String, String)>,
    pub body: String,
    pub live: bool,
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:8px 16px}header a{color:#9cc3ff;text-decoration:none}
main{padding:12px 16px;max-width:1400px}
h1{font-size:20px;margin:8px 0}h2{font-size:16px;margin:18px 0 6px;border-bottom:1px solid #d5d9e0}
table{border-collapse:collapse;background:#fff;margin:4px 0}td,th{border:1px solid #d5d9e0;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef0f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#fff;border:1px solid #d5d9e0;padding:6px;overflow:auto;max-height:480px;white-space:pre-wrap;word-break:break-all}
.ok{color:#0a7a32}.bad{color:#b3261e}.warn{color:#9a6700}.muted{color:#6b7280}
.pill{display:inline-block;padding:0 6px;border-radius:8px;background:#e5e7eb}
.turn{background:#fff;border:1px solid #d5d9e0;border-left:4px solid #9ca3af;margin:6px 0;padding:4px 8px}
.turn .who{font-weight:600;font-size:12px;text-transform:uppercase;color:#4b5563}
.turn.user{border-left-color:#2563eb}.turn.assistant{border-left-color:#059669}.turn.tool{border-left-color:#d97706}.turn.system{border-left-color:#6b7280}
.cols{display:flex;gap:12px}.cols>div{flex:1;min-width:0}
form.filter{background:#fff;border:1px solid #d5d9e0;padding:6px;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.bar{display:inline-block;height:10px;background:#059669}.barbg{display:inline-block;width:160px;height:10px;background:#e5e7eb}
input[type=range]{width:100%}
"#;

const SCRIPT: &str = r#"
(function(){
  var main=document.querySelector('main');
  if(!main)return;
  window.labjLoadedAt=window.labjLoadedAt||Date.now();
  function live(){var m=document.querySelector('main');return m&&m.getAttribute('data-live')==='1';}
  function tick(){
    if(!live())return;
    var u=new URL(window.location.href);u.searchParams.set('fragment','1');
    fetch(u.toString(),{cache:'no-store',credentials:'same-origin'}).then(function(r){return r.ok?r.text():null;}).then(function(t){
      if(t===null)return;var m=document.querySelector('main');
      if(m&&m.getAttribute('data-html-digest')!==digest(t)){m.outerHTML=t;}
    }).catch(function(){}).then(function(){if(live())setTimeout(tick,400);});
  }
  function digest(t){var h=0;for(var i=0;i<t.length;i++){h=(h*31+t.charCodeAt(i))|0;}return String(h);}
  var m0=document.querySelector('main');
  if(m0){m0.setAttribute('data-html-digest',digest(m0.outerHTML.replace(/ data-html-digest="[^"]*"/,'')));}
  var s=document.getElementById('tt');
  if(s){var out=document.getElementById('ttv');s.addEventListener('input',function(){if(out)out.textContent=s.value;});
    s.addEventListener('change',function(){var u=new URL(window.location.href);u.searchParams.set('at',s.value);window.location.href=u.toString();});}
  setTimeout(tick,400);
})();
"#;

/// The script of a page that polls (server only; an export never polls).
pub(crate) fn script() -> &'static str {
    SCRIPT
}

impl Page {
    /// `<main>` alone: what a live page fetches to replace its own.
    pub(crate) fn main(&self) -> String {
        format!(
            "<main data-live=\"{}\">{}</main>",
            if self.live { "1" } else { "0" },
            self.body
        )
    }

    /// The whole document. `with_script` is false for static exports.
    pub(crate) fn document(&self, with_script: bool) -> String {
        let mut nav = String::new();
        for (i, (label, href)) in self.crumbs.iter().enumerate() {
            if i > 0 {
                nav.push_str(" › ");
            }
            let _ = write!(nav, "<a href=\"{}\">{}</a>", esc(href), esc(label));
        }
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>{} · labj</title><style>{STYLE}</style></head><body><header><b>labj</b> {nav}</header>{}{}</body></html>",
            esc(&self.title),
            self.main(),
            if with_script {
                format!("<script>{SCRIPT}</script>")
            } else {
                String::new()
            }
        )
    }
}

/// A table from a header row and rows of already-escaped cells.
pub(crate) fn table(id: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("<table id=\"{}\"><thead><tr>", esc(id));
    for h in head {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            s.push_str("<td>");
            s.push_str(c);
            s.push_str("</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// A link with escaped text.
pub(crate) fn a(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", esc(href), esc(text))
}

/// Text shown in a `<pre>` with a note when it was cut.
pub(crate) fn pre(id: &str, text: &str) -> String {
    format!("<pre id=\"{}\">{}</pre>", esc(id), esc(text))
}

pub(crate) fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "–".into())
}

pub(crate) fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) => format!("{v:.4}"),
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn percent_encoding_round_trips() {
        for s in ["a b/c?d=e&f", "tâche #1", "%zz", ""] {
            assert_eq!(dec(&enc(s)), s);
        }
        assert_eq!(dec("a+b%2"), "a b%2");
    }
}
