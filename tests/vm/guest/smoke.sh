#!/bin/sh
# tests/vm/guest/smoke.sh: run inside the VM by tests/vm/smoke.py (busybox sh, cwd = the tree)
# Prints tagged lines for the host to check:
#   kernel RELEASE | node N CPULIST | btf yes|no | pinned CPU | tracer_status N
#   trace LINE (the tracer's stdout, with the workload's ground-truth line) | trace_err LINE
#   stacks_status N | stacks LINE | stacks_err LINE (--stacks, walked from CFI in BPF)
#   sampled_status N | sampled LINE (--stacks --sample-bytes: the sampling in BPF loads)
# usage: sh tests/vm/guest/smoke.sh CPU   (a CPU of the last node; the workload is pinned there)
cpu=${1:-3}
echo "kernel $(uname -r)"
for n in /sys/devices/system/node/node[0-9]*; do
	echo "node ${n##*/node} $(cat "$n/cpulist")"
done
if [ -r /sys/kernel/btf/vmlinux ]; then echo "btf yes"; else echo "btf no"; fi
# field 39 of /proc/PID/stat: the CPU the task last ran on
taskset -c "$cpu" sh -c 'echo "pinned $(cut -d" " -f39 /proc/self/stat)"'
taskset -c "$cpu" build/memscope-bpf --json --bpf -- build/workloads/launched 10 \
	>/tmp/trace.out 2>/tmp/trace.err
echo "tracer_status $?"
sed 's/^/trace /' /tmp/trace.out
sed 's/^/trace_err /' /tmp/trace.err
build/memscope-bpf --json --bpf --stacks -- build/workloads/fake_frame 3 2 </dev/null \
	>/tmp/stacks.out 2>/tmp/stacks.err
echo "stacks_status $?"
sed 's/^/stacks /' /tmp/stacks.out
sed 's/^/stacks_err /' /tmp/stacks.err
build/memscope-bpf --json --bpf --stacks --sample-bytes 1K -- build/workloads/fake_frame 3 2 \
	</dev/null >/tmp/sampled.out 2>/dev/null
echo "sampled_status $?"
sed 's/^/sampled /' /tmp/sampled.out
