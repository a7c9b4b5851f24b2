#!/bin/sh
# tests/vm/guest/numa.sh: run inside the VM by tests/vm/numa_test.py (busybox sh, cwd = the tree)
#
# usage: sh tests/vm/guest/numa.sh [CPU_A [CPU_B [N [KEEP]]]]   (defaults 2 0 1000 100)
#
# Starts build/workloads/numa_xfer CPU_A CPU_B N KEEP, traces it with
# `build/memscope-bpf --json --numa-pages -i 0.5 -p PID` from its "ready" on, opens its
# window once the tracer says "attached", waits for its ground truth and then 1.5 s more
# (so that at least one interval's page sample comes after the window, besides the final
# record's), stops the tracer with SIGINT, then the workload with SIGUSR2.
# Automatic NUMA balancing is turned off first: it could migrate the workload's pages.
# Prints tagged lines for the host:
#   kernel RELEASE | node N CPULIST | numa_balancing WAS | thp SETTING
#   work LINE (the workload's stdout) | work_err LINE
#   trace LINE (the tracer's stdout) | trace_err LINE
#   tracer_status N | workload_status N | error TEXT (the script gave up waiting)
cpu_a=${1:-2} cpu_b=${2:-0} n=${3:-1000} keep=${4:-100}
W=/tmp/numa_xfer.out WE=/tmp/numa_xfer.err T=/tmp/trace.out TE=/tmp/trace.err

echo "kernel $(uname -r)"
for d in /sys/devices/system/node/node[0-9]*; do
	echo "node ${d##*/node} $(cat "$d/cpulist")"
done
if [ -w /proc/sys/kernel/numa_balancing ]; then
	echo "numa_balancing $(cat /proc/sys/kernel/numa_balancing)"
	echo 0 >/proc/sys/kernel/numa_balancing
fi
echo "thp $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"

# wait_for FILE PATTERN TENTHS: until a line of FILE matches PATTERN (grep -E)
wait_for() {
	i=0
	while ! grep -qE "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -le "$3" ] || return 1
		sleep 0.1
	done
}

wpid='' tpid=''
finish() {
	[ -z "$tpid" ] || kill -INT "$tpid" 2>/dev/null
	[ -z "$wpid" ] || kill -KILL "$wpid" 2>/dev/null
	wait
	sed 's/^/work /' "$W"
	sed 's/^/work_err /' "$WE"
	[ ! -f "$T" ] || sed 's/^/trace /' "$T"
	[ ! -f "$TE" ] || sed 's/^/trace_err /' "$TE"
}
fail() {
	echo "error $*"
	finish
	exit 1
}

build/workloads/numa_xfer "$cpu_a" "$cpu_b" "$n" "$keep" >"$W" 2>"$WE" &
wpid=$!
wait_for "$W" '^ready ' 100 || fail "numa_xfer: no ready line in 10 s"
[ "$(sed -n 's/^ready //p' "$W")" = "$wpid" ] || fail "numa_xfer: ready line is not its pid"

build/memscope-bpf --json --numa-pages -i 0.5 -p "$wpid" >"$T" 2>"$TE" &
tpid=$!
wait_for "$TE" 'attached' 300 || fail "memscope-bpf: no 'attached' in 30 s"

kill -USR1 "$wpid"
wait_for "$W" '^\{"numa"' 300 || fail "numa_xfer: no ground truth 30 s after SIGUSR1"
sleep 1.5

kill -INT "$tpid"
wait "$tpid"
echo "tracer_status $?"
tpid=''
kill -USR2 "$wpid"
wait "$wpid"
echo "workload_status $?"
wpid=''
finish
