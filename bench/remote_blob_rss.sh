#!/bin/sh
# Peak memory of a remote worker serving one large blob: `labj worker serve` under
# /usr/bin/time -v, one 1 GiB blob (a sparse file: no disk needed) placed in its work
# dir where a finished trial's blob lives, fetched once over v1/worker/blob (python3
# reads the answer in 1 MiB chunks and checks its length). Prints the worker's maximum
# resident set size. A worker that reads the blob whole into memory shows about the
# blob's size; one that streams it from disk about 15 MiB (release builds).
#
# usage: bench/remote_blob_rss.sh [SIZE_MIB]   (default 1024; needs /usr/bin/time from
# Debian's `time` package, and python3)
# LABJ_BIN=path uses that labj instead of building a release one.
set -eu
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing: apt-get install time"; exit 1; }
SIZE_MIB=${1:-1024}
bench_setup blob-rss
DIGEST=ab$(printf '%062d' 0)
RUN=bench-run
export BENCH_TOKEN=bench-token-0123456789
mkfifo out.fifo
/usr/bin/time -v -o time.txt "$LABJ" worker serve --listen 127.0.0.1:0 --slots 1 \
    --token-env BENCH_TOKEN --work-dir w > out.fifo 2> worker.err &
WPID=$!
read -r line < out.fifo
URL=$(echo "$line" | tr ' ' '\n' | grep '^http')
# Where a worker keeps a trial's blobs: per ticket (this version) and per run (older
# versions); the same file under both names. Made once the worker runs (at start it
# removes what an earlier process left under tickets/).
mkdir -p "w/runs/$RUN/tickets/tk-1/blobs/ab" "w/runs/$RUN/blobs/ab"
truncate -s "${SIZE_MIB}M" "w/runs/$RUN/tickets/tk-1/blobs/ab/$DIGEST"
ln "w/runs/$RUN/tickets/tk-1/blobs/ab/$DIGEST" "w/runs/$RUN/blobs/ab/$DIGEST"
python3 - "$URL" "$RUN" "$DIGEST" "$SIZE_MIB" <<'PY'
import json, os, sys, urllib.request
url, run, digest, mib = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def ask(doc):
    req = urllib.request.Request(url + "v1/worker/blob", data=json.dumps(doc).encode(),
        method="POST", headers={"Content-Type": "application/json",
                                "Authorization": "Bearer " + os.environ["BENCH_TOKEN"]})
    return urllib.request.urlopen(req, timeout=600)
doc = {"schema_version": "remote_worker_blob_v1", "run_id": run, "digest": digest}
try:
    resp = ask(dict(doc, ticket_id="tk-1"))
except urllib.error.HTTPError:
    # An older worker refuses the ticket_id field: ask without it.
    resp = ask(doc)
n = 0
while True:
    chunk = resp.read(1 << 20)
    if not chunk:
        break
    n += len(chunk)
assert n == mib << 20, f"received {n} bytes, expected {mib << 20}"
print(f"fetched {n >> 20} MiB")
PY
# Stop the worker (the child of time, which then reports and exits).
kill -TERM $(cat "/proc/$WPID/task/$WPID/children")
wait "$WPID" || true
KB=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' time.txt)
echo "worker max RSS serving a ${SIZE_MIB} MiB blob: $((KB / 1024)) MiB ($KB kB)"
