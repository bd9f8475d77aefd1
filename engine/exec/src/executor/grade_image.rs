//! labj's grader in the task's environment (`benchmark.grader.strategy: in_task_image`).
//!
//! After the agent's container (or sandbox) is gone and [`super::grade::stage`] wrote the
//! grader's fresh inputs, the grader runs apart from the agent:
//!
//! * the agent's final workspace is **copied** (`cp -a`) to `attempt_<n>/grader_workspace/`:
//!   the grader may build, run and edit it without changing what the agent left (the
//!   workspace evidence was recorded before); the copy is removed after grading;
//! * the task's hidden grading files (`benchmark.grader.hidden_files`, per task) are
//!   mounted read-only **only here**: the agent's container never mounts them, and the
//!   agent's sandbox hides them behind an empty tmpfs (`sandbox.rs`);
//! * container mode — a fresh container of the trial's image (task > variant >
//!   experiment, the id the agent ran), with the run's isolation flags and
//!   `LABJ_CONTAINER_ARGS`, network `none` unless `benchmark.grader.network: full`:
//!
//!   | path | mode | content |
//!   |---|---|---|
//!   | `/agentlab/workspace/` | rw | the copy of the agent's workspace (the working directory) |
//!   | `/agentlab/hidden/` | ro | the task's hidden grading files |
//!   | `/agentlab/grader/` | rw | the grader stage: task/bindings/dependencies/policy copies, `trial_input.json`, `result.json` (the agent's), `grade.json` |
//!   | `/agentlab/out/` | ro | the agent's attempt output (result, trajectory, logs) |
//!   | `/agentlab/deps/` | ro | the trial's dependency files |
//!
//!   with `AGENTLAB_GRADE_PATH=/agentlab/grader/grade.json`, `AGENTLAB_HIDDEN_DIR`,
//!   `AGENTLAB_WORKSPACE_DIR`, and the other `AGENTLAB_*` naming these paths;
//! * sandbox mode — a fresh bubblewrap sandbox like the agent's (own PID namespace,
//!   network namespace unless `network: full`, run directory hidden) with the copy, the
//!   stage and the hidden files bound in; the same variables with host paths.
//!
//! The grader has its own time limit (`benchmark.grader.timeout_ms`, default the agent's).
//! A grader that exits non-zero, times out or writes no valid grade is `grade_error`; an
//! engine that cannot start the grader's container is `spawn_failure` (infrastructure).

use super::grade::GraderStage;
use super::sandbox::{AgentView, ContainerRef};
use super::{disk, invocation, Fault, Trial};
use crate::isolation::{container_name, policy_flags, LABEL_RUN, LABEL_TRIAL};
use journal::event::Classification;
use model::isolation::{IsolationMode, NetworkMode};
use model::trial::GraderSpec;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the hidden files appear inside the grader's container.
pub(super) const HIDDEN_MOUNT: &str = "/agentlab/hidden";
pub(super) const STAGE_MOUNT: &str = "/agentlab/grader";

/// The grader's command in the task's environment, its container (for pause and
/// cleanup) and the workspace copy to remove afterwards.
pub(super) struct Placed {
    pub cmd: Command,
    pub container: Option<ContainerRef>,
    pub workspace_copy: PathBuf,
}

pub(super) fn command(
    trial: &Trial<'_>,
    grader: &GraderSpec,
    n: u32,
    stage: &GraderStage,
) -> Result<Placed, Fault> {
    let attempt = trial.paths.attempt_dir(n);
    let copy = attempt.join("grader_workspace");
    copy_workspace(&trial.paths.workspace, &copy)?;
    let network = grader.network.unwrap_or(NetworkMode::None);
    let placed = match trial.launch.iso.mode {
        IsolationMode::Container => container(trial, grader, n, stage, &attempt, &copy, network)?,
        IsolationMode::Sandbox => sandbox(trial, grader, n, stage, &attempt, &copy, network)?,
        IsolationMode::Local => {
            return Err(Fault(
                Classification::GradeError,
                "strategy in_task_image needs a container or sandbox trial (refused at load)"
                    .into(),
            ))
        }
    };
    Ok(placed)
}

/// `cp -a` keeps modes, symlinks and timestamps (a test runner may depend on any).
fn copy_workspace(from: &Path, to: &Path) -> Result<(), Fault> {
    if std::fs::symlink_metadata(to).is_ok() {
        std::fs::remove_dir_all(to).map_err(|e| disk(&to.display().to_string(), e))?;
    }
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .map_err(|e| disk("copying the agent's workspace for the grader (cp -a)", e))?;
    if !out.status.success() {
        return Err(disk(
            "copying the agent's workspace for the grader (cp -a)",
            String::from_utf8_lossy(&out.stderr).trim(),
        ));
    }
    Ok(())
}

/// Removes the grader's workspace copy (it is a copy: nothing of the record).
pub(super) fn remove_copy(copy: &Path) {
    if let Err(e) = std::fs::remove_dir_all(copy) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %copy.display(), "removing the grader's workspace copy: {e}");
        }
    }
}

fn container(
    trial: &Trial<'_>,
    grader: &GraderSpec,
    n: u32,
    stage: &GraderStage,
    attempt: &Path,
    copy: &Path,
    network: NetworkMode,
) -> Result<Placed, Fault> {
    let iso = &trial.launch.iso;
    let (Some(engine), Some((_, image_id))) = (&iso.engine, &trial.launch.image) else {
        return Err(Fault(
            Classification::SpawnFailure,
            "in-image grader without a resolved engine or image".into(),
        ));
    };
    let r = Path::new(model::isolation::CONTRACT_ROOT);
    let s = Path::new(STAGE_MOUNT);
    let view = AgentView {
        task: s.join("task.json"),
        bindings: s.join("bindings.json"),
        dependencies: s.join("dependencies.json"),
        policy: s.join("policy.json"),
        trial_input: s.join("trial_input.json"),
        result: s.join("result.json"),
        trajectory: r.join("out/trajectory.jsonl"),
        trial_dir: r.to_path_buf(),
        workspace: r.join("workspace"),
        deps: r.join("deps"),
    };
    // The stage's trial input names host paths; the grader reads the container's.
    trial.write_trial_input_as(n, &view, &stage.trial_input)?;
    let mut env = trial.contract_env(n, &view);
    env.push(("AGENTLAB_GRADE_PATH".into(), s.join("grade.json").into()));
    if grader.contract == model::trial::GraderContract::Conclusion {
        env.extend(super::conclusion::env(s));
    }
    env.push(("WORKSPACE".into(), view.workspace.clone().into()));
    if grader.hidden_dir.is_some() {
        env.push(("AGENTLAB_HIDDEN_DIR".into(), HIDDEN_MOUNT.into()));
    }
    let argv: Vec<String> = grader
        .command
        .iter()
        .map(|t| invocation::template(t, &env))
        .collect();
    let deps = trial.paths.trial_dir.join("deps");
    std::fs::create_dir_all(&deps).map_err(|e| disk(&deps.display().to_string(), e))?;

    let name = format!(
        "{}-grader",
        container_name(&trial.spec.run_id, &trial.spec.trial_id, n)
    );
    let mut c = Command::new(&engine.program);
    c.args(["run", "--name", &name]);
    c.args(["--label", &format!("{LABEL_RUN}={}", trial.spec.run_id)]);
    c.args(["--label", &format!("{LABEL_TRIAL}={}", trial.spec.trial_id)]);
    c.args(["--label", &format!("labj.attempt={n}")]);
    let mut own = iso.clone();
    own.network = network;
    c.args(policy_flags(&own));
    let vol = |c: &mut Command, host: &Path, at: &str, ro: bool| {
        let mut v = host.as_os_str().to_owned();
        v.push(format!(":{at}{}", if ro { ":ro" } else { "" }));
        c.arg("-v").arg(v);
    };
    // The stage and the workspace copy are the container user's (`run_as_user`).
    let writable = trial.launch.owner.prepare(&[&stage.dir, copy])?;
    vol(&mut c, attempt, "/agentlab/out", true);
    vol(
        &mut c,
        &stage.dir,
        &format!("{STAGE_MOUNT}{writable}"),
        false,
    );
    vol(
        &mut c,
        copy,
        &format!("/agentlab/workspace{writable}"),
        false,
    );
    vol(&mut c, &deps, "/agentlab/deps", true);
    if let Some(h) = &grader.hidden_dir {
        vol(&mut c, h, HIDDEN_MOUNT, true);
    }
    for m in &iso.mounts {
        vol(&mut c, &m.source, &m.target, m.read_only);
    }
    c.args(["-w", "/agentlab/workspace"]);
    // Values through the client's environment, never on a command line.
    for (k, v) in &env {
        c.arg("-e").arg(k);
        c.env(k, v);
    }
    c.args(&engine.run_args);
    c.arg(image_id);
    c.args(&argv);
    c.env(crate::isolation::TRIAL_TAG_VAR, &trial.tag);
    Ok(Placed {
        cmd: c,
        container: Some(ContainerRef {
            engine: engine.clone(),
            name,
        }),
        workspace_copy: copy.to_path_buf(),
    })
}

fn sandbox(
    trial: &Trial<'_>,
    grader: &GraderSpec,
    n: u32,
    stage: &GraderStage,
    attempt: &Path,
    copy: &Path,
    network: NetworkMode,
) -> Result<Placed, Fault> {
    let iso = &trial.launch.iso;
    let Some(bwrap) = &iso.bwrap else {
        return Err(Fault(
            Classification::SpawnFailure,
            "sandboxed grader without bubblewrap; refusing to run it unsandboxed".into(),
        ));
    };
    let p = &trial.paths;
    let view = AgentView {
        task: stage.task.clone(),
        bindings: stage.bindings.clone(),
        dependencies: stage.dependencies.clone(),
        policy: stage.policy.clone(),
        trial_input: stage.trial_input.clone(),
        result: stage.result.clone(),
        trajectory: attempt.join("trajectory.jsonl"),
        trial_dir: p.trial_dir.clone(),
        workspace: copy.to_path_buf(),
        deps: p.trial_dir.join("deps"),
    };
    trial.write_trial_input_as(n, &view, &stage.trial_input)?;
    let mut env = trial.contract_env(n, &view);
    env.push(("AGENTLAB_GRADE_PATH".into(), stage.grade.clone().into()));
    if grader.contract == model::trial::GraderContract::Conclusion {
        env.extend(super::conclusion::env(&stage.dir));
    }
    if let Some(h) = &grader.hidden_dir {
        env.push(("AGENTLAB_HIDDEN_DIR".into(), h.clone().into()));
    }
    if let Some(path) = std::env::var_os("PATH") {
        env.push(("PATH".into(), path));
    }
    env.push(("HOME".into(), stage.dir.clone().into()));
    let argv: Vec<String> = grader
        .command
        .iter()
        .map(|t| invocation::template(t, &env))
        .collect();
    let run_dir = trial
        .spec
        .blob_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| p.trial_dir.join("../.."));
    let run_dir = std::path::absolute(&run_dir).map_err(|e| disk("run dir", e))?;
    let mut c = Command::new(bwrap);
    c.args(["--die-with-parent", "--unshare-pid"]);
    if network == NetworkMode::None {
        c.arg("--unshare-net");
    }
    c.arg(if iso.root_read_only {
        "--ro-bind"
    } else {
        "--bind"
    });
    c.args([
        "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
    ]);
    let exp = &trial.spec.experiment_dir;
    c.arg("--ro-bind").arg(exp).arg(exp);
    c.arg("--tmpfs").arg(&run_dir);
    c.arg("--ro-bind").arg(&p.trial_dir).arg(&p.trial_dir);
    c.arg("--bind").arg(&stage.dir).arg(&stage.dir);
    c.arg("--bind").arg(copy).arg(copy);
    // Only this task's hidden files: the others' behind an empty tmpfs, as for the agent.
    if let Some(root) = grader.hidden_root.as_ref().filter(|r| r.is_dir()) {
        c.arg("--tmpfs").arg(root);
    }
    if let Some(h) = &grader.hidden_dir {
        c.arg("--ro-bind").arg(h).arg(h);
    }
    c.arg("--remount-ro").arg(&run_dir);
    if iso.drop_all_caps {
        c.args(["--cap-drop", "ALL"]);
    }
    c.arg("--chdir").arg(copy).arg("--");
    let program = argv.first().cloned().unwrap_or_default();
    if program.contains('/') && Path::new(&program).is_relative() {
        c.arg(exp.join(&program));
    } else {
        c.arg(&program);
    }
    c.args(argv.iter().skip(1));
    c.env_clear().envs(env);
    c.env(crate::isolation::TRIAL_TAG_VAR, &trial.tag);
    Ok(Placed {
        cmd: c,
        container: None,
        workspace_copy: copy.to_path_buf(),
    })
}
