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
    model::trial::AgentIo::append(argv, spec, path)
}

/// Why the agent's command could not start. `spawned` is the program as started on the
/// host (`${AGENTLAB_…}` expanded, relative paths joined), `None` when bwrap or a
/// container engine started it; a templated program is named as expanded, and
/// `execve`'s misleading answers are explained.
pub(super) fn spawn_failure(
    command: &[String],
    spawned: Option<&std::ffi::OsStr>,
    err: &std::io::Error,
) -> String {
    let written = command.first().map(String::as_str).unwrap_or("");
    let program = spawned.map_or_else(|| written.to_string(), |p| p.to_string_lossy().into());
    let named = if spawned.is_some() && written.contains("${") {
        format!(" (program `{program}`)")
    } else {
        String::new()
    };
    let why = model::experiment::explain_spawn_error(&program, err)
        .map(|w| format!(" ({w})"))
        .unwrap_or_default();
    format!("failed to spawn agent command {command:?}: {err}{named}{why}")
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
