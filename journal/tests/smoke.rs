use journal::testkit;
use journal::{Durability, Journal, Projections};

#[test]
fn append_fold_rebuild_agree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let mut j = Journal::create(&path, Durability::Normal).unwrap();
    let mut live = Projections::new();
    j.append(&mut live, vec![testkit::run_created("r1", 2, 5, 1)], "t0")
        .unwrap();
    for i in 0..10u64 {
        j.append(
            &mut live,
            testkit::trial_life(i, 5, i % 3 != 0).to_vec(),
            "t1",
        )
        .unwrap();
    }
    drop(j);
    let mut j = Journal::open(&path, Durability::Normal).unwrap();
    assert_eq!(j.len(), 31);
    let folded = j.fold(None).unwrap();
    assert_eq!(folded, live);
    assert_eq!(j.diff_materialized().unwrap(), None);
    assert_eq!(j.verify_chain().unwrap().first_bad, None);
    let rebuilt = j.rebuild().unwrap();
    assert_eq!(rebuilt, live);
    assert_eq!(live.progress.next_commit_idx, 10);
    assert_eq!(live.aggregates.overall.succeeded, 6);
    let until = j.fold(Some(3)).unwrap();
    assert_eq!(until.progress.next_commit_idx, 1);
    assert!(j
        .fold(Some(31))
        .unwrap_err()
        .to_string()
        .contains("last idx is 30"));
}

/// Each fact table's columns are declared once (`FactTable::columns`), and they are the
/// columns the migrations create, in order: the materializer's inserts, the typed reads
/// and `labj export` all use that one declaration.
#[test]
fn declared_fact_columns_are_the_tables_columns() {
    use journal::projection::FactTable;
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::create(&dir.path().join("journal.sqlite"), Durability::Normal).unwrap();
    for t in FactTable::ALL {
        let mut stmt = j
            .raw_conn_for_tests()
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{}')",
                t.name()
            ))
            .unwrap();
        let cols: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(cols, t.columns(), "{}", t.name());
    }
}
