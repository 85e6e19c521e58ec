#!/usr/bin/env bash
# Single-node SLURM cluster on loopback for tests and CI (Debian 12, root, no systemd needed).
#
#   bash slurm/cluster.sh start    install missing packages, start munged, mariadbd, slurmdbd, slurmctld and
#                                  slurmd; return once the node is idle, `srun hostname` works and `sacct`
#                                  answers. A healthy cluster is left alone; a half-dead one is replaced.
#   bash slurm/cluster.sh stop     cancel every job, stop the daemons by their recorded process ids
#   bash slurm/cluster.sh status   the daemons' process ids and `sinfo`; exit 0 only if the cluster is healthy
#   bash slurm/cluster.sh purge    stop, then delete the scratch folder (packages stay installed)
#   . "$BENCH_SLURM_DIR/env.sh"    after start: exports SLURM_CONF for sinfo, sbatch, sacct and submitit
#
# Knobs (environment):
#   BENCH_SLURM_DIR=/tmp/bench-slurm  scratch folder: configs, munge key, sockets, state, logs, database, pids
#   BENCH_SLURM_PORT=6817             slurmctld=PORT, slurmd=PORT+1, slurmdbd=PORT+2, mariadbd=PORT+3
#   BENCH_SLURM_DBD=1                 0: no MariaDB/slurmdbd. Lighter, but then `sacct` fails and submitit
#                                     never sees a job that SLURM killed (time limit, scancel) as finished.
# Every daemon listens on 127.0.0.1 only; `start` refuses to run if the host name does not resolve to 127.x.
set -euo pipefail

D=${BENCH_SLURM_DIR:-/tmp/bench-slurm}
PORT=${BENCH_SLURM_PORT:-6817}
DBD=${BENCH_SLURM_DBD:-1}
CONF=$D/etc/slurm.conf
MSOCK=$D/run/munge/munge.socket.2
DAEMONS="munged mariadbd slurmdbd slurmctld slurmd" # start order; stop goes in reverse
export SLURM_CONF=$CONF                             # for every client this script calls

log() { printf '[cluster.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
fail() { # like die, after the last lines of every log
  tail -n 15 "$D"/log/*.log "$D"/log/*.out >&2 2>/dev/null || true
  die "$@"
}

# -- processes: only those whose id this script recorded, and only while they still carry the expected name
pid_of() { cat "$D/run/$1.pid.ci" 2>/dev/null || true; }
alive() { # alive PID [NAME]: the process exists, is not a zombie, and (if given) is called NAME
  local stat comm
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ] || return 1 # killed orphans stay zombies until PID 1 reaps them
  [ -z "${2:-}" ] && return 0
  comm=$(cat "/proc/$1/comm" 2>/dev/null) && [ "$comm" = "$2" ]
}
daemon_up() {
  local pid
  pid=$(pid_of "$1")
  [ -n "$pid" ] && alive "$pid" "$1"
}
launch() { # launch NAME CMD...: run a daemon in the foreground of a background job and record its id
  local name=$1
  shift
  "$@" >"$D/log/$name.out" 2>&1 </dev/null &
  echo $! >"$D/run/$name.pid.ci"
  log "started $name (pid $!)"
}
stop_daemon() {
  local name=$1 pid
  pid=$(pid_of "$name")
  [ -n "$pid" ] || return 0
  if alive "$pid" "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid" "$name"; then
      log "$name (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$D/run/$name.pid.ci"
}
wait_for() { # wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds; 1 after SECONDS
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}
node_state() { timeout 10 sinfo -h -o %T 2>/dev/null || true; }
node_idle() { [ "$(node_state)" = idle ]; }
queue_empty() { [ -z "$(timeout 10 squeue -h 2>/dev/null)" ]; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wipe() { # delete the scratch folder, but only one this script made
  [ ! -e "$D" ] || [ -e "$D/.bench-slurm" ] || [ -z "$(ls -A "$D")" ] ||
    die "refusing to delete $D: not a folder made by slurm/cluster.sh (set BENCH_SLURM_DIR)"
  rm -rf "$D"
}

healthy() { # every daemon alive and the node usable (busy with jobs counts as healthy)
  local name
  [ -f "$CONF" ] || return 1
  for name in munged slurmctld slurmd; do daemon_up "$name" || return 1; done
  if [ "$DBD" = 1 ]; then for name in mariadbd slurmdbd; do daemon_up "$name" || return 1; done; fi
  case $(node_state) in idle | mixed | allocated | completing) return 0 ;; *) return 1 ;; esac
}

# -- packages
install_packages() {
  local pkgs=(munge slurmctld slurmd slurm-client) missing=() p guard="" rc=0
  local aptlog=${TMPDIR:-/tmp}/bench-slurm-apt.log
  if [ "$DBD" = 1 ]; then pkgs+=(slurmdbd mariadb-server); fi
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  log "installing ${missing[*]}"
  if [ ! -e /usr/sbin/policy-rc.d ]; then # keep the packages' scripts from starting system-wide daemons
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    guard=1
  fi
  {
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  } >"$aptlog" 2>&1 || rc=$?
  [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
  [ $rc = 0 ] || {
    tail -n 30 "$aptlog" >&2
    die "apt-get failed (full log: $aptlog)"
  }
}

# -- configuration
write_configs() {
  local host node cpus mem p
  host=$(hostname -s)
  # NoInAddrAny/NoCtldInAddrAny bind the address the host name resolves to: it must be loopback
  getent ahostsv4 "$(hostname)" | awk '{print $1; exit}' | grep -q '^127\.' ||
    die "host name '$(hostname)' does not resolve to 127.x (see /etc/hosts): refusing to bind a non-loopback address"
  for p in $PORT $((PORT + 1)) $((PORT + 2)) $((PORT + 3)); do
    ! port_busy "$p" || die "port $p on 127.0.0.1 is already in use (another cluster?); set BENCH_SLURM_PORT"
  done
  # the node line as slurmd measures it: configuring more CPUs or memory than it finds makes the node 'inval'
  node=$(slurmd -C | head -n 1)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
  mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  [[ -n $cpus && -n $mem ]] || die "cannot read CPUs and RealMemory from 'slurmd -C': $node"

  mkdir -p "$D"/{etc,munge,run/munge,state,spool/slurmd,log}
  : >"$D/.bench-slurm"
  chmod 700 "$D/munge"     # the key stays private...
  chmod 755 "$D/run/munge" # ...but munged insists that its socket folder is world-executable
  : >"$D/etc/plugstack.conf"

  local acct="AccountingStorageType=accounting_storage/none"
  if [ "$DBD" = 1 ]; then
    acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((PORT + 2))
# with auth/munge this is the munge socket used to reach slurmdbd, not a password
AccountingStoragePass=$MSOCK"
  fi
  cat >"$CONF" <<EOF
# written by slurm/cluster.sh: one node, loopback only, no cgroups
ClusterName=bench
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also delays the restart of a requeued job (default 120 s)
AuthInfo=socket=$MSOCK,cred_expire=10
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/slurmd
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
PlugStackConfig=$D/etc/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$acct
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
# start batch jobs when submitted instead of on the default 3 s tick, and retry pending ones (a requeued job
# becomes eligible cred_expire seconds later, with no event to wake the scheduler) every 2 s instead of 30 s
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=2,sched_interval=2
SelectType=select/cons_tres
# memory is a consumable resource: --mem is checked and reserved; a job without --mem gets DefMemPerCPU
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((mem / cpus))
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
# a job past its time limit gets SIGTERM, then SIGKILL 5 s later, with no grace minutes; it may be requeued
OverTimeLimit=0
KillWait=5
JobRequeue=1
MinJobAge=300
$node NodeAddr=127.0.0.1 NodeHostname=$host State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

  if [ "$DBD" = 1 ]; then
    cat >"$D/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MSOCK
CommunicationParameters=NoInAddrAny
DbdHost=$host
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
SlurmUser=root
LogFile=$D/log/slurmdbd.log
PidFile=$D/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((PORT + 3))
StorageUser=slurm
StoragePass=bench
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$D/etc/slurmdbd.conf" # slurmdbd refuses a file others can read
  fi
  echo "export SLURM_CONF=$CONF" >"$D/env.sh"
}

# -- daemons
start_munge() {
  mungekey -c -k "$D/munge/munge.key" >/dev/null 2>&1 || dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
  chmod 600 "$D/munge/munge.key"
  launch munged munged -F --socket="$MSOCK" --key-file="$D/munge/munge.key" --pid-file="$D/run/munged.pid" \
    --seed-file="$D/munge/munged.seed"
  wait_for 20 bash -c "munge -S '$MSOCK' -n | unmunge -S '$MSOCK'" || fail "munged does not answer"
}

start_accounting() {
  local sock=$D/run/mysqld.sock
  mkdir -p "$D/mysql"
  mariadb-install-db --no-defaults --user=root --datadir="$D/mysql" --auth-root-authentication-method=socket \
    --skip-test-db >"$D/log/mariadb-install.txt" 2>&1 || die "mariadb-install-db failed, see $D/log/mariadb-install.txt"
  # --no-defaults: ignore /etc/mysql (system datadir and socket)
  launch mariadbd mariadbd --no-defaults --user=root --datadir="$D/mysql" --socket="$sock" --bind-address=127.0.0.1 \
    --port=$((PORT + 3)) --pid-file="$D/run/mariadbd.pid" --log-error="$D/log/mariadbd.log" --skip-log-bin \
    --innodb-buffer-pool-size=512M --innodb-log-file-size=64M --innodb-lock-wait-timeout=900
  wait_for 60 mariadb-admin --no-defaults --socket="$sock" ping || fail "mariadbd does not answer"
  mariadb --no-defaults --socket="$sock" -e "
    CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'bench';
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'bench';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  launch slurmdbd slurmdbd -D # no -f: reads slurmdbd.conf beside $SLURM_CONF
  wait_for 60 sacctmgr -n show cluster || fail "slurmdbd does not answer"
}

cmd_start() {
  if healthy; then
    log "already running; . $D/env.sh"
    return 0
  fi
  cmd_stop # what is left of a half-dead cluster; its state and database go too, together
  wipe
  install_packages
  local t0=$SECONDS
  trap 'log "start failed: stopping what it started (logs stay in $D/log)"; cmd_stop' EXIT
  write_configs
  start_munge
  [ "$DBD" = 0 ] || start_accounting
  launch slurmctld slurmctld -D -i -f "$CONF" # -i: a fresh state folder has no state files
  wait_for 60 scontrol ping || fail "slurmctld does not answer"
  launch slurmd slurmd -D -f "$CONF"
  wait_for 90 node_idle || fail "the node is not idle after 90 s: $(sinfo -h -N -o '%T %E' 2>&1)"
  timeout 60 srun -N1 -n1 -t 1 hostname >/dev/null || fail "srun hostname failed"
  [ "$DBD" = 0 ] || sacct -n -X -o JobID,State >/dev/null || fail "sacct does not answer"
  trap - EXIT
  log "cluster ready in $((SECONDS - t0)) s after packages; . $D/env.sh"
}

cmd_stop() {
  local jobs name
  [ -d "$D" ] || return 0
  if daemon_up slurmctld; then
    jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ' || true)
    if [ -n "${jobs// /}" ]; then
      log "cancelling jobs $jobs"
      # shellcheck disable=SC2086 # one argument per job id
      timeout 10 scancel $jobs 2>/dev/null || true
      # only a live slurmd ends the jobs' processes (a dead one leaves them to finish alone)
      ! daemon_up slurmd || wait_for 30 queue_empty || log "jobs still queued after 30 s: stopping anyway"
    fi
  fi
  for name in slurmd slurmctld slurmdbd mariadbd munged; do stop_daemon "$name"; done
}

cmd_status() {
  local name pid
  for name in $DAEMONS; do
    pid=$(pid_of "$name")
    [ -z "$pid" ] || printf '%-10s pid %-8s %s\n' "$name" "$pid" "$(alive "$pid" "$name" && echo running || echo dead)"
  done
  if daemon_up slurmctld; then timeout 10 sinfo || true; else echo "slurmctld is not running"; fi
  healthy
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
purge)
  cmd_stop
  wipe
  ;;
*)
  echo "usage: $0 start|stop|status|purge" >&2
  exit 2
  ;;
esac
