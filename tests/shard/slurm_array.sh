#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tests/shard/slurm_array.sh RADPIPE CORPUS - a real one-node Slurm cluster (munged,
# slurmctld, slurmd on non-default ports, state in a temporary directory) runs
# `radpipe compress --shard auto` as `sbatch --array=0-3` over the corpus CT and MR trees:
#  1. the output tree equals, byte for byte, one plain `radpipe compress` of the same trees,
#     and `radpipe report --expect` finds every input exactly once (and fails with a list
#     when a report is missing or an input was done twice);
#  2. one array task cancelled (scancel) while it runs and then resubmitted gives the
#     same tree, and its report says it skipped what the first run completed.
# Stops everything it started, by pid.  Needs root (slurmd runs jobs as their user).
set -u
rp=$(readlink -f "$1")
corpus=$(readlink -f "$2")
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root to run slurmd"
	exit 77
fi
for b in munged slurmctld slurmd sbatch squeue scancel; do
	if ! command -v "$b" >/dev/null && [ ! -x "/usr/sbin/$b" ]; then
		echo "FAIL: $b not installed (scripts/install-deps.sh installs slurm-wlm and munge)"
		exit 1
	fi
done
T=$(mktemp -d /tmp/rp-slurm.XXXXXX)
chmod 700 "$T"
pids=()
cleanup() {
	# Newest first: slurmd, slurmctld, munged; each by the pid we started.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[$i]}" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$T"/ctld.log "$T"/d.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

# munge with its own key and socket, so a system munged (if any) is left alone.
dd if=/dev/urandom of="$T/munge.key" bs=1024 count=1 status=none
chmod 600 "$T/munge.key"
mkdir -p "$T/munge" "$T/ctld" "$T/spool"
chmod 700 "$T/munge"
/usr/sbin/munged --foreground --force --socket="$T/munge/munge.sock" \
	--key-file="$T/munge.key" --pid-file="$T/munge.pid" --log-file="$T/munge.log" \
	--seed-file="$T/munge.seed" >"$T/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$T/munge/munge.sock" ] && break; sleep 0.1; done
[ -S "$T/munge/munge.sock" ] || fail "munged did not start: $(cat "$T/munged.out")"

host=$(hostname -s)
# Two adjacent ports away from Slurm's defaults (6817/6818), below the kernel's ephemeral
# range (a parallel test's outgoing connection may hold any port in it) and free now.
port=$(python3 - <<'P'
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(500):
    p = random.randrange(10000, lo - 2)
    try:
        for q in (p, p + 1):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("0.0.0.0", q))
    except OSError:
        continue
    print(p)
    break
P
)
[ -n "$port" ] || fail "no two adjacent free ports below the ephemeral range"
cat >"$T/slurm.conf" <<C
ClusterName=rptest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$T/ctld
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/ctld.pid
SlurmdPidFile=$T/d.pid
SlurmctldLogFile=$T/ctld.log
SlurmdLogFile=$T/d.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=2
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=rp Nodes=ALL Default=YES MaxTime=INFINITE State=UP
C
export SLURM_CONF="$T/slurm.conf"
/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >"$T/ctld.out" 2>&1 &
ctld=$!
pids+=($ctld)
/usr/sbin/slurmd -D -f "$SLURM_CONF" >"$T/d.out" 2>&1 &
pids+=($!)
# sinfo retries a dead controller for tens of seconds, so a controller that exited (a port
# taken after all) fails here at once instead of after every retry.
for _ in $(seq 60); do
	kill -0 "$ctld" 2>/dev/null || fail "slurmctld exited: $(tail -3 "$T/ctld.out")"
	timeout 10 sinfo -h -o %T 2>/dev/null | grep -q idle && break
	sleep 0.5
done
timeout 10 sinfo -h -o %T 2>/dev/null | grep -q idle || fail "the node did not come up idle"
echo "slurm up on ports $port/$((port + 1)): $(sinfo -h -o '%D node(s) %c cpus %T')"

# The job: the same command on every task; the array index picks the shard.
cat >"$T/job.sh" <<J
#!/bin/sh
exec "$rp" compress -q -c jpegls -T 1 --shard auto --shard-count 4 -o "\$1" "$corpus/ct" "$corpus/mr"
J
chmod +x "$T/job.sh"

wait_job() {
	for _ in $(seq 600); do
		[ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
		sleep 0.5
	done
	fail "job $1 still running after 300 s"
}
same_tree() {   # the compressed files, not the journal/report state or leftover temps
	diff -r -x '.*' "$1" "$2" >"$T/diff.txt" 2>&1 ||
		fail "$2 differs from $1: $(head -5 "$T/diff.txt")"
	n=$(find "$2" -type f -not -path '*/.*' | wc -l)
	echo "  $n files identical"
}

"$rp" compress -q --json -c jpegls -o "$T/plain" "$corpus/ct" "$corpus/mr" \
	>"$T/plain.json" 2>/dev/null
echo "plain compress: exit $? ($(find "$T/plain" -type f -not -path '*/.*' | wc -l) files)"
# The corpus holds inputs that fail on purpose (a corrupt JPEG-LS stream); the sharded
# runs must fail on exactly those, and report lists them as missing.
expect_like_plain() {   # OUTDIR: report --expect lists the same missing inputs as plain's
	"$rp" report --expect "$corpus/ct" --expect "$corpus/mr" "$1" >"$T/rep.txt" 2>&1
	grep '^radpipe: done .* times: ' "$T/rep.txt" && fail "$1: inputs done twice"
	diff "$T/plain-rep.txt" <(grep '^radpipe: missing: ' "$T/rep.txt" | sort) >/dev/null ||
		fail "$1: report --expect differs from the plain run's: $(cat "$T/rep.txt")"
}
# The plain run's failures, as report names them (path relative to its INPUT).
grep '"file":' "$T/plain.json" | grep -v '"status":"RP_OK"' |
	sed -e 's/^{"file":"//' -e 's/",.*//' -e "s|^$corpus/ct/||" -e "s|^$corpus/mr/||" |
	sort | sed 's/^/radpipe: missing: /' >"$T/plain-rep.txt"
echo "plain run's known failures: $(grep -c '^radpipe: missing: ' "$T/plain-rep.txt")"

# 1. the array job
job=$(sbatch --parsable --array=0-3 -c 1 -o "$T/arr-%a.out" "$T/job.sh" "$T/arr") ||
	fail "sbatch failed"
wait_job "$job"
echo "array job $job done"
same_tree "$T/plain" "$T/arr"
expect_like_plain "$T/arr"
tail -1 "$T/rep.txt"
cp -a "$T/arr" "$T/arr-missing"
rm "$T/arr-missing/.radpipe/report-1-of-4.json"
if "$rp" report --expect "$corpus/ct" --expect "$corpus/mr" "$T/arr-missing" >"$T/rep.txt" 2>&1; then
	fail "report --expect passed with shard 1's report gone"
fi
n=$(grep -c '^radpipe: missing: ' "$T/rep.txt")
echo "  a report removed: $n missing listed"
[ "$n" -gt "$(grep -c '^radpipe: missing: ' "$T/plain-rep.txt")" ] ||
	fail "no missing list: $(cat "$T/rep.txt")"
cp "$T/arr/.radpipe/report-2-of-4.json" "$T/arr-missing/.radpipe/report-2-of-4-copy.json"
cp "$T/arr/.radpipe/report-1-of-4.json" "$T/arr-missing/.radpipe/"
if "$rp" report --expect "$corpus/ct" --expect "$corpus/mr" "$T/arr-missing" >"$T/rep.txt" 2>&1; then
	fail "report --expect passed with shard 2 reported twice"
fi
grep -q '^radpipe: done 2 times: ' "$T/rep.txt" || fail "no duplicate list: $(cat "$T/rep.txt")"
grep -c '^radpipe: done 2 times: ' "$T/rep.txt" | sed 's/^/  a report twice: duplicates listed: /'

# 2. cancel task 2 once it has completed some outputs, then resubmit it alone.
job=$(sbatch --parsable --array=0-3 -c 1 -o "$T/cx-%a.out" "$T/job.sh" "$T/cx") ||
	fail "sbatch failed"
j2="$T/cx/.radpipe/journal-2-of-4.log"
for _ in $(seq 3000); do
	[ -s "$j2" ] && break
	sleep 0.02
done
[ -s "$j2" ] || fail "task 2 never recorded an output"
scancel "${job}_2"
[ -e "$T/cx/.radpipe/report-2-of-4.json" ] &&
	fail "task 2 finished before scancel reached it (cannot test the restart)"
wait_job "$job"
first=$(grep -c '^RPJ1 ' "$j2")
echo "task 2 cancelled after $first recorded output(s)"
[ -e "$T/cx/.radpipe/report-2-of-4.json" ] && fail "a cancelled task left a report"
job=$(sbatch --parsable --array=2 -c 1 -o "$T/cx-re-%a.out" "$T/job.sh" "$T/cx") ||
	fail "sbatch of the resubmitted task failed"
wait_job "$job"
same_tree "$T/plain" "$T/cx"
skipped=$(head -1 "$T/cx/.radpipe/report-2-of-4.json" | sed -n 's/.*"skipped":\([0-9]*\).*/\1/p')
echo "resubmitted task 2: skipped $skipped (first run recorded $first)"
[ "$skipped" = "$first" ] || fail "resubmitted task skipped $skipped, the first run recorded $first"
expect_like_plain "$T/cx"
tail -1 "$T/rep.txt"
echo PASS
