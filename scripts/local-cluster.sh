#!/usr/bin/env bash
# local-cluster.sh — a REAL one-node Slurm cluster on this machine, reached over SSH like a remote
# HPC login node, for developing and testing caesar-gateway.  Runs as root, without systemd:
# every daemon is started by hand and tracked by its pid file.
#
#   munged -> mariadbd (unix socket only) -> slurmdbd :6819 -> slurmctld :6817 -> slurmd :6818
#   sshd on 127.0.0.1:2222: key auth for the unprivileged user hpcuser only, SFTP enabled
#
# Usage:
#   local-cluster.sh up                  install what is missing, start everything (idempotent),
#                                        write the gateway's connection file
#   local-cluster.sh down [--wipe]       cancel jobs, stop all daemons; --wipe also drops the
#                                        accounting database and all Slurm state (job ids restart)
#   local-cluster.sh status              each daemon alive/dead + sinfo; exit 1 if any is down
#   local-cluster.sh stop-daemon NAME    stop / start one daemon, as up/down do
#   local-cluster.sh start-daemon NAME   (NAME: sshd | slurmctld | slurmdbd | slurmd)
#
# Environment:
#   LOCAL_CLUSTER_STATE_DIR  where connection.json and the private key go
#                            [/var/lib/caesar-gateway/local-cluster]
#   LOCAL_CLUSTER_CGROUP     auto | yes | no  [auto]: cgroup v1 plugins (real OUT_OF_MEMORY) when
#                            /sys/fs/cgroup/{memory,freezer} are writable v1 hierarchies
#   LOCAL_CLUSTER_SMOKE      auto | always | never  [auto]: submit one job over ssh and wait for
#                            sacct COMPLETED; "auto" does it only when `up` changed something
#
# Tested on Debian 12 (Slurm 22.05.8, OpenMPI 4.1.4 + PMIx), 2 cores, PID 1 not systemd.
set -Eeuo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

HPC_USER=hpcuser
# A second cluster user with a key of its own: a gateway user's "own SSH identity" in tests.
SECOND_USER=hpcuser2
HPC_ACCOUNT=hpc
SSH_PORT=2222
CLUSTER=localcluster
NODE_CPUS=8                # declared on purpose > real cores (config_overrides): 4-rank jobs fit
STATE_DIR=${LOCAL_CLUSTER_STATE_DIR:-/var/lib/caesar-gateway/local-cluster}
CGROUP_MODE=${LOCAL_CLUSTER_CGROUP:-auto}
SMOKE=${LOCAL_CLUSTER_SMOKE:-auto}
KEY=$STATE_DIR/${HPC_USER}_ed25519
SECOND_KEY=$STATE_DIR/${SECOND_USER}_ed25519
CONNECTION=$STATE_DIR/connection.json
STANDIN_DIR=/opt/caesar-standin/bin
STANDIN=$STANDIN_DIR/FindSourceMPI
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/apt-install.sh
. "$SCRIPT_DIR/lib/apt-install.sh"
SSHD_CONFIG=/etc/ssh/sshd_config.caesar-local
SSHD_LOG=/var/log/caesar-local-sshd.log
DB_NAME=slurm_acct_db
DB_PASS=caesar-local-slurmdbd   # MariaDB listens on its unix socket only
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server openssh-server
          openmpi-bin libopenmpi-dev python3-mpi4py python3-numpy python3-scipy
          python3-astropy python3-matplotlib)

# ----------------------------------------------------------------------------- helpers
T0=$(date +%s%N)
ACTION=${1:-}
CHANGES=0
log() { printf '[local-cluster %s +%6dms] %s\n' "$ACTION" $(( ($(date +%s%N) - T0) / 1000000 )) "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }
changed() { CHANGES=$((CHANGES + 1)); log "$*"; }
trap 'die "command failed (line $LINENO, exit $?): $BASH_COMMAND"' ERR

# daemon table: pid file, process name (/proc/<pid>/comm), log file
pidfile_of() {
  case $1 in
    munged) echo /run/munge/munged.pid ;;
    mariadbd) echo /run/mysqld/mysqld.pid ;;
    slurmdbd) echo /run/slurmdbd.pid ;;
    slurmctld) echo /run/slurmctld.pid ;;
    slurmd) echo /run/slurmd.pid ;;
    sshd) echo /run/sshd-caesar-local.pid ;;
    *) return 1 ;;
  esac
}
logfile_of() {
  case $1 in
    munged) echo /var/log/munge/munged.log ;;
    mariadbd) echo /var/log/mysql/error.log ;;
    sshd) echo "$SSHD_LOG" ;;
    *) echo "/var/log/slurm/$1.log" ;;
  esac
}
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd sshd)   # start order

# pid_alive PID NAME: running, not a zombie (PID 1 here reaps late, so kill -0 is not enough)
# and really NAME (a stale pid file may point at a reused pid)
pid_alive() {
  local stat rest
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat##*) }
  [ "${rest%% *}" != Z ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}
# daemon_pid NAME: print the pid of NAME if it is alive
daemon_pid() {
  local p
  p=$(cat "$(pidfile_of "$1")" 2>/dev/null) || return 1
  [[ "$p" =~ ^[0-9]+$ ]] && pid_alive "$p" "$1" && echo "$p"
}
alive() { daemon_pid "$1" >/dev/null; }

now_ns() { date +%s%N; }
# wait_until SECONDS WHAT LOGFILE CMD...: poll every 0.1 s; on timeout show LOGFILE's tail
wait_until() {
  local secs=$1 what=$2 logf=$3
  shift 3
  local end=$(( $(now_ns) + secs * 1000000000 ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(now_ns)" -gt "$end" ]; then
      [ -r "$logf" ] && { echo "--- last lines of $logf:" >&2; tail -n 15 "$logf" >&2; }
      die "timeout after ${secs}s waiting for: $what"
    fi
    sleep 0.1
  done
  log "ready: $what"
}
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
node_usable() {
  sinfo -h -N -n "$NODE" -o %T 2>/dev/null | grep -qxE 'idle|mixed|allocated|completing|planned'
}
# slurmd listens on its port and slurmctld sees the node as usable
slurmd_ready() { tcp_open 6818 && node_usable; }
ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
munge_ok() { munge -n | unmunge; }

# write_if_changed FILE MODE OWNER: FILE := stdin, only if different; status 0 = it changed
write_if_changed() {
  local f=$1 mode=$2 owner=$3 tmp
  tmp=$(mktemp "$f.XXXXXX")
  cat >"$tmp"
  if [ -f "$f" ] && cmp -s "$tmp" "$f"; then
    rm -f "$tmp"
    chmod "$mode" "$f"
    chown "$owner" "$f"
    return 1
  fi
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  mv -f "$tmp" "$f"
  changed "wrote $f"
  return 0
}

# ----------------------------------------------------------------------------- start / stop
# start_daemon NAME: start NAME unless alive, then wait until it serves requests
start_daemon() {
  local name=$1 logf
  logf=$(logfile_of "$name")
  if ! alive "$name"; then
    case $name in
      munged)
        install -d -m 755 -o munge -g munge /run/munge
        runuser -u munge -- /usr/sbin/munged ;;
      mariadbd)
        install -d -m 755 -o mysql -g mysql /run/mysqld /var/log/mysql
        # no TCP port at all: slurmdbd talks to it over /run/mysqld/mysqld.sock
        setsid -f /usr/sbin/mariadbd --user=mysql --skip-networking \
          --pid-file=/run/mysqld/mysqld.pid --log-error="$logf" \
          --innodb-buffer-pool-size=256M --innodb-lock-wait-timeout=900 \
          </dev/null >/dev/null 2>&1 ;;
      slurmdbd) slurmdbd ;;
      slurmctld) slurmctld ;;
      slurmd) slurmd ;;
      sshd)
        install -d -m 755 /run/sshd
        /usr/sbin/sshd -f "$SSHD_CONFIG" -E "$SSHD_LOG" ;;
    esac
    changed "started $name"
  fi
  case $name in
    munged) wait_until 10 "munged" "$logf" munge_ok ;;
    mariadbd) wait_until 60 "mariadbd" "$logf" mysqladmin ping ;;
    slurmdbd) wait_until 30 "slurmdbd :6819" "$logf" tcp_open 6819 ;;
    slurmctld) wait_until 30 "slurmctld" "$logf" ctld_up ;;
    slurmd)
      # ReturnToService=2 brings a DOWN node back when slurmd registers; resume as a fallback
      if ! wait_until_quiet 15 slurmd_ready; then
        scontrol update nodename="$NODE" state=resume 2>/dev/null || true
      fi
      wait_until 20 "slurmd :6818, node $NODE usable" "$logf" slurmd_ready ;;
    sshd) wait_until 10 "sshd 127.0.0.1:$SSH_PORT" "$logf" tcp_open "$SSH_PORT" ;;
  esac
}
wait_until_quiet() {
  local end=$(( $(now_ns) + $1 * 1000000000 ))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ns)" -lt "$end" ] || return 1
    sleep 0.1
  done
}

# stop_daemon NAME: SIGTERM, up to 20 s, then SIGKILL; never by process name
stop_daemon() {
  local name=$1 f p i
  f=$(pidfile_of "$name")
  if ! p=$(daemon_pid "$name"); then
    rm -f "$f"
    log "$name: not running"
    return 0
  fi
  kill "$p" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    pid_alive "$p" "$name" || break
    sleep 0.1
  done
  if pid_alive "$p" "$name"; then
    log "$name: still alive after 20 s, SIGKILL $p"
    kill -9 "$p" 2>/dev/null || true
  fi
  rm -f "$f"
  log "stopped $name (pid $p)"
}

# ----------------------------------------------------------------------------- up, in steps
install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "packages: all ${#PACKAGES[@]} installed"
    return 0
  fi
  log "installing: ${missing[*]}"
  apt_install_no_start /tmp/local-cluster-apt.log "${missing[@]}" || die "could not install ${missing[*]}"
  changed "installed ${missing[*]}"
}

# setup_cluster_user USER KEYFILE: an unprivileged cluster user reachable over ssh with KEYFILE,
# with ~/caesar-gateway as the gateway's working root
setup_cluster_user() {
  local user=$1 key=$2 home pub
  if ! id "$user" >/dev/null 2>&1; then
    useradd -m -s /bin/bash "$user"
    changed "created user $user"
  fi
  # '*': no password, but not locked ('!' is locked and sshd refuses the user without PAM)
  if [ "$(getent shadow "$user" | cut -d: -f2)" != '*' ]; then
    usermod -p '*' "$user"
    changed "set $user's password field to '*'"
  fi
  home=$(getent passwd "$user" | cut -d: -f6)

  install -d -m 755 "$STATE_DIR"
  if [ ! -s "$key" ] || [ ! -s "$key.pub" ]; then
    rm -f "$key" "$key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "$user@caesar-local-cluster" -f "$key"
    changed "generated $key"
  fi
  chown root:root "$key" "$key.pub"
  chmod 600 "$key"
  chmod 644 "$key.pub"

  install -d -m 700 -o "$user" -g "$user" "$home/.ssh"
  pub=$(cut -d' ' -f1,2 "$key.pub")
  if ! grep -qsF "$pub" "$home/.ssh/authorized_keys"; then
    cat "$key.pub" >>"$home/.ssh/authorized_keys"
    changed "authorized $key.pub for $user"
  fi
  chown "$user:$user" "$home/.ssh/authorized_keys"
  chmod 600 "$home/.ssh/authorized_keys"

  if [ ! -d "$home/caesar-gateway" ]; then
    install -d -m 755 -o "$user" -g "$user" "$home/caesar-gateway"
    changed "created $home/caesar-gateway"
  fi
}

setup_user() {
  if ! getent hosts "$NODE" >/dev/null; then
    echo "127.0.0.1 $NODE" >>/etc/hosts
    changed "added $NODE to /etc/hosts"
  fi
  setup_cluster_user "$HPC_USER" "$KEY"
  setup_cluster_user "$SECOND_USER" "$SECOND_KEY"
  REMOTE_ROOT=$(getent passwd "$HPC_USER" | cut -d: -f6)/caesar-gateway
  SECOND_REMOTE_ROOT=$(getent passwd "$SECOND_USER" | cut -d: -f6)/caesar-gateway
}

install_standin() {
  local src=$SCRIPT_DIR/sfinder-standin/FindSourceMPI
  [ -f "$src" ] || die "stand-in not found: $src"
  install -d -m 755 "$STANDIN_DIR"
  if ! cmp -s "$src" "$STANDIN"; then
    install -m 755 -o root -g root "$src" "$STANDIN"
    changed "installed $STANDIN"
  fi
  chmod 755 "$STANDIN"
}

setup_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    changed "created /etc/munge/munge.key"
  fi
  chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge
  chmod 700 /etc/munge /var/log/munge
  chmod 600 /etc/munge/munge.key
  chmod 711 /var/lib/munge
  start_daemon munged
}

setup_mariadb() {
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    changed "initialised /var/lib/mysql"
  fi
  start_daemon mariadbd
  mysql -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
            ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
            GRANT ALL ON $DB_NAME.* TO 'slurm'@'localhost';"
}

detect_cgroup() {
  USE_CGROUP=false
  case $CGROUP_MODE in
    yes) USE_CGROUP=true ;;
    no) ;;
    auto)
      if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] && [ -d /sys/fs/cgroup/freezer ] \
         && mkdir /sys/fs/cgroup/memory/.caesar-local-probe 2>/dev/null; then
        rmdir /sys/fs/cgroup/memory/.caesar-local-probe
        USE_CGROUP=true
      fi ;;
    *) die "LOCAL_CLUSTER_CGROUP must be auto, yes or no (got '$CGROUP_MODE')" ;;
  esac
}

# writes slurm.conf, cgroup.conf, slurmdbd.conf; sets SLURM_CHANGED / DBD_CHANGED
write_slurm_config() {
  local proctrack task gather extra=""
  detect_cgroup
  if [ "$USE_CGROUP" = true ]; then
    proctrack=proctrack/cgroup task=task/cgroup gather=NoOverMemoryKill
    extra="PrologFlags=Contain"
  else
    proctrack=proctrack/linuxproc task=task/none gather=OverMemoryKill
  fi
  log "cgroup: $USE_CGROUP ($proctrack, $task)"
  install -d -m 755 /etc/slurm
  install -d -m 755 -o slurm -g slurm /var/lib/slurm /var/lib/slurm/slurmctld /var/log/slurm
  install -d -m 755 /var/lib/slurm/slurmd

  SLURM_CHANGED=0 DBD_CHANGED=0
  if write_if_changed /etc/slurm/slurm.conf 644 root:root <<EOF
# written by caesar-gateway scripts/local-cluster.sh -- one node, local testing only
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$(pidfile_of slurmctld)
SlurmdPidFile=$(pidfile_of slurmd)
SlurmctldLogFile=$(logfile_of slurmctld)
SlurmdLogFile=$(logfile_of slurmd)
ProctrackType=$proctrack
TaskPlugin=$task
$extra
MpiDefault=pmix
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=512
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=0
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=2
OverTimeLimit=0
MessageTimeout=10
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=$gather
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$NODE_CPUS RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=00:10:00 DefaultTime=00:05:00 State=UP
PartitionName=short Nodes=ALL Default=NO MaxTime=00:01:00 DefaultTime=00:01:00 State=UP
EOF
  then SLURM_CHANGED=1; fi

  if write_if_changed /etc/slurm/cgroup.conf 644 root:root <<'EOF'
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
ConstrainDevices=no
EOF
  then SLURM_CHANGED=1; fi

  # slurmdbd refuses to start unless its config is 0600 and owned by SlurmUser
  if write_if_changed /etc/slurm/slurmdbd.conf 600 slurm:slurm <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
LogFile=$(logfile_of slurmdbd)
PidFile=$(pidfile_of slurmdbd)
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF
  then DBD_CHANGED=1; fi
}

restart_if() {   # restart_if FLAG NAME: restart NAME (if running) when its config changed
  if [ "$1" = 1 ] && alive "$2"; then
    log "config of $2 changed: restarting it"
    stop_daemon "$2"
  fi
  start_daemon "$2"
}

register_accounting() {
  local assoc
  assoc=$(sacctmgr -n -P show assoc format=cluster,account,user 2>/dev/null || true)
  if ! grep -q "^$CLUSTER|" <<<"$assoc"; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
    changed "sacctmgr: added cluster $CLUSTER"
  fi
  if ! grep -q "^$CLUSTER|$HPC_ACCOUNT|" <<<"$assoc"; then
    sacctmgr -i add account "$HPC_ACCOUNT" Cluster="$CLUSTER" Description=caesar-local \
      Organization=caesar-local >/dev/null
    changed "sacctmgr: added account $HPC_ACCOUNT"
  fi
  local u
  for u in "$HPC_USER" "$SECOND_USER" root; do
    if ! grep -q "^$CLUSTER|$HPC_ACCOUNT|$u\$" <<<"$assoc"; then
      sacctmgr -i add user "$u" Account="$HPC_ACCOUNT" DefaultAccount="$HPC_ACCOUNT" \
        Cluster="$CLUSTER" >/dev/null
      changed "sacctmgr: added user $u to account $HPC_ACCOUNT"
    fi
  done
  sacctmgr -n -P show assoc format=cluster,account,user \
    | grep -q "^$CLUSTER|$HPC_ACCOUNT|$HPC_USER\$" || die "sacctmgr: association for $HPC_USER missing"
}

write_sshd_config() {
  local sftp=internal-sftp
  [ -x /usr/lib/openssh/sftp-server ] && sftp=/usr/lib/openssh/sftp-server
  ssh-keygen -A >/dev/null   # creates only missing host keys
  install -d -m 755 /run/sshd   # privilege separation directory (sshd -t needs it too)
  SSHD_CHANGED=0
  if write_if_changed "$SSHD_CONFIG" 644 root:root <<EOF
# written by caesar-gateway scripts/local-cluster.sh: the "login node" of the local cluster
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_rsa_key
PidFile $(pidfile_of sshd)
AllowUsers $HPC_USER $SECOND_USER
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
PrintMotd no
X11Forwarding no
# OpenSSH's default, as on real clusters: at most 10 channels (SFTP included) per connection
MaxSessions 10
# many parallel connections in benchmarks
MaxStartups 100:30:200
Subsystem sftp $sftp
EOF
  then SSHD_CHANGED=1; fi
  /usr/sbin/sshd -t -f "$SSHD_CONFIG" || die "sshd rejects $SSHD_CONFIG"
}

ssh_cmd() {   # ssh_cmd COMMAND: run COMMAND as $HPC_USER over the local sshd, host key pinned
  ssh -i "$KEY" -p "$SSH_PORT" -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10 \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" -o LogLevel=ERROR \
    "$HPC_USER@127.0.0.1" "$@"
}

json_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }

write_connection() {
  local hostkey version
  hostkey=$(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)
  version=$(sinfo -V | awk '{print $2}')
  SLURM_VERSION=$version
  write_if_changed "$CONNECTION" 644 root:root <<EOF || true
{
  "name": "local",
  "host": "127.0.0.1",
  "port": $SSH_PORT,
  "user": $(json_str "$HPC_USER"),
  "privateKeyPath": $(json_str "$KEY"),
  "hostKey": $(json_str "$hostkey"),
  "remoteRoot": $(json_str "$REMOTE_ROOT"),
  "sfinderExecutable": $(json_str "$STANDIN"),
  "partitions": ["debug", "short"],
  "defaultPartition": "debug",
  "account": $(json_str "$HPC_ACCOUNT"),
  "slurmNode": $(json_str "$NODE"),
  "cgroup": $USE_CGROUP,
  "slurmVersion": $(json_str "$version"),
  "secondUser": {
    "user": $(json_str "$SECOND_USER"),
    "privateKeyPath": $(json_str "$SECOND_KEY"),
    "remoteRoot": $(json_str "$SECOND_REMOTE_ROOT")
  }
}
EOF
  KNOWN_HOSTS=$(mktemp)
  trap 'rm -f "$KNOWN_HOSTS"' EXIT
  echo "[127.0.0.1]:$SSH_PORT $hostkey" >"$KNOWN_HOSTS"
}

smoke_test() {
  local jid state=""
  if [ "$SMOKE" = never ] || { [ "$SMOKE" = auto ] && [ "$CHANGES" -eq 0 ]; }; then
    # nothing changed: only check the ssh path end to end, without adding a job to accounting
    ssh_cmd "sinfo -h -o '%P %a' >/dev/null && test -w '$REMOTE_ROOT'" \
      || die "ssh check as $HPC_USER failed"
    log "ssh check as $HPC_USER ok (no smoke job: nothing changed)"
    return 0
  fi
  jid=$(ssh_cmd "sbatch --parsable -J local-cluster-smoke -o /dev/null -t 1 --wrap 'hostname'") \
    || die "smoke test: sbatch over ssh failed: $jid"
  [[ "$jid" =~ ^[0-9]+$ ]] || die "smoke test: sbatch printed '$jid'"
  local end=$(( $(now_ns) + 30 * 1000000000 ))
  while [ "$(now_ns)" -lt "$end" ]; do
    state=$(sacct -X -n -P -j "$jid" --format=State 2>/dev/null | head -n 1)
    case $state in
      COMPLETED) log "smoke test: job $jid COMPLETED (sbatch over ssh as $HPC_USER)"; return 0 ;;
      FAILED|CANCELLED*|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)
        die "smoke test: job $jid ended $state (see $(logfile_of slurmd))" ;;
    esac
    sleep 0.2
  done
  die "smoke test: job $jid not COMPLETED in sacct after 30 s (state: '${state:-none}')"
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "run as root"
  case $SMOKE in auto|always|never) ;; *) die "LOCAL_CLUSTER_SMOKE must be auto, always or never" ;; esac
  NODE=$(hostname -s)
  install_packages
  setup_user
  install_standin
  setup_munge
  setup_mariadb
  write_slurm_config
  restart_if "$DBD_CHANGED" slurmdbd
  register_accounting
  restart_if "$SLURM_CHANGED" slurmctld
  restart_if "$SLURM_CHANGED" slurmd
  write_sshd_config
  restart_if "$SSHD_CHANGED" sshd
  write_connection
  smoke_test
  if [ "$CHANGES" -eq 0 ]; then
    log "UP (nothing changed): slurm $SLURM_VERSION, node $NODE, cgroup $USE_CGROUP; $CONNECTION"
  else
    log "UP ($CHANGES changes): slurm $SLURM_VERSION, node $NODE, cgroup $USE_CGROUP; $CONNECTION"
  fi
}

cancel_all_jobs() {
  local ids i
  if ! alive slurmctld || ! ctld_up; then return 0; fi
  ids=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
  [ -n "${ids// /}" ] || return 0
  log "cancelling jobs: $ids"
  # shellcheck disable=SC2086 # one id per word
  scancel $ids 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    [ -z "$(squeue -h -o %i 2>/dev/null)" ] && { log "all jobs gone"; return 0; }
    sleep 0.2
  done
  log "some jobs still listed after 20 s: $(squeue -h -o '%i %T' | tr '\n' ' ')"
}

cmd_down() {
  local wipe=0 d i
  case ${1:-} in
    --wipe) wipe=1 ;;
    "") ;;
    *) die "usage: $0 down [--wipe]" ;;
  esac
  [ "$(id -u)" = 0 ] || die "run as root"
  cancel_all_jobs
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    d=${DAEMONS[$i]}
    if [ "$d" = mariadbd ] && [ $wipe = 1 ] && alive mariadbd; then
      mysql -e "DROP DATABASE IF EXISTS $DB_NAME" && log "dropped database $DB_NAME"
    fi
    stop_daemon "$d"
  done
  if [ $wipe = 1 ]; then
    if [ -d /var/lib/mysql/$DB_NAME ]; then   # mariadbd was not running: start it briefly
      start_daemon mariadbd
      mysql -e "DROP DATABASE IF EXISTS $DB_NAME" && log "dropped database $DB_NAME"
      stop_daemon mariadbd
    fi
    find /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm -mindepth 1 -delete
    log "wiped Slurm state, spool and logs"
  fi
  log "DOWN"
}

cmd_status() {
  local d p bad=0
  for d in "${DAEMONS[@]}"; do
    if p=$(daemon_pid "$d"); then
      printf '%-10s alive (pid %s)\n' "$d" "$p"
    else
      printf '%-10s DEAD\n' "$d"
      bad=1
    fi
  done
  if alive slurmctld && ctld_up; then
    sinfo
  else
    echo "sinfo: slurmctld not reachable"
    bad=1
  fi
  if [ -f "$CONNECTION" ]; then echo "connection file: $CONNECTION"; fi
  exit "$bad"
}

cmd_one_daemon() {   # cmd_one_daemon stop|start NAME
  local name=${2:-}
  case $name in
    sshd|slurmctld|slurmdbd|slurmd) ;;
    *) die "usage: $0 $1-daemon sshd|slurmctld|slurmdbd|slurmd" ;;
  esac
  [ "$(id -u)" = 0 ] || die "run as root"
  NODE=$(hostname -s)
  if [ "$1" = stop ]; then
    stop_daemon "$name"
  else
    [ "$name" != sshd ] || [ -f "$SSHD_CONFIG" ] || die "no $SSHD_CONFIG: run '$0 up' first"
    [ "$name" = sshd ] || [ -f /etc/slurm/slurm.conf ] || die "no slurm.conf: run '$0 up' first"
    start_daemon "$name"
  fi
}

case $ACTION in
  up) cmd_up ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  stop-daemon) cmd_one_daemon stop "${2:-}" ;;
  start-daemon) cmd_one_daemon start "${2:-}" ;;
  *) echo "usage: $0 up | down [--wipe] | status | stop-daemon NAME | start-daemon NAME" >&2
     echo "       NAME: sshd | slurmctld | slurmdbd | slurmd" >&2
     exit 2 ;;
esac
