# shellcheck shell=bash
# tests/cluster-lib.sh - throwaway daemons for the scale-out tests (source it after lib.sh):
# a one-node Slurm cluster and an sshd on loopback, each in a folder of the test, started
# without systemd and stopped, by PID, when the test exits (pass or fail). Nothing of the
# machine's own configuration is read or changed (beyond /run/sshd, which sshd needs).
#
#   need_slurm              skip the test when slurm-wlm or munge are missing (in CI, where
#                           .ci/packages.txt installs them, that is a failure instead)
#   cluster_start [GPUS]    munged, slurmctld and slurmd for one node with GPUS fake GPUs
#                           (default 4: gres.conf File= symlinks to /dev/null) in
#                           $CLUSTER_DIR, a new folder under /tmp (munged wants every folder
#                           above its socket searchable by all: $T is not); exports
#                           SLURM_CONF, which Slurm's clients read. One partition, "gpu",
#                           the default. About 1.5 s.
#   need_sshd               skip (or fail in CI) without sshd, ssh, ssh-keygen
#   sshd_start HOST...      sshd on 127.0.0.1 (throwaway host and user keys) in $T/ssh;
#                           each HOST is an alias for it in $T/ssh/config; sets SSH_CONFIG
#                           and exports PARALLEL_SSH="ssh -F $SSH_CONFIG" (GNU parallel's ssh)
#                           and PARALLEL_HOME=$T/parallel (its files, else in ~/.parallel)
# The daemons' output goes to files in their folder (never the caller's stdout: a $(...)
# around a start would wait for them). Each start registers its stop with at_exit.

_cl_cleanups=()
# at_exit CMD: run CMD when the test exits (in reverse order of registration)
at_exit() {
	_cl_cleanups=("$1" "${_cl_cleanups[@]}")
	trap '_cl_at_exit' EXIT
}
_cl_at_exit() {
	local st=$? c
	for c in "${_cl_cleanups[@]}"; do $c; done
	exit $st
}

# in CI a missing package is a failure: the test must not pass by skipping
_cl_missing() {
	if [ -n "${CI:-}" ]; then fail "$1 (CI installs .ci/packages.txt: is it listed?)"; fi
	skip "$1"
}

# free TCP ports on 127.0.0.1, one per line
_cl_ports() {
	"${PY:-/usr/bin/python3}" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# _cl_daemon VAR LOG CMD...: start CMD in the background, its output into LOG; its PID into VAR
_cl_daemon() {
	local var=$1 log=$2
	shift 2
	"$@" </dev/null >"$log" 2>&1 &
	printf -v "$var" %s $!
}

# _cl_stop PID...: TERM, then KILL after 5 s; reap
_cl_stop() {
	local p i
	for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
	for p in "$@"; do
		for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

need_slurm() {
	local p
	PATH=$PATH:/usr/sbin
	for p in munged slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
		command -v "$p" >/dev/null ||
			_cl_missing "needs Slurm and munge ($p not found; Debian: apt-get install slurm-wlm munge)"
	done
}

CLUSTER_MUNGED='' CLUSTER_CTLD='' CLUSTER_SLURMD='' CLUSTER_DIR=''
cluster_start() {
	local gpus=${1:-4} d host ports i
	host=$(hostname -s 2>/dev/null || uname -n)
	d=$(mktemp -d /tmp/rncluster.XXXXXX) || fail "cannot make the cluster's folder"
	CLUSTER_DIR=$d
	at_exit cluster_stop
	mkdir -p "$d/state" "$d/spool" && chmod 755 "$d" "$d/state" "$d/spool" || fail "cannot make $d"
	# munge: its own key (mode 400), socket and pid file
	dd if=/dev/urandom bs=1 count=1024 of="$d/munge.key" 2>/dev/null && chmod 400 "$d/munge.key" ||
		fail "cannot make a munge key"
	_cl_daemon CLUSTER_MUNGED "$d/munged.log" munged -F --socket="$d/munge.sock" --key-file="$d/munge.key" \
		--pid-file="$d/munged.pid" --seed-file="$d/munged.seed"
	for ((i = 0; i < 50; i++)); do [ -S "$d/munge.sock" ] && break; sleep 0.05; done
	[ -S "$d/munge.sock" ] || fail "munged did not start: $(tail -n 3 "$d/munged.log")"
	ports=($(_cl_ports 2)) || fail "no free ports"
	for ((i = 0; i < gpus; i++)); do ln -s /dev/null "$d/gpu$i"; done
	# one setting per line (two on a line is a parse error)
	cat >"$d/slurm.conf" <<EOF
ClusterName=rntest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$d/munge.sock
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 Gres=gpu:$gpus State=UNKNOWN
PartitionName=gpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
	if [ "$gpus" -gt 0 ]; then
		echo "NodeName=$host Name=gpu File=$d/gpu[0-$((gpus - 1))]" >"$d/gres.conf"
	else
		: >"$d/gres.conf"
	fi
	export SLURM_CONF=$d/slurm.conf
	_cl_daemon CLUSTER_CTLD "$d/slurmctld.out" slurmctld -D
	_cl_daemon CLUSTER_SLURMD "$d/slurmd.out" slurmd -D -N "$host"
	for ((i = 0; i < 200; i++)); do
		[ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && return 0
		kill -0 "$CLUSTER_CTLD" 2>/dev/null && kill -0 "$CLUSTER_SLURMD" 2>/dev/null || break
		sleep 0.05
	done
	tail -n 5 "$d/slurmctld.out" "$d/slurmd.out" >&2
	fail "the test cluster did not come up (logs in $d)"
}

# jobs first (slurmd's job steps outlive it), then the daemons, munged last; then the
# folder (its logs are copied into $T/cluster-logs for a failed test to show)
cluster_stop() {
	local i
	[ -n "$CLUSTER_DIR" ] || return 0
	if [ -n "$CLUSTER_CTLD" ] && kill -0 "$CLUSTER_CTLD" 2>/dev/null; then
		scancel --user="$(id -un)" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			[ -z "$(squeue -h 2>/dev/null)" ] && break
			sleep 0.1
		done
	fi
	_cl_stop $CLUSTER_SLURMD $CLUSTER_CTLD
	_cl_stop $CLUSTER_MUNGED
	mkdir -p "$T/cluster-logs" && cp "$CLUSTER_DIR"/*.log "$CLUSTER_DIR"/*.out "$CLUSTER_DIR"/*.conf "$T/cluster-logs/" 2>/dev/null
	rm -rf "$CLUSTER_DIR"
	CLUSTER_CTLD='' CLUSTER_SLURMD='' CLUSTER_MUNGED='' CLUSTER_DIR=''
}

need_sshd() {
	[ -x /usr/sbin/sshd ] || _cl_missing "needs sshd (Debian: apt-get install openssh-server)"
	command -v ssh >/dev/null && command -v ssh-keygen >/dev/null ||
		_cl_missing "needs ssh and ssh-keygen (Debian: apt-get install openssh-client)"
}

SSHD_PID=''
sshd_start() {
	local d=$T/ssh port i
	mkdir -p "$d" && chmod 700 "$d" || fail "cannot make $d"
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$d/user_key" ||
		fail "ssh-keygen failed"
	cp "$d/user_key.pub" "$d/authorized_keys"
	port=$(_cl_ports 1) || fail "no free port"
	cat >"$d/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
LogLevel ERROR
EOF
	{
		printf 'Host %s\n' "$*"
		printf '  HostName 127.0.0.1\n  Port %s\n  User %s\n' "$port" "$(id -un)"
		printf '  IdentityFile %s\n  IdentitiesOnly yes\n  BatchMode yes\n' "$d/user_key"
		printf '  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n' "$d/known_hosts"
	} >"$d/config"
	printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$d/host_key.pub")" >"$d/known_hosts"
	# sshd's privilege separation folder; the Debian package's init script makes it at boot
	[ -d /run/sshd ] || mkdir -p -m 755 /run/sshd || fail "cannot make /run/sshd"
	_cl_daemon SSHD_PID "$d/sshd.log" /usr/sbin/sshd -D -e -f "$d/sshd_config"
	at_exit sshd_stop
	SSH_CONFIG=$d/config
	# GNU parallel's ssh, and its own files (else in ~/.parallel)
	export PARALLEL_SSH="ssh -F $SSH_CONFIG" PARALLEL_HOME=$T/parallel
	for ((i = 0; i < 100; i++)); do
		ssh -F "$SSH_CONFIG" "$1" true 2>/dev/null && return 0
		kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 5 "$d/sshd.log" >&2
	fail "the test sshd did not come up (log $d/sshd.log)"
}

sshd_stop() {
	[ -n "$SSHD_PID" ] || return 0
	_cl_stop "$SSHD_PID"
	SSHD_PID=''
}
