//! How the agent command is launched in each isolation mode (see `crate::isolation`):
//!
//! * local — a host process; with an env allow-list when `env_from_host` is declared;
//! * sandbox — under bubblewrap: own PID namespace (nothing survives the agent), no
//!   network namespace access with network none, the run directory hidden behind an
//!   empty tmpfs with only this trial's directory bound back (read-only, except the
//!   workspace and the attempt directory), the experiment directory read-only, rlimits
//!   for memory and CPU affinity for `cpu_count`;
//! * container — `docker|podman run` with the contract mounts under `/agentlab`, labels
//!   carrying run and trial ids, network/resource/hardening flags, `LABJ_CONTAINER_ARGS`.

use super::{disk, invocation, Fault, Paths, Trial};
use crate::isolation::{ContainerEngine, Ownership, LABEL_RUN, LABEL_TRIAL};
use journal::event::{Classification, IsolationRecord};
use model::experiment::{SourceFormat, CLEAN_RESULT_PATH, CLEAN_TASK_PATH};
use model::isolation::{EngineSpec, IsolationMode, NetworkMode, TrialIsolation, CONTRACT_ROOT};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A container the agent runs in: what pause/unpause and cleanup need.
#[derive(Debug, Clone)]
pub(crate) struct ContainerRef {
    pub engine: EngineSpec,
    pub name: String,
}

impl ContainerRef {
    pub(crate) fn engine(&self) -> ContainerEngine {
        ContainerEngine::from_spec(&self.engine)
    }
}

/// Variables a clean (allow-listed) environment always gets from the host: without
/// PATH nothing could be found. HOME points into the trial (set separately).
const BASE_HOST_VARS: [&str; 1] = ["PATH"];

/// The contract paths as the agent sees them: host paths, or `/agentlab/…` in a container.
pub(super) struct AgentView {
    pub task: PathBuf,
    pub bindings: PathBuf,
    pub dependencies: PathBuf,
    pub policy: PathBuf,
    pub trial_input: PathBuf,
    pub result: PathBuf,
    pub trajectory: PathBuf,
    pub trial_dir: PathBuf,
    pub workspace: PathBuf,
    pub deps: PathBuf,
}

impl AgentView {
    pub(super) fn host(p: &Paths, attempt_dir: &Path) -> AgentView {
        AgentView {
            task: p.task.clone(),
            bindings: p.bindings.clone(),
            dependencies: p.dependencies.clone(),
            policy: p.policy.clone(),
            trial_input: p.trial_input.clone(),
            result: attempt_dir.join("result.json"),
            trajectory: attempt_dir.join("trajectory.jsonl"),
            trial_dir: p.trial_dir.clone(),
            workspace: p.workspace.clone(),
            deps: p.trial_dir.join("deps"),
        }
    }

    /// The original runner's container contract (its version 1.0 clean harness reads
    /// the task at `/in/task.json` and writes `/out/result.json`).
    pub(super) fn container(contract: SourceFormat) -> AgentView {
        let r = Path::new(CONTRACT_ROOT);
        let clean = contract == SourceFormat::CleanHarnessV1;
        AgentView {
            task: if clean {
                PathBuf::from(CLEAN_TASK_PATH)
            } else {
                r.join("in/task.json")
            },
            bindings: r.join("in/bindings.json"),
            dependencies: r.join("in/dependencies.json"),
            policy: r.join("in/policy.json"),
            trial_input: r.join("in/trial_input.json"),
            result: if clean {
                PathBuf::from(CLEAN_RESULT_PATH)
            } else {
                r.join("out/result.json")
            },
            trajectory: if clean {
                PathBuf::from("/out/trajectory.jsonl")
            } else {
                r.join("out/trajectory.jsonl")
            },
            trial_dir: r.to_path_buf(),
            workspace: r.join("workspace"),
            deps: r.join("deps"),
        }
    }
}

/// What the trial needs to launch its agent, resolved once per trial.
pub(super) struct Launch {
    pub iso: TrialIsolation,
    /// `(image, image id)` in container mode.
    pub image: Option<(String, String)>,
    /// Values of the allow-listed host variables (names are journaled, values never).
    pub host_env: Vec<(String, OsString)>,
    /// Effective limits, journaled.
    pub limits: BTreeMap<String, u64>,
    /// How the directories the container writes become its user's (`run_as_user`).
    pub owner: Ownership,
}

impl Launch {
    /// Resolves the engine/bwrap, the image id and the host variables; `Err` means the
    /// trial cannot be isolated as declared, and the agent does not run at all.
    pub(super) fn resolve(iso: &TrialIsolation) -> Result<Launch, Fault> {
        let infra = |m: String| Fault(Classification::SpawnFailure, m);
        let mut image = None;
        let mut owner = Ownership::AsIs;
        match iso.mode {
            IsolationMode::Local => {}
            IsolationMode::Sandbox => {
                if iso.bwrap.is_none() {
                    return Err(infra(
                        "sandboxed trial without bubblewrap (the run's preflight did not resolve `bwrap`); refusing to run it unsandboxed".into(),
                    ));
                }
            }
            IsolationMode::Container => {
                let (Some(engine), Some(img)) = (&iso.engine, &iso.image) else {
                    return Err(infra(
                        "container trial without a resolved engine or image; refusing to run it on the host".into(),
                    ));
                };
                let engine = ContainerEngine::from_spec(engine);
                let id = engine
                    .image_id(img)
                    .map_err(|e| infra(format!("image `{img}`: {e}")))?;
                // Preflight checked it; an image changed since is the machinery's fault.
                owner = engine
                    .ownership(img, iso.run_as_user.as_deref())
                    .map_err(|e| infra(format!("runtime.policy.sandbox.run_as_user: {e}")))?;
                image = Some((img.clone(), id));
            }
        }
        let mut host_env = Vec::new();
        for name in iso.env_from_host.iter().flatten() {
            match std::env::var_os(name) {
                Some(v) => host_env.push((name.clone(), v)),
                None => {
                    return Err(infra(format!(
                        "host variable `{name}` (runtime.agent.env_from_host) is not set in the worker's environment"
                    )))
                }
            }
        }
        let mut limits = BTreeMap::new();
        let r = &iso.resources;
        match iso.mode {
            IsolationMode::Container => {
                r.memory_mb.map(|v| limits.insert("memory_mb".into(), v));
                r.cpu_count.map(|v| limits.insert("cpu_count".into(), v));
                r.pids.map(|v| limits.insert("pids".into(), v));
            }
            IsolationMode::Sandbox => {
                r.memory_mb
                    .map(|v| limits.insert("address_space_mb".into(), v));
                r.cpu_count
                    .map(|v| limits.insert("cpu_affinity".into(), v.min(online_cpus())));
            }
            IsolationMode::Local => {}
        }
        Ok(Launch {
            iso: iso.clone(),
            image,
            host_env,
            limits,
            owner,
        })
    }

    pub(super) fn record(&self) -> IsolationRecord {
        IsolationRecord {
            mode: self.iso.mode.as_str().into(),
            engine: self.iso.engine.as_ref().map(|e| e.version.clone()),
            image: self.image.as_ref().map(|i| i.0.clone()),
            image_digest: self.image.as_ref().map(|i| i.1.clone()),
            network: match self.iso.mode {
                IsolationMode::Local => NetworkMode::Full.as_str().into(),
                _ => self.iso.network.as_str().into(),
            },
            limits: self.limits.clone(),
            host_env_passed: self.host_env.iter().map(|(k, _)| k.clone()).collect(),
        }
    }
}

fn online_cpus() -> u64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1)
}

impl Trial<'_> {
    /// The agent's command for attempt `n`: argv and environment per isolation mode.
    /// Stdio is set by the caller. Returns the container, if any, for pause and cleanup.
    pub(super) fn agent_command(
        &self,
        n: u32,
        attempt_dir: &Path,
    ) -> Result<(Command, Option<ContainerRef>), Fault> {
        let launch = &self.launch;
        let iso = &launch.iso;
        let agent = &self.spec.agent;
        let in_container = iso.mode == IsolationMode::Container;
        let view = if in_container {
            AgentView::container(iso.contract)
        } else {
            AgentView::host(&self.paths, attempt_dir)
        };
        let Some(program) = agent.command.first() else {
            return Err(Fault(
                Classification::SpawnFailure,
                "command is empty".to_string(),
            ));
        };
        let mut env: Vec<(String, OsString)> = Vec::new();
        if iso.clean_env() && !in_container {
            for name in BASE_HOST_VARS {
                if let Some(v) = std::env::var_os(name) {
                    env.push((name.into(), v));
                }
            }
            env.push(("HOME".into(), view.workspace.clone().into_os_string()));
        }
        // Launch-time values (`--env`, `--env-file`): never journaled; declared
        // variables win over them.
        let launch_env = model::launch_env::get();
        env.extend(
            launch_env
                .vars
                .iter()
                .map(|(k, v)| (k.clone(), OsString::from(v))),
        );
        let dollar = |field: &str, raw: &str| -> Result<String, Fault> {
            if !agent.dollar_templates {
                return Ok(raw.to_string());
            }
            model::launch_env::expand(raw, &self.spec.bindings).map_err(|name| {
                Fault(
                    Classification::SpawnFailure,
                    format!(
                        "{field} references ${name}, which neither the variant's bindings,                          --env/--env-file nor labj's environment define"
                    ),
                )
            })
        };
        for (k, v) in &agent.env {
            let v = dollar(&format!("runtime.agent_runtime.env.{k}"), v)?;
            env.push((k.clone(), OsString::from(v)));
        }
        env.extend(launch.host_env.iter().cloned());
        for (id, path) in &launch_env.files {
            if !in_container {
                env.push((
                    format!(
                        "AGENTLAB_SECRET_FILE_{}",
                        id.to_ascii_uppercase().replace(['-', '.'], "_")
                    ),
                    path.clone().into_os_string(),
                ));
            }
        }
        let contract = self.contract_env(n, &view);
        // As the original: `${AGENTLAB_…}` in any token expands to the contract value as
        // the agent sees it, then the task document (not trial_input.json) follows the
        // input flag and the result path the output flag.
        let mut argv: Vec<OsString> = Vec::with_capacity(agent.command.len() + 4);
        // Expanded first: `${AGENTLAB_WORKSPACE_DIR}/solve.sh` is absolute once expanded
        // (joined to the experiment directory as written, it named nothing).
        let program = invocation::template(
            &dollar("runtime.agent_runtime.command[0]", program)?,
            &contract,
        );
        argv.push(
            if !in_container && program.contains('/') && Path::new(&program).is_relative() {
                self.spec.experiment_dir.join(&program).into_os_string()
            } else {
                OsString::from(program)
            },
        );
        let mut rest: Vec<String> = Vec::with_capacity(agent.command.len());
        for (i, t) in agent.command.iter().enumerate().skip(1) {
            let t = dollar(&format!("runtime.agent_runtime.command[{i}]"), t)?;
            rest.push(invocation::template(&t, &contract));
        }
        if let Some(flag) = &agent.io.input_arg {
            invocation::append_io(&mut rest, flag, &view.task.to_string_lossy());
        }
        if let Some(flag) = &agent.io.output_arg {
            invocation::append_io(&mut rest, flag, &view.result.to_string_lossy());
        }
        argv.extend(rest.into_iter().map(OsString::from));
        env.extend(contract);
        if in_container {
            env.push(("WORKSPACE".into(), view.workspace.clone().into_os_string()));
        }
        match iso.mode {
            IsolationMode::Local => {
                // The PATH the agent gets (the last one set wins, as in `envs`).
                let path = env
                    .iter()
                    .rev()
                    .find(|(k, _)| k == "PATH")
                    .map(|(_, v)| v.clone())
                    .or_else(|| {
                        (!iso.clean_env())
                            .then(|| std::env::var_os("PATH"))
                            .flatten()
                    });
                let mut cmd = Command::new(super::program::resolve(&argv[0], path.as_deref()));
                std::os::unix::process::CommandExt::arg0(&mut cmd, &argv[0]);
                cmd.args(&argv[1..]);
                if iso.clean_env() {
                    cmd.env_clear();
                }
                cmd.envs(env).current_dir(&self.paths.workspace);
                // What the after-attempt sweep matches an escaped process of this very
                // execution by (with the run and trial ids).
                cmd.env(crate::isolation::TRIAL_TAG_VAR, &self.tag);
                Ok((cmd, None))
            }
            IsolationMode::Sandbox => {
                let mut cmd = self.bwrap_command(attempt_dir, &argv)?;
                cmd.env_clear().envs(env);
                Ok((cmd, None))
            }
            IsolationMode::Container => {
                let (cmd, name) = self.container_command(n, attempt_dir, &argv, &env)?;
                let engine = iso.engine.clone().expect("resolved in Launch::resolve");
                Ok((cmd, Some(ContainerRef { engine, name })))
            }
        }
    }

    /// `AGENTLAB_*` as the agent sees them; the contract wins over declared variables.
    pub(super) fn contract_env(&self, n: u32, v: &AgentView) -> Vec<(String, OsString)> {
        let s = self.spec;
        let p = |x: &PathBuf| x.clone().into_os_string();
        let mut env: Vec<(String, OsString)> = vec![
            ("AGENTLAB_TASK_PATH".into(), p(&v.task)),
            ("AGENTLAB_BINDINGS_PATH".into(), p(&v.bindings)),
            ("AGENTLAB_DEPENDENCIES_PATH".into(), p(&v.dependencies)),
            ("AGENTLAB_POLICY_PATH".into(), p(&v.policy)),
            ("AGENTLAB_TRIAL_INPUT_PATH".into(), p(&v.trial_input)),
            ("AGENTLAB_RESULT_PATH".into(), p(&v.result)),
            ("AGENTLAB_TRAJECTORY_PATH".into(), p(&v.trajectory)),
            (
                "AGENTLAB_TIMEOUT_MS".into(),
                s.agent.timeout_ms.to_string().into(),
            ),
            ("AGENTLAB_RUN_ID".into(), s.run_id.clone().into()),
            ("AGENTLAB_TRIAL_ID".into(), s.trial_id.clone().into()),
            ("AGENTLAB_VARIANT_ID".into(), s.variant_id.clone().into()),
            ("AGENTLAB_TASK_ID".into(), s.task_id.clone().into()),
            ("AGENTLAB_REPL_IDX".into(), s.repl_idx.to_string().into()),
            ("AGENTLAB_TRIAL_DIR".into(), p(&v.trial_dir)),
            ("AGENTLAB_WORKSPACE_DIR".into(), p(&v.workspace)),
            ("AGENTLAB_DEPS_DIR".into(), p(&v.deps)),
            ("AGENTLAB_ATTEMPT".into(), n.to_string().into()),
        ];
        // As the original: only for a task that names a non-empty image.
        if let Some(image) = s
            .task
            .get("image")
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            env.push(("AGENTLAB_TASK_IMAGE".into(), image.into()));
        }
        env
    }

    fn bwrap_command(&self, attempt_dir: &Path, argv: &[OsString]) -> Result<Command, Fault> {
        let iso = &self.launch.iso;
        let bwrap = iso.bwrap.as_ref().expect("resolved in Launch::resolve");
        let p = &self.paths;
        let run_dir = self
            .spec
            .blob_dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| p.trial_dir.join("../.."));
        let run_dir = std::path::absolute(&run_dir).map_err(|e| disk("run dir", e))?;
        let mut c = Command::new(bwrap);
        c.args(["--die-with-parent", "--unshare-pid"]);
        if iso.network == NetworkMode::None {
            c.arg("--unshare-net");
        }
        c.arg(if iso.root_read_only {
            "--ro-bind"
        } else {
            "--bind"
        });
        c.args(["/", "/", "--dev", "/dev", "--proc", "/proc"]);
        let no_net = iso.network == NetworkMode::None;
        if iso.root_read_only || no_net {
            c.args(["--tmpfs", "/tmp"]);
        }
        if no_net {
            // No network means no host service either: the usual homes of unix sockets
            // (docker.sock, podman.sock, the D-Bus system bus, /tmp/.X11-unix, per-user
            // runtime dirs) are replaced by empty directories. (Abstract sockets are
            // already per network namespace.)
            for dir in ["/run", "/var/run"] {
                let real_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
                if real_dir {
                    c.args(["--tmpfs", dir]);
                }
            }
        }
        // The agent must not edit what grades it: the experiment directory (grader,
        // dataset, agent program) is read-only whatever root_read_only says.
        let exp = &self.spec.experiment_dir;
        c.arg("--ro-bind").arg(exp).arg(exp);
        // Every run of the runs directory disappears behind an empty tmpfs (this run's
        // journal and blobs, sibling trials, other runs' journals, results and grades);
        // only this trial's directory comes back, read-only except workspace and attempt
        // output. With the runs directory at the root of the filesystem, only this run's
        // directory is hidden.
        let hidden = run_dir
            .parent()
            .filter(|runs| runs.parent().is_some())
            .unwrap_or(&run_dir)
            .to_path_buf();
        c.arg("--tmpfs").arg(&hidden);
        if exp.starts_with(&hidden) {
            // A remote worker keeps the experiment files under its run directory.
            c.arg("--ro-bind").arg(exp).arg(exp);
        }
        // The hidden grading files are the grader's only: an empty tmpfs over them
        // (after every bind of the experiment directory).
        // Every task's, not only this one's: the root of `hidden_files` when it has one.
        if let Some(g) = &self.spec.grader {
            if let Some(h) = g.hidden_root.as_ref().or(g.hidden_dir.as_ref()) {
                if h.is_dir() {
                    c.arg("--tmpfs").arg(h);
                }
            }
        }
        c.arg("--ro-bind").arg(&p.trial_dir).arg(&p.trial_dir);
        c.arg("--bind").arg(&p.workspace).arg(&p.workspace);
        c.arg("--bind").arg(attempt_dir).arg(attempt_dir);
        // The tmpfs itself read-only too: nothing written "into the run dir" lands anywhere.
        c.arg("--remount-ro").arg(&hidden);
        let deps = p.trial_dir.join("deps");
        for m in &iso.mounts {
            // Preflight refused targets the sandbox cannot map into the trial.
            let Some(target) = model::isolation::sandbox_target(&m.target, &p.workspace, &deps)
            else {
                return Err(Fault(
                    Classification::Error,
                    format!(
                        "mount target {} cannot be mapped into the sandbox",
                        m.target
                    ),
                ));
            };
            // The mount point must exist: deps/ is bound read-only inside the sandbox.
            let made = if m.source.is_dir() {
                std::fs::create_dir_all(&target)
            } else {
                target
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|_| {
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&target)
                            .map(|_| ())
                    })
            };
            made.map_err(|e| disk(&target.display().to_string(), e))?;
            c.arg(if m.read_only { "--ro-bind" } else { "--bind" })
                .arg(&m.source)
                .arg(target);
        }
        if iso.drop_all_caps {
            c.args(["--cap-drop", "ALL"]);
        }
        c.arg("--chdir").arg(&p.workspace).arg("--");
        if let Some(cpus) = iso.resources.cpu_count {
            let n = cpus.min(online_cpus()).max(1);
            c.args(["taskset", "-c", &format!("0-{}", n - 1)]);
        }
        if let Some(mb) = iso.resources.memory_mb {
            let bytes = mb.saturating_mul(1024 * 1024);
            c.args(["prlimit", &format!("--as={bytes}:{bytes}"), "--"]);
        }
        c.args(argv);
        Ok(c)
    }

    fn container_command(
        &self,
        n: u32,
        attempt_dir: &Path,
        argv: &[OsString],
        env: &[(String, OsString)],
    ) -> Result<(Command, String), Fault> {
        use crate::isolation::container_name;
        let iso = &self.launch.iso;
        let engine = iso.engine.as_ref().expect("resolved in Launch::resolve");
        let (_, image_id) = self
            .launch
            .image
            .as_ref()
            .expect("resolved in Launch::resolve");
        let p = &self.paths;
        let in_dir = p.trial_dir.join("in");
        let state = p.trial_dir.join("state");
        let deps = p.trial_dir.join("deps");
        for d in [&in_dir, &state, &deps] {
            std::fs::create_dir_all(d).map_err(|e| disk(&d.display().to_string(), e))?;
        }
        // The directories the agent writes are its user's (`run_as_user`).
        let writable = self
            .launch
            .owner
            .prepare(&[attempt_dir, &state, &p.workspace])?;
        // The contract's inputs, with the trial input rewritten to container paths.
        for (src, name) in [
            (&p.task, "task.json"),
            (&p.bindings, "bindings.json"),
            (&p.dependencies, "dependencies.json"),
            (&p.policy, "policy.json"),
        ] {
            let to = in_dir.join(name);
            std::fs::copy(src, &to).map_err(|e| disk(&to.display().to_string(), e))?;
        }
        self.write_trial_input_as(
            n,
            &AgentView::container(iso.contract),
            &in_dir.join("trial_input.json"),
        )?;

        let name = container_name(&self.spec.run_id, &self.spec.trial_id, n);
        let mut c = Command::new(&engine.program);
        c.args(["run", "--name", &name]);
        c.args(["--label", &format!("{LABEL_RUN}={}", self.spec.run_id)]);
        c.args(["--label", &format!("{LABEL_TRIAL}={}", self.spec.trial_id)]);
        c.args(["--label", &format!("labj.attempt={n}")]);
        c.args(crate::isolation::policy_flags(iso));
        let vol = |c: &mut Command, host: &Path, at: &str, ro: bool| {
            let mut s = host.as_os_str().to_owned();
            s.push(format!(":{at}{}", if ro { ":ro" } else { "" }));
            c.arg("-v").arg(s);
        };
        vol(&mut c, &in_dir, "/agentlab/in", true);
        vol(
            &mut c,
            attempt_dir,
            &format!("/agentlab/out{writable}"),
            false,
        );
        vol(&mut c, &state, &format!("/agentlab/state{writable}"), false);
        vol(&mut c, &deps, "/agentlab/deps", true);
        vol(
            &mut c,
            &p.workspace,
            &format!("/agentlab/workspace{writable}"),
            false,
        );
        for m in &iso.mounts {
            vol(&mut c, &m.source, &m.target, m.read_only);
        }
        // `--secret-file ID=PATH`: read-only at its declared target, else
        // /run/secrets/<ID> (the file's content never passes through labj).
        for (id, path) in &model::launch_env::get().files {
            let target = self
                .spec
                .agent
                .secret_files
                .iter()
                .find(|d| &d.id == id)
                .map(|d| d.target.clone())
                .unwrap_or_else(|| format!("/run/secrets/{id}"));
            vol(&mut c, path, &target, true);
        }
        if iso.contract == SourceFormat::CleanHarnessV1 {
            // The original's clean harness: the task file and the output directory at
            // its paths, and the image's own working directory (its harness is
            // typically `python harness.py` next to the image's WORKDIR).
            vol(&mut c, &in_dir.join("task.json"), CLEAN_TASK_PATH, true);
            vol(&mut c, attempt_dir, &format!("/out{writable}"), false);
        } else {
            let wd = iso.workdir.as_deref().unwrap_or("/agentlab/workspace");
            c.args(["-w", wd]);
        }
        // `-e NAME` takes the value from the engine client's environment, so values never
        // appear on a command line (visible in `ps`).
        for (k, v) in env {
            c.arg("-e").arg(k);
            c.env(k, v);
        }
        c.args(&engine.run_args);
        c.arg(image_id);
        c.args(argv);
        Ok((c, name))
    }
}

impl Ownership {
    /// Gives `dirs` (each recursively) to the container user, or returns the mount
    /// option that makes the engine do it (`:U`, rootless podman): append it to the
    /// mount's target. A failure is the machinery's (`disk_error`), never the agent's.
    pub(super) fn prepare(&self, dirs: &[&Path]) -> Result<&'static str, Fault> {
        match self {
            Ownership::AsIs => Ok(""),
            Ownership::PodmanU => Ok(":U"),
            Ownership::Chown(ids) => {
                for d in dirs {
                    crate::isolation::give_to(*ids, d).map_err(|e| {
                        disk(
                            &format!("giving {} to uid {} (run_as_user)", d.display(), ids.uid),
                            e,
                        )
                    })?;
                }
                Ok("")
            }
        }
    }
}

/// Classifies a container attempt that exited non-zero by what the engine knows.
///
/// Machinery, not the agent (`spawn_failure`, infrastructure: re-run, never scored): the
/// engine's own exit codes 125/126/127 when the container's process never started (the
/// engine could not create it, the OCI runtime refused to start it, the image is gone,
/// the command is not in the image), or when the engine no longer knows the container
/// at all. The agent's own exit 126/127 inside a container that did start stays the
/// agent's. An OOM kill (or a SIGKILL labj did not send while a memory limit was set:
/// cgroup v1 engines do not always report OOMKilled) is `resource_limit`.
pub(super) fn container_exit(
    c: &ContainerRef,
    code: Option<i32>,
    memory_limited: bool,
    stderr_log: &Path,
) -> Option<(Classification, String)> {
    let state = c.engine().exit_state(&c.name);
    let client_code = code;
    let engine_code = matches!(client_code, Some(125..=127));
    if engine_code && !matches!(state, Some(s) if s.started) {
        let code = client_code.unwrap_or_default();
        return Some((
            Classification::SpawnFailure,
            format!(
                "{} could not start container {} (exit {code}, the container never ran): {}",
                c.engine.version,
                c.name,
                engine_error(stderr_log)
            ),
        ));
    }
    let state = state?;
    let code = state.exit_code;
    if state.oom_killed || (memory_limited && code == 137) {
        return Some((
            Classification::ResourceLimit,
            format!(
                "container {} was killed for exceeding its memory limit (exit {code}{})",
                c.name,
                if state.oom_killed { ", OOMKilled" } else { "" }
            ),
        ));
    }
    None
}

/// The engine's own error from a log of a container that never ran (nothing but the
/// engine wrote to it): its last `Error…` line, else its last line, at most 400 bytes.
pub(super) fn engine_error(stderr_log: &Path) -> String {
    let text = model::safe_fs::read_regular(stderr_log, 64 * 1024)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .rev()
        .find(|l| l.contains("Error") || l.contains("error"))
        .or(lines.last())
        .copied()
        .unwrap_or("(the engine wrote nothing to stderr)");
    let mut end = line.len().min(400);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_string()
}
