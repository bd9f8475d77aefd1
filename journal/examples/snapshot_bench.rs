//! Fold and replay throughput with and without projection snapshots, driven by
//! `bench/fold_replay.sh`.
//!
//! Builds a journal of N events (default 1,000,000: one `run_created`, then
//! dispatch/complete/commit triples with metrics, attempts and evidence, 1 in 4 trials
//! failing) through `Journal::append` in batches of 100, twice per repetition and
//! interleaved: once taking snapshots every `SNAPSHOT_EVERY` events (as labj does) and
//! once without (the baseline), so the cost snapshots add to appends is measured side by
//! side. On the snapshotted journal it then times, median of the repetitions:
//!   - `fold(None)`: from event 0, chain checked (what `verify`/`rebuild` do);
//!   - `fold_from_snapshot(None)`: what `continue`/`replay` do;
//!   - replay at 8 spread indices (`--until k`), from event 0 vs from the nearest
//!     snapshot.
//!
//! Every snapshot-based result is compared with the from-zero fold.
//!
//! usage: snapshot_bench [--events N] [--runs N] [--dir DIR] [--keep PATH] | --fold PATH | --scan PATH

use journal::store::SNAPSHOT_EVERY;
use journal::{testkit, Durability, Event, Journal, Projections};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const VARIANTS: u32 = 3;
const BATCH: usize = 100;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn build(path: &Path, events: u64, every: u64) -> (Duration, Projections) {
    let slots = (events - 1) / 3;
    let tasks = slots.div_ceil(VARIANTS as u64) as u32;
    let t = Instant::now();
    let mut j = Journal::create(path, Durability::Normal).expect("create");
    j.set_snapshot_every(every);
    let mut live = Projections::new();
    let mut stream = std::iter::once(testkit::run_created("bench", VARIANTS, tasks, 1))
        .chain((0..slots).flat_map(|i| testkit::trial_life(i, tasks, i % 4 != 0)));
    let mut n = 0u64;
    loop {
        let batch: Vec<Event> = stream.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            break;
        }
        let ts = format!(
            "2025-01-01T00:{:02}:{:02}.{:03}Z",
            (n / 60_000) % 60,
            (n / 1000) % 60,
            n % 1000
        );
        j.append(&mut live, batch, &ts).expect("append");
        n += 1;
    }
    (t.elapsed(), live)
}

/// CPU seconds this process used so far (all threads), from /proc/self/stat: on a
/// machine shared with other work, CPU time per event is the figure load does not skew.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime, in 1/100 s) are the 12th and 13th after `(comm)`.
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let _ = std::fs::remove_file(journal::store::integrity::head_path(path));
}

fn main() {
    let (mut events, mut runs, mut dir) = (1_000_000u64, 3usize, std::env::temp_dir());
    let mut keep: Option<PathBuf> = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => events = val.parse().expect("--events N"),
            "--runs" => runs = val.parse().expect("--runs N"),
            "--dir" => dir = PathBuf::from(val),
            // Profiling aid: fold an existing journal from event 0, nothing else.
            "--fold" => {
                let j = Journal::open_read_only(Path::new(&val)).expect("open");
                let (t, c) = (Instant::now(), cpu_secs());
                let p = j.fold(None).expect("fold");
                let (w, c) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
                let n = p.events_applied as f64;
                println!("fold of {n} events: {w:.3}s = {:.0} ev/s, {:.2} CPU µs/event", n / w, c * 1e6 / n);
                return;
            }
            // The floor under the fold: every row read and its chain hash checked on
            // one thread, nothing decoded or applied (`Journal::check_chain_hashes`).
            "--scan" => {
                let j = Journal::open_read_only(Path::new(&val)).expect("open");
                let (t, c) = (Instant::now(), cpu_secs());
                let r = j.check_chain_hashes().expect("scan");
                let (w, c) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
                assert!(r.first_bad.is_none(), "chain broken: {:?}", r.first_bad);
                let n = r.events as f64;
                println!("read + chain check of {n} events (no decode): {w:.3}s = {:.0} ev/s, {:.2} CPU µs/event", n / w, c * 1e6 / n);
                return;
            }
            "--keep" => keep = Some(PathBuf::from(val)),
            other => panic!("unknown argument {other}; usage: snapshot_bench [--events N] [--runs N] [--dir DIR] [--keep PATH] | --fold PATH | --scan PATH"),
        }
    }
    assert!(events >= 4 && runs >= 1);
    let total = 1 + 3 * ((events - 1) / 3);
    println!("snapshot_bench: {total} events, batches of {BATCH}, snapshot every {SNAPSHOT_EVERY} events, {runs} runs");
    let tmp = tempfile::tempdir_in(&dir).expect("temp dir");
    let with = tmp.path().join("with.sqlite");
    let without = tmp.path().join("without.sqlite");
    let mut r: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    let mut push = |k: &'static str, v: f64| r.entry(k).or_default().push(v);
    let picks: Vec<u64> = (1..=8).map(|i| total * i / 8 - 1).collect();
    for run in 1..=runs {
        // Alternate which build goes first: the second one shares the disk with the
        // first one's writeback.
        remove(&without);
        remove(&with);
        let (base, snap, live) = if run % 2 == 1 {
            let (b, _) = build(&without, total, 0);
            remove(&without);
            let (s, live) = build(&with, total, SNAPSHOT_EVERY);
            (b, s, live)
        } else {
            let (s, live) = build(&with, total, SNAPSHOT_EVERY);
            let (b, _) = build(&without, total, 0);
            remove(&without);
            (b, s, live)
        };
        // What one snapshot costs an append at this size: encoding the state (the
        // INSERT of its ~100 KB is small beside it).
        let t = Instant::now();
        for _ in 0..10 {
            std::hint::black_box(live.snapshot_body());
        }
        push("encode_ms", t.elapsed().as_secs_f64() * 1e3 / 10.0);
        let j = Journal::open_read_only(&with).expect("open");
        let snaps = j.snapshots().expect("snapshots");
        let (t, c) = (Instant::now(), cpu_secs());
        let zero = j.fold(None).expect("fold");
        let fz = t.elapsed();
        let fz_cpu = cpu_secs() - c;
        assert_eq!(zero, live);
        let t = Instant::now();
        let fast = j.fold_from_snapshot(None).expect("fold from snapshot");
        let fs = t.elapsed();
        assert_eq!(fast.projections, live, "snapshot fold differs");
        assert!(fast.rejected.is_empty(), "{:?}", fast.rejected);
        let from = fast.from_snapshot.expect("a snapshot was used");
        let (mut rz, mut rs) = (Duration::ZERO, Duration::ZERO);
        for &k in &picks {
            let t = Instant::now();
            let a = j.fold(Some(k)).expect("replay");
            rz += t.elapsed();
            let t = Instant::now();
            let b = j.fold_from_snapshot(Some(k)).expect("replay from snapshot");
            rs += t.elapsed();
            assert_eq!(a, b.projections, "replay --until {k}");
        }
        let bytes: u64 = snaps.iter().map(|s| s.bytes).sum();
        println!(
            "run {run}: append {:.2}s without snapshots, {:.2}s with ({} snapshots, {} KB) | fold from 0 {:.3}s = {:.0} ev/s ({:.2} CPU µs/event) | fold from snapshot {from} {:.3}s ({} events folded) | replay x8 from 0 {:.3}s, from snapshots {:.3}s",
            base.as_secs_f64(),
            snap.as_secs_f64(),
            snaps.len(),
            bytes / 1024,
            fz.as_secs_f64(),
            total as f64 / fz.as_secs_f64(),
            fz_cpu * 1e6 / total as f64,
            fs.as_secs_f64(),
            total - 1 - from,
            rz.as_secs_f64(),
            rs.as_secs_f64(),
        );
        push("append_base", base.as_secs_f64());
        push("append_snap", snap.as_secs_f64());
        push("fold_zero", fz.as_secs_f64());
        push("fold_snap", fs.as_secs_f64());
        push("fold_zero_cpu", fz_cpu);
        push("replay_zero", rz.as_secs_f64() / picks.len() as f64);
        push("replay_snap", rs.as_secs_f64() / picks.len() as f64);
    }
    if let Some(k) = &keep {
        // The last journal with snapshots, for `--fold` under a profiler. A rename
        // cannot cross file systems (`--dir` on another one): copy then remove instead.
        if std::fs::rename(&with, k).is_err() {
            std::fs::copy(&with, k)
                .and_then(|_| std::fs::remove_file(&with))
                .unwrap_or_else(|e| panic!("--keep {}: {e}", k.display()));
        }
    }
    let m = |k: &str| median(r[k].clone());
    println!(
        "median cost of one snapshot (encoding the state after {total} events): {:.2} ms, once per {SNAPSHOT_EVERY} events = {:.3} µs/event",
        m("encode_ms"),
        m("encode_ms") * 1e3 / SNAPSHOT_EVERY as f64
    );
    let (ab, asn) = (m("append_base"), m("append_snap"));
    println!("median append of {total} events: without snapshots {ab:.3}s ({:.0} ev/s), with {asn:.3}s ({:.0} ev/s): x{:.3}", total as f64 / ab, total as f64 / asn, asn / ab);
    let (fz, fs) = (m("fold_zero"), m("fold_snap"));
    println!(
        "median fold of {total} events: from event 0 {fz:.3}s = {:.0} ev/s (target >= 1000000: {}); from the latest snapshot {fs:.3}s = {:.0} ev/s of journal",
        total as f64 / fz,
        if total as f64 / fz >= 1e6 { "PASS" } else { "FAIL" },
        total as f64 / fs
    );
    println!(
        "median CPU of the fold from event 0: {:.2} µs/event over both threads (load average {})",
        m("fold_zero_cpu") * 1e6 / total as f64,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let (rz, rs) = (m("replay_zero"), m("replay_snap"));
    println!("median replay --until (mean of 8 indices): from event 0 {:.1} ms, from the nearest snapshot {:.1} ms (x{:.1})", rz * 1e3, rs * 1e3, rz / rs);
    // One summary line for bench/run.sh's table.
    let rate = total as f64 / fz;
    println!(
        "ROW|fold {total}|from event 0: {rate:.0} ev/s ({:.0} ms); from the latest snapshot {:.0} ms|replay from 0: {:.0} ms|replay from snapshot: {:.0} ms|>= 1000000 ev/s from 0|{}",
        fz * 1e3,
        fs * 1e3,
        rz * 1e3,
        rs * 1e3,
        if rate >= 1e6 { "PASS" } else { "FAIL" }
    );
}
