//! Finding a python3 with scipy, for the tests that check statistics against it (the
//! engine's `report_stats_scipy` and the CLI's `e2e_report`, which includes this file).
//! Needs python3 with scipy and numpy (`scripts/setup.d/50-scipy.sh` installs
//! python3-scipy); panics naming scipy when there is none.

use std::path::PathBuf;
use std::process::Command;

/// A python3 that imports scipy and numpy: `$LABJ_TEST_PYTHON`, `/usr/bin/python3` or
/// `python3` on PATH, the first that works.
pub fn python_with_scipy() -> PathBuf {
    let mut tried = Vec::new();
    let candidates: Vec<String> = std::env::var("LABJ_TEST_PYTHON")
        .into_iter()
        .chain(["/usr/bin/python3".to_string(), "python3".to_string()])
        .collect();
    for py in candidates {
        let ok = Command::new(&py)
            .args(["-c", "import scipy, numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return PathBuf::from(py);
        }
        tried.push(py);
    }
    panic!(
        "scipy is missing: no python3 with scipy and numpy among {tried:?}; install python3-scipy (scripts/setup.d/50-scipy.sh) — the report statistics are checked against scipy"
    );
}
