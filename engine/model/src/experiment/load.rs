//! Reading an experiment file: syntax → version → JSON Schema → typed sections →
//! semantic checks → dataset. Each stage fails with the file and the place named.

use super::dataset::{check_relative, read_dataset};
use super::formats::{self, SourceFormat};
use super::model::{
    canonical_digest, AgentOverride, AgentRuntime, BenchmarkSpec, Dataset, Experiment,
    ExperimentMeta, RuntimeSpec, SchemaVersion, Variant,
};
use super::policy::Design;
use super::ExperimentError;
use super::{command, envelope, fields};
use crate::isolation::{IsolationMode, IsolationPolicy};
use crate::schemas::{self, SchemaError};
use crate::trial::{AgentIo, DependencyFile};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Load an experiment from a `.yaml`/`.yml` or `.json` file, validate it and read its
/// dataset. Does not apply the release gate (see [`super::check_runnable`]).
pub fn load(path: &Path) -> Result<Experiment, ExperimentError> {
    envelope::check_path(path)?;
    let text =
        super::limits::read_text(path, super::limits::MAX_EXPERIMENT_BYTES, "experiment file")?;
    let doc = parse_text(path, &text)?;
    load_checked(path, doc, Some(&text))
}

/// Like [`load`] for a document already parsed; `path` names it in errors and its
/// directory anchors relative paths (dataset, agent, dependencies).
pub fn load_value(path: &Path, doc: Value) -> Result<Experiment, ExperimentError> {
    load_checked(path, doc, None)
}

/// `text` (the file's text, when there is one) only serves to name lines in errors.
fn load_checked(
    path: &Path,
    doc: Value,
    text: Option<&str>,
) -> Result<Experiment, ExperimentError> {
    let doc = envelope::unwrap(path, doc)?;
    let mut extras = formats::CurrentExtras::default();
    let (format, doc) = if formats::is_clean_harness_v1(&doc) {
        (
            SourceFormat::CleanHarnessV1,
            formats::clean_harness_v1(path, doc)?,
        )
    } else if formats::is_current(&doc) {
        let (doc, x) = formats::current(path, &experiment_dir(path), doc)?;
        extras = x;
        (SourceFormat::Current, doc)
    } else {
        (SourceFormat::Resolved, doc)
    };
    load_translated(path, text, format, extras, doc).map_err(|e| e.in_source(format))
}

/// [`load_checked`] after the original's other formats were written as a resolved
/// document.
fn load_translated(
    path: &Path,
    text: Option<&str>,
    format: SourceFormat,
    extras: formats::CurrentExtras,
    doc: Value,
) -> Result<Experiment, ExperimentError> {
    let (version, doc) = envelope::unwrap_and_version(path, doc)?;
    fields::check(path, text, fields::ROOT, &doc)?;
    super::templates::check(path, &doc)?;
    if let Err(e) = schemas::validate(version.schema_name(), &doc) {
        return Err(schema_error(path, version.schema_name(), e));
    }
    super::limits::check_design_numbers(path, &doc)?;
    let raw: RawDoc = typed(path, "", doc.clone())?;
    let dir = experiment_dir(path);
    let root = command::project_root(&dir);

    raw.design.check(path)?;
    let mut variants = variants(path, &raw)?;
    let isolation = IsolationPolicy::parse(path, &dir, &doc, variants.len())?;
    // A container agent's command names paths inside its image: nothing to resolve on
    // the host. Graders and adapters always run on the host.
    let agent_root = (isolation.mode != IsolationMode::Container).then_some(root.as_path());
    if let Some(root) = agent_root {
        for v in &mut variants {
            if let Some(cmd) = &mut v.agent.command {
                *cmd = command::resolve_tokens(cmd, root);
            }
            v.agent.args = command::resolve_tokens(&v.agent.args, root);
        }
    }
    let mut runtime = runtime(path, &dir, agent_root, raw.runtime)?;
    for (i, v) in variants.iter_mut().enumerate() {
        v.runtime = variant_runtime(path, &dir, agent_root, &doc, version, i)?;
    }
    if format == SourceFormat::Current {
        // The current format's agent reads its trial input from the contract paths: no
        // flags are appended to its command.
        runtime.agent.io = crate::trial::AgentIo::default();
        for v in &mut variants {
            if let Some(r) = &mut v.runtime {
                r.agent.io = crate::trial::AgentIo::default();
            }
        }
    }
    let mut benchmark = raw.benchmark;
    if let Some(b) = &mut benchmark {
        match (&mut b.adapter, &mut b.grader) {
            (Some(_), Some(_)) => {
                return Err(ExperimentError::invalid(
                    path,
                    "/benchmark",
                    "set either benchmark.adapter (the original runner's adapter: writes \
                     predictions and scores) or benchmark.grader (labj's per-trial grader: \
                     writes grade.json), not both",
                ))
            }
            (Some(a), None) => a.command = command::resolve_tokens(&a.command, &root),
            (None, Some(g)) => {
                super::grader::check(path, g, &isolation)?;
                // An in-image grader's command runs inside the image, like a container
                // agent's: its paths are the image's, not this host's.
                if !super::grader::runs_in_container(g, &isolation) {
                    g.command = command::resolve_tokens(&g.command, &root);
                }
            }
            (None, None) => {
                let classes = &b.policy.required_evidence_classes;
                if let Some((i, why)) = grader_only_class(classes) {
                    return Err(ExperimentError::invalid(
                        path,
                        format!("/benchmark/policy/required_evidence_classes/{i}"),
                        why,
                    ));
                }
            }
        }
    }

    let dataset_path = dir.join(&raw.dataset.path);
    // Present but not a regular file (a directory, a FIFO): `read_dataset` says what it is.
    if std::fs::symlink_metadata(&dataset_path).is_err() {
        return Err(ExperimentError::invalid(
            path,
            "/dataset/path",
            format!(
                "dataset file `{}` not found (looked for {}); dataset.path is relative to the experiment file",
                raw.dataset.path,
                dataset_path.display()
            ),
        ));
    }
    let tasks = read_dataset(&dataset_path, raw.dataset.limit)?;
    if let Some(g) = benchmark.as_ref().and_then(|b| b.grader.as_ref()) {
        super::grader::check_hidden(path, &dir, g, &tasks)?;
    }
    let graded = benchmark
        .as_ref()
        .is_some_and(|b| b.adapter.is_some() || b.grader.is_some());
    if !graded {
        for t in &tasks {
            let own = t.required_evidence_classes.as_deref().unwrap_or_default();
            if let Some((_, why)) = grader_only_class(own) {
                return Err(ExperimentError::DatasetRow {
                    path: dataset_path.clone(),
                    line: t.line,
                    message: format!("in policy_override.required_evidence_classes: {why}"),
                });
            }
        }
    }
    if raw
        .design
        .policies
        .task_boundary
        .require_workspace_materialization
    {
        // The original failed the run when it reached such a task; labj refuses it
        // before anything runs.
        let bare = tasks
            .iter()
            .find(|t| t.workspace_files.is_empty() && t.mount_references.is_empty());
        if let Some(t) = bare {
            return Err(ExperimentError::DatasetRow {
                path: dataset_path.clone(),
                line: t.line,
                message: format!(
                    "task `{}` brings no workspace, but \
                     design.policies.task_boundary.require_workspace_materialization is true: \
                     write it as a task_boundary_v1 row with workspace_files or mount_references",
                    super::limits::escape_id(&t.id)
                ),
            });
        }
    }
    super::limits::check_schedule_size(
        path,
        variants.len() as u64,
        tasks.len() as u64,
        raw.design.replications as u64,
    )?;

    if format == SourceFormat::Current {
        check_dollar_names(path, &runtime, &variants)?;
    }
    let (declared_metrics, declared_primary) = super::metrics::parse(path, &doc)?;
    let digest = canonical_digest(&doc);
    Ok(Experiment {
        file: path.to_path_buf(),
        dir,
        root,
        version,
        format,
        resolved: doc,
        digest,
        meta: raw.experiment,
        dataset: Dataset {
            declared_path: raw.dataset.path,
            path: dataset_path,
            limit: raw.dataset.limit,
            tasks,
        },
        design: raw.design,
        variants,
        runtime,
        benchmark,
        primary_metric: raw.primary_metric.or(declared_primary),
        secret_files: extras.secret_files,
        declared_metrics,
        isolation,
        enforcement: None,
    })
}

/// The typed `design` and `benchmark` sections of a possibly partial resolved experiment
/// (e.g. the P0 benchmark-adaptation fixture, which has neither dataset nor variants).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExperimentFragment {
    pub(crate) version: Option<SchemaVersion>,
    pub(crate) design: Design,
    pub(crate) benchmark: Option<BenchmarkSpec>,
}

/// Parse the sections present in a partial document, each validated against its part of
/// the resolved-experiment schema (the section's own top-level `required` list is not
/// enforced; absent keys take their defaults). `path` only names the source in errors.
#[cfg(test)]
pub(crate) fn parse_fragment(
    path: &Path,
    doc: &Value,
) -> Result<ExperimentFragment, ExperimentError> {
    let doc = &envelope::unwrap(path, doc.clone())?;
    let version = doc
        .get("version")
        .and_then(Value::as_str)
        .and_then(SchemaVersion::parse);
    let schema = version.unwrap_or(SchemaVersion::V0_5).schema_name();
    validate_fragment(path, schema, doc)?;
    let mut design = Design::default();
    if let Some(d) = doc.get("design") {
        design = typed(path, "/design", d.clone())?;
        design.check(path)?;
    }
    let mut benchmark = None;
    if let Some(b) = doc.get("benchmark") {
        benchmark = Some(typed(path, "/benchmark", b.clone())?);
    }
    Ok(ExperimentFragment {
        version,
        design,
        benchmark,
    })
}

/// Parses an experiment document's text as YAML or JSON by `path`'s extension,
/// refusing duplicate keys (no validation yet: see [`load_value`]).
pub fn parse_str(path: &Path, text: &str) -> Result<Value, ExperimentError> {
    parse_text(path, text)
}

fn parse_text(path: &Path, text: &str) -> Result<Value, ExperimentError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("yaml") | Some("yml") => serde_yaml_ng::from_str::<super::strict::Strict>(text)
            .map(|s| s.0)
            .map_err(|e| ExperimentError::Syntax {
                path: path.to_path_buf(),
                format: "YAML",
                message: e.to_string(),
            }),
        Some("json") => serde_json::from_str::<super::strict::Strict>(text)
            .map(|s| s.0)
            .map_err(|e| ExperimentError::Syntax {
                path: path.to_path_buf(),
                format: "JSON",
                message: json_syntax_message(text, &e),
            }),
        _ => Err(ExperimentError::File {
            path: path.to_path_buf(),
            message: "unknown experiment file type; name it *.yaml, *.yml or *.json".into(),
        }),
    }
}

/// serde_json's message, except that a trailing comma is placed where the comma is:
/// serde_json reports the `}` or `]` after it, often on the next line.
fn json_syntax_message(text: &str, e: &serde_json::Error) -> String {
    let message = e.to_string();
    if !message.starts_with("trailing comma") || e.line() == 0 {
        return message;
    }
    // Byte offset of the reported position (line and column are 1-based).
    let line_start: usize = text
        .split_inclusive('\n')
        .take(e.line() - 1)
        .map(str::len)
        .sum();
    let mut at = (line_start + e.column().saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let Some(comma) = before
        .trim_end_matches([' ', '\t', '\r', '\n', '}', ']'])
        .strip_suffix(',')
    else {
        return message;
    };
    let comma_at = comma.len();
    let line = text[..comma_at].matches('\n').count() + 1;
    let column = text[..comma_at]
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count())
        + 1;
    format!(
        "trailing comma at line {line} column {column}: JSON allows no comma after the last item of an object or array (remove it)"
    )
}

fn schema_error(path: &Path, schema: &str, e: SchemaError) -> ExperimentError {
    match e {
        SchemaError::Invalid { violations, .. } => ExperimentError::Schema {
            path: path.to_path_buf(),
            schema: schema.to_string(),
            violations,
        },
        other => ExperimentError::File {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    }
}

/// Validate the `design` and `benchmark` sections of a partial document with the full
/// schema, keeping only the violations inside those sections, minus each section's own
/// top-level `required` (a fragment may omit e.g. `design.replications`).
#[cfg(test)]
fn validate_fragment(path: &Path, schema: &str, doc: &Value) -> Result<(), ExperimentError> {
    const SECTIONS: [&str; 2] = ["/design", "/benchmark"];
    let violations = match schemas::validate(schema, doc) {
        Ok(()) => return Ok(()),
        Err(SchemaError::Invalid { violations, .. }) => violations,
        Err(other) => return Err(schema_error(path, schema, other)),
    };
    let kept: Vec<schemas::Violation> = violations
        .into_iter()
        .filter(|v| {
            let inside = SECTIONS
                .iter()
                .any(|s| v.pointer == *s || v.pointer.starts_with(&format!("{s}/")));
            let section_required = SECTIONS.contains(&v.pointer.as_str()) && v.rule == "required";
            inside && !section_required
        })
        .collect();
    if kept.is_empty() {
        Ok(())
    } else {
        Err(ExperimentError::Schema {
            path: path.to_path_buf(),
            schema: schema.to_string(),
            violations: kept,
        })
    }
}

/// Deserialize a schema-valid value; a failure here means schema and types disagree.
fn typed<T: DeserializeOwned>(path: &Path, pointer: &str, v: Value) -> Result<T, ExperimentError> {
    serde_json::from_value(v).map_err(|e| {
        let at = if pointer.is_empty() { "/" } else { pointer };
        ExperimentError::invalid(path, at, e.to_string())
    })
}

fn experiment_dir(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parent
        .canonicalize()
        .or_else(|_| std::path::absolute(&parent))
        .unwrap_or(parent)
}

#[derive(Deserialize)]
struct RawDoc {
    experiment: ExperimentMeta,
    dataset: RawDataset,
    #[serde(default)]
    design: Design,
    baseline: RawVariant,
    #[serde(default)]
    variant_plan: Vec<RawVariant>,
    runtime: RawRuntime,
    #[serde(default)]
    benchmark: Option<BenchmarkSpec>,
    #[serde(default)]
    primary_metric: Option<String>,
}

#[derive(Deserialize)]
struct RawDataset {
    path: String,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize, Clone)]
struct RawVariant {
    variant_id: String,
    /// `{}` when absent, as the original runner read it.
    #[serde(default = "empty_object")]
    bindings: Value,
    #[serde(default)]
    runtime: RawVariantRuntime,
}

#[derive(Deserialize, Default, Clone)]
struct RawVariantRuntime {
    #[serde(default)]
    agent: AgentOverride,
}

#[derive(Deserialize)]
struct RawRuntime {
    agent: AgentRuntime,
    #[serde(default)]
    dependencies: Option<Value>,
    #[serde(default)]
    policy: Option<Value>,
}

/// The first of `classes` only a grader can produce, with the reason, for an experiment
/// without `benchmark.grader` or `benchmark.adapter`: required, it would fail every trial.
fn grader_only_class(classes: &[String]) -> Option<(usize, String)> {
    use crate::trial::{AGENT_EVIDENCE_CLASSES, ORIGINAL_EVIDENCE_REFS};
    let producible =
        |c: &str| ORIGINAL_EVIDENCE_REFS.contains(&c) || AGENT_EVIDENCE_CLASSES.contains(&c);
    let i = classes.iter().position(|c| !producible(c))?;
    Some((
        i,
        format!(
            "evidence class `{}` is produced only by a grader, and neither benchmark.grader \
             nor benchmark.adapter is set; without one the classes that can be required are \
             {} and the original runner's {}",
            classes[i],
            AGENT_EVIDENCE_CLASSES.join(", "),
            ORIGINAL_EVIDENCE_REFS.join(", ")
        ),
    ))
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

fn variants(path: &Path, raw: &RawDoc) -> Result<Vec<Variant>, ExperimentError> {
    use super::limits::{check_id, escape_id, normalized_id};
    // Variant ids follow the task-id rules (they name directories, rows and report
    // lines): no control or bidi characters, no outer spaces, bounded length, unique
    // ignoring case.
    let mut seen: BTreeMap<String, (String, &str)> = BTreeMap::new();
    let all = std::iter::once(("/baseline/variant_id".to_string(), &raw.baseline)).chain(
        raw.variant_plan
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("/variant_plan/{i}/variant_id"), v)),
    );
    for (here, v) in all {
        let id = v.variant_id.as_str();
        if let Err(why) = check_id(id) {
            return Err(ExperimentError::invalid(
                path,
                here,
                format!("variant id \"{}\" {why}", escape_id(id)),
            ));
        }
        if let Some((first, other)) = seen.get(&normalized_id(id)) {
            let what = if *other == id {
                "duplicate variant id"
            } else {
                "variant id differing only in letter case from another:"
            };
            return Err(ExperimentError::invalid(
                path,
                here,
                format!(
                    "{what} `{}` (already used at {first}); variant ids must be unique ignoring case",
                    escape_id(id)
                ),
            ));
        }
        seen.insert(normalized_id(id), (here, id));
    }
    let make = |v: &RawVariant, is_baseline: bool| Variant {
        id: v.variant_id.clone(),
        bindings: v.bindings.clone(),
        agent: v.runtime.agent.clone(),
        is_baseline,
        runtime: None,
    };
    Ok(std::iter::once(make(&raw.baseline, true))
        .chain(raw.variant_plan.iter().map(|v| make(v, false)))
        .collect())
}

/// `runtime` keys a variant's `runtime_overrides` may not change: labj applies isolation
/// to the whole run (per-variant images go in the variant's `image`).
const RUN_WIDE_RUNTIME_KEYS: [&str; 5] = [
    "/policy/network",
    "/policy/sandbox",
    "/agent/env_from_host",
    "/dependencies/file_staging",
    "/dependencies/assets",
];

/// The runtime of variant `idx` (0 = baseline) when it has `runtime_overrides`: the
/// original runner's per-variant runtime, `runtime` with the overrides deep-merged over
/// it (mappings merge key by key, anything else replaces), then checked by the schema
/// and read like `runtime` itself. Key names were checked by `fields` already.
fn variant_runtime(
    path: &Path,
    dir: &Path,
    agent_root: Option<&Path>,
    doc: &Value,
    version: SchemaVersion,
    idx: usize,
) -> Result<Option<RuntimeSpec>, ExperimentError> {
    let here = match idx {
        0 => "/baseline/runtime_overrides".to_string(),
        i => format!("/variant_plan/{}/runtime_overrides", i - 1),
    };
    let Some(overrides) = doc.pointer(&here).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let base = doc.get("runtime").cloned().unwrap_or(Value::Null);
    let mut merged = base.clone();
    merge_json(&mut merged, overrides);
    for key in RUN_WIDE_RUNTIME_KEYS {
        if merged.pointer(key) != base.pointer(key) {
            return Err(ExperimentError::invalid(
                path,
                format!("{here}{key}"),
                format!(
                    "runtime_overrides may not change runtime{}: labj applies isolation and \
                     staging to the whole run; set it under `runtime` (a per-variant image \
                     goes in the variant's `image`)",
                    key.replace('/', ".")
                ),
            ));
        }
    }
    let mut whole = doc.clone();
    whole["runtime"] = merged.clone();
    if let Err(e) = schemas::validate(version.schema_name(), &whole) {
        let mut err = schema_error(path, version.schema_name(), e);
        // The base runtime passed already: what breaks now came from the overrides.
        if let ExperimentError::Schema { violations, .. } = &mut err {
            for v in violations.iter_mut() {
                if let Some(rest) = v.pointer.strip_prefix("/runtime") {
                    v.pointer = format!("{here}{rest}");
                }
            }
        }
        return Err(err);
    }
    let raw: RawRuntime = typed(path, &here, merged)?;
    runtime(path, dir, agent_root, raw).map(Some)
}

/// The original runner's `merge_json_value`: objects merge key by key (recursively),
/// any other patch value replaces the base value.
fn merge_json(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, pv) in p {
                match b.get_mut(k) {
                    Some(bv) => merge_json(bv, pv),
                    None => {
                        b.insert(k.clone(), pv.clone());
                    }
                }
            }
        }
        (slot, pv) => *slot = pv.clone(),
    }
}

fn runtime(
    path: &Path,
    dir: &Path,
    agent_root: Option<&Path>,
    mut raw: RawRuntime,
) -> Result<RuntimeSpec, ExperimentError> {
    let agent = &mut raw.agent;
    if agent.command.iter().any(|t| t.trim().is_empty()) {
        return Err(ExperimentError::invalid(
            path,
            "/runtime/agent/command",
            "the command has an empty token",
        ));
    }
    if let Some(mode) = agent.mode.as_deref().filter(|m| *m != "local") {
        return Err(ExperimentError::invalid(
            path,
            "/runtime/agent/mode",
            format!("mode `{mode}` is refused: labj runs agents as local processes (mode: local)"),
        ));
    }
    for (flag, at) in [
        (&agent.io.input_arg, "input_arg"),
        (&agent.io.output_arg, "output_arg"),
    ] {
        if flag.as_deref().is_some_and(|f| f.trim().is_empty()) {
            return Err(ExperimentError::invalid(
                path,
                format!("/runtime/agent/io/{at}"),
                "must not be empty",
            ));
        }
    }
    let defaults = AgentIo::agentlab_default();
    agent.io.input_arg = agent.io.input_arg.take().or(defaults.input_arg);
    agent.io.output_arg = agent.io.output_arg.take().or(defaults.output_arg);
    if let Some(root) = agent_root {
        agent.command = command::resolve_tokens(&agent.command, root);
    }
    let dependencies = raw
        .dependencies
        .unwrap_or_else(|| Value::Object(Default::default()));
    let dependency_files: Vec<DependencyFile> = match dependencies.get("files") {
        Some(files) => typed(path, "/runtime/dependencies/files", files.clone())?,
        None => Vec::new(),
    };
    for (i, f) in dependency_files.iter().enumerate() {
        if let Err(why) = check_relative(&f.dest) {
            return Err(ExperimentError::invalid(
                path,
                format!("/runtime/dependencies/files/{i}/dest"),
                format!(
                    "dependency dest `{}` {why}; it must be a relative path inside the trial's deps/ directory",
                    f.dest
                ),
            ));
        }
        if !dir.join(&f.source).exists() {
            return Err(ExperimentError::invalid(
                path,
                format!("/runtime/dependencies/files/{i}/source"),
                format!(
                    "dependency source `{}` not found (looked for {}); sources are relative to the experiment file",
                    f.source,
                    dir.join(&f.source).display()
                ),
            ));
        }
    }
    let policy = raw
        .policy
        .unwrap_or_else(|| Value::Object(Default::default()));
    let policy_timeout_ms = policy.get("timeout_ms").and_then(Value::as_u64);
    // Range-checked by the schema (1 ..= 16 GiB: a log is evidence, not data).
    let policy_output_limit_bytes = policy.get("output_limit_bytes").and_then(Value::as_u64);
    Ok(RuntimeSpec {
        agent: raw.agent,
        dependencies,
        dependency_files,
        policy,
        policy_timeout_ms,
        policy_output_limit_bytes,
    })
}

/// Every `$NAME` of a current-format agent's command and env must resolve for every
/// variant (bindings, then `--env`/`--env-file`, then labj's environment), checked
/// before any trial; the message names the variable and where it is used, never a value.
fn check_dollar_names(
    path: &Path,
    runtime: &RuntimeSpec,
    variants: &[Variant],
) -> Result<(), ExperimentError> {
    for v in variants {
        let agent = &v.runtime.as_ref().unwrap_or(runtime).agent;
        let command = v.agent.command.as_ref().unwrap_or(&agent.command);
        let places = command
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("/runtime/agent_runtime/command/{i}"), t))
            .chain(
                agent
                    .env
                    .iter()
                    .map(|(k, t)| (format!("/runtime/agent_runtime/env/{k}"), t)),
            );
        for (at, token) in places {
            for name in crate::launch_env::references(token) {
                match crate::launch_env::lookup(&name, &v.bindings) {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        return Err(ExperimentError::invalid(
                            path,
                            at,
                            format!(
                                "${name} has no value for variant `{}`: set it in the variant's \
                                 bindings, give it with --env {name}=… or --env-file, or export \
                                 it in labj's environment",
                                super::limits::escape_id(&v.id)
                            ),
                        ))
                    }
                    Err(why) => {
                        return Err(ExperimentError::invalid(
                            path,
                            at,
                            format!(
                                "${name} for variant `{}`: {why}",
                                super::limits::escape_id(&v.id)
                            ),
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}
