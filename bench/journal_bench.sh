#!/usr/bin/env bash
# Journal throughput benchmark: 1,000,000 events appended in batches of 100, then folded
# back with chain verification (target: 2,000,000 ev/s, issue 24); 3 runs on fresh
# files. Extra arguments go to the program (--events N --batch N --runs N --dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p labj-journal --example journal_bench
exec target/release/examples/journal_bench "$@"
