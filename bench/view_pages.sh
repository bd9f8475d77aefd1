#!/bin/sh
# `labj view` on a large synthetic run: the answer time of every page (median of 3
# requests, after one warm-up) and the server's peak memory (VmHWM), against
# the issue's targets (every page <= 300 ms, memory <= 200 MB). The run has N committed
# trials (default 100,000) over 2 variants, one trial in 7 failed, built by
# engine/examples/synth_run.rs through the real run/journal API (~3 events per trial;
# EVENTS_RUN=1 also builds a run of ~1,000,000 events, 333,000 trials, and measures it).
#
# The report page answers at once while the report (a fold of every event) is
# computed on a background thread; the time until it is ready is printed apart, as is
# the inspect page (a chain check of every event, like `labj inspect`).
#
# usage: bench/view_pages.sh [N]   (BENCH_DIR picks the disk; LABJ_BIN a binary;
#        SYNTH_BIN a synth_run binary; EVENTS_RUN=1 the 1M-event run too)
set -eu
. "$(dirname "$0")/lib.sh"
N=${1:-100000}
bench_setup viewpages
if [ -z "${SYNTH_BIN:-}" ]; then
    cargo build --release -q -p labj-engine --example synth_run --manifest-path "$ROOT/Cargo.toml"
    SYNTH_BIN="$ROOT/target/release/examples/synth_run"
fi
make_tasks 1000
# build N DIR: a crashed run of N committed trials (+8 in flight) under DIR; prints its dir.
build() {
    mkdir -p "$2"
    write_variants 2 view_bench 8
    # replications so that 2 variants x 1000 tasks x R >= N + 8
    R=$(($1 / 2000 + 1))
    sed "s/replications: 1/replications: $R/" exp.yaml > exp2.yaml && mv exp2.yaml exp.yaml
    "$SYNTH_BIN" "$WORK/exp.yaml" "$2" "$1" 8 | cut -d' ' -f1
}
# ms URL: wall ms of one GET, timed inside python3 (no curl on a fresh machine); fails
# the script on a status other than 200.
ms() {
    python3 - "$1" <<'PY'
import sys, time, urllib.request
t = time.monotonic()
try:
    with urllib.request.urlopen(sys.argv[1], timeout=120) as r:
        r.read()
        code = r.status
except urllib.error.HTTPError as e:
    code = e.code
if code != 200:
    sys.exit("GET %s answered %s" % (sys.argv[1], code))
print(int((time.monotonic() - t) * 1000))
PY
}
# get URL: the body of one GET.
get() {
    python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=120).read().decode())' "$1"
}
med3() {
    ms "$1" > /dev/null
    : > times.txt
    for _ in 1 2 3; do ms "$1" >> times.txt; done
    median < times.txt
}
measure() { # RUN_DIR LABEL
    RUN=$1
    ID=$(basename "$RUN")
    EV=$(sqlite3 "file:$RUN/journal.sqlite?mode=ro" "select count(*) from events")
    TR=$(sqlite3 "file:$RUN/journal.sqlite?mode=ro" "select count(*) from fact_trials")
    echo "== $2: $TR committed trials, $EV events ($RUN)"
    "$LABJ" --runs-dir "$(dirname "$RUN")" view --port 0 > view.out 2> view.err &
    VPID=$!
    for _ in $(seq 1 100); do grep -q http view.out 2>/dev/null && break; sleep 0.1; done
    BASE=$(grep -o 'http://[0-9.:]*' view.out | head -n 1)
    [ -n "$BASE" ] || { echo "labj view did not start: $(cat view.err)" >&2; kill $VPID; exit 1; }
    R="$BASE/runs/$ID"
    MID=$((EV / 2))
    SLOT=$((TR / 2))
    FAILS=0
    for page in "/" "/runs/$ID" "/runs/$ID?at=$MID" "/runs/$ID?at=5" "/runs/$ID/trials" \
        "/runs/$ID/trials?page=1000" "/runs/$ID/trials?outcome=failed&sort=variant&desc=1&page=200" \
        "/runs/$ID/trials?sort=m:latency_ms&desc=1" "/runs/$ID/trials?at=$MID&variant=v1" \
        "/runs/$ID/trials/$SLOT" "/runs/$ID/trials/0" "/runs/$ID/compare?a=$SLOT&b=$((SLOT + 1))" \
        "/runs/$ID/report"; do
        t=$(med3 "$BASE$page") || { kill $VPID; exit 1; }
        v=$(verdict "$t" '<=' 300)
        [ "$v" = PASS ] || FAILS=$((FAILS + 1))
        echo "  $page: $t ms $v"
        bench_row "view $2 $page" "$t ms" "-" "-" "<= 300 ms" "$v"
    done
    HWM0=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$VPID/status")
    echo "  server memory before the report is ready: peak $HWM0 MB $(verdict "$HWM0" '<=' 200)"
    bench_row "view $2 server peak RSS (pages)" "$HWM0 MB" "-" "-" "<= 200 MB" "$(verdict "$HWM0" '<=' 200)"
    a=$(now_ms)
    while get "$R/report" | grep -q 'id="computing"'; do sleep 0.2; done
    echo "  report ready after $(($(now_ms) - a)) ms more (computed off the request path)"
    t=$(med3 "$R/report")
    echo "  /runs/$ID/report (ready): $t ms $(verdict "$t" '<=' 300)"
    t=$(ms "$R/inspect")
    echo "  /runs/$ID/inspect (chain check of every event, as labj inspect): $t ms"
    HWM=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$VPID/status")
    RSS=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$VPID/status")
    echo "  server memory with the report computed: peak $HWM MB, now $RSS MB $(verdict "$HWM" '<=' 200)"
    bench_row "view $2 server peak RSS (report)" "$HWM MB" "-" "-" "<= 200 MB" "$(verdict "$HWM" '<=' 200)"
    kill $VPID
    wait $VPID 2>/dev/null || true
    [ "$FAILS" -eq 0 ] || echo "  $FAILS page(s) over 300 ms"
}
RUN=$(build "$N" runs1)
measure "$RUN" "${N}trials"
if [ "${EVENTS_RUN:-0}" = 1 ]; then
    RUN=$(build 333000 runs2)
    measure "$RUN" "1Mevents"
fi
