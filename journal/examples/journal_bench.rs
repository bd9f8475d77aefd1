//! Journal throughput benchmark, driven by `bench/journal_bench.sh`.
//!
//! Appends 1,000,000 small, valid events (one `run_created` with a 333,333-slot schedule,
//! then dispatch/complete/commit triples) in batches of 100 to a fresh journal, then folds
//! them back with chain verification (`Journal::fold(None)`). Repeats on a fresh file per
//! run and prints per-run rates, medians, journal bytes per event, and PASS/FAIL against
//! the targets.
//!
//! Usage: `journal_bench [--events N] [--batch N] [--runs N] [--dir DIR]`

use journal::{testkit, Durability, Event, Journal, Projections};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const APPEND_TARGET: f64 = 100_000.0;
const FOLD_TARGET: f64 = 500_000.0;
const VARIANTS: u32 = 3;

struct Args {
    events: u64,
    batch: usize,
    runs: usize,
    dir: Option<PathBuf>,
}

fn parse_args() -> Args {
    let mut a = Args {
        events: 1_000_000,
        batch: 100,
        runs: 3,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => a.events = val().parse().expect("--events N"),
            "--batch" => a.batch = val().parse().expect("--batch N"),
            "--runs" => a.runs = val().parse().expect("--runs N"),
            "--dir" => a.dir = Some(PathBuf::from(val())),
            other => panic!("unknown argument {other}; usage: journal_bench [--events N] [--batch N] [--runs N] [--dir DIR]"),
        }
    }
    assert!(a.events >= 4 && a.batch > 0 && a.runs > 0);
    a
}

struct RunResult {
    append: Duration,
    append_calls: Duration,
    fold: Duration,
    bytes: u64,
}

/// `events` = 1 + 3 × slots; the schedule is `VARIANTS × tasks` slots, 1 repl.
fn slots_for(events: u64) -> (u64, u32) {
    let slots = (events - 1) / 3;
    let tasks = slots.div_ceil(VARIANTS as u64) as u32;
    (slots, tasks)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// The database file plus its WAL (the -shm index is a rebuildable memory map).
fn file_bytes(path: &Path) -> u64 {
    [path.to_path_buf(), sibling(path, "-wal")]
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum()
}

fn one_run(dir: &Path, args: &Args) -> RunResult {
    let path = dir.join("journal.sqlite");
    let (slots, tasks) = slots_for(args.events);
    let total = 1 + 3 * slots;

    let start = Instant::now();
    let mut append_calls = Duration::ZERO;
    let mut j = Journal::create(&path, Durability::Normal).expect("create journal");
    let mut live = Projections::new();
    let mut stream = std::iter::once(testkit::run_created("bench", VARIANTS, tasks, 1))
        .chain((0..slots).flat_map(|i| testkit::trial_life(i, tasks, i % 4 != 0)));
    let mut batch_no = 0u64;
    loop {
        let batch: Vec<Event> = stream.by_ref().take(args.batch).collect();
        if batch.is_empty() {
            break;
        }
        let ts = format!(
            "2025-01-01T{:02}:{:02}:{:02}.{:03}Z",
            (batch_no / 3_600_000) % 24,
            (batch_no / 60_000) % 60,
            (batch_no / 1000) % 60,
            batch_no % 1000
        );
        let t = Instant::now();
        j.append(&mut live, batch, &ts).expect("append");
        append_calls += t.elapsed();
        batch_no += 1;
    }
    let append = start.elapsed();
    assert_eq!(j.len(), total);
    assert_eq!(live.progress.next_commit_idx, slots);

    j.conn()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    let bytes = file_bytes(&path);
    drop(j);

    let j = Journal::open_read_only(&path).expect("reopen");
    let t = Instant::now();
    let folded = j.fold(None).expect("fold");
    let fold = t.elapsed();
    assert_eq!(folded, live, "fold differs from the live projections");
    drop(j);
    std::fs::remove_file(&path).ok();
    for suffix in ["-wal", "-shm"] {
        std::fs::remove_file(sibling(&path, suffix)).ok();
    }
    RunResult {
        append,
        append_calls,
        fold,
        bytes,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

fn main() {
    let args = parse_args();
    let (slots, _) = slots_for(args.events);
    let total = 1 + 3 * slots;
    println!(
        "journal_bench: {total} events ({slots} slots × dispatch/complete/commit + run_created), batches of {}, {} runs",
        args.batch, args.runs
    );
    let mut append_rates = Vec::new();
    let mut fold_rates = Vec::new();
    let mut bpe = Vec::new();
    for run in 1..=args.runs {
        let tmp = match &args.dir {
            Some(d) => tempfile::tempdir_in(d),
            None => tempfile::tempdir(),
        }
        .expect("temp dir");
        let r = one_run(tmp.path(), &args);
        let ar = total as f64 / r.append.as_secs_f64();
        let acr = total as f64 / r.append_calls.as_secs_f64();
        let fr = total as f64 / r.fold.as_secs_f64();
        let b = r.bytes as f64 / total as f64;
        println!(
            "run {run}: append {:>8.3}s = {ar:>10.0} ev/s (inside append(): {acr:.0} ev/s) | fold+verify {:>7.3}s = {fr:>10.0} ev/s | {} bytes = {b:.1} B/event",
            r.append.as_secs_f64(),
            r.fold.as_secs_f64(),
            r.bytes
        );
        append_rates.push(ar);
        fold_rates.push(fr);
        bpe.push(b);
    }
    let (ma, mf, mb) = (median(append_rates), median(fold_rates), median(bpe));
    println!(
        "median append: {ma:.0} ev/s (target ≥ {APPEND_TARGET:.0}) {}",
        verdict(ma >= APPEND_TARGET)
    );
    println!(
        "median fold:   {mf:.0} ev/s (target ≥ {FOLD_TARGET:.0}) {}",
        verdict(mf >= FOLD_TARGET)
    );
    println!("median size:   {mb:.1} bytes/event (file + WAL after checkpoint)");
}
