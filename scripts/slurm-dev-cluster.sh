#!/bin/sh
# A one-node Slurm cluster on this machine, for `labj run --executor slurm` tests and
# benchmarks: `start` (install slurm-wlm + munge with apt-get when missing, write
# slurm.conf for this host, start munged, slurmctld, slurmd, wait until the node is
# idle), `stop`, `status`. Idempotent: `start` on a running cluster only checks it.
#
# Settings that matter for labj (see docs/internals.md, "Slurm backend"):
# - SchedulerParameters=sched_interval=1 and a short SchedulerTimeSlice so queued jobs
#   start within about a second;
# - OverSubscribe=FORCE:8 on the default partition: more jobs than cores may run at once
#   (agents mostly wait on I/O or remote models);
# - no accounting database: labj reads job states from squeue and the files jobs write.
set -eu

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
SPOOL=/var/spool/slurm-labj
LOG_DIR=/var/log/slurm-labj
PARTITION=${LABJ_DEV_SLURM_PARTITION:-debug}

die() { echo "slurm-dev-cluster: $*" >&2; exit 1; }

install_packages() {
    if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 \
        && command -v munged >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1; then
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "slurm-wlm/munge are not installed and installing them needs root (apt-get install -y slurm-wlm munge)"
    command -v apt-get >/dev/null 2>&1 || die "slurm-wlm/munge are not installed and there is no apt-get to install them"
    echo "slurm-dev-cluster: installing slurm-wlm and munge" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
        || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null \
        || die "apt-get install slurm-wlm munge failed"
}

write_conf() {
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
    mkdir -p "$CONF_DIR" "$SPOOL/ctld" "$SPOOL/d" "$LOG_DIR"
    tmp=$CONF.labj-tmp
    cat >"$tmp" <<EOF
# Written by labj scripts/slurm-dev-cluster.sh: a one-node development cluster.
ClusterName=labjdev
SlurmctldHost=$host
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=/run/slurmctld-labj.pid
SlurmdPidFile=/run/slurmd-labj.pid
SlurmdSpoolDir=$SPOOL/d
StateSaveLocation=$SPOOL/ctld
SlurmUser=root
SlurmdUser=root
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MinJobAge=300
MaxJobCount=100000
KillWait=5
InactiveLimit=0
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
EOF
    mv "$tmp" "$CONF"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        if command -v mungekey >/dev/null 2>&1; then
            mungekey -c -f -k /etc/munge/munge.key
        else
            dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
        fi
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    su -s /bin/sh munge -c /usr/sbin/munged 9>&- || die "munged did not start (see /var/log/munge/munged.log)"
    i=0
    until munge -n 2>/dev/null | unmunge >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 50 ] || die "munge does not answer (munge -n | unmunge fails)"
        sleep 0.1
    done
}

pid_alive() {
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

node_state() {
    sinfo -h -N -o '%T' 2>/dev/null | head -1
}

wait_idle() {
    i=0
    while :; do
        st=$(node_state || true)
        case "$st" in
            idle* | mixed* | allocated*) return 0 ;;
        esac
        # A node that was down when slurmctld restarted comes back with this.
        case "$st" in
            down* | drain*) scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        i=$((i + 1))
        [ $i -lt 300 ] || die "the node did not become idle within 30 s (sinfo says '${st:-nothing}'; logs in $LOG_DIR)"
        sleep 0.1
    done
}

start() {
    install_packages
    if pid_alive /run/slurmctld-labj.pid && pid_alive /run/slurmd-labj.pid && wait_idle 2>/dev/null; then
        echo "slurm-dev-cluster: running (node $(hostname -s): $(node_state))"
        return 0
    fi
    write_conf
    start_munge
    pid_alive /run/slurmctld-labj.pid || slurmctld 9>&- || die "slurmctld did not start (see $LOG_DIR/slurmctld.log)"
    pid_alive /run/slurmd-labj.pid || slurmd 9>&- || die "slurmd did not start (see $LOG_DIR/slurmd.log)"
    wait_idle
    echo "slurm-dev-cluster: started (node $(hostname -s): $(node_state), partition $PARTITION)"
}

stop() {
    for p in /run/slurmd-labj.pid /run/slurmctld-labj.pid; do
        if pid_alive "$p"; then
            kill "$(cat "$p")" 2>/dev/null || true
        fi
    done
    i=0
    while pid_alive /run/slurmd-labj.pid || pid_alive /run/slurmctld-labj.pid; do
        i=$((i + 1))
        [ $i -lt 100 ] || die "slurmd/slurmctld did not stop within 10 s"
        sleep 0.1
    done
    echo "slurm-dev-cluster: stopped"
}

status() {
    if pid_alive /run/slurmctld-labj.pid && pid_alive /run/slurmd-labj.pid; then
        echo "slurm-dev-cluster: running"
        sinfo
        exit 0
    fi
    echo "slurm-dev-cluster: not running"
    exit 1
}

# One start/stop at a time: test binaries run tests in parallel, each making sure the
# cluster runs; two concurrent starts would race to start munged and the loser fails.
# The daemons are started with fd 9 closed: a daemon inheriting it would hold the lock
# for its whole life and every later `start` would wait forever. The wait is bounded.
lock() {
    lockfile="${TMPDIR:-/tmp}/labj-slurm-dev-cluster.lock"
    exec 9>"$lockfile"
    flock -w 120 9 || die "another start/stop has held $lockfile for 120 s (holders: $(fuser "$lockfile" 2>/dev/null || echo unknown))"
}

case "${1:-}" in
    start) lock; start ;;
    stop) lock; stop ;;
    status) status ;;
    *) die "usage: $0 start|stop|status" ;;
esac
