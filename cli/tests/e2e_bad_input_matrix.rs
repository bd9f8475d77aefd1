//! The bad-input matrix: every way a file, an agent or a user can hand labj something
//! wrong, as one table. Each row runs the real `labj` binary (bounded in time: a hang
//! fails the row) and asserts the exit code and an exact fragment of the message (in the
//! output, or in the journaled trial outcome for files an agent leaves behind); no row
//! may panic. After every row the baseline run verifies and its committed data is
//! unchanged, and a `run` refused before it started leaves no run directory behind.
//!
//! `LABJ_MATRIX_REPORT=path` writes the table (case → message → exit code) as Markdown.

mod support;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::matrix::*;
use support::*;

/// Where a row's message is looked for.
#[derive(Clone, Copy, PartialEq)]
enum Where {
    /// stdout + stderr of the command.
    Output,
    /// The `trial_completed` events of the run the command created.
    Trial,
}

/// Builds a row's arguments in the row's own directory.
type Args = Box<dyn Fn(&Fx, &Path) -> Vec<OsString>>;

struct Row {
    name: &'static str,
    code: i32,
    fragment: &'static str,
    place: Where,
    /// For [`Where::Trial`] rows: the classification every journaled trial must have.
    class: Option<&'static str>,
    args: Args,
}

fn row(
    name: &'static str,
    code: i32,
    fragment: &'static str,
    args: impl Fn(&Fx, &Path) -> Vec<OsString> + 'static,
) -> Row {
    Row {
        name,
        code,
        fragment,
        place: Where::Output,
        class: None,
        args: Box::new(args),
    }
}

fn trial_row(
    name: &'static str,
    fragment: &'static str,
    args: impl Fn(&Fx, &Path) -> Vec<OsString> + 'static,
) -> Row {
    Row {
        name,
        code: 0,
        fragment,
        place: Where::Trial,
        class: None,
        args: Box::new(args),
    }
}

/// A row whose agent succeeds and whose grader (`benchmark.grader`) runs `grader_body`:
/// every trial must be journaled with `class` and `fragment`, the run must end (exit 0:
/// a bad grade is the trial's verdict, not a failure of the run) and verify.
fn grade_row(
    name: &'static str,
    class: &'static str,
    fragment: &'static str,
    grader_body: &'static str,
) -> Row {
    Row {
        name,
        code: 0,
        fragment,
        place: Where::Trial,
        class: Some(class),
        args: Box::new(move |_, d| {
            let y = yaml("1", "2", "tasks.jsonl").replace(
                "primary_metric: score\n",
                "benchmark:\n  grader:\n    command: [\"./grader.sh\"]\nprimary_metric: score\n",
            );
            let e = exp_with(d, &y, TWO_TASKS, AGENT);
            script(d, "grader.sh", grader_body);
            vec![OsString::from("run"), p(&e)]
        }),
    }
}

/// The shared fixture: a completed baseline run every read-only row looks at.
struct Fx {
    s: Scratch,
    base: PathBuf,
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn p(path: &Path) -> OsString {
    path.as_os_str().to_owned()
}

const AGENT: &str = r#"printf '{"schema_version":"agent_result_v1","outcome":"success","metrics":{"score":1}}' >"$AGENTLAB_RESULT_PATH""#;

/// The experiment YAML of a row: `design` numbers, extra top-level YAML, dataset name.
fn yaml(replications: &str, max_concurrency: &str, dataset: &str) -> String {
    format!(
        "version: \"0.5\"\nexperiment: {{id: matrix, name: matrix}}\ndataset: {{path: {dataset}}}\ndesign:\n  replications: {replications}\n  random_seed: 7\n  max_concurrency: {max_concurrency}\n  policies:\n    scheduling: variant_sequential\n    state: isolate_per_trial\nbaseline: {{variant_id: a, bindings: {{name: a}}}}\nvariant_plan: []\nruntime:\n  agent:\n    command: [\"./agent.sh\"]\n    timeout_ms: 20000\nprimary_metric: score\n"
    )
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

fn agent(dir: &Path, body: &str) {
    script(dir, "agent.sh", body);
}

/// An executable sh script `name` in `dir`.
fn script(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = write(dir, name, format!("#!/bin/sh\n{body}\n").as_bytes());
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A complete experiment directory (YAML, two tasks, agent); returns the YAML path.
fn exp(dir: &Path) -> PathBuf {
    exp_with(dir, &yaml("1", "2", "tasks.jsonl"), TWO_TASKS, AGENT)
}

const TWO_TASKS: &[u8] = b"{\"id\":\"t1\"}\n{\"id\":\"t2\"}\n";

fn exp_with(dir: &Path, yaml: &str, dataset: &[u8], agent_body: &str) -> PathBuf {
    write(dir, "tasks.jsonl", dataset);
    agent(dir, agent_body);
    write(dir, "experiment.yaml", yaml.as_bytes())
}

/// An experiment with one task and `plan` (YAML flow sequence) as its variant_plan.
fn exp_variants(dir: &Path, plan: &str) -> PathBuf {
    exp_with(
        dir,
        &yaml("1", "2", "tasks.jsonl")
            .replace("variant_plan: []", &format!("variant_plan: {plan}")),
        b"{\"id\":\"t\"}\n",
        AGENT,
    )
}

/// An experiment whose dataset is `rows` (one JSON row per entry).
fn exp_rows(dir: &Path, rows: &[&str]) -> PathBuf {
    exp_with(
        dir,
        &yaml("1", "2", "tasks.jsonl"),
        (rows.join("\n") + "\n").as_bytes(),
        AGENT,
    )
}

/// A boundary row for task `id` with the given workspace file paths.
fn ws_row(paths: &[&str]) -> String {
    let files: Vec<String> = paths
        .iter()
        .map(|p| format!("{{\"path\":{},\"content\":\"x\"}}", serde_json::json!(p)))
        .collect();
    format!(
        "{{\"schema_version\":\"task_boundary_v1\",\"task\":{{\"id\":\"w1\"}},\"workspace_files\":[{}]}}",
        files.join(",")
    )
}

/// A copy of the baseline run, for rows that damage a journal.
fn copy_base(fx: &Fx, dir: &Path) -> PathBuf {
    let dst = dir.join("copy");
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&fx.base).unwrap().flatten() {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    let blobs = fx.base.join("blobs");
    copy_tree(&blobs, &dst.join("blobs"));
    dst
}

fn rows() -> Vec<Row> {
    let run = |e: PathBuf| vec![OsString::from("run"), p(&e)];
    let describe = |e: PathBuf| vec![OsString::from("describe"), p(&e)];
    vec![
        // --- experiment files -------------------------------------------------------
        row("experiment missing", 1, "nope.yaml: the experiment file does not exist", move |_, d| run(d.join("nope.yaml"))),
        row("experiment is a directory", 1, "the experiment file is a directory, not a regular file", move |_, d| {
            std::fs::create_dir_all(d.join("x.yaml")).unwrap();
            run(d.join("x.yaml"))
        }),
        row("experiment is a FIFO", 1, "the experiment file is a FIFO (named pipe), not a regular file", move |_, d| {
            std::fs::create_dir_all(d).unwrap();
            mkfifo(&d.join("fifo.yaml"));
            run(d.join("fifo.yaml"))
        }),
        row("experiment is /dev/zero", 1, "the experiment file is a character device, not a regular file", |_, _| {
            os(&["describe", "/dev/zero"])
        }),
        row("experiment too large", 1, "over the 4194304-byte limit", move |_, d| {
            let mut big = yaml("1", "2", "tasks.jsonl").into_bytes();
            big.extend(vec![b'#'; 5 * 1024 * 1024]);
            describe(exp_with(d, std::str::from_utf8(&big).unwrap(), TWO_TASKS, AGENT))
        }),
        row("experiment unknown extension", 1, "unknown experiment file type", move |_, d| {
            exp(d);
            std::fs::rename(d.join("experiment.yaml"), d.join("experiment.txt")).unwrap();
            describe(d.join("experiment.txt"))
        }),
        row("experiment YAML syntax error", 1, "not valid YAML", move |_, d| {
            describe(exp_with(d, "version: \"0.5\"\ndesign: [unclosed\n", TWO_TASKS, AGENT))
        }),
        row("experiment JSON syntax error", 1, "not valid JSON", move |_, d| {
            write(d, "tasks.jsonl", TWO_TASKS);
            describe(write(d, "e.json", b"{\"version\": \"0.5\",}"))
        }),
        row("experiment with a BOM", 1, "starts with a UTF-8 byte-order mark (BOM)", move |_, d| {
            let y = format!("\u{feff}{}", yaml("1", "2", "tasks.jsonl"));
            describe(exp_with(d, &y, TWO_TASKS, AGENT))
        }),
        row("experiment invalid UTF-8", 1, "the experiment file is not valid UTF-8: invalid byte 0xff", move |_, d| {
            exp(d);
            let mut b = std::fs::read(d.join("experiment.yaml")).unwrap();
            b.extend(b"# \xff\n");
            describe(write(d, "experiment.yaml", &b))
        }),
        row("duplicate design key", 1, "duplicate key `design`", move |_, d| {
            let y = yaml("1", "2", "tasks.jsonl") + "design:\n  replications: 5\n";
            describe(exp_with(d, &y, TWO_TASKS, AGENT))
        }),
        row("duplicate key in JSON", 1, "duplicate key `version`", move |_, d| {
            write(d, "tasks.jsonl", TWO_TASKS);
            describe(write(d, "e.json", b"{\"version\": \"0.5\", \"version\": \"0.4\"}"))
        }),
        row("replications huge (run)", 1, "over the limit of 1000000", move |_, d| {
            run(exp_with(d, &yaml("1000000000", "2", "tasks.jsonl"), TWO_TASKS, AGENT))
        }),
        row("replications huge (describe)", 1, "at /design/replications", move |_, d| {
            describe(exp_with(d, &yaml("1000000000", "2", "tasks.jsonl"), TWO_TASKS, AGENT))
        }),
        row("schedule over the slot limit", 1, "= 1200000 slots, over the limit of 1000000", move |_, d| {
            describe(exp_with(d, &yaml("600000", "2", "tasks.jsonl"), TWO_TASKS, AGENT))
        }),
        row("max_concurrency huge", 1, "at /design/max_concurrency: max_concurrency 1000000000000 is over the limit of 1024", move |_, d| {
            describe(exp_with(d, &yaml("1", "1000000000000", "tasks.jsonl"), TWO_TASKS, AGENT))
        }),
        row("max_concurrency over the limit", 1, "max_concurrency 5000 is over the limit of 1024", move |_, d| {
            run(exp_with(d, &yaml("1", "5000", "tasks.jsonl"), TWO_TASKS, AGENT))
        }),
        row("replications zero", 1, "/design/replications", move |_, d| {
            describe(exp_with(d, &yaml("0", "2", "tasks.jsonl"), TWO_TASKS, AGENT))
        }),
        row("dataset missing", 1, "dataset file `nope.jsonl` not found", move |_, d| {
            describe(exp_with(d, &yaml("1", "2", "nope.jsonl"), TWO_TASKS, AGENT))
        }),
        row("dataset is a directory", 1, "the dataset is a directory, not a regular file", move |_, d| {
            std::fs::create_dir_all(d.join("dir.jsonl")).unwrap();
            describe(exp_with(d, &yaml("1", "2", "dir.jsonl"), TWO_TASKS, AGENT))
        }),
        row("dataset is a FIFO", 1, "the dataset is a FIFO (named pipe), not a regular file", move |_, d| {
            std::fs::create_dir_all(d).unwrap();
            mkfifo(&d.join("fifo.jsonl"));
            describe(exp_with(d, &yaml("1", "2", "fifo.jsonl"), TWO_TASKS, AGENT))
        }),
        // --- dataset rows -----------------------------------------------------------
        row("dataset with a BOM", 1, "the dataset starts with a UTF-8 byte-order mark (BOM)", move |_, d| {
            describe(exp_with(d, &yaml("1", "2", "tasks.jsonl"), b"\xef\xbb\xbf{\"id\":\"t1\"}\n", AGENT))
        }),
        row("dataset invalid UTF-8", 1, "tasks.jsonl:3: the dataset is not valid UTF-8: invalid byte 0xfe at column 8", move |_, d| {
            describe(exp_with(d, &yaml("1", "2", "tasks.jsonl"), b"{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"\xfe\"}\n", AGENT))
        }),
        row("dataset row not JSON", 1, "tasks.jsonl:2: invalid JSON", move |_, d| {
            describe(exp_rows(d, &["{\"id\":\"a\"}", "{id: b}"]))
        }),
        row("dataset row not an object", 1, "a dataset row must be a JSON object, found an array", move |_, d| {
            describe(exp_rows(d, &["[1,2]"]))
        }),
        // A row without an id is `task_<index>` (the original's rule): that id can
        // collide with an explicit one.
        row("implicit task id collides", 1, "duplicate task id `task_1` (first seen on line 1)", move |_, d| {
            describe(exp_rows(d, &["{\"id\":\"task_1\"}", "{\"n\":1}"]))
        }),
        row("task id a number", 1, "task `id` must be a string, found a number", move |_, d| {
            describe(exp_rows(d, &["{\"id\":7}"]))
        }),
        row("task id empty", 1, "task `id` is empty", move |_, d| describe(exp_rows(d, &["{\"id\":\"  \"}"]))),
        row("duplicate task id", 1, "duplicate task id `a` (first seen on line 1)", move |_, d| {
            describe(exp_rows(d, &["{\"id\":\"a\"}", "{\"id\":\"a\"}"]))
        }),
        // Variant ids are refused by the schema's pattern first (the id rules apply too).
        row("variant id with trailing space", 1, "at /variant_plan/0/variant_id: \"b \" does not match \"^[A-Za-z0-9_.-]+$\"", move |_, d| {
            describe(exp_variants(d, "[{variant_id: \"b \", bindings: {}}]"))
        }),
        // …and the refused value is printed escaped, not raw.
        row("variant id with RTL override", 1, "at /variant_plan/0/variant_id: \"x\\u{202e}y\" does not match", move |_, d| {
            describe(exp_variants(d, "[{variant_id: \"x\\u202ey\", bindings: {}}]"))
        }),
        row("variant ids equal ignoring case", 1, "at /variant_plan/0/variant_id: variant id differing only in letter case from another: `A` (already used at /baseline/variant_id)", move |_, d| {
            describe(exp_variants(d, "[{variant_id: A, bindings: {}}]"))
        }),
        row("task id with NUL", 1, "task id \"a\\u{0}b\" contains the control or formatting character U+0000", move |_, d| {
            describe(exp_rows(d, &["{\"id\":\"a\\u0000b\"}"]))
        }),
        row("task id with newline", 1, "contains the control or formatting character U+000A", move |_, d| {
            describe(exp_rows(d, &["{\"id\":\"a\\nb\"}"]))
        }),
        row("task id with RTL override", 1, "task id \"x\\u{202e}y\" contains the control or formatting character U+202E", move |_, d| {
            describe(exp_rows(d, &["{\"id\":\"x\\u202ey\"}"]))
        }),
        row("task id trailing space", 1, "task id \"a \" has leading or trailing whitespace", move |_, d| {
            describe(exp_rows(d, &["{\"id\":\"a\"}", "{\"id\":\"a \"}"]))
        }),
        row("task ids equal ignoring case", 1, "task id \"A\" differs from \"a\" (line 1) only in letter case", move |_, d| {
            describe(exp_rows(d, &["{\"id\":\"a\"}", "{\"id\":\"A\"}"]))
        }),
        row("task id too long", 1, "is 300 bytes long, over the 128-byte limit", move |_, d| {
            let r = format!("{{\"id\":\"{}\"}}", "i".repeat(300));
            describe(exp_rows(d, &[r.as_str()]))
        }),
        row("dataset row with a duplicate key", 1, "tasks.jsonl:2: invalid JSON: duplicate key `n`", move |_, d| {
            describe(exp_rows(d, &["{\"id\":\"a\"}", "{\"id\":\"b\",\"n\":1,\"n\":2}"]))
        }),
        row("retry max_attempts huge", 1, "at /design/policies/retry/max_attempts: max_attempts 1000000000 is over the limit of 100 attempts per trial", move |_, d| {
            let y = yaml("1", "2", "tasks.jsonl").replace("    state: isolate_per_trial\n", "    state: isolate_per_trial\n    retry: {max_attempts: 1000000000}\n");
            describe(exp_with(d, &y, TWO_TASKS, AGENT))
        }),
        row("version with a trailing space", 1, "version \"0.5 \" has leading or trailing whitespace; write version: \"0.5\"", move |_, d| {
            let y = yaml("1", "2", "tasks.jsonl").replace("version: \"0.5\"", "version: \"0.5 \"");
            describe(exp_with(d, &y, TWO_TASKS, AGENT))
        }),
        row("resolved_experiment wrapper with a sibling key", 1, "at /extra: unknown key \"extra\" beside `resolved_experiment`", move |_, d| {
            let inner = serde_json::json!({"version": "0.5", "experiment": {"id": "m", "name": "m"}, "dataset": {"path": "tasks.jsonl"}, "design": {"replications": 1}, "baseline": {"variant_id": "a", "bindings": {}}, "variant_plan": [], "runtime": {"agent": {"command": ["./agent.sh"]}}});
            let doc = serde_json::json!({"resolved_experiment": inner, "extra": 1}).to_string();
            exp(d);
            describe(write(d, "wrapped.json", doc.as_bytes()))
        }),
        row("${AGENTLAB_…} naming no contract variable", 1, "at /runtime/agent/command/1: ${AGENTLAB_NOPE} is not a contract variable, so labj would pass it to the program as written; the known variables are AGENTLAB_TASK_PATH", move |_, d| {
            let y = yaml("1", "2", "tasks.jsonl").replace("[\"./agent.sh\"]", "[\"./agent.sh\", \"--x=${AGENTLAB_NOPE}\"]");
            describe(exp_with(d, &y, TWO_TASKS, AGENT))
        }),
        row("YAML merge key", 1, "YAML merge keys (`<<: *anchor`) are not supported", move |_, d| {
            let y = yaml("1", "2", "tasks.jsonl")
                .replace("experiment: {id: matrix, name: matrix}", "experiment: &e {id: matrix, name: matrix}")
                .replace("runtime:\n  agent:\n", "runtime:\n  agent:\n    <<: *e\n");
            describe(exp_with(d, &y, TWO_TASKS, AGENT))
        }),
        row("remote endpoint with credentials", 1, "remote worker endpoint `http://…@127.0.0.1:9/` is not usable: the URL carries credentials", move |_, d| {
            let mut a = run(exp(d));
            a.extend(os(&["--executor", "remote", "--remote-endpoint", "http://user:s3cret-token@127.0.0.1:9/"]));
            a
        }),
        row("remote endpoint over plain HTTP to another machine", 1, "--remote-endpoint http://worker.invalid:7070/: plain HTTP to another machine sends the bearer token", move |_, d| {
            let mut a = run(exp(d));
            a.extend(os(&["--executor", "remote", "--remote-endpoint", "http://worker.invalid:7070/"]));
            a
        }),
        row("worker serve on a public address over plain HTTP", 1, "--listen 0.0.0.0:0: plain HTTP on an address other machines reach", |_, _| {
            os(&["worker", "serve", "--listen", "0.0.0.0:0", "--token-env", "LABJ_MATRIX_UNSET_TOKEN_VAR"])
        }),
        row("https endpoint without a trust anchor", 1, "an https:// worker needs --tls-pin sha256:HEX", move |_, d| {
            let mut a = run(exp(d));
            a.extend(os(&["--executor", "remote", "--remote-endpoint", "https://127.0.0.1:9/"]));
            a
        }),
        row("malformed --tls-pin", 1, "--tls-pin `sha256:12`: expected sha256: followed by 64 hex digits", move |_, d| {
            let mut a = run(exp(d));
            a.extend(os(&["--executor", "remote", "--remote-endpoint", "https://127.0.0.1:9/", "--tls-pin", "sha256:12"]));
            a
        }),
        row("--tls-ca that holds no certificate", 1, "holds no usable PEM CERTIFICATE", move |_, d| {
            let ca = d.join("not-a-ca.pem");
            std::fs::write(&ca, "junk\n").unwrap();
            let mut a = run(exp(d));
            a.extend(os(&["--executor", "remote", "--remote-endpoint", "https://127.0.0.1:9/", "--tls-ca"]));
            a.push(p(&ca));
            a
        }),
        row("worker --tls-cert that is not a certificate", 1, "holds no PEM CERTIFICATE block", |_, d| {
            let f = d.join("junk.pem");
            std::fs::write(&f, "junk\n").unwrap();
            let mut a = os(&["worker", "serve", "--listen", "127.0.0.1:0", "--insecure-no-auth", "--tls-cert"]);
            a.push(p(&f));
            a.push(OsString::from("--tls-key"));
            a.push(p(&f));
            a
        }),
        row("dataset empty", 1, "the dataset has no tasks", move |_, d| describe(exp_rows(d, &[""]))),
        row("unknown row schema", 1, "unknown row schema_version `task_boundary_v9`", move |_, d| {
            describe(exp_rows(d, &["{\"schema_version\":\"task_boundary_v9\",\"task\":{\"id\":\"a\"}}"]))
        }),
        row("workspace path `.`", 1, "workspace_files[0].path `.` names the workspace directory itself", move |_, d| {
            describe(exp_rows(d, &[ws_row(&["."]).as_str()]))
        }),
        row("workspace paths f and f/g", 1, "workspace_files[1].path `f/g` conflicts with workspace_files[0]: `f` would have to be both a file and a directory", move |_, d| {
            describe(exp_rows(d, &[ws_row(&["f", "f/g"]).as_str()]))
        }),
        row("workspace same file twice", 1, "is the same file as workspace_files[0]", move |_, d| {
            describe(exp_rows(d, &[ws_row(&["a/b", "a/./b"]).as_str()]))
        }),
        row("workspace name too long", 1, "has a name of 300 bytes, over the 255-byte limit", move |_, d| {
            let long = "n".repeat(300);
            describe(exp_rows(d, &[ws_row(&[long.as_str()]).as_str()]))
        }),
        row("workspace path of 4001 bytes", 1, "is 4001 bytes long, over the 1024-byte limit of workspace paths", move |_, d| {
            let long = vec!["d".repeat(199); 20].join("/") + "/x";
            assert_eq!(long.len(), 4001);
            describe(exp_rows(d, &[ws_row(&[long.as_str()]).as_str()]))
        }),
        row("workspace path absolute", 1, "workspace_files[0].path `/etc/x` is absolute", move |_, d| {
            describe(exp_rows(d, &[ws_row(&["/etc/x"]).as_str()]))
        }),
        row("workspace path escapes", 1, "workspace_files[0].path `../x` contains `..`", move |_, d| {
            describe(exp_rows(d, &[ws_row(&["../x"]).as_str()]))
        }),
        // --- files an agent leaves behind ---------------------------------------------
        trial_row("result is a FIFO", "is a FIFO (named pipe), not a regular file", |_, d| {
            let e = exp_with(d, &yaml("1", "2", "tasks.jsonl"), TWO_TASKS, "mkfifo \"$AGENTLAB_RESULT_PATH\"");
            vec![OsString::from("run"), p(&e)]
        }),
        trial_row("result is a directory", "is a directory, not a regular file", |_, d| {
            let e = exp_with(d, &yaml("1", "2", "tasks.jsonl"), TWO_TASKS, "mkdir \"$AGENTLAB_RESULT_PATH\"");
            vec![OsString::from("run"), p(&e)]
        }),
        trial_row("result links to /dev/zero", "is a character device, not a regular file", |_, d| {
            let e = exp_with(d, &yaml("1", "2", "tasks.jsonl"), TWO_TASKS, "ln -s /dev/zero \"$AGENTLAB_RESULT_PATH\"");
            vec![OsString::from("run"), p(&e)]
        }),
        trial_row("result too large", "over the 1048576-byte limit", |_, d| {
            let e = exp_with(d, &yaml("1", "2", "tasks.jsonl"), TWO_TASKS, "head -c 2000000 /dev/zero | tr '\\0' ' ' > \"$AGENTLAB_RESULT_PATH\"");
            vec![OsString::from("run"), p(&e)]
        }),
        trial_row("result not JSON", "is not valid JSON", |_, d| {
            let e = exp_with(d, &yaml("1", "2", "tasks.jsonl"), TWO_TASKS, "echo 'not json' > \"$AGENTLAB_RESULT_PATH\"");
            vec![OsString::from("run"), p(&e)]
        }),
        trial_row("result breaks its schema", "agent_result_v1", |_, d| {
            let e = exp_with(d, &yaml("1", "2", "tasks.jsonl"), TWO_TASKS, "echo '{\"outcome\": 5}' > \"$AGENTLAB_RESULT_PATH\"");
            vec![OsString::from("run"), p(&e)]
        }),
        trial_row("result missing", "agent exited 0 but wrote no result", |_, d| {
            let e = exp_with(d, &yaml("1", "2", "tasks.jsonl"), TWO_TASKS, "true");
            vec![OsString::from("run"), p(&e)]
        }),
        trial_row("FIFO left in the workspace", "\"classification\":\"success\"", |_, d| {
            let e = exp_with(d, &yaml("1", "2", "tasks.jsonl"), TWO_TASKS, &format!("mkfifo pipe\n{AGENT}"));
            vec![OsString::from("run"), p(&e)]
        }),
        // --- files a grader leaves behind (AGENTLAB_GRADE_PATH = attempt_<n>/grader/grade.json)
        grade_row("grade is a FIFO", "grade_error", "grader/grade.json is a FIFO (named pipe), not a regular file", "mkfifo \"$AGENTLAB_GRADE_PATH\""),
        grade_row("grade is a directory", "grade_error", "grader/grade.json is a directory, not a regular file", "mkdir \"$AGENTLAB_GRADE_PATH\""),
        grade_row("grade links to /dev/zero", "grade_error", "grader/grade.json is a character device, not a regular file", "ln -s /dev/zero \"$AGENTLAB_GRADE_PATH\""),
        grade_row("grade not JSON", "grade_error", "grader/grade.json is not valid JSON", "echo 'not json' > \"$AGENTLAB_GRADE_PATH\""),
        grade_row("grade breaks its schema", "grade_error", "grade.json: document does not match schema `grade_result_v1`:\\n  - at /outcome: 5 is not one of", "echo '{\"schema_version\":\"grade_result_v1\",\"outcome\":5}' > \"$AGENTLAB_GRADE_PATH\""),
        grade_row("grade too large", "grade_error", "over the 1048576-byte limit", "head -c 2000000 /dev/zero | tr '\\0' ' ' > \"$AGENTLAB_GRADE_PATH\""),
        grade_row("grade missing", "grade_error", "grader exited 0 but wrote no grade at", "true"),
        grade_row("grader exits non-zero", "grade_error", "grader exited with code 3", "exit 3"),
        // --- command-line arguments ---------------------------------------------------
        row("experiment path not UTF-8", 1, "is not valid UTF-8; labj records paths in its journal as text", move |_, d| {
            let bad = d.join(OsString::from_vec(b"dir_\xff".to_vec()));
            exp(&bad);
            run(bad.join("experiment.yaml"))
        }),
        row("describe of a path not UTF-8", 1, "dir_\\xFF/experiment.yaml\" is not valid UTF-8; labj records paths in its journal as text", move |_, d| {
            let bad = d.join(OsString::from_vec(b"dir_\xff".to_vec()));
            exp(&bad);
            describe(bad.join("experiment.yaml"))
        }),
        row("--runs-dir not UTF-8", 1, "--runs-dir", move |_, d| {
            let e = exp(d);
            vec![
                OsString::from("--runs-dir"),
                p(&d.join(OsString::from_vec(b"runs_\xff".to_vec()))),
                OsString::from("run"),
                p(&e),
            ]
        }),
        row("--max-concurrency 0", 1, "--max-concurrency must be at least 1", move |_, d| {
            let mut a = run(exp(d));
            a.extend(os(&["--max-concurrency", "0"]));
            a
        }),
        row("--max-concurrency over the limit", 1, "--max-concurrency 100000 is over the limit of 1024", move |_, d| {
            let mut a = run(exp(d));
            a.extend(os(&["--max-concurrency", "100000"]));
            a
        }),
        row("--max-concurrency not a u32", 2, "invalid value '99999999999' for '--max-concurrency", move |_, d| {
            let mut a = run(exp(d));
            a.extend(os(&["--max-concurrency", "99999999999"]));
            a
        }),
        row("--fail-on-infra-error 150%", 1, "must be between 0% and 100%", move |_, d| {
            let mut a = run(exp(d));
            a.extend(os(&["--fail-on-infra-error", "150%"]));
            a
        }),
        row("--fail-on-infra-error abc", 1, "expected a percentage such as 5%", move |_, d| {
            let mut a = run(exp(d));
            a.extend(os(&["--fail-on-infra-error", "abc"]));
            a
        }),
        row("replay --until -1", 1, "--until -1: event indexes start at 0", |fx, _| {
            vec![OsString::from("replay"), p(&fx.base), OsString::from("--until"), OsString::from("-1")]
        }),
        row("replay --until past the end", 1, "is past the end (last idx is", |fx, _| {
            vec![OsString::from("replay"), p(&fx.base), OsString::from("--until"), OsString::from("999999")]
        }),
        row("events --from 5 --to 2", 1, "--from 5 --to 2: the range is empty", |fx, _| {
            vec![OsString::from("events"), p(&fx.base), OsString::from("--from"), OsString::from("5"), OsString::from("--to"), OsString::from("2")]
        }),
        row("events --kind unknown", 2, "invalid value 'nope' for '--kind <KIND>'", |fx, _| {
            vec![OsString::from("events"), p(&fx.base), OsString::from("--kind"), OsString::from("nope")]
        }),
        row("status of an empty run id", 1, "empty run id", |_, _| os(&["status", ""])),
        row("status of an unknown run", 1, "no run", |_, _| os(&["status", "zzzz-no-such-run"])),
        row("continue a completed run", 1, "is already completed", |fx, _| {
            vec![OsString::from("continue"), p(&fx.base)]
        }),
        row("pause a run nobody drives", 1, "no live labj process is driving run", |fx, _| {
            vec![OsString::from("pause"), p(&fx.base)]
        }),
        row("kill a run nobody drives", 1, "it has finished", |fx, _| {
            vec![OsString::from("kill"), p(&fx.base)]
        }),
        row("unknown subcommand", 2, "unrecognized subcommand 'frobnicate'", |_, _| os(&["frobnicate"])),
        // --- journals ------------------------------------------------------------------
        row("journal not a database", 1, "journal.sqlite is not a labj journal: not a database", |_, d| {
            write(d, "r/journal.sqlite", b"this is not sqlite at all, just text padding it out");
            vec![OsString::from("status"), p(&d.join("r"))]
        }),
        row("journal empty file", 1, "is not an initialized labj journal", |_, d| {
            write(d, "r/journal.sqlite", b"");
            vec![OsString::from("verify"), p(&d.join("r"))]
        }),
        row("journal from a newer labj", 1, "newer than this labj understands", |fx, d| {
            let c = copy_base(fx, d);
            sql(&c.join("journal.sqlite"), "PRAGMA user_version = 99;");
            vec![OsString::from("status"), p(&c)]
        }),
        row("journal payload edited", 1, "FAILED: first bad event idx", |fx, d| {
            let c = copy_base(fx, d);
            sql(
                &c.join("journal.sqlite"),
                "DROP TRIGGER IF EXISTS events_no_update; UPDATE events SET payload = replace(payload, 'success', 'failure') WHERE kind = 'trial_completed';",
            );
            vec![OsString::from("verify"), p(&c)]
        }),
        row("journal head record deleted", 1, "FAILED", |fx, d| {
            let c = copy_base(fx, d);
            std::fs::remove_file(c.join("journal.head")).unwrap();
            vec![OsString::from("verify"), p(&c)]
        }),
        row("run dir without a journal", 1, "holds no journal.sqlite", |_, d| {
            std::fs::create_dir_all(d.join("r")).unwrap();
            vec![OsString::from("status"), p(&d.join("r"))]
        }),
        row("journal deleted, head record left", 1, "was deleted", |fx, d| {
            let c = copy_base(fx, d);
            std::fs::remove_file(c.join("journal.sqlite")).unwrap();
            vec![OsString::from("status"), p(&c)]
        }),
        // --- the filesystem -------------------------------------------------------------
        row("runs dir is a file", 1, "runs_file exists but is not a directory; give a directory", move |_, d| {
            let e = exp(d);
            let f = write(d, "runs_file", b"x");
            vec![OsString::from("--runs-dir"), p(&f), OsString::from("run"), p(&e)]
        }),
        row("blob deleted", 1, "stored blob(s) are missing or damaged", |fx, d| {
            let c = copy_base(fx, d);
            std::fs::remove_file(a_blob(&c)).unwrap();
            vec![OsString::from("verify"), p(&c)]
        }),
        row("blob altered", 1, "holds content with digest", |fx, d| {
            let c = copy_base(fx, d);
            std::fs::write(a_blob(&c), b"forged").unwrap();
            vec![OsString::from("verify"), p(&c)]
        }),
        // --- `--out` never overwrites a run's own files --------------------------------
        row("report --out the run's journal", 1, "journal.sqlite: refused, it is inside the run directory", |fx, d| {
            let c = copy_base(fx, d);
            vec![OsString::from("report"), p(&c), OsString::from("--format"), OsString::from("html"), OsString::from("--out"), p(&c.join("journal.sqlite"))]
        }),
        row("report --out the run's head record", 1, "journal.head: refused, it is inside the run directory", |fx, d| {
            let c = copy_base(fx, d);
            vec![OsString::from("report"), p(&c), OsString::from("--format"), OsString::from("json"), OsString::from("--out"), p(&c.join("journal.head"))]
        }),
        row("export --out the run's journal", 1, "journal.sqlite: refused, it is inside the run directory", |fx, d| {
            let c = copy_base(fx, d);
            vec![OsString::from("export"), p(&c), OsString::from("--table"), OsString::from("trials"), OsString::from("--format"), OsString::from("csv"), OsString::from("--out"), p(&c.join("journal.sqlite"))]
        }),
        row("report --out a blob of the run", 1, "refused, it is inside the run directory", |fx, d| {
            let c = copy_base(fx, d);
            let b = a_blob(&c);
            vec![OsString::from("report"), p(&c), OsString::from("--out"), p(&b)]
        }),
        row("report --out a symlink to the journal", 1, "link.html: refused, it is inside the run directory", |fx, d| {
            let c = copy_base(fx, d);
            std::os::unix::fs::symlink(c.join("journal.sqlite"), d.join("link.html")).unwrap();
            vec![OsString::from("report"), p(&c), OsString::from("--out"), p(&d.join("link.html"))]
        }),
        row("report --out another run's journal", 1, "refused, it is inside the run directory", |fx, d| {
            let other = copy_base(fx, d);
            vec![OsString::from("report"), p(&fx.base), OsString::from("--out"), p(&other.join("journal.sqlite"))]
        }),
        row("blob replaced by a FIFO", 1, "not a regular file", |fx, d| {
            let c = copy_base(fx, d);
            let b = a_blob(&c);
            std::fs::remove_file(&b).unwrap();
            mkfifo(&b);
            vec![OsString::from("verify"), p(&c)]
        }),
    ]
}

/// Runs `labj` with `args` in `dir`, failing the row if it does not end within `limit`.
fn run_bounded(dir: &Path, runs: &Path, args: &[OsString], limit: Duration) -> Output {
    let mut cmd = Command::new(labj_bin());
    cmd.current_dir(dir).env_remove(FAULT_KILL_ENV);
    // Rows about `--runs-dir` give their own.
    if !args.iter().any(|a| a == "--runs-dir") {
        cmd.arg("--runs-dir").arg(runs);
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("labj {args:?} hung for {limit:?}: {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What must not change: the baseline run's events and committed slots.
fn fingerprint(run: &Path) -> (usize, [u8; 32], Vec<(u64, String, String)>) {
    let events = read_events(run);
    let head = events.last().unwrap().hash;
    (events.len(), head, committed_slots(run))
}

#[test]
fn bad_input_matrix() {
    let s = Scratch::new();
    let base_dir = s.dir().join("base");
    let e = exp(&base_dir);
    let out = run_bounded(
        &base_dir,
        &s.dir().join("base_runs"),
        &[OsString::from("run"), p(&e)],
        Duration::from_secs(120),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let base = first_entry(&s.dir().join("base_runs")).unwrap();
    let fx = Fx { s, base };
    let before = fingerprint(&fx.base);

    let rows = rows();
    assert!(rows.len() >= 60, "the matrix has {} rows", rows.len());
    let mut report = vec![
        "| # | case | message (fragment asserted) | exit |".to_string(),
        "|---|---|---|---|".to_string(),
    ];
    let mut failures = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let dir = fx.s.dir().join(format!("case_{i:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let runs = dir.join("runs");
        let args = (r.args)(&fx, &dir);
        let out = run_bounded(&dir, &runs, &args, Duration::from_secs(90));
        let all = text(&out);
        let mut problems = Vec::new();
        if all.contains("panicked") || all.contains("RUST_BACKTRACE") {
            problems.push("panicked".to_string());
        }
        if out.status.code() != Some(r.code) {
            problems.push(format!("exit {:?}, expected {}", out.status.code(), r.code));
        }
        let haystack = match r.place {
            Where::Output => all.clone(),
            Where::Trial => match first_entry(&runs) {
                Some(run) => {
                    let ev = events_of(&fx.s, &run, "trial_completed");
                    check_journal(&run);
                    if events_of(&fx.s, &run, "run_completed").is_empty() {
                        problems.push("the run did not end with run_completed".to_string());
                    }
                    if let Some(class) = r.class {
                        let classes: Vec<&str> = ev
                            .iter()
                            .filter_map(|e| e["payload"]["classification"].as_str())
                            .collect();
                        if classes.len() != 2 || classes.iter().any(|c| *c != class) {
                            problems.push(format!(
                                "trials classified {classes:?}, expected 2 × {class}"
                            ));
                        }
                    }
                    serde_json::to_string(&ev).unwrap()
                }
                None => String::new(),
            },
        };
        if !haystack.contains(r.fragment) {
            problems.push(format!("message lacks {:?}", r.fragment));
        }
        // A refused `run` leaves nothing behind (no empty run directory).
        if r.place == Where::Output && r.code != 0 && args.first().is_some_and(|a| a == "run") {
            if let Some(left) = first_entry(&runs) {
                problems.push(format!("left a run directory {}", left.display()));
            }
        }
        let line = String::from_utf8_lossy(&out.stderr)
            .lines()
            .chain(String::from_utf8_lossy(&out.stdout).lines())
            .find(|l| l.contains(r.fragment.lines().next().unwrap_or("")))
            .unwrap_or(r.fragment)
            .trim()
            .replace('|', "\\|")
            .to_string();
        let shown = if r.place == Where::Trial {
            format!(
                "journaled trial outcome{}: `{}`",
                r.class.map(|c| format!(" `{c}`")).unwrap_or_default(),
                r.fragment.replace('|', "\\|")
            )
        } else {
            format!("`{}`", line.chars().take(220).collect::<String>())
        };
        report.push(format!(
            "| {} | {} | {} | {:?} |",
            i + 1,
            r.name,
            shown,
            out.status.code().unwrap_or(-1)
        ));
        if !problems.is_empty() {
            failures.push(format!(
                "row {} `{}`: {}\n{all}",
                i + 1,
                r.name,
                problems.join("; ")
            ));
        }
        assert_eq!(
            fingerprint(&fx.base),
            before,
            "row {} `{}` changed the baseline run",
            i + 1,
            r.name
        );
    }
    check_journal(&fx.base);
    if let Ok(path) = std::env::var("LABJ_MATRIX_REPORT") {
        std::fs::write(path, report.join("\n") + "\n").unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n\n")
    );
}
