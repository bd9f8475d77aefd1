#!/bin/sh
# Where a trial's CPU goes inside labj: builds labj with bench/trial_phases.patch (a
# measurement-only patch: each worker thread reads its own CPU clock,
# CLOCK_THREAD_CPUTIME_ID, at the boundaries of a trial's phases and prints them; the
# coordinator thread prints its CPU for the whole run) in a scratch worktree, runs N
# no-op trials at concurrency P, and prints the mean CPU per trial of each phase.
# The patch is never part of a release build: it prints a line per trial.
#
# usage: bench/trial_phases.sh [N] [P]   (defaults 1000 2; BENCH_DIR the filesystem,
#        default /tmp; the first run builds a release labj from scratch, ~5 minutes;
#        the worktree stays at PHASES_TREE, default /tmp/labj-trial-phases, for the next
#        run: `git worktree remove --force /tmp/labj-trial-phases` removes it)
set -eu
N=${1:-1000}
P=${2:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=${PHASES_TREE:-/tmp/labj-trial-phases}
if [ ! -d "$TREE" ]; then
    git -C "$ROOT" worktree add --detach "$TREE" HEAD > /dev/null
else
    git -C "$TREE" checkout -q -- .
    git -C "$TREE" checkout -q --detach "$(git -C "$ROOT" rev-parse HEAD)"
fi
git -C "$TREE" apply "$ROOT/bench/trial_phases.patch"
cargo build --release -q -p labj --manifest-path "$TREE/Cargo.toml"
LABJ="$TREE/target/release/labj"
. "$ROOT/bench/lib.sh"
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/labj-phases-XXXXXX")
trap 'rm -rf "$WORK"; git -C "$TREE" checkout -q -- .' EXIT
cd "$WORK"
make_tasks "$N"
write_experiment phases 1 "$P" "$NOOP_AGENT"
"$LABJ" --runs-dir runs run exp.yaml --json 2> phases.txt > /dev/null
echo "labj's own CPU per no-op trial, by phase ($N trials at P=$P, $(df -T . | awk 'NR==2{print $2}'); the first 50 trials skipped)."
echo "Each phase ends at its mark: p_* Trial::prepare (p_take a retired directory taken, p_inputs"
echo "task/bindings/dependencies/policy written), pre_spawn workspace + attempt dir + trial_input,"
echo "agent_command / pre_spawn2 / spawn the agent's command built, logs opened, posix_spawn,"
echo "waited until it exited, supervised its group and logs, agent its result classified,"
echo "reap the orphan sweep, tamper / evidence the checks after the agent, executed the blob"
echo "store, compacted the directory removed or retired."
grep '^PH' phases.txt | tail -n +51 | awk '
    {for (i = 2; i <= NF; i++) {split($i, a, "="); s[a[1]] += a[2]; c[a[1]]++}}
    END {for (k in s) printf "  %-14s %7.1f us\n", k, s[k] / c[k]}' | sort -k2 -rn
grep '^PH' phases.txt | tail -n +51 | awk '
    {for (i = 2; i <= NF; i++) {split($i, a, "="); t += a[2]}; n++}
    END {printf "  %-14s %7.1f us (a trial'"'"'s worker thread)\n", "worker", t / n}'
awk -v n="$N" '/^MAIN/ {printf "  %-14s %7.1f us (the coordinator thread over the whole run, per trial)\n", "coordinator", $5 / n}' phases.txt
