//! The Slurm command-line tools labj drives (`sbatch`, `squeue`, `scontrol`, `scancel`),
//! each wrapped so a failure names the command and what Slurm said.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

/// A Slurm job state as `squeue` prints it (`%T`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    /// The state's name, e.g. `PENDING`, `RUNNING`, `COMPLETED`, `NODE_FAIL`.
    pub state: String,
    /// Slurm's reason for it (`%r`), e.g. `Priority` for a pending job.
    pub reason: String,
}

impl JobState {
    /// The job will not run (again): it completed, failed or was ended by Slurm or a user.
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(
            self.state.as_str(),
            "COMPLETED"
                | "CANCELLED"
                | "FAILED"
                | "TIMEOUT"
                | "NODE_FAIL"
                | "PREEMPTED"
                | "BOOT_FAIL"
                | "DEADLINE"
                | "OUT_OF_MEMORY"
                | "SPECIAL_EXIT"
                | "REVOKED"
        )
    }

    pub(crate) fn is_pending(&self) -> bool {
        self.state == "PENDING"
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<Output, String> {
    cmd.output().map_err(|e| cannot_run(what, &e))
}

fn cannot_run(what: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("{what}: command not found (is Slurm installed and on PATH? scripts/slurm-dev-cluster.sh start sets up a one-node cluster)")
    } else {
        format!("{what}: cannot run: {e}")
    }
}

fn failure(what: &str, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    format!(
        "{what} failed ({}): {}",
        out.status,
        stderr.trim().lines().last().unwrap_or("no message")
    )
}

/// `sbatch --parsable [args] script`: the job id.
pub(crate) fn sbatch(args: &[String], script: &Path) -> Result<String, String> {
    let out = run(&mut sbatch_command(args, script), "sbatch")?;
    sbatch_job_id(&out)
}

/// `n` submissions of the same `sbatch` at once (each `sbatch` waits on the controller's
/// answer, so one after another they take `n` round trips): the job id of each, or why
/// it failed.
pub(crate) fn sbatch_many(n: usize, args: &[String], script: &Path) -> Vec<Result<String, String>> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            sbatch_command(args, script)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child
                .and_then(|c| c.wait_with_output())
                .map_err(|e| cannot_run("sbatch", &e))?;
            sbatch_job_id(&out)
        })
        .collect()
}

fn sbatch_command(args: &[String], script: &Path) -> Command {
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable").args(args).arg(script);
    cmd
}

fn sbatch_job_id(out: &Output) -> Result<String, String> {
    if !out.status.success() {
        return Err(failure("sbatch", out));
    }
    // `--parsable` prints `jobid[;cluster]`.
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return Err(format!("sbatch printed no job id: {:?}", text.trim()));
    }
    Ok(id)
}

/// States of the given jobs (finished jobs included while Slurm still remembers them).
/// A job missing from the map is unknown to Slurm (never existed or long purged).
pub fn squeue(job_ids: &[String]) -> Result<HashMap<String, JobState>, String> {
    let mut states = HashMap::new();
    if job_ids.is_empty() {
        return Ok(states);
    }
    let out = run(
        Command::new("squeue")
            .args(["-h", "--states=all", "-o", "%i|%T|%r", "-j"])
            .arg(job_ids.join(",")),
        "squeue",
    )?;
    if !out.status.success() {
        // Asking for one job Slurm no longer knows is an error, not an empty answer.
        if String::from_utf8_lossy(&out.stderr).contains("Invalid job id") {
            return Ok(states);
        }
        return Err(failure("squeue", &out));
    }
    states.extend(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(parse_line),
    );
    Ok(states)
}

/// Jobs named `name` (every state Slurm still remembers): (job id, state).
pub(crate) fn squeue_by_name(name: &str) -> Result<Vec<(String, JobState)>, String> {
    let out = run(
        Command::new("squeue")
            .args(["-h", "--states=all", "-o", "%i|%T|%r", "--name"])
            .arg(name),
        "squeue --name",
    )?;
    if !out.status.success() {
        return Err(failure("squeue --name", &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(parse_line)
        .collect())
}

/// One `%i|%T|%r` line of `squeue`.
fn parse_line(line: &str) -> Option<(String, JobState)> {
    let mut parts = line.splitn(3, '|');
    let (id, state) = (parts.next()?, parts.next()?);
    Some((
        id.trim().to_string(),
        JobState {
            // e.g. `CANCELLED by 0`: keep the state word.
            state: state.split_whitespace().next().unwrap_or("").to_string(),
            reason: parts.next().unwrap_or("").trim().to_string(),
        },
    ))
}

/// `scontrol <verb> <job>` (suspend, resume, hold, release).
pub(crate) fn scontrol(verb: &str, job_id: &str) -> Result<(), String> {
    let what = format!("scontrol {verb} {job_id}");
    let out = run(Command::new("scontrol").args([verb, job_id]), &what)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failure(&what, &out))
    }
}

/// `scancel <job>`.
pub(crate) fn scancel(job_id: &str) -> Result<(), String> {
    let what = format!("scancel {job_id}");
    let out = run(Command::new("scancel").arg(job_id), &what)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failure(&what, &out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_are_the_ones_that_never_run_again() {
        let s = |st: &str| JobState {
            state: st.into(),
            reason: String::new(),
        };
        for t in [
            "COMPLETED",
            "CANCELLED",
            "NODE_FAIL",
            "PREEMPTED",
            "BOOT_FAIL",
        ] {
            assert!(s(t).is_terminal(), "{t}");
        }
        for t in [
            "PENDING",
            "RUNNING",
            "SUSPENDED",
            "COMPLETING",
            "CONFIGURING",
        ] {
            assert!(!s(t).is_terminal(), "{t}");
        }
    }
}
