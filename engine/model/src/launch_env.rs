//! Values given at launch, never written anywhere: `labj run|continue|describe --env
//! KEY=VAL`, `--env-file FILE` and `--secret-file ID=PATH` (the original runner's
//! launch-time secrets).
//!
//! They live in this process only ([`install`] once, before the experiment loads):
//! not in the experiment document, the trial spec, the journal, the run directory or
//! `describe`. The executor hands them to the agent when it spawns it:
//! * every `--env`/`--env-file` variable joins the agent's environment (declared
//!   variables win over them) and, for experiments in the original's current format,
//!   resolves `$NAME` in the agent's command and env after the variant's bindings and
//!   before labj's own environment ([`expand`]);
//! * a `--secret-file` is mounted read-only in a container (at the target its
//!   `runtime.agent_runtime.secret_files` entry names, else `/run/secrets/<ID>`); a
//!   host or sandboxed agent gets its path in `AGENTLAB_SECRET_FILE_<ID>`.
//!
//! Trials run by Slurm jobs or remote workers are other processes: `labj run` refuses
//! these options with them (export the variables there and use `env_from_host`).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The launch-time variables and secret files of this process.
#[derive(Debug, Default, Clone)]
pub struct LaunchEnv {
    /// `--env-file` values, then `--env` (later wins).
    pub vars: BTreeMap<String, String>,
    /// `--secret-file ID=PATH`: id → absolute host path.
    pub files: BTreeMap<String, PathBuf>,
}

impl LaunchEnv {
    /// Whether no `--env`, `--env-file` or `--secret-file` was given.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty() && self.files.is_empty()
    }
}

static LAUNCH: OnceLock<LaunchEnv> = OnceLock::new();

/// Sets this process's launch values (once; a second call is ignored and returns false).
pub fn install(env: LaunchEnv) -> bool {
    LAUNCH.set(env).is_ok()
}

/// This process's launch values (empty unless [`install`]ed).
pub fn get() -> &'static LaunchEnv {
    static EMPTY: OnceLock<LaunchEnv> = OnceLock::new();
    LAUNCH
        .get()
        .unwrap_or_else(|| EMPTY.get_or_init(LaunchEnv::default))
}

/// Reads the command line's values: `env_files` in order, then `env` pairs, then
/// `secret_files`. Errors name the argument or the file and line, never a value.
pub fn from_args(
    env: &[String],
    env_files: &[PathBuf],
    secret_files: &[String],
) -> Result<LaunchEnv, String> {
    let mut out = LaunchEnv::default();
    for f in env_files {
        out.vars.extend(read_env_file(f)?);
    }
    for (i, pair) in env.iter().enumerate() {
        let (k, v) = pair.split_once('=').ok_or_else(|| {
            format!(
                "--env number {} is not KEY=VALUE (it has no `=`); write --env NAME=VALUE",
                i + 1
            )
        })?;
        check_name(k).map_err(|why| format!("--env number {}: {why}", i + 1))?;
        out.vars.insert(k.to_string(), v.to_string());
    }
    for pair in secret_files {
        let (id, path) = pair.split_once('=').ok_or_else(|| {
            format!("--secret-file `{pair}` is not ID=PATH; write --secret-file ID=/path/to/file")
        })?;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            return Err(format!(
                "--secret-file id `{id}` must be letters, digits, `_`, `-` or `.`"
            ));
        }
        let p =
            std::path::absolute(Path::new(path)).map_err(|e| format!("--secret-file {id}: {e}"))?;
        match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(format!(
                    "--secret-file {id}: {} is not a regular file",
                    p.display()
                ))
            }
            Err(e) => {
                return Err(format!(
                    "--secret-file {id}: cannot read {}: {e}",
                    p.display()
                ))
            }
        }
        out.files.insert(id.to_string(), p);
    }
    Ok(out)
}

fn check_name(k: &str) -> Result<(), String> {
    let ok = !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{k}` is not a variable name (letters, digits and `_`, not starting with a digit)"
        ))
    }
}

/// An env file as the original read it: `KEY=VALUE` lines, `#` comments and blank
/// lines skipped, an `export ` prefix allowed, one pair of matching quotes around the
/// value removed.
pub(crate) fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let bytes = crate::safe_fs::read_regular(path, 1024 * 1024)
        .map_err(|e| format!("--env-file {}: {e}", path.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("--env-file {}: not UTF-8 text", path.display()))?;
    let mut out = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let body = line.strip_prefix("export ").unwrap_or(line);
        let at = format!("--env-file {}:{}", path.display(), i + 1);
        let (k, v) = body
            .split_once('=')
            .ok_or_else(|| format!("{at}: expected KEY=VALUE"))?;
        let k = k.trim();
        check_name(k).map_err(|why| format!("{at}: {why}"))?;
        let mut v = v.trim();
        if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            v = &v[1..v.len() - 1];
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Where `$NAME` found its value (for checks that must not print values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Binding,
    Launch,
    Host,
}

/// The value of `$NAME` for a trial, in the original's order: the variant's bindings
/// (a dotted name reads nested bindings), then `--env` / `--env-file`, then labj's own
/// environment. `Err` says why a binding cannot be used (an object or a list).
pub(crate) fn lookup(name: &str, bindings: &Value) -> Result<Option<(String, Source)>, String> {
    let pointer = format!("/{}", name.split('.').collect::<Vec<_>>().join("/"));
    if let Some(v) = bindings.pointer(&pointer) {
        return match v {
            Value::String(s) => Ok(Some((s.clone(), Source::Binding))),
            Value::Number(n) => Ok(Some((n.to_string(), Source::Binding))),
            Value::Bool(b) => Ok(Some((b.to_string(), Source::Binding))),
            _ => Err(format!(
                "binding `{name}` is {}, not a string, number or boolean",
                if v.is_null() {
                    "null"
                } else {
                    "an object or list"
                }
            )),
        };
    }
    if let Some(v) = get().vars.get(name) {
        return Ok(Some((v.clone(), Source::Launch)));
    }
    Ok(std::env::var(name).ok().map(|v| (v, Source::Host)))
}

/// The `$NAME` references of a token (`$` followed by a letter or `_`, then letters,
/// digits, `_` and `.`), in order.
pub(crate) fn references(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    scan(raw, |name| {
        out.push(name.to_string());
        Some(String::new())
    });
    out
}

/// `raw` with every `$NAME` replaced by its value (bindings, then `--env`/`--env-file`,
/// then labj's environment); `Err` names the first one that has none, or says why its
/// binding cannot be used.
pub fn expand(raw: &str, bindings: &Value) -> Result<String, String> {
    let mut missing: Option<String> = None;
    let out = scan(raw, |name| match lookup(name, bindings) {
        Ok(Some((v, _))) => Some(v),
        Ok(None) => {
            missing.get_or_insert_with(|| name.to_string());
            None
        }
        Err(why) => {
            missing.get_or_insert(why);
            None
        }
    });
    match missing {
        Some(m) => Err(m),
        None => Ok(out),
    }
}

fn scan(raw: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts =
            i + 1 < chars.len() && (chars[i + 1] == '_' || chars[i + 1].is_ascii_alphabetic());
        if c != '$' || !starts {
            out.push(c);
            i += 1;
            continue;
        }
        let mut end = i + 2;
        while end < chars.len()
            && (chars[end] == '_' || chars[end] == '.' || chars[end].is_ascii_alphanumeric())
        {
            end += 1;
        }
        // A trailing dot is punctuation, not part of the name.
        while end > i + 2 && chars[end - 1] == '.' {
            end -= 1;
        }
        let name: String = chars[i + 1..end].iter().collect();
        match value(&name) {
            Some(v) => out.push_str(&v),
            None => {
                out.push('$');
                out.push_str(&name);
            }
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_found_in_tokens() {
        assert_eq!(references("--model=$model"), ["model"]);
        assert_eq!(references("$a/$b_c.d."), ["a", "b_c.d"]);
        assert!(references("cost $5 and $").is_empty());
    }

    #[test]
    fn bindings_come_before_labjs_environment() {
        // The launch values are empty in unit tests (never installed); the host
        // environment is the last resort.
        let name = "LABJ_TEST_LAUNCH_ENV_ORDER";
        std::env::set_var(name, "from-host");
        let b = json!({ name: "from-binding", "nested": {"k": 3}, "obj": {} });
        assert_eq!(expand(&format!("x=${name}"), &b).unwrap(), "x=from-binding");
        assert_eq!(
            expand(&format!("${name}"), &json!({})).unwrap(),
            "from-host"
        );
        assert_eq!(expand("$nested.k", &b).unwrap(), "3");
        assert!(expand("$obj", &b).unwrap_err().contains("object or list"));
        assert_eq!(
            expand("$LABJ_TEST_SURELY_UNSET_1", &json!({})).unwrap_err(),
            "LABJ_TEST_SURELY_UNSET_1"
        );
        std::env::remove_var(name);
    }

    #[test]
    fn env_files_read_as_the_original_read_them() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join(".env");
        std::fs::write(&f, "# comment\n\nexport A=1\nB = \"two words\"\nC='x=y'\n").unwrap();
        let m = read_env_file(&f).unwrap();
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two words");
        assert_eq!(m["C"], "x=y");
        std::fs::write(&f, "A=1\nSECRETVALUE\n").unwrap();
        let e = read_env_file(&f).unwrap_err();
        assert!(e.contains(":2: expected KEY=VALUE"), "{e}");
        assert!(
            !e.contains("SECRETVALUE"),
            "a line's text is never quoted: {e}"
        );
    }
}
