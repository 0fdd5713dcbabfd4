#!/usr/bin/env bash
# cluster.sh: a local 3-node zabd ensemble on 127.0.0.1, for trying quorum
# mode by hand. Used by make cluster, cluster-stop, cluster-status and
# cluster-clean; run from anywhere.
#
#   scripts/cluster.sh start    build bin/zabd, start the nodes not running
#   scripts/cluster.sh stop     SIGTERM each node and wait for it to exit
#   scripts/cluster.sh status   each node's process and its srvr Mode line
#   scripts/cluster.sh clean    stop, then remove the nodes' directories
#
# Node N (1-3) lives in $CLUSTER_DIR/N: zoo.cfg (written again at every
# start from the settings below; edit those, not the file), data/ (its
# dataDir, holding myid; kept across restarts), zabd.log (appended to) and
# zabd.pid. Ports, ZooKeeper-style, each node its own since they share a
# host: clients 2181-2183, quorum 2888-2890, election 3888-3890.
#
# Settings (environment): CLUSTER_DIR (./cluster), ENGINE (native),
# CLIENT_PORT_BASE (2181), QUORUM_PORT_BASE (2888), ELECTION_PORT_BASE
# (3888), and the timing, ZooKeeper's sample zoo.cfg values by default:
# TICK_TIME (2000 ms), INIT_LIMIT (10 ticks), SYNC_LIMIT (5 ticks).
# START_WAIT (seconds, 3) is how long start watches for a node that exits
# at once; STOP_WAIT (seconds, 30) how long stop waits for each to exit.
# ZABD names a zabd binary to run instead of building bin/zabd.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${CLUSTER_DIR:-$root/cluster}
nodes=(1 2 3)
engine=${ENGINE:-native}
client_base=${CLIENT_PORT_BASE:-2181}
quorum_base=${QUORUM_PORT_BASE:-2888}
election_base=${ELECTION_PORT_BASE:-3888}
tick_time=${TICK_TIME:-2000}
init_limit=${INIT_LIMIT:-10}
sync_limit=${SYNC_LIMIT:-5}
start_wait=${START_WAIT:-3}
stop_wait=${STOP_WAIT:-30}
zabd=${ZABD:-}

client_port() { echo $((client_base + $1 - 1)); }

# node_pid N: the pid of node N's zabd if it is running, else nothing (a
# stale pid file, or a pid reused by another program, counts as stopped).
node_pid() {
	local f=$dir/$1/zabd.pid pid
	[[ -f $f ]] || return 0
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	if kill -0 "$pid" 2>/dev/null && ps -o args= -p "$pid" 2>/dev/null | grep -qF "$dir/$1/zoo.cfg"; then
		echo "$pid"
	fi
}

write_cfg() {
	local n=$1 m
	{
		echo "# Node $n of the local cluster: written by scripts/cluster.sh at every start."
		echo "tickTime=$tick_time"
		echo "initLimit=$init_limit"
		echo "syncLimit=$sync_limit"
		echo "dataDir=$dir/$n/data"
		echo "clientPortAddress=127.0.0.1"
		echo "clientPort=$(client_port "$n")"
		echo "engine=$engine"
		echo "4lw.commands.whitelist=*"
		for m in "${nodes[@]}"; do
			echo "server.$m=127.0.0.1:$((quorum_base + m - 1)):$((election_base + m - 1));127.0.0.1:$(client_port "$m")"
		done
	} >"$dir/$n/zoo.cfg"
}

# srvr N: what node N answers to the srvr four-letter word ("" if nothing).
srvr() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf srvr >&3 && cat <&3' _ "$(client_port "$1")" 2>/dev/null || true
}

start() {
	if [[ -z $zabd ]]; then
		echo "building bin/zabd"
		make -s -C "$root" build
		zabd=$root/bin/zabd
	fi
	local n pid started=() failed=0
	for n in "${nodes[@]}"; do
		mkdir -p "$dir/$n/data"
		if [[ -f $dir/$n/data/myid && $(tr -d '[:space:]' <"$dir/$n/data/myid") != "$n" ]]; then
			echo "node $n: $dir/$n/data/myid says $(<"$dir/$n/data/myid"), not $n: fix it or make cluster-clean" >&2
			exit 1
		fi
		echo "$n" >"$dir/$n/data/myid"
		if pid=$(node_pid "$n") && [[ -n $pid ]]; then
			echo "node $n: already running (pid $pid)"
			continue
		fi
		write_cfg "$n"
		echo "--- $(date '+%Y-%m-%d %H:%M:%S') started by scripts/cluster.sh: $zabd $dir/$n/zoo.cfg" >>"$dir/$n/zabd.log"
		nohup "$zabd" "$dir/$n/zoo.cfg" >>"$dir/$n/zabd.log" 2>&1 </dev/null &
		echo $! >"$dir/$n/zabd.pid"
		started+=("$n")
	done
	((${#started[@]})) || return 0

	# Watch the new nodes for START_WAIT seconds: one that exits at once
	# (a refused configuration, a port in use) is reported with its log.
	local deadline=$((SECONDS + start_wait)) running
	while ((SECONDS < deadline)); do
		running=0
		for n in "${started[@]}"; do
			kill -0 "$(<"$dir/$n/zabd.pid")" 2>/dev/null && running=$((running + 1))
		done
		((running == ${#started[@]})) || break
		sleep 0.2
	done
	sleep 0.2 # let the others that fail at once fail too
	for n in "${started[@]}"; do
		pid=$(<"$dir/$n/zabd.pid")
		if kill -0 "$pid" 2>/dev/null; then
			echo "node $n: running, pid $pid, clients on 127.0.0.1:$(client_port "$n"), log $dir/$n/zabd.log"
			continue
		fi
		local rc=0
		wait "$pid" || rc=$?
		rm -f "$dir/$n/zabd.pid"
		failed=1
		echo "node $n: exited at once with status $rc; the end of $dir/$n/zabd.log:" >&2
		# this run's lines only: from the last line start wrote
		awk '/^--- .* started by scripts\/cluster.sh/ { run = "" } { run = run $0 "\n" } END { printf "%s", run }' "$dir/$n/zabd.log" |
			tail -n 5 | sed 's/^/    /' >&2
	done
	if ((failed)); then
		running=0
		for n in "${nodes[@]}"; do
			[[ -n $(node_pid "$n") ]] && running=$((running + 1))
		done
		if ((running)); then
			echo "some nodes did not start; $running running (make cluster-stop stops them)" >&2
		else
			echo "no node is running" >&2
		fi
		exit 1
	fi
}

stop() {
	local n pid stuck=0
	for n in "${nodes[@]}"; do
		pid=$(node_pid "$n")
		if [[ -z $pid ]]; then
			[[ -d $dir/$n ]] && echo "node $n: not running"
			rm -f "$dir/$n/zabd.pid"
			continue
		fi
		kill -TERM "$pid"
		echo "node $n: SIGTERM sent to pid $pid"
	done
	for n in "${nodes[@]}"; do
		[[ -f $dir/$n/zabd.pid ]] || continue
		pid=$(<"$dir/$n/zabd.pid")
		local deadline=$((SECONDS + stop_wait))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "node $n: pid $pid still running after ${stop_wait}s; see $dir/$n/zabd.log (kill -KILL $pid to stop it anyway)" >&2
			stuck=1
		else
			echo "node $n: stopped"
			rm -f "$dir/$n/zabd.pid"
		fi
	done
	return $stuck
}

status() {
	local n pid answer mode
	for n in "${nodes[@]}"; do
		pid=$(node_pid "$n")
		if [[ -z $pid ]]; then
			echo "node $n (127.0.0.1:$(client_port "$n")): not running"
			continue
		fi
		answer=$(srvr "$n")
		mode=$(grep -m1 '^Mode:' <<<"$answer" || head -n1 <<<"$answer")
		echo "node $n (127.0.0.1:$(client_port "$n")): pid $pid, ${mode:-no answer to srvr (not serving yet)}"
	done
}

clean() {
	if [[ ! -d $dir ]]; then
		echo "no cluster in $dir"
		return 0
	fi
	stop
	local n
	for n in "${nodes[@]}"; do
		rm -rf "${dir:?}/$n"
	done
	rmdir "$dir" 2>/dev/null || true
	echo "removed $dir"
}

case ${1:-} in
start | stop | status | clean) "$1" ;;
*)
	echo "usage: $0 start|stop|status|clean" >&2
	exit 2
	;;
esac
