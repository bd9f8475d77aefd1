//! Input limits: what labj refuses before it runs anything, so no file or number a user
//! gives can hang it, exhaust its memory or fail later as an infrastructure fault.

use super::ExperimentError;
pub use crate::ids::escape_id;
pub(crate) use crate::ids::normalized_id;
use std::collections::BTreeMap;
use std::path::Path;

/// Experiment files larger than this are refused (they are documents, not data).
pub(crate) const MAX_EXPERIMENT_BYTES: u64 = 4 * 1024 * 1024;
/// Dataset files larger than this are refused (read whole into memory).
pub(crate) const MAX_DATASET_BYTES: u64 = 256 * 1024 * 1024;
/// Most slots (variants × tasks × replications) one run may schedule.
pub(crate) const MAX_SCHEDULE_SLOTS: u64 = 1_000_000;
/// Most trials in flight at once (`max_concurrency`, `--max-concurrency`).
pub(crate) const MAX_CONCURRENCY: u64 = 1024;
/// Most attempts of one slot (`retry.max_attempts`, `retry.max_infra_attempts`): each
/// re-runs the agent in place, so a huge budget is a trial that never visibly ends.
pub(crate) const MAX_ATTEMPTS: u64 = 100;
/// Longest task / variant id, in bytes.
pub(crate) const MAX_ID_BYTES: usize = 128;

/// Reads a user-named text file: regular files only (a FIFO or `/dev/zero` is refused
/// without blocking), at most `limit` bytes, no byte-order mark, valid UTF-8 (an invalid
/// byte is reported with its line and column).
pub(crate) fn read_text(path: &Path, limit: u64, what: &str) -> Result<String, ExperimentError> {
    let file_err = |message: String| ExperimentError::File {
        path: path.to_path_buf(),
        message,
    };
    let bytes = crate::safe_fs::read_regular(path, limit).map_err(|e| match e {
        crate::safe_fs::FileError::Io { source, .. } => ExperimentError::Io {
            path: path.to_path_buf(),
            source,
        },
        crate::safe_fs::FileError::Missing { .. } => file_err(format!("the {what} does not exist")),
        crate::safe_fs::FileError::NotRegular { kind, .. } => {
            file_err(format!("the {what} is {kind}, not a regular file"))
        }
        crate::safe_fs::FileError::TooLarge { size, limit, .. } => file_err(format!(
            "the {what} is {size} bytes, over the {limit}-byte limit"
        )),
    })?;
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(file_err(format!(
            "the {what} starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without a BOM"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..bad].iter().filter(|&&b| b == b'\n').count() + 1;
        let col = bad
            - bytes[..bad]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1)
            + 1;
        ExperimentError::DatasetRow {
            path: path.to_path_buf(),
            line,
            message: format!(
                "the {what} is not valid UTF-8: invalid byte 0x{:02x} at column {col}",
                bytes[bad]
            ),
        }
    })
}

/// Checks an id (task or variant): non-empty, at most [`MAX_ID_BYTES`], no control or
/// invisible formatting characters (NUL, newlines, bidi overrides), no leading or
/// trailing whitespace. Returns why not.
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("is empty".into());
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!(
            "is {} bytes long, over the {MAX_ID_BYTES}-byte limit",
            id.len()
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| c.is_control() || crate::ids::is_format_char(*c))
    {
        return Err(format!(
            "contains the control or formatting character U+{:04X}",
            c as u32
        ));
    }
    if id.trim() != id {
        return Err("has leading or trailing whitespace".into());
    }
    Ok(())
}

/// Refuses a schedule over [`MAX_SCHEDULE_SLOTS`] before anything is allocated.
pub(crate) fn check_schedule_size(
    path: &Path,
    variants: u64,
    tasks: u64,
    replications: u64,
) -> Result<(), ExperimentError> {
    let slots = variants
        .checked_mul(tasks)
        .and_then(|n| n.checked_mul(replications));
    match slots {
        Some(n) if n <= MAX_SCHEDULE_SLOTS => Ok(()),
        _ => Err(ExperimentError::invalid(
            path,
            "/design/replications",
            format!(
                "the schedule would hold {variants} variant(s) × {tasks} task(s) × {replications} replication(s) = {} slots, over the limit of {MAX_SCHEDULE_SLOTS}",
                slots.map_or("more than 2^64".to_string(), |n| n.to_string())
            ),
        )),
    }
}

/// Numbers in `design` that would overflow or exhaust labj, checked on the raw document
/// so the error names the field (not the document root, as a failed typed parse would).
pub(crate) fn check_design_numbers(
    path: &Path,
    doc: &serde_json::Value,
) -> Result<(), ExperimentError> {
    let limits = [
        (
            "/design/max_concurrency",
            MAX_CONCURRENCY,
            "trials in flight at once",
        ),
        ("/design/replications", MAX_SCHEDULE_SLOTS, "replications"),
        (
            "/design/policies/retry/max_attempts",
            MAX_ATTEMPTS,
            "attempts per trial",
        ),
        (
            "/design/policies/retry/max_infra_attempts",
            MAX_ATTEMPTS,
            "dispatches per slot",
        ),
    ];
    for (pointer, max, what) in limits {
        let Some(v) = doc.pointer(pointer) else {
            continue;
        };
        let too_big = match v {
            serde_json::Value::Number(n) => n.as_u64().map_or(n.as_i64().is_none(), |n| n > max),
            _ => false,
        };
        if too_big {
            let field = pointer.rsplit('/').next().unwrap_or(pointer);
            return Err(ExperimentError::invalid(
                path,
                pointer.to_string(),
                format!("{field} {v} is over the limit of {max} {what}"),
            ));
        }
    }
    Ok(())
}

/// Checks `--max-concurrency` / `labj set --max-concurrency`: 1 to `MAX_CONCURRENCY`
/// (1024) trials in flight; returns the message naming the option otherwise.
pub fn check_concurrency(n: u64) -> Result<(), String> {
    if n == 0 {
        return Err("--max-concurrency must be at least 1".into());
    }
    if n > MAX_CONCURRENCY {
        return Err(format!(
            "--max-concurrency {n} is over the limit of {MAX_CONCURRENCY} trials in flight at once"
        ));
    }
    Ok(())
}

/// Longest file name component (`NAME_MAX` on Linux filesystems).
pub(crate) const MAX_NAME_BYTES: usize = 255;
/// Longest workspace path, in bytes: the trial directory in front of it must still fit
/// in the kernel's 4096-byte PATH_MAX.
pub(crate) const MAX_WORKSPACE_PATH_BYTES: usize = 1024;

/// Workspace file paths of one task (already relative, no `..`): each names a file
/// (not `.`), with components of at most [`MAX_NAME_BYTES`], no control characters, and
/// no path is another's directory (`f` and `f/g`) or a duplicate (`a/./b` and `a/b`).
/// Returns the index and the reason of the first bad one.
pub(crate) fn check_workspace_paths<'a>(
    paths: impl IntoIterator<Item = &'a str>,
) -> Result<(), (usize, String)> {
    use std::path::Component;
    let mut seen: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for (i, p) in paths.into_iter().enumerate() {
        if let Some(c) = p.chars().find(|c| c.is_control()) {
            return Err((
                i,
                format!("contains the control character U+{:04X}", c as u32),
            ));
        }
        let parts: Vec<String> = Path::new(p)
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        if parts.is_empty() {
            return Err((
                i,
                "names the workspace directory itself, not a file in it".into(),
            ));
        }
        if p.len() > MAX_WORKSPACE_PATH_BYTES {
            return Err((
                i,
                format!(
                    "is {} bytes long, over the {MAX_WORKSPACE_PATH_BYTES}-byte limit of workspace paths (the trial directory in front of it must fit in the system's 4096-byte path limit)",
                    p.len()
                ),
            ));
        }
        if let Some(long) = parts.iter().find(|n| n.len() > MAX_NAME_BYTES) {
            return Err((
                i,
                format!(
                    "has a name of {} bytes, over the {MAX_NAME_BYTES}-byte limit of file names",
                    long.len()
                ),
            ));
        }
        if let Some(first) = seen.get(&parts) {
            return Err((i, format!("is the same file as workspace_files[{first}]")));
        }
        for (other, j) in &seen {
            let (short, long) = if other.len() < parts.len() {
                (other, &parts)
            } else {
                (&parts, other)
            };
            if long.starts_with(short) {
                return Err((
                    i,
                    format!(
                        "conflicts with workspace_files[{j}]: `{}` would have to be both a file and a directory",
                        short.join("/")
                    ),
                ));
            }
        }
        seen.insert(parts, i);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("task-1").is_ok());
        assert!(check_id("a\0b").unwrap_err().contains("U+0000"));
        assert!(check_id("a ").unwrap_err().contains("trailing"));
        assert!(check_id("\u{202e}x").unwrap_err().contains("U+202E"));
        assert!(check_id(&"x".repeat(129))
            .unwrap_err()
            .contains("129 bytes"));
        assert_eq!(escape_id("a\u{202e}b\n"), "a\\u{202e}b\\u{a}");
        assert_eq!(normalized_id("Ab"), normalized_id("aB"));
    }

    #[test]
    fn workspace_paths() {
        assert!(check_workspace_paths(["a", "b/c", "b/d"]).is_ok());
        let (i, why) = check_workspace_paths(["f", "f/g"]).unwrap_err();
        assert_eq!(i, 1);
        assert!(why.contains("both a file and a directory"), "{why}");
        assert!(check_workspace_paths(["."])
            .unwrap_err()
            .1
            .contains("itself"));
        assert!(check_workspace_paths(["a/./b", "a/b"])
            .unwrap_err()
            .1
            .contains("same file"));
        let long = "x".repeat(300);
        assert!(check_workspace_paths([long.as_str()])
            .unwrap_err()
            .1
            .contains("300 bytes"));
    }
}
