//! The agent's command line as the original runner builds it: `${AGENTLAB_…}` references
//! in any token expand to the trial's contract values, then the task and result paths
//! are appended after the `runtime.agent.io` flags.

use std::ffi::OsString;

/// Replaces every `${KEY}` of an `AGENTLAB_*` key of `env` in `token` (other text,
/// including unknown `${…}`, is kept as written, as in the original).
pub(super) fn template(token: &str, env: &[(String, OsString)]) -> String {
    if !token.contains("${") {
        return token.to_string();
    }
    let mut out = token.to_string();
    for (key, value) in env {
        if key.starts_with("AGENTLAB_") {
            out = out.replace(&format!("${{{key}}}"), &value.to_string_lossy());
        }
    }
    out
}

/// Appends `path` after the flag `spec`: `x{path}y` → one token with the path inside;
/// `--k=` → `--k=<path>`; otherwise `--k <path>`.
pub(super) fn append_io(argv: &mut Vec<String>, spec: &str, path: &str) {
    let spec = spec.trim();
    if spec.contains("{path}") {
        argv.push(spec.replace("{path}", path));
    } else if spec.ends_with('=') {
        argv.push(format!("{spec}{path}"));
    } else {
        argv.push(spec.to_string());
        argv.push(path.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_expands_agentlab_keys_only() {
        let env = vec![
            (
                "AGENTLAB_TASK_PATH".to_string(),
                OsString::from("/t/task.json"),
            ),
            ("OTHER".to_string(), OsString::from("x")),
        ];
        assert_eq!(
            template("--task=${AGENTLAB_TASK_PATH}", &env),
            "--task=/t/task.json"
        );
        assert_eq!(template("${OTHER}${NOPE}", &env), "${OTHER}${NOPE}");
    }

    #[test]
    fn append_io_three_forms() {
        let mut v = Vec::new();
        append_io(&mut v, "--input", "/a");
        append_io(&mut v, "--output=", "/b");
        append_io(&mut v, "in:{path}", "/c");
        assert_eq!(v, ["--input", "/a", "--output=/b", "in:/c"]);
    }
}
