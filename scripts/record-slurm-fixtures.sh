#!/usr/bin/env bash
# record-slurm-fixtures.sh — record REAL squeue / sacct / sbatch output from the local cluster
# (scripts/local-cluster.sh up) into test/fixtures/slurm/, for the parser / state-table / verdict
# unit tests. The tests only READ the fixtures; this script is never run by the test suite.
#
# Runs as root on the cluster machine. Jobs are submitted AS the gateway's ssh user (like the
# gateway does); the status commands are EXACTLY the gateway's (built from src/ with tsx:
# remoteScript(shellCommand(squeueArgv(ids))) and sacctArgv(ids)) and also run over ssh, so the
# captured bytes (with their \x1f separators and epoch-second times) are what the gateway parses.
# Root is only used for what a site admin would do: suspend/resume a job, mark the node down.
#
# Scenarios: COMPLETED, FAILED (exit 3), CANCELLED (by the user), TIMEOUT (TimeLimit=0 by the
# user), OUT_OF_MEMORY (cgroup), NODE_FAIL (node marked down, --no-requeue), PENDING held
# (JobHeldUser), PENDING (Resources), RUNNING, SUSPENDED, COMPLETING (cancelled job whose process
# ignores SIGTERM: KillWait keeps it COMPLETING ~2 s; and a best-effort natural COMPLETING).
# Takes about 1 minute (up to 45 s more if other users' jobs run: marking the node down would kill
# them). Re-running replaces the fixtures (job ids and times differ) only if every step succeeded.
#
# Usage: scripts/record-slurm-fixtures.sh [connection.json]
set -Eeuo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=$ROOT/test/fixtures/slurm
OUT=$(mktemp -d /tmp/slurm-fixtures.XXXXXX)   # moved into DEST only when everything was recorded
CONN=${1:-/var/lib/caesar-gateway/local-cluster/connection.json}
T0=$(date +%s)
say() { printf '[record +%3ds] %s\n' $(( $(date +%s) - T0 )) "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
trap 'die "command failed (line $LINENO, exit $?): $BASH_COMMAND"' ERR
# On any exit: cancel this script's jobs that are still around, bring the node back, drop temp files.
cleanup() {
  local ids=
  [ -z "${USER_:-}" ] || ids=$(squeue -h -u "$USER_" -t pending,running,suspended -o '%i %j' 2>/dev/null | awk '$2 ~ /^fx-/ {print $1}') || true
  [ -z "$ids" ] || scancel $ids 2>/dev/null || true
  if [ -n "${NODE_DOWN:-}" ]; then scontrol update nodename="$NODE" state=resume 2>/dev/null || true; fi
  rm -rf "$OUT"
}
USER_=; NODE=; NODE_DOWN=
trap cleanup EXIT

[ "$(id -u)" = 0 ] || die "run as root (suspend/resume and node down need an admin)"
[ -r "$CONN" ] || die "no connection file $CONN (run scripts/local-cluster.sh up)"
conn() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$CONN" "$1"; }
KEY=$(conn privateKeyPath); PORT=$(conn port); HOST=$(conn host); USER_=$(conn user); NODE=$(conn slurmNode)
CLUSTER=$(scontrol show config | sed -n 's/^ClusterName *= *//p')
SSH=(ssh -i "$KEY" -p "$PORT" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
     -o LogLevel=ERROR "$USER_@$HOST")
as_user() { "${SSH[@]}" "$@"; }
WORK=/home/$USER_/slurm-fixture-recording    # the user's scratch dir for this script's jobs

# ----------------------------------------------------------------------------- wait helpers
node_usable() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | grep -qxE 'idle|mixed|allocated'; }
cluster_ready() {
  scontrol ping 2>/dev/null | grep -q 'is UP' && node_usable &&
    as_user true 2>/dev/null
}
wait_cluster() {
  local i
  for i in $(seq 90); do cluster_ready && return 0; sleep 1; done
  die "cluster not ready after 90 s (scripts/local-cluster.sh status)"
}
live_state() { squeue -h -t all -j "$1" -o %T 2>/dev/null | head -1; }
acct_state() { sacct -X -n -P -j "$1" --format=State 2>/dev/null | head -1; }
# wait_for live|acct JOBID REGEX SECONDS
wait_for() {
  local how=$1 id=$2 re=$3 secs=$4 i s=
  for i in $(seq $(( secs * 10 ))); do
    s=$("${how}_state" "$id") || true
    [[ "$s" =~ ^($re) ]] && return 0
    sleep 0.1
  done
  die "job $id: no /$re/ in $how state after ${secs}s (now: '$s')"
}
wait_reason() {  # JOBID REASON SECONDS
  local i r=
  for i in $(seq $(( $3 * 10 ))); do
    r=$(squeue -h -j "$1" -o %r 2>/dev/null) || true
    [ "$r" = "$2" ] && return 0
    sleep 0.1
  done
  die "job $1: reason '$2' not reached in $3 s (now: '$r')"
}

# ----------------------------------------------------------------------------- gateway commands
# Templates from the gateway's own builders; __IDS__ is replaced by a comma list of digits, which
# shellQuote leaves unquoted, so the substitution yields exactly what the gateway would send.
readarray -d '' TPL < <(cd "$ROOT" && WORK=$WORK npx --no-install tsx -e '
import { prepareAndSubmitScript, remoteScript, sacctArgv, squeueArgv } from "./src/scheduler/slurm/commands.ts";
import { shellCommand } from "./src/remote/quote.ts";
const ids = ["__IDS__"];
const out = [
  remoteScript(shellCommand(squeueArgv(ids))),
  remoteScript(shellCommand(sacctArgv(ids))),
  remoteScript(shellCommand(sacctArgv(ids).filter((a) => a !== "--allocations"))),
  remoteScript(prepareAndSubmitScript({
    jobDir: `${process.env.WORK}/completed`, files: { "run.sh": "#!/bin/sh\nsleep 8\necho ok\n" },
    links: {}, scriptName: "run.sh", jobName: "fx-completed",
  })),
];
process.stdout.write(out.join("\0") + "\0");
')
[ "${#TPL[@]}" = 4 ] || die "could not build the gateway commands with tsx"
SQUEUE_TPL=${TPL[0]}; SACCT_TPL=${TPL[1]}; SACCT_STEPS_TPL=${TPL[2]}; SUBMIT_CMD=${TPL[3]}

# cap NAME IDS [squeue|sacct|steps ...]: run the gateway command(s) over ssh, keep stdout raw.
cap() {
  local name=$1 ids=$2 kind kinds
  shift 2
  kinds=("$@"); [ ${#kinds[@]} -gt 0 ] || kinds=(squeue sacct)
  for kind in "${kinds[@]}"; do
    case $kind in
      squeue) as_user "${SQUEUE_TPL//__IDS__/$ids}" >"$OUT/$name.squeue.txt" ;;
      sacct) as_user "${SACCT_TPL//__IDS__/$ids}" >"$OUT/$name.sacct.txt" ;;
      steps) as_user "${SACCT_STEPS_TPL//__IDS__/$ids}" >"$OUT/$name.sacct.txt" ;;
    esac
  done
  say "captured $name ($ids): ${kinds[*]}"
}
# catch_state NAME ID WORD SECONDS: for short-lived states (COMPLETING lasts 40 ms - 2 s), poll with
# the gateway's own squeue command string run locally as the user (ssh adds 0.25 s per call); when
# its output shows WORD, keep it and run the gateway's sacct at once. Status 1 if never seen.
catch_state() {
  local name=$1 id=$2 word=$3 end=$(( $(date +%s) + $4 )) sq
  while [ "$(date +%s)" -lt "$end" ]; do
    sq=$(runuser -u "$USER_" -- /bin/sh -c "${SQUEUE_TPL//__IDS__/$id}") || true
    case $sq in
      *"$word"*)
        runuser -u "$USER_" -- /bin/sh -c "${SACCT_TPL//__IDS__/$id}" >"$OUT/$name.sacct.txt"
        printf '%s\n' "$sq" >"$OUT/$name.squeue.txt"   # $(...) dropped the final newline
        say "captured $name ($id): squeue sacct (local, as $USER_)"
        return 0 ;;
      *RUNNING*|*PENDING*|'') ;;
      *) return 1 ;;   # already past it
    esac
  done
  return 1
}
# sbatch as the user; extra args are sbatch options, the last one the --wrap'ed command
sub() { local cmd=${*: -1}; as_user "cd $WORK && sbatch --parsable -o /dev/null ${*:1:$#-1} --wrap $(printf %q "$cmd")"; }

write_readme() {
  cat <<EOF
# Recorded Slurm output (test fixtures)

Real output of a real Slurm cluster, recorded by \`scripts/record-slurm-fixtures.sh\` (as root:
\`sudo scripts/record-slurm-fixtures.sh\`, after \`scripts/local-cluster.sh up\`). The unit tests in
\`test/unit/slurm/\` only read these files; nothing here needs a cluster.

- Recorded: $(date -u +%Y-%m-%dT%H:%M:%SZ), ${VERSION} (Debian package), one node \`$NODE\`,
  cluster \`$CLUSTER\`, cgroup v1 (real OUT_OF_MEMORY), MinJobAge=300, KillWait=2.
- Jobs were submitted over ssh as \`$USER_\` (uid $USER_UID); root only suspended/resumed one job and
  marked the node down/up (NODE_FAIL).
- \`*.squeue.txt\` / \`*.sacct.txt\` are the raw stdout bytes of EXACTLY the gateway's commands, built
  from \`src/scheduler/slurm/commands.ts\` and run over ssh as the user:
  \`remoteScript(shellCommand(squeueArgv(ids)))\` and \`remoteScript(shellCommand(sacctArgv(ids)))\`
  (hermetic prelude: \`LC_ALL=C TZ=UTC SLURM_TIME_FORMAT=%s\`, fields separated by \\x1f, epoch seconds).
  \`all-steps.sacct.txt\` is the same sacct without \`--allocations\` (so it has .batch/.extern rows).
- Job ids per scenario, the user's uid and the Slurm version are in \`jobs.json\`.

| file(s) | what |
|---|---|
| sbatch.parsable.txt | stdout of the gateway's submit (\`prepareAndSubmitScript\`: mkdir, write run.sh, \`sbatch --parsable\`) |
| sbatch.parsable-clusters.txt | \`sbatch --parsable --clusters=$CLUSTER\`: \`<id>;<cluster>\` |
| completed-running.squeue.txt | the completed job while RUNNING |
| completed.* | after the end: squeue still lists it (MinJobAge) as COMPLETED; sacct COMPLETED 0:0 |
| failed.* | \`exit 3\`: FAILED 3:0 (squeue reason NonZeroExitCode) |
| cancelled.* | \`scancel\` by the user while running: sacct \`CANCELLED by $USER_UID\` |
| timeout.* | user ran \`scontrol update jobid=N TimeLimit=0\`: TIMEOUT |
| oom.* | --mem=100M, python allocating 2 GB: OUT_OF_MEMORY 0:125 |
| running.* | a RUNNING job (sleep) |
| running-then-completed.* | the same job after it ended |
| suspended.* | \`scontrol suspend\` (root): SUSPENDED |
| suspended-then-cancelled.* | resumed, then cancelled by the user |
| held-just-submitted.sacct.txt | sacct right after \`sbatch -H\`: accounting lag (usually empty) |
| held.* | \`sbatch -H\`: PENDING, reason JobHeldUser; sacct PENDING with Start Unknown |
| held-then-cancelled.* | the held job cancelled by the user while pending |
| resources.* | \`--ntasks=<all CPUs>\` while other jobs hold CPUs: PENDING, reason Resources |
| resources-then-completed.* | that job after it ran |
| completing-cancelled.* | job ignoring SIGTERM, cancelled by the user: squeue COMPLETING (KillWait) while sacct already says CANCELLED |
| completing.* | natural end (batch script exits, a TERM-ignoring child is killed) caught in COMPLETING (~40 ms window; best effort, absent if missed), with sacct at that moment |
| node-fail-running.* | --no-requeue job running before the node is marked down |
| node-fail.* | node marked down (\`scontrol update nodename=$NODE state=down\`) while running: NODE_FAIL |
| multi-midway.* | one call with all ids while pending/running/suspended/held: what the poller sends |
| multi-final.* | one call with all ids after the end, plus the unknown id 99999999 |
| all-steps.sacct.txt | sacct without --allocations for all ids: allocation + .batch/.extern step rows |
| invalid-id.squeue.txt, .stderr.txt, .exitcode.txt | squeue for only an unknown id (99999999): stdout, stderr, exit status |
| invalid-id.sacct.txt | sacct for the unknown id (empty, exit 0) |

The two COMPLETING captures poll with the same command string run locally as the user
(\`runuser -u $USER_ -- /bin/sh -c ...\`) instead of over ssh, which is too slow for the window.
Everything else went over ssh.

Facts these recordings show (Slurm 22.05): squeue prints plain \`CANCELLED\`, sacct \`CANCELLED by <uid>\`;
sacct's ElapsedRaw excludes time spent suspended; a pending job that was cancelled has sacct Start
\`None\` and NodeList \`None assigned\`, but squeue prints StartTime = EndTime = the cancel time; squeue
prints \`N/A\` for unknown times and an empty %N while pending; right after submit or at the very end a
job can be missing from sacct, or have a half-known row named \`allocation\` with an empty Partition;
a TIMEOUT job's .batch step reads CANCELLED 0:15; NODE_FAIL steps have an empty ExitCode.
EOF
}

# ----------------------------------------------------------------------------- start
wait_cluster
VERSION=$(sinfo -V)
say "cluster $CLUSTER ($VERSION), node $NODE, user $USER_"
USER_UID=$(as_user id -u)
as_user "mkdir -p $WORK && cat > $WORK/oom.py" <<'EOF'
import time
a = []
for i in range(100):
    a.append(bytearray(20 * 1024 * 1024)); time.sleep(0.05)
print("survived")
EOF
IGNORE_TERM="/usr/bin/python3 -c 'import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)'"

# sbatch --parsable: the gateway's own submit (one round trip), and with --clusters
as_user "$SUBMIT_CMD" >"$OUT/sbatch.parsable.txt"
OK=$(tr -d '\n' <"$OUT/sbatch.parsable.txt")
as_user "cd $WORK && sbatch --parsable --clusters=$CLUSTER -J fx-clusters -o /dev/null --wrap true" >"$OUT/sbatch.parsable-clusters.txt"
MCL=$(cut -d';' -f1 <"$OUT/sbatch.parsable-clusters.txt")

FAIL=$(sub -J fx-failed 'sleep 3; echo bad; exit 3')
CANC=$(sub -J fx-cancelled 'sleep 300')
TO=$(sub -J fx-timeout 'sleep 300')
OOM=$(sub -J fx-oom --mem=100M "/usr/bin/python3 $WORK/oom.py")
RUN=$(sub -J fx-running 'sleep 30')
SUSP=$(sub -J fx-suspended 'sleep 300')
CGC=$(sub -J fx-completing-cancelled "$IGNORE_TERM")
HELD=$(sub -H -J fx-held 'true')
# right after submit: a held job is not in accounting yet (lag of a few seconds)
cap held-just-submitted "$HELD" sacct
say "submitted ok=$OK clusters=$MCL failed=$FAIL cancelled=$CANC timeout=$TO oom=$OOM running=$RUN suspended=$SUSP completing-cancelled=$CGC held=$HELD"

wait_for live "$RUN" RUNNING 20
wait_for live "$OK" RUNNING 20
cap running "$RUN"
cap completed-running "$OK" squeue
wait_for live "$CANC" RUNNING 20
as_user "scancel $CANC"
wait_for live "$TO" RUNNING 20
as_user "scontrol update jobid=$TO TimeLimit=0"
wait_for live "$SUSP" RUNNING 20
scontrol suspend "$SUSP"
wait_for live "$SUSP" SUSPENDED 10
cap suspended "$SUSP"
wait_reason "$HELD" JobHeldUser 10
wait_for acct "$HELD" PENDING 15
cap held "$HELD"

# COMPLETING: the process ignores SIGTERM, so after scancel the job stays COMPLETING for KillWait
wait_for live "$CGC" RUNNING 20
sleep 1
as_user "scancel $CGC"
catch_state completing-cancelled "$CGC" COMPLETING 5 || die "job $CGC: COMPLETING not caught"

# PENDING (Resources): all the node's CPUs while the suspended job still holds one
NCPU=$(sinfo -h -N -n "$NODE" -o %c | head -1)
RES=$(sub -J fx-resources --ntasks="$NCPU" 'true')
wait_reason "$RES" Resources 15
cap resources "$RES"

# what the poller sends: every active id in one call
MID="$OK,$FAIL,$CANC,$TO,$OOM,$RUN,$SUSP,$HELD,$RES"
cap multi-midway "$MID"

scontrol resume "$SUSP"
as_user "scancel $SUSP"
as_user "scancel $HELD"

# ----------------------------------------------------------------------------- wait for ends
wait_for acct "$OK" COMPLETED 30
wait_for acct "$FAIL" FAILED 30
wait_for acct "$CANC" CANCELLED 10
wait_for acct "$OOM" OUT_OF_MEMORY 30
wait_for acct "$SUSP" CANCELLED 15
wait_for acct "$HELD" CANCELLED 15
wait_for acct "$CGC" CANCELLED 15
wait_for acct "$TO" TIMEOUT 60
wait_for acct "$RUN" COMPLETED 40
wait_for acct "$RES" COMPLETED 40
wait_for acct "$MCL" COMPLETED 20

# natural COMPLETING (batch script ends, a TERM-ignoring child is killed), once the node is free so
# the job starts at once; best effort (the window is ~40 ms).
CGN=
for attempt in 1 2 3 4 5; do
  j=$(sub -J fx-completing "setsid $IGNORE_TERM & sleep 2; exit 0")
  if catch_state completing "$j" COMPLETING 15; then CGN=$j; say "caught natural COMPLETING of $j (attempt $attempt)"; break; fi
  say "attempt $attempt: COMPLETING of $j not caught"
done
wait_for acct "${CGN:-$j}" COMPLETED 20

# ----------------------------------------------------------------------------- NODE_FAIL, alone
# Marking the node down kills everything on it: wait (a while) for other users' jobs to end.
for i in $(seq 45); do
  others=$(squeue -h -t running,completing,suspended,configuring -o '%j' | grep -vc '^fx-' || true)
  [ "$others" = 0 ] && break
  [ "$i" = 1 ] && say "waiting for $others other running job(s) before marking the node down"
  sleep 1
done
NF=$(sub -J fx-node-fail --no-requeue 'sleep 120')
wait_for live "$NF" RUNNING 20
cap node-fail-running "$NF"
NODE_DOWN=1
scontrol update nodename="$NODE" state=down reason=record-slurm-fixtures
wait_for live "$NF" NODE_FAIL 20
wait_for acct "$NF" NODE_FAIL 20
sleep 1
# ReturnToService=2 may already have brought it back
node_usable || scontrol update nodename="$NODE" state=resume || true
NODE_DOWN=
cap node-fail "$NF"
for i in $(seq 60); do node_usable && break; sleep 1; done

# ----------------------------------------------------------------------------- final captures
cap completed "$OK"
cap failed "$FAIL"
cap cancelled "$CANC"
cap timeout "$TO"
cap oom "$OOM"
cap suspended-then-cancelled "$SUSP"
cap held-then-cancelled "$HELD"
cap resources-then-completed "$RES"
cap running-then-completed "$RUN"
ALL="$OK,$FAIL,$CANC,$TO,$OOM,$RUN,$SUSP,$HELD,$RES,$CGC,$NF"
cap multi-final "$ALL,99999999"
cap all-steps "$ALL" steps
# an id slurmctld no longer knows (purged after MinJobAge, or never existed)
rc=0
as_user "${SQUEUE_TPL//__IDS__/99999999}" >"$OUT/invalid-id.squeue.txt" 2>"$OUT/invalid-id.squeue.stderr.txt" || rc=$?
echo "$rc" >"$OUT/invalid-id.squeue.exitcode.txt"
cap invalid-id 99999999 sacct

# which job is which, for the tests
cat >"$OUT/jobs.json" <<EOF
{
  "slurmVersion": "${VERSION##* }",
  "cluster": "$CLUSTER",
  "node": "$NODE",
  "user": "$USER_",
  "uid": "$USER_UID",
  "recordedAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "jobs": {
    "completed": "$OK",
    "clusters": "$MCL",
    "failed": "$FAIL",
    "cancelled": "$CANC",
    "timeout": "$TO",
    "oom": "$OOM",
    "running": "$RUN",
    "suspended": "$SUSP",
    "held": "$HELD",
    "resources": "$RES",
    "completingCancelled": "$CGC",
    "completing": "$CGN",
    "nodeFail": "$NF",
    "invalid": "99999999"
  }
}
EOF
write_readme >"$OUT/README.md"
as_user "rm -rf $WORK" || true
mkdir -p "$DEST"
rm -f "$DEST"/*.txt "$DEST"/jobs.json "$DEST"/README.md
cp "$OUT"/* "$DEST"/
rm -rf "$OUT"
say "done: $(ls "$DEST" | wc -l) files in $DEST"
