#!/bin/sh
# Every labj benchmark from one entry point, printing one table of figures, ratios and
# verdicts against the targets (BENCHMARKS.md). Runs live on BENCH_DIR's filesystem
# (default /tmp; /dev/shm for tmpfs), each in a directory removed afterwards.
#
#   noop P=2 / P=8   2 variants x T tasks of a no-op agent (T = 1,000; 300 with
#                    --quick) against `xargs -P` running the same command, each run
#                    preceded by deleting the previous run's directory (as users do);
#                    medians of 3, labj and xargs interleaved. Targets <= 1.25 / 1.10.
#   disk/trial       allocated blocks (du) of the run directory / trials; target <= 5 KB.
#   variants         2,000 variants x 1 task vs 1 variant x 2,000 tasks (500 with
#                    --quick) at P=2, medians of 3 interleaved; target ratio <= 1.2.
#   replay           `labj replay --until <last>` of a synthetic journal of ~1,000,000
#                    events (~100,000 with --quick); events/s, target >= 1,000,000.
#   continue         `labj continue` of that crashed run to its first new dispatch;
#                    target <= 1 s.
#   rss 1M slots     peak RSS (GNU time) of `labj run` on a 1,000,000-slot schedule
#                    (100,000 with --quick) stopped by `labj kill` after its first
#                    10,000 committed slots (2,000 with --quick); target <= 300 MB.
#   verify rss       peak RSS of `labj verify` on runs whose trials wrote 20,000 metrics
#                    each, 10 trials and 40 trials: flat = streaming.
#
# usage: BENCH_DIR=/dev/shm bench/run.sh [--quick]     (LABJ_BIN=path: use that labj)
set -eu
. "$(dirname "$0")/lib.sh"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; Debian package 'time')"; exit 1; }
command -v sqlite3 >/dev/null || { echo "needs sqlite3 (Debian package 'sqlite3')"; exit 1; }
bench_setup all
if [ "$QUICK" = 1 ]; then T=300; V=500; SYN=33000; BIG=100; FIRST=2000; else T=1000; V=2000; SYN=333000; BIG=1000; FIRST=10000; fi
cargo build --release -q -p labj-engine --example synth_run --manifest-path "$ROOT/Cargo.toml"
SYNTH="$ROOT/target/release/examples/synth_run"
TABLE="$WORK/table.txt"
: > "$TABLE"
row() { printf '%-16s %-44s %-22s %s\n' "$1" "$2" "$3" "$4" >> "$TABLE"; }
FS=$(df -T "$WORK" | awk 'NR==2{print $2}')

# write_variants N: exp.yaml with N variants (base + N-1 overrides) over tasks.jsonl.
write_variants() {
    write_experiment "$2" 1 "$3" "$NOOP_AGENT"
    [ "$1" -gt 1 ] || return 0
    sed -i 's/^variant_plan: \[\]$/variant_plan:/' exp.yaml
    awk -v n="$1" 'BEGIN{for(i=1;i<n;i++) printf "  - {variant_id: v%d, bindings: {k: %d}}\n", i, i}' > plan.txt
    awk 'FNR==NR{plan=plan $0 "\n"; next} /^variant_plan:$/{print; printf "%s", plan; next} {print}' plan.txt exp.yaml > exp2.yaml
    mv exp2.yaml exp.yaml
}

# timed_labj RUNS_DIR: run exp.yaml there (the directory is deleted first), print ms.
timed_labj() {
    rm -rf "$1"
    t0=$(now_ms)
    "$LABJ" --runs-dir "$1" run exp.yaml --json > out.json
    t1=$(now_ms)
    grep -q '"status": "completed"' out.json || { echo "labj run did not complete" >&2; cat out.json >&2; exit 1; }
    echo $((t1 - t0))
}

# timed_xargs N P: the same command N times through xargs -P P (output dir deleted first).
CMD='echo '"'"'{"schema_version":"agent_result_v1","outcome":"success"}'"'"' > "$0"'
timed_xargs() {
    rm -rf xout && mkdir xout
    t0=$(now_ms)
    seq "$1" | xargs -P "$2" -I{} sh -c "$CMD" "$WORK/xout/{}.json"
    t1=$(now_ms)
    [ "$(ls xout | wc -l)" -eq "$1" ] || { echo "xargs baseline lost files" >&2; exit 1; }
    echo $((t1 - t0))
}

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }

echo "== no-op trials vs xargs ($FS, 2 variants x $T tasks)"
make_tasks "$T"
N=$((2 * T))
for P in 2 8; do
    write_variants 2 noop "$P"
    : > l.txt; : > x.txt
    for rep in 1 2 3; do
        timed_labj runs >> l.txt
        timed_xargs "$N" "$P" >> x.txt
        echo "  P=$P rep $rep: labj $(tail -1 l.txt) ms, xargs $(tail -1 x.txt) ms"
    done
    L=$(median < l.txt); X=$(median < x.txt); R=$(ratio "$L" "$X")
    target=1.25; [ "$P" = 8 ] && target=1.10
    row "noop P=$P" "labj $L ms / xargs $X ms ($N trials, $FS)" "ratio $R" "target <= $target: $(verdict "$R" '<=' $target)"
done
"$LABJ" --runs-dir runs verify "$(ls runs)" > /dev/null || { echo "verify failed" >&2; exit 1; }
KB=$(du -sk runs | cut -f1)
JKB=$(du -sk runs/*/journal.sqlite | cut -f1)
PER=$(awk "BEGIN{printf \"%.2f\", $KB / $N}")
row "disk/trial" "du $KB KB / $N trials (journal $JKB KB)" "$PER KB/trial" "target <= 5 KB: $(verdict "$PER" '<=' 5)"
rm -rf runs xout

echo "== $V variants x 1 task vs 1 variant x $V tasks (P=2)"
: > many.txt; : > one.txt
for rep in 1 2 3; do
    make_tasks 1; write_variants "$V" manyv 2
    timed_labj runs >> many.txt
    make_tasks "$V"; write_variants 1 onev 2
    timed_labj runs >> one.txt
    echo "  rep $rep: $V variants $(tail -1 many.txt) ms, $V tasks $(tail -1 one.txt) ms"
done
M=$(median < many.txt); O=$(median < one.txt); R=$(ratio "$M" "$O")
row "variants" "$V variants x 1: $M ms / 1 x $V tasks: $O ms" "ratio $R" "target <= 1.2: $(verdict "$R" '<=' 1.2)"
rm -rf runs

echo "== replay and continue on a synthetic journal ($SYN committed trials)"
make_tasks 1000
write_experiment recovery_bench $((SYN / 1000 + 1)) 8 "$NOOP_AGENT"
out=$("$SYNTH" exp.yaml runs "$SYN" 8)
RUN=$(echo "$out" | cut -d' ' -f1)
EVENTS=$(echo "$out" | cut -d' ' -f2)
LAST=$((EVENTS - 1))
: > replay.txt; : > cont.txt
for rep in 1 2 3; do
    t0=$(now_ms); "$LABJ" replay "$RUN" --until "$LAST" > /dev/null; t1=$(now_ms)
    echo $((t1 - t0)) >> replay.txt
    rm -rf copy && cp -r "$RUN" copy
    t0=$(now_ms)
    # Only the way to the first dispatch is measured: the session is stopped right after.
    "$LABJ" continue copy --json --fail-on-infra-error 100% > cont.json 2>&1 &
    pid=$!
    first=""
    while [ -z "$first" ]; do
        first=$(sqlite3 "file:copy/journal.sqlite?mode=ro" "select ts from events where idx >= $EVENTS and kind = 'trial_dispatched' order by idx limit 1" 2>/dev/null || true)
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    "$LABJ" kill copy > /dev/null 2>&1 || true
    wait "$pid" || true
    [ -n "$first" ] || { echo "continue dispatched nothing" >&2; cat cont.json >&2; exit 1; }
    echo $(( $(date -d "$first" +%s%3N) - t0 )) >> cont.txt
    echo "  rep $rep: replay $(tail -1 replay.txt) ms, continue first dispatch after $(tail -1 cont.txt) ms"
done
R=$(median < replay.txt); C=$(median < cont.txt)
RATE=$(awk "BEGIN{printf \"%.0f\", $EVENTS / ($R / 1000)}")
row "replay" "--until $LAST over $EVENTS events: $R ms" "$RATE ev/s" "target >= 1000000: $(verdict "$RATE" '>=' 1000000)"
row "continue" "$EVENTS-event journal -> first dispatch" "$C ms" "target <= 1000: $(verdict "$C" '<=' 1000)"
rm -rf runs copy

echo "== peak RSS, $BIG x 1000 = $((BIG * 1000)) slots, first $FIRST committed"
make_tasks 1000
write_experiment rss_bench "$BIG" 8 "$NOOP_AGENT"
rm -rf runs
/usr/bin/time -f '%M' -o rss.txt "$LABJ" --runs-dir runs run exp.yaml --json > out.json 2>&1 &
pid=$!
while :; do
    r=$(ls runs 2>/dev/null | head -1)
    if [ -n "$r" ] && [ -f "runs/$r/journal.sqlite" ]; then
        n=$(sqlite3 "file:runs/$r/journal.sqlite?mode=ro" "select count(*) from events where kind = 'slot_committed'" 2>/dev/null || echo 0)
        [ "${n:-0}" -ge "$FIRST" ] && break
    fi
    kill -0 "$pid" 2>/dev/null || { echo "rss run ended early" >&2; cat out.json >&2; exit 1; }
    sleep 0.5
done
"$LABJ" --runs-dir runs kill "$r" > /dev/null
wait "$pid" || true
KB=$(tail -1 rss.txt); MB=$(awk "BEGIN{printf \"%.1f\", $KB / 1024}")
row "rss $((BIG * 1000))" "labj run, first $FIRST slots, then kill" "$MB MB" "target <= 300 MB: $(verdict "$MB" '<=' 300)"
rm -rf runs

echo "== verify peak RSS vs metric volume (20,000 metrics per trial)"
METRICS='["sh", "-c", "awk '"'"'BEGIN{printf \"{\\\"schema_version\\\":\\\"agent_result_v1\\\",\\\"outcome\\\":\\\"success\\\",\\\"metrics\\\":{\"; for(i=0;i<20000;i++) printf \"%s\\\"m%d\\\":%d\", (i?\",\":\"\"), i, i; print \"}}\"}'"'"' > \"$AGENTLAB_RESULT_PATH\""]'
for n in 10 40; do
    make_tasks "$n"
    write_experiment metrics_bench 1 2 "$METRICS"
    rm -rf runs
    "$LABJ" --runs-dir runs run exp.yaml --json > out.json
    grep -q '"status": "completed"' out.json || { echo "metrics run did not complete" >&2; cat out.json >&2; exit 1; }
    /usr/bin/time -f '%M' -o vrss.txt "$LABJ" --runs-dir runs verify "$(ls runs)" > /dev/null
    eval "V$n=\$(tail -1 vrss.txt)"
done
row "verify rss" "10 trials: $((V10 / 1024)) MB, 40 trials: $((V40 / 1024)) MB" "x$(ratio "$V40" "$V10")" "flat (<= 1.5x): $(verdict "$(ratio "$V40" "$V10")" '<=' 1.5)"
rm -rf runs

echo
echo "labj $("$LABJ" --version 2>/dev/null | head -1), $(nproc) cores, $(uname -sr), BENCH_DIR $(dirname "$WORK") ($FS)"
printf '%-16s %-44s %-22s %s\n' "benchmark" "measured" "figure" "verdict"
cat "$TABLE"
