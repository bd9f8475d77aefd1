//! A trajectory rendered as turns. Recognized shapes: JSONL where each line is a
//! message (`role` + `content`) or an event (the original runner's hook events and
//! similar: `event_type`, `hook_event_name` or `type`); a JSON array of messages or an
//! object holding one under `messages` (OpenAI and Anthropic styles: string content,
//! content blocks `text`/`tool_use`/`tool_result`, `tool_calls`). Anything else is shown
//! as pretty JSON, or as text. Every string is escaped.

use crate::html::esc;
use serde_json::Value;
use std::fmt::Write;

/// The turns of a trajectory as HTML, and how many there were.
pub(crate) fn render(bytes: &[u8]) -> (String, usize) {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return ("<p class=\"muted\">(empty)</p>".into(), 0);
    }
    // A whole JSON document: a list of messages, or an object holding one.
    if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        let list = match &v {
            Value::Array(a) => Some(a.clone()),
            Value::Object(o) => o
                .get("messages")
                .or_else(|| o.get("events"))
                .or_else(|| o.get("trajectory"))
                .and_then(|m| m.as_array())
                .cloned(),
            _ => None,
        };
        if let Some(items) = list {
            let mut s = String::new();
            for item in &items {
                s.push_str(&turn(item));
            }
            return (s, items.len());
        }
        return (pretty(&v), 1);
    }
    // JSONL.
    let mut s = String::new();
    let mut n = 0;
    for line in trimmed.lines().filter(|l| !l.trim().is_empty()) {
        n += 1;
        match serde_json::from_str::<Value>(line) {
            Ok(v) => s.push_str(&turn(&v)),
            Err(_) => {
                let _ = write!(
                    s,
                    "<div class=\"turn\"><div class=\"who\">text</div><pre>{}</pre></div>",
                    esc(line)
                );
            }
        }
    }
    (s, n)
}

fn pretty(v: &Value) -> String {
    format!(
        "<pre>{}</pre>",
        esc(&serde_json::to_string_pretty(v).unwrap_or_default())
    )
}

fn str_of<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| v.get(*k).and_then(|x| x.as_str()))
}

/// One message or event.
fn turn(v: &Value) -> String {
    let Some(obj) = v.as_object() else {
        return format!(
            "<div class=\"turn\"><div class=\"who\">value</div>{}</div>",
            pretty(v)
        );
    };
    if let Some(role) = obj.get("role").and_then(|r| r.as_str()) {
        let class = match role {
            "user" | "human" => "user",
            "assistant" | "model" | "ai" => "assistant",
            "tool" | "function" => "tool",
            _ => "system",
        };
        let mut body = String::new();
        if let Some(c) = obj.get("content") {
            body.push_str(&content(c));
        }
        for call in obj
            .get("tool_calls")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            let f = call.get("function").unwrap_or(call);
            let name = str_of(f, &["name"]).unwrap_or("?");
            let args = f.get("arguments").map(|a| match a {
                Value::String(s) => serde_json::from_str::<Value>(s)
                    .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
                    .unwrap_or_else(|_| s.clone()),
                other => serde_json::to_string_pretty(other).unwrap_or_default(),
            });
            let _ = write!(
                body,
                "<div class=\"tool-call\">→ tool <b>{}</b><pre>{}</pre></div>",
                esc(name),
                esc(&args.unwrap_or_default())
            );
        }
        let name = str_of(v, &["name", "tool_call_id"])
            .map(|n| format!(" · {}", esc(n)))
            .unwrap_or_default();
        return format!(
            "<div class=\"turn {class}\"><div class=\"who\">{}{name}</div>{body}</div>",
            esc(role)
        );
    }
    if let Some(kind) = str_of(
        v,
        &["event_type", "hook_event_name", "event", "type", "kind"],
    ) {
        let class = if kind.contains("tool") {
            "tool"
        } else if kind.contains("model") || kind.contains("llm") || kind.contains("assistant") {
            "assistant"
        } else if kind.contains("user") || kind.contains("prompt") {
            "user"
        } else {
            "system"
        };
        let mut body = String::new();
        if let Some(name) = str_of(v, &["tool_name", "tool", "name"]) {
            let _ = write!(body, "<div>tool <b>{}</b></div>", esc(name));
        }
        for k in ["text", "message", "content", "prompt", "output", "result"] {
            if let Some(x) = obj.get(k) {
                let _ = write!(body, "<div class=\"muted\">{k}</div>{}", content(x));
            }
        }
        for k in ["input", "tool_input", "args", "arguments"] {
            if let Some(x) = obj.get(k) {
                let _ = write!(body, "<div class=\"muted\">{k}</div>{}", pretty(x));
            }
        }
        if body.is_empty() {
            body = pretty(v);
        } else {
            let _ = write!(
                body,
                "<details><summary>event</summary>{}</details>",
                pretty(v)
            );
        }
        return format!(
            "<div class=\"turn {class}\"><div class=\"who\">{}</div>{body}</div>",
            esc(kind)
        );
    }
    format!(
        "<div class=\"turn\"><div class=\"who\">object</div>{}</div>",
        pretty(v)
    )
}

/// Message content: a string, or a list of blocks.
fn content(c: &Value) -> String {
    match c {
        Value::String(s) => format!("<pre class=\"text\">{}</pre>", esc(s)),
        Value::Array(blocks) => blocks.iter().map(block).collect(),
        other => pretty(other),
    }
}

fn block(b: &Value) -> String {
    match str_of(b, &["type"]) {
        Some("text") | Some("input_text") | Some("output_text") => format!(
            "<pre class=\"text\">{}</pre>",
            esc(str_of(b, &["text"]).unwrap_or(""))
        ),
        Some("tool_use") | Some("function_call") => format!(
            "<div class=\"tool-call\">→ tool <b>{}</b>{}</div>",
            esc(str_of(b, &["name"]).unwrap_or("?")),
            pretty(
                b.get("input")
                    .or_else(|| b.get("arguments"))
                    .unwrap_or(&Value::Null)
            )
        ),
        Some("tool_result") | Some("function_call_output") => format!(
            "<div class=\"tool-result\">← result{}</div>",
            b.get("content")
                .or_else(|| b.get("output"))
                .map(content)
                .unwrap_or_default()
        ),
        _ => match b {
            Value::String(s) => format!("<pre class=\"text\">{}</pre>", esc(s)),
            other => pretty(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_and_anthropic_messages_become_turns() {
        let openai = br#"[{"role":"system","content":"be brief"},{"role":"user","content":"2+2?"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"calc","arguments":"{\"expr\":\"2+2\"}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"4"},{"role":"assistant","content":"4"}]"#;
        let (h, n) = render(openai);
        assert_eq!(n, 5);
        assert_eq!(h.matches("class=\"turn ").count(), 5, "{h}");
        assert!(
            h.contains("→ tool <b>calc</b>") && h.contains("&quot;expr&quot;"),
            "{h}"
        );
        let anthropic = br#"{"messages":[{"role":"user","content":[{"type":"text","text":"hi <b>"}]},
            {"role":"assistant","content":[{"type":"tool_use","id":"t","name":"bash","input":{"cmd":"ls"}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"a.txt"}]}]}"#;
        let (h, n) = render(anthropic);
        assert_eq!(n, 3);
        assert!(
            h.contains("hi &lt;b&gt;") && h.contains("<b>bash</b>") && h.contains("a.txt"),
            "{h}"
        );
    }

    #[test]
    fn jsonl_events_and_other_lines() {
        let jsonl = b"{\"event_type\":\"tool_call\",\"tool_name\":\"grep\",\"input\":{\"q\":\"x\"}}\n{\"role\":\"assistant\",\"content\":\"done\"}\nnot json <script>\n";
        let (h, n) = render(jsonl);
        assert_eq!(n, 3);
        assert!(h.contains("turn tool") && h.contains("<b>grep</b>"), "{h}");
        assert!(
            h.contains("not json &lt;script&gt;") && !h.contains("<script>"),
            "{h}"
        );
        let (h, n) = render(b"{\"score\": 1}");
        assert_eq!(n, 1);
        assert!(h.contains("&quot;score&quot;: 1"), "{h}");
    }
}
