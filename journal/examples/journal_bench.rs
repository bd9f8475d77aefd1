//! Journal throughput benchmark, driven by `bench/journal_bench.sh`.
//!
//! Appends 1,000,000 small, valid events (one `run_created` with a 333,333-slot schedule,
//! then dispatch/complete/commit triples) in batches of 100 to a fresh journal, then folds
//! them back with chain verification (`Journal::fold(None)`). Repeats on a fresh file per
//! run and prints per-run rates, medians, journal bytes per event, and PASS/FAIL against
//! the targets.
//!
//! Usage: `journal_bench [--events N] [--batch N] [--runs N] [--dir DIR] [--breakdown] [--setup-sql SQL]`
//!
//! `--breakdown` instead times the pieces of append and fold separately (cumulative
//! passes over the same events), to show where the time goes.

use journal::{testkit, Durability, Event, Journal, Projections};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const APPEND_TARGET: f64 = 100_000.0;
const FOLD_TARGET: f64 = 2_000_000.0;
const VARIANTS: u32 = 3;

struct Args {
    events: u64,
    batch: usize,
    runs: usize,
    dir: Option<PathBuf>,
    breakdown: bool,
    /// SQL run on the fresh, empty journal before appending (what-if experiments:
    /// pragmas, alternative table layouts).
    setup_sql: Option<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        events: 1_000_000,
        batch: 100,
        runs: 3,
        dir: None,
        breakdown: false,
        setup_sql: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => a.events = val().parse().expect("--events N"),
            "--batch" => a.batch = val().parse().expect("--batch N"),
            "--runs" => a.runs = val().parse().expect("--runs N"),
            "--dir" => a.dir = Some(PathBuf::from(val())),
            "--breakdown" => a.breakdown = true,
            "--setup-sql" => a.setup_sql = Some(val()),
            other => panic!("unknown argument {other}; usage: journal_bench [--events N] [--batch N] [--runs N] [--dir DIR] [--breakdown] [--setup-sql SQL]"),
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
    if let Some(sql) = &args.setup_sql {
        j.raw_conn_for_tests()
            .execute_batch(sql)
            .expect("--setup-sql");
    }
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

    j.raw_conn_for_tests()
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
    if args.breakdown {
        breakdown(&args);
        return;
    }
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

fn event_stream(slots: u64, tasks: u32) -> impl Iterator<Item = Event> {
    std::iter::once(testkit::run_created("bench", VARIANTS, tasks, 1))
        .chain((0..slots).flat_map(move |i| testkit::trial_life(i, tasks, i % 4 != 0)))
}

/// Times cumulative slices of the append and fold paths, re-implemented from the public
/// API so that the difference between consecutive lines is the cost of one step.
fn breakdown(args: &Args) {
    use journal::projection::Changes;
    use journal::store::chain_hash;
    use journal::StoredEvent;

    let (slots, tasks) = slots_for(args.events);
    let total = (1 + 3 * slots) as f64;
    let tmp = match &args.dir {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let line = |what: &str, d: Duration| {
        println!(
            "  {what:<58} {:>7.3}s  {:>6.2} µs/event",
            d.as_secs_f64(),
            d.as_secs_f64() * 1e6 / total
        )
    };
    println!("append path, {total} events, batches of {}:", args.batch);
    let ts = "2025-01-01T00:00:00.000Z";
    // A: CPU-only steps of append.
    for step in 0..4 {
        let t = Instant::now();
        let mut prev = [0u8; 32];
        let mut proj = Projections::new();
        let mut changes = Changes::default();
        let mut in_batch = 0usize;
        let mut docs = 0usize;
        for (idx, event) in event_stream(slots, tasks).enumerate() {
            if step >= 1 {
                let payload = event.payload_json();
                prev = chain_hash(
                    &prev,
                    idx as u64,
                    event.kind(),
                    event.schedule_idx(),
                    event.trial_id(),
                    ts,
                    &payload,
                );
            }
            if step >= 2 {
                let se = StoredEvent {
                    idx: idx as u64,
                    ts: ts.into(),
                    event,
                    hash: prev,
                };
                proj.apply(&se, &mut changes).expect("apply");
            }
            in_batch += 1;
            if in_batch == args.batch {
                in_batch = 0;
                if step >= 3 {
                    docs += proj.run_control_doc().to_string().len()
                        + proj.progress_doc().to_string().len()
                        + proj.aggregates_doc().to_string().len();
                }
                changes.rows.clear();
            }
        }
        std::hint::black_box((prev, docs));
        line(
            [
                "A1 build events (testkit)",
                "A2 + payload_json + chain_hash",
                "A3 + Projections::apply (incl. FactRow building)",
                "A4 + 3 projection docs to_string per batch",
            ][step],
            t.elapsed(),
        );
    }
    // A5: only the INSERT into events, through a journal's connection.
    {
        let path = tmp.path().join("events_only.sqlite");
        let j = Journal::create(&path, Durability::Normal).expect("create");
        let t = Instant::now();
        let mut prev = [0u8; 32];
        let mut it = event_stream(slots, tasks).enumerate().peekable();
        while it.peek().is_some() {
            j.raw_conn_for_tests().execute_batch("BEGIN").unwrap();
            let mut ins = j
                .raw_conn_for_tests()
                .prepare_cached("INSERT INTO events (idx, kind, schedule_idx, trial_id, ts, payload, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .unwrap();
            for (idx, event) in it.by_ref().take(args.batch) {
                let payload = event.payload_json();
                let sidx = event.schedule_idx().map(|v| v as i64);
                prev = chain_hash(
                    &prev,
                    idx as u64,
                    event.kind(),
                    event.schedule_idx(),
                    event.trial_id(),
                    ts,
                    &payload,
                );
                ins.execute(rusqlite::params![
                    idx as i64,
                    event.kind(),
                    sidx,
                    event.trial_id(),
                    ts,
                    payload,
                    &prev[..]
                ])
                .unwrap();
            }
            drop(ins);
            j.raw_conn_for_tests().execute_batch("COMMIT").unwrap();
        }
        line(
            "A5 A2 + INSERT events rows only (no projections)",
            t.elapsed(),
        );
    }
    // A6: the real thing.
    let path = tmp.path().join("journal.sqlite");
    {
        let t = Instant::now();
        let mut j = Journal::create(&path, Durability::Normal).expect("create");
        let mut live = Projections::new();
        let mut it = event_stream(slots, tasks);
        loop {
            let batch: Vec<Event> = it.by_ref().take(args.batch).collect();
            if batch.is_empty() {
                break;
            }
            j.append(&mut live, batch, ts).expect("append");
        }
        line(
            "A6 Journal::append (all of the above + materialize)",
            t.elapsed(),
        );
    }

    chain_hash_variants();
    println!("fold path:");
    let j = Journal::open_read_only(&path).expect("open");
    for step in 0..4 {
        let t = Instant::now();
        let mut stmt = j
            .raw_conn_for_tests()
            .prepare("SELECT idx, kind, schedule_idx, trial_id, ts, payload, hash FROM events ORDER BY idx")
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        let mut proj = Projections::new();
        let mut changes = Changes::fold_only();
        let mut prev = [0u8; 32];
        let mut bytes = 0usize;
        while let Some(r) = rows.next().unwrap() {
            let idx: i64 = r.get(0).unwrap();
            let kind = r.get_ref(1).unwrap().as_str().unwrap();
            let payload = r.get_ref(5).unwrap().as_str().unwrap();
            let ts: String = r.get(4).unwrap();
            let sidx: Option<i64> = r.get(2).unwrap();
            let tid: Option<String> = r.get(3).unwrap();
            let hash: [u8; 32] = r.get_ref(6).unwrap().as_blob().unwrap().try_into().unwrap();
            bytes += payload.len();
            if step >= 1 {
                let event = Event::decode(kind, payload).expect("decode");
                if step >= 2 {
                    let want = chain_hash(
                        &prev,
                        idx as u64,
                        kind,
                        sidx.map(|v| v as u64),
                        tid.as_deref(),
                        &ts,
                        payload,
                    );
                    assert_eq!(want, hash);
                    prev = hash;
                }
                if step >= 3 {
                    proj.apply_owned(
                        StoredEvent {
                            idx: idx as u64,
                            ts,
                            event,
                            hash,
                        },
                        &mut changes,
                    )
                    .expect("apply");
                }
            }
        }
        std::hint::black_box(bytes);
        line(
            [
                "F1 SELECT scan, read all columns",
                "F2 + Event::decode (serde_json)",
                "F3 + chain_hash check",
                "F4 + Projections::apply_owned (fold_only: no FactRows)",
            ][step],
            t.elapsed(),
        );
    }
    let t = Instant::now();
    j.fold(None).expect("fold");
    line("F5 Journal::fold(None)", t.elapsed());
}

fn chain_hash_variants() {
    use journal::store::chain_hash;
    let events: Vec<(Event, String)> = (0..20_000u64)
        .flat_map(|i| testkit::trial_life(i, 1000, i % 4 != 0))
        .map(|e| {
            let p = e.payload_json();
            (e, p)
        })
        .collect();
    let ts = "2025-01-01T00:00:00.000Z";
    let n = events.len() as f64;
    let t = Instant::now();
    let mut prev = [0u8; 32];
    for (i, (e, p)) in events.iter().enumerate() {
        prev = chain_hash(
            &prev,
            i as u64,
            e.kind(),
            e.schedule_idx(),
            e.trial_id(),
            ts,
            p,
        );
    }
    let a = t.elapsed();
    assert_ne!(prev, [0u8; 32]);
    println!(
        "chain hash: store::chain_hash {:.3} µs/event (one blake3 call over a reused buffer)",
        a.as_secs_f64() * 1e6 / n
    );
}
