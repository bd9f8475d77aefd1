//! Nothing outlives its trial. Agents are spawned with `posix_spawn` in their own
//! process group; a `setsid` daemon leaves that group, so after every attempt (and at
//! the end of a run, and on `continue`) labj also looks for processes by the contract
//! variables every agent inherits: `AGENTLAB_RUN_ID` and `AGENTLAB_TRIAL_ID`. A process
//! that scrubs its own environment escapes this in plain local mode — the sandbox (PID
//! namespace) and containers do not depend on it. Containers are found by their labels.

use super::engine::{ContainerEngine, LABEL_RUN};
use model::isolation::EngineSpec;

/// Now, in the clock of `/proc/<pid>/stat`'s start time (ticks since boot).
pub fn boot_ticks_now() -> Option<u64> {
    let up = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = up.split_whitespace().next()?.parse().ok()?;
    let hz = rustix::param::clock_ticks_per_second();
    (hz > 0).then_some((secs * hz as f64) as u64)
}

/// Start time (ticks since boot) of `pid`, from `/proc/<pid>/stat` (field 22).
fn start_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state …": comm may contain spaces; fields after it start at 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// SIGKILLs every process (except this one) whose environment names `run_id` and, when
/// `trial_ids` is `Some`, one of those trials. Returns how many were killed. Processes
/// whose environment we may not read are skipped.
pub fn reap_host_processes(run_id: &str, trial_ids: Option<&[String]>) -> usize {
    reap_host_processes_since(run_id, trial_ids, None)
}

/// [`reap_host_processes`] looking only at processes started at or after
/// `started_after` (ticks since boot, see [`boot_ticks_now`]). Reading another
/// process's environment takes its memory-map lock and costs up to milliseconds on a
/// busy machine; the start time (in `stat`) is cheap, and anything an attempt spawned
/// started after the attempt did. Used after every attempt.
pub fn reap_host_processes_since(
    run_id: &str,
    trial_ids: Option<&[String]>,
    started_after: Option<u64>,
) -> usize {
    if trial_ids.is_some_and(|t| t.is_empty()) {
        return 0;
    }
    let wanted: Option<std::collections::HashSet<String>> = trial_ids.map(|ids| {
        ids.iter()
            .map(|t| format!("AGENTLAB_TRIAL_ID={t}"))
            .collect()
    });
    reap_matching(&format!("AGENTLAB_RUN_ID={run_id}"), wanted, started_after)
}

/// The environment variable carrying one trial execution's unique tag.
pub(crate) const TRIAL_TAG_VAR: &str = "LABJ_TRIAL_TAG";

/// When an attempt started, to find what it spawned: the boot-tick clock of process
/// start times and the last pid the kernel handed out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpawnMark {
    ticks: Option<u64>,
    last_pid: Option<u32>,
    at: std::time::Instant,
}

/// Past this, a sweep no longer trusts that pids only grew since the mark.
const PID_ORDER_TRUSTED: std::time::Duration = std::time::Duration::from_secs(5);

impl SpawnMark {
    pub(crate) fn now() -> SpawnMark {
        if super::subreaper::subreaper_enabled() {
            // The sweep looks at labj's children, not at pids handed out since the mark;
            // its rare fallback to the scan then looks at every process.
            return SpawnMark {
                last_pid: None,
                ticks: None,
                at: std::time::Instant::now(),
            };
        }
        SpawnMark {
            last_pid: last_pid(),
            ticks: boot_ticks_now(),
            at: std::time::Instant::now(),
        }
    }

    /// Pids at or below this cannot be processes started since the mark: pids are
    /// handed out in increasing order until they wrap, and a wrap shows as a last pid
    /// below the mark's. Only trusted for a short while (a busy machine could wrap all
    /// the way around during a long attempt); `None` = look at every pid.
    fn pid_floor(&self) -> Option<u32> {
        let then = self.last_pid?;
        (self.at.elapsed() < PID_ORDER_TRUSTED && last_pid()? >= then).then_some(then)
    }
}

/// The last pid allocated in this pid namespace.
fn last_pid() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// After an attempt: kills the processes of this trial execution only (matched by
/// run id, trial id and the execution's [`TRIAL_TAG_VAR`]), started since `mark`. Only
/// pids handed out since the mark are looked at, so the sweep costs a `/proc` listing
/// and a few reads, not two reads per process on the machine.
pub(crate) fn reap_trial_processes_since(
    run_id: &str,
    trial_id: &str,
    tag: &str,
    mark: &SpawnMark,
) -> usize {
    let wanted = [
        format!("AGENTLAB_TRIAL_ID={trial_id}"),
        format!("{TRIAL_TAG_VAR}={tag}"),
    ];
    let run_var = format!("AGENTLAB_RUN_ID={run_id}");
    let floor = mark.pid_floor();
    scan_and_kill(mark.ticks, floor, |env| {
        let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
        vars.contains(&run_var.as_bytes()) && wanted.iter().all(|w| vars.contains(&w.as_bytes()))
    })
}

/// After an attempt: kills what is left of this trial execution (see
/// [`reap_trial_processes_since`]). When `group_gone` (the attempt's process groups were
/// drained, see `subreaper.rs`) and labj is a child subreaper, only the processes
/// re-parented to labj are looked at; otherwise `/proc` is scanned.
pub(crate) fn reap_trial_processes(
    run_id: &str,
    trial_id: &str,
    tag: &str,
    mark: &SpawnMark,
    group_gone: bool,
) -> usize {
    if group_gone && super::subreaper::subreaper_enabled() {
        let wanted = [
            format!("AGENTLAB_TRIAL_ID={trial_id}"),
            format!("{TRIAL_TAG_VAR}={tag}"),
        ];
        if let Some(n) =
            super::subreaper::reap_escapees(&format!("AGENTLAB_RUN_ID={run_id}"), &wanted)
        {
            return n;
        }
    }
    let n = reap_trial_processes_since(run_id, trial_id, tag, mark);
    if n > 0 && super::subreaper::subreaper_enabled() {
        // What the scan killed may be labj's own children now: reap them.
        super::subreaper::reap_dead_escapees();
    }
    n
}

fn reap_matching(
    run_var: &str,
    wanted: Option<std::collections::HashSet<String>>,
    started_after: Option<u64>,
) -> usize {
    scan_and_kill(started_after, None, |env| {
        let mut ours = false;
        let mut trial = wanted.is_none();
        for var in env.split(|b| *b == 0) {
            if var == run_var.as_bytes() {
                ours = true;
            } else if let Some(w) = &wanted {
                if let Ok(s) = std::str::from_utf8(var) {
                    trial |= w.contains(s);
                }
            }
        }
        ours && trial
    })
}

/// SIGKILLs every process (but this one) started since `started_after` whose
/// environment satisfies `matches`; returns how many.
fn scan_and_kill(
    started_after: Option<u64>,
    pid_floor: Option<u32>,
    matches: impl Fn(&[u8]) -> bool,
) -> usize {
    let me = std::process::id();
    // Distinct pids: one killed in the first pass may still be dying in the second.
    let mut killed = std::collections::HashSet::new();
    // Two passes: a daemon may fork between our read and our kill; the second pass
    // catches children born meanwhile.
    for _ in 0..2 {
        let mut this_pass = 0;
        let Ok(entries) = std::fs::read_dir("/proc") else {
            break;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if pid == me || pid_floor.is_some_and(|f| pid <= f) {
                continue;
            }
            if let Some(after) = started_after {
                match start_ticks(&pid.to_string()) {
                    // A tick of slack: the clocks are read at different moments.
                    Some(t) if t + 1 >= after => {}
                    _ => continue,
                }
            }
            let Ok(env) = std::fs::read(e.path().join("environ")) else {
                continue;
            };
            if matches(&env) {
                let kill = |p| rustix::process::kill_process(p, rustix::process::Signal::KILL);
                if rustix::process::Pid::from_raw(pid as libc::pid_t)
                    .is_some_and(|p| kill(p).is_ok())
                    && killed.insert(pid)
                {
                    this_pass += 1;
                }
            }
        }
        if this_pass == 0 {
            break;
        }
    }
    killed.len()
}

/// Removes the containers labelled with `run_id` (a crashed session's, or any left at
/// the end of a run); with `trial_ids`, only those trials' (a `continue` that reattaches
/// Slurm jobs must not touch theirs). Returns the names removed.
pub fn remove_run_containers(
    engine: &EngineSpec,
    run_id: &str,
    trial_ids: Option<&[String]>,
) -> Result<Vec<String>, String> {
    let e = ContainerEngine::from_spec(engine);
    let mut names = e
        .names_with_label(LABEL_RUN, run_id)
        .map_err(|e| e.to_string())?;
    if let Some(ids) = trial_ids {
        // Names are `labj-<run>-<trial>-a<attempt>` (engine::container_name).
        names.retain(|n| ids.iter().any(|t| n.contains(&format!("-{t}-a"))));
    }
    for n in &names {
        e.remove(n).map_err(|e| e.to_string())?;
    }
    Ok(names)
}
