//! Keeps the house: within every crate, the top-level modules import one another
//! without a loop (crates themselves cannot loop: cargo refuses it). A module's files
//! are `src/<m>.rs` and `src/<m>/**`; an import is any `crate::<m>` path (plain or in a
//! `use crate::{a, b}` group) outside comments. A loop fails this test naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: &[&str] = &[
    "journal/src",
    "engine/model/src",
    "engine/exec/src",
    "engine/src",
    "engine/read/src",
    "cli/view/src",
    "cli/src",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn strip_comments(src: &str) -> String {
    src.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Module → the sibling modules its files name through `crate::`.
fn graph(src_dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src_dir, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(src_dir).ok()?;
            let first = rel.components().next()?.as_os_str().to_string_lossy();
            Some(first.trim_end_matches(".rs").to_string())
        })
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(src_dir).unwrap();
        let me = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let me = me.trim_end_matches(".rs").to_string();
        if !modules.contains(&me) {
            continue;
        }
        let src = strip_comments(&std::fs::read_to_string(f).unwrap());
        let mut named = Vec::new();
        for (i, _) in src.match_indices("crate::") {
            let rest = &src[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let body = &group[..group.find('}').unwrap_or(group.len())];
                named.extend(body.split(',').map(|x| ident_at(x.trim()).to_string()));
            } else {
                named.push(ident_at(rest).to_string());
            }
        }
        for n in named {
            if n != me && modules.contains(&n) {
                edges.entry(me.clone()).or_default().insert(n);
            }
        }
    }
    edges
}

fn reaches(edges: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(m) = stack.pop() {
        if m == to {
            return true;
        }
        if seen.insert(m.clone()) {
            stack.extend(edges.get(&m).into_iter().flatten().cloned());
        }
    }
    false
}

#[test]
fn no_module_of_any_crate_imports_in_a_loop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut loops = Vec::new();
    for c in CRATES {
        let edges = graph(&root.join(c));
        assert!(
            !edges.is_empty() || *c == "cli/view/src",
            "{c}: no imports found"
        );
        for (a, targets) in &edges {
            for b in targets {
                if a < b && reaches(&edges, b, a) {
                    loops.push(format!("{c}: {a} <-> {b}"));
                }
            }
        }
    }
    assert!(loops.is_empty(), "import loops between modules: {loops:#?}");
}

#[test]
fn the_checker_sees_a_loop_when_there_is_one() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path();
    std::fs::write(src.join("lib.rs"), "pub mod a; pub mod b;").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::{b::X, c};\npub struct Y;").unwrap();
    std::fs::create_dir(src.join("b")).unwrap();
    std::fs::write(
        src.join("b/mod.rs"),
        "// crate::a in a comment\npub struct X;",
    )
    .unwrap();
    let edges = graph(src);
    assert!(!reaches(&edges, "b", "a"), "a comment is not an import");
    std::fs::write(src.join("b/inner.rs"), "fn f() -> crate::a::Y { todo!() }").unwrap();
    let edges = graph(src);
    assert!(reaches(&edges, "a", "b") && reaches(&edges, "b", "a"));
}
