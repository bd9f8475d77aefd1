//! Agent, grader and adapter commands as the original runner reads them: a command is a
//! list of tokens or one string (one token, never split), and in local execution every
//! relative token that looks like a path is resolved against the project root, so
//! `[node, h.js]` and `./harness.py` run from anywhere while the agent's cwd is its
//! trial workspace.

use serde::{Deserialize, Deserializer};
use std::path::{Component, Path, PathBuf};

/// `command: "x"` or `command: [x, y]`; a string is one token, as in the original.
pub(crate) fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Either::deserialize(d)? {
        Either::One(s) => vec![s.trim().to_string()],
        Either::Many(v) => v,
    })
}

/// Optional form of [`string_or_list`].
pub(crate) fn opt_string_or_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    string_or_list(d).map(Some)
}

/// The original runner's test of "this token names a file". Flags (`-x`, `--k=./v`),
/// `${AGENTLAB_…}` templates and shell snippets (a token with whitespace or shell
/// syntax, e.g. the script of `sh -c '…'`) are left alone: the original would have
/// mangled them into paths under the project root, which no experiment can have meant.
pub(crate) fn looks_like_path(token: &str) -> bool {
    if token.starts_with('-')
        || token.contains("${")
        || token
            .chars()
            .any(|c| c.is_whitespace() || "$;|&<>()`'\"*?".contains(c))
    {
        return false;
    }
    token.starts_with('.')
        || token.starts_with('/')
        || token.contains('/')
        || [".js", ".mjs", ".cjs", ".ts", ".py", ".sh"]
            .iter()
            .any(|ext| token.ends_with(ext))
}

/// The directory relative command tokens resolve against: the parent of the nearest
/// enclosing `.lab` directory, else the experiment's own directory (the original's
/// "project root").
pub fn project_root(experiment_dir: &Path) -> PathBuf {
    let mut cur = Some(experiment_dir);
    while let Some(p) = cur {
        if p.file_name().and_then(|n| n.to_str()) == Some(".lab") {
            return p.parent().unwrap_or(experiment_dir).to_path_buf();
        }
        cur = p.parent();
    }
    experiment_dir.to_path_buf()
}

/// Every relative path-like token made absolute under `root` (lexically normalized).
pub(crate) fn resolve_tokens(command: &[String], root: &Path) -> Vec<String> {
    command
        .iter()
        .map(|t| {
            if looks_like_path(t) && Path::new(t).is_relative() {
                normalize(&root.join(t)).to_string_lossy().into_owned()
            } else {
                t.clone()
            }
        })
        .collect()
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Whether a command can start, as `describe` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProgramCheck {
    /// The program (and the script it runs, when the second token is a path) exist.
    Ok(PathBuf),
    /// The program's path is a `${AGENTLAB_…}` template (e.g. a script staged into each
    /// trial's workspace): it can only be checked when a trial starts.
    PerTrial,
    /// Why it cannot start.
    Problem(String),
}

/// Checks an already resolved command: `command[0]` must be an executable file (bare
/// names are looked up on `PATH`), and a path-like second token (`node h.js`) must exist.
pub(crate) fn check_command(command: &[String]) -> ProgramCheck {
    match check_inner(command) {
        ProgramCheck::Problem(p) if command.first().is_some_and(|c| c.contains(' ')) => {
            ProgramCheck::Problem(format!(
                "{p} (a string command is one program, as in the original runner; write a \
                 list such as [node, h.js] to pass arguments)"
            ))
        }
        other => other,
    }
}

fn check_inner(command: &[String]) -> ProgramCheck {
    let Some(program) = command.first().filter(|p| !p.is_empty()) else {
        return ProgramCheck::Problem("the command is empty".into());
    };
    if program.contains("${") {
        return ProgramCheck::PerTrial;
    }
    let found = if program.contains('/') {
        let p = PathBuf::from(program);
        if !p.exists() {
            return ProgramCheck::Problem(format!("program `{program}` does not exist"));
        }
        p
    } else {
        match which(program) {
            Some(p) => p,
            None => return ProgramCheck::Problem(format!("program `{program}` is not on PATH")),
        }
    };
    if !is_executable(&found) {
        return ProgramCheck::Problem(not_executable(&found));
    }
    if let Some(problem) = interpreter_problem(&found) {
        return ProgramCheck::Problem(problem);
    }
    if let Some(script) = command.get(1).filter(|t| looks_like_path(t)) {
        if !Path::new(script).exists() {
            return ProgramCheck::Problem(format!("script `{script}` does not exist"));
        }
    }
    ProgramCheck::Ok(found)
}

/// Why `path` (which exists) cannot be started, and how to fix it.
fn not_executable(path: &Path) -> String {
    let shown = path.display();
    if path.is_dir() {
        return format!("program `{shown}` is a directory, not an executable file");
    }
    let fix = match shebang_words(path) {
        Some(_) => format!("make it executable: chmod +x {shown}"),
        None => format!(
            "make it executable (chmod +x {shown}) and start a script with a #! line naming \
             its interpreter (e.g. #!/usr/bin/env python3), or name the interpreter in the \
             command: [python3, {shown}]"
        ),
    };
    format!("program `{shown}` is not an executable file: {fix}")
}

/// Why starting `program` failed, when the operating system's answer misleads: `execve`
/// says "No such file or directory" for a script that exists but whose `#!` line names a
/// missing interpreter, and "Exec format error" for a file that is neither a binary nor a
/// script. `None` when the error already says it.
pub fn explain_spawn_error(program: &str, err: &std::io::Error) -> Option<String> {
    let found = if program.contains('/') {
        PathBuf::from(program)
    } else {
        which(program)?
    };
    match err.raw_os_error() {
        Some(2) if found.is_file() => {
            let interpreter = shebang(&found)?;
            (!Path::new(&interpreter).exists()).then(|| {
                format!(
                    "`{}` exists, but the interpreter its #! line names (`{interpreter}`) \
                     does not: fix the #! line (e.g. #!/usr/bin/env python3 finds python3 \
                     on PATH) or install the interpreter there",
                    found.display()
                )
            })
        }
        Some(8) => Some(format!(
            "`{}` is neither a binary this machine runs nor a script starting with #!: \
             add a #! line naming its interpreter (e.g. #!/usr/bin/env python3)",
            found.display()
        )),
        _ => None,
    }
}

/// A script whose `#!` line names an interpreter that cannot run: `execve` would fail
/// with a misleading "No such file or directory" on every trial. `#!/usr/bin/env NAME`
/// looks NAME up on `PATH`, as `env` will.
fn interpreter_problem(script: &Path) -> Option<String> {
    let words = shebang_words(script)?;
    let interpreter = words.first()?;
    let name = Path::new(interpreter);
    if !is_executable(name) {
        let why = if name.exists() {
            "is not an executable file"
        } else {
            "does not exist"
        };
        let fix =
            match Path::new(interpreter).file_name().and_then(|n| n.to_str()) {
                Some(n) if which(n).is_some() => format!(
                "`{n}` is on PATH as {}: write #!/usr/bin/env {n} (or that path) on the first line",
                which(n).map(|p| p.display().to_string()).unwrap_or_default()
            ),
                Some(n) => format!(
                "install `{n}`, or fix the first line (e.g. #!/usr/bin/env {n} finds it on PATH)"
            ),
                None => "fix the #! line (its first word is the interpreter's path)".to_string(),
            };
        return Some(format!(
            "program `{}` names the interpreter `{interpreter}` on its #! line, which {why}: {fix}",
            script.display()
        ));
    }
    let env_target = words.get(1).filter(|w| !w.starts_with('-'));
    match env_target {
        Some(target) if interpreter.ends_with("/env") && which(target).is_none() => Some(format!(
            "program `{}` runs `{target}` through `#!{interpreter}`, and `{target}` is not \
                 on PATH: install it, put its folder on PATH, or name it by path on the #! line",
            script.display()
        )),
        _ => None,
    }
}

/// The interpreter path of a `#!` line (its first word), read from the file's first 256
/// bytes; `None` when the file is not a script.
fn shebang(path: &Path) -> Option<String> {
    shebang_words(path)?.into_iter().next()
}

/// The words of a script's `#!` line (interpreter first), from its first 256 bytes.
fn shebang_words(path: &Path) -> Option<Vec<String>> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|b| *b == b'\n').next()?;
    let text = String::from_utf8_lossy(line);
    Some(text.split_whitespace().map(str::to_string).collect())
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_path_like_tokens_only() {
        let root = Path::new("/exp");
        let cmd: Vec<String> = [
            "node",
            "h.js",
            "./a/../b.py",
            "--flag=./x",
            "${AGENTLAB_TASK_PATH}",
            "plain",
            "echo x > out/y.txt",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            resolve_tokens(&cmd, root),
            [
                "node",
                "/exp/h.js",
                "/exp/b.py",
                "--flag=./x",
                "${AGENTLAB_TASK_PATH}",
                "plain",
                "echo x > out/y.txt"
            ]
        );
    }

    #[test]
    fn project_root_is_parent_of_dot_lab() {
        assert_eq!(project_root(Path::new("/p/.lab/exps")), Path::new("/p"));
        assert_eq!(project_root(Path::new("/p/exps")), Path::new("/p/exps"));
    }

    #[test]
    fn spawn_errors_of_scripts_are_explained() {
        let dir = std::env::temp_dir().join(format!("labj-shebang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("s.sh");
        std::fs::write(&script, "#!/nonexistent/interp -x\necho\n").unwrap();
        let enoent = std::io::Error::from_raw_os_error(2);
        let why = explain_spawn_error(script.to_str().unwrap(), &enoent).unwrap();
        assert!(
            why.contains("`/nonexistent/interp`") && why.contains("#! line"),
            "{why}"
        );
        // A script whose interpreter exists: the OS error stands as it is.
        std::fs::write(&script, "#!/bin/sh\necho\n").unwrap();
        assert_eq!(explain_spawn_error(script.to_str().unwrap(), &enoent), None);
        // A program that does not exist at all: nothing to add.
        assert_eq!(explain_spawn_error("/nonexistent/prog", &enoent), None);
        let noexec = std::io::Error::from_raw_os_error(8);
        let why = explain_spawn_error(script.to_str().unwrap(), &noexec).unwrap();
        assert!(why.contains("neither a binary"), "{why}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn scripts_with_missing_interpreters_cannot_start_and_templates_wait_for_the_trial() {
        let dir = std::env::temp_dir().join(format!("labj-interp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("s.sh");
        let check = |body: &str| {
            std::fs::write(&script, body).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
            check_command(&[script.to_string_lossy().into_owned()])
        };
        let ProgramCheck::Problem(m) = check("#!/nonexistent/interp\necho\n") else {
            panic!("a missing interpreter passed")
        };
        assert!(
            m.contains("`/nonexistent/interp` on its #! line, which does not exist"),
            "{m}"
        );
        let plain = dir.join("plain.txt");
        std::fs::write(&plain, "not a program\n").unwrap();
        let ProgramCheck::Problem(m) = check(&format!("#!{}\n", plain.display())) else {
            panic!("a non-executable interpreter passed")
        };
        assert!(m.contains("which is not an executable file"), "{m}");
        let ProgramCheck::Problem(m) = check("#!/usr/bin/env labj-no-such-tool -x\n") else {
            panic!("an env target missing from PATH passed")
        };
        assert!(m.contains("`labj-no-such-tool` is not on PATH"), "{m}");
        assert!(matches!(check("#!/bin/sh\necho\n"), ProgramCheck::Ok(_)));
        assert!(matches!(check("#!/usr/bin/env sh\n"), ProgramCheck::Ok(_)));
        assert!(matches!(
            check("#!/usr/bin/env -S sh -e\n"),
            ProgramCheck::Ok(_)
        ));
        assert_eq!(
            check_command(&["${AGENTLAB_WORKSPACE_DIR}/solve.sh".into()]),
            ProgramCheck::PerTrial
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn check_command_reports_each_problem() {
        assert!(matches!(check_command(&["sh".into()]), ProgramCheck::Ok(_)));
        let ProgramCheck::Problem(m) = check_command(&["node h.js".into()]) else {
            panic!()
        };
        assert!(m.contains("is one program"), "{m}");
        let ProgramCheck::Problem(m) = check_command(&["/etc/passwd".into()]) else {
            panic!()
        };
        assert!(m.contains("not an executable file"), "{m}");
        let ProgramCheck::Problem(m) = check_command(&["sh".into(), "/nope/x.sh".into()]) else {
            panic!()
        };
        assert!(m.contains("script `/nope/x.sh` does not exist"), "{m}");
    }
}
