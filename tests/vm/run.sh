#!/bin/bash
# tests/vm/run.sh: run a command as root inside a NUMA VM (Debian's 6.1 kernel, QEMU TCG)
#
# usage: tests/vm/run.sh [OPTIONS] -- CMD [ARGS...]
#
# Boots build/vm/vmlinuz (Debian's linux-image-6.1.0-N-amd64) with the base initramfs of
# tests/vm/build.sh (run first, cheap when nothing changed) under qemu-system-x86_64 -accel
# tcg (KVM hangs on these machines), with NODES NUMA nodes, the CPUs and the memory split
# evenly between them (node i: CPUs i*CPUS/NODES .. (i+1)*CPUS/NODES-1), no network, no disk.
# CMD runs as root (PID 1's child) with stdin /dev/null, in a directory of the same absolute
# path as this shell's working directory; build/memscope-bpf, build/memscope-demo,
# build/workloads/* and build/bench/* of this tree are at their host paths, with busybox
# (sh, taskset, cat, grep, sed, awk, timeout...) on PATH. CMD is run with `exec`, not a shell:
# use `-- sh -c 'SCRIPT'` for pipes and redirections.
#
# Output: CMD's stdout goes to this script's stdout byte for byte (it is written to a raw
# second serial port, ttyS1, and copied out when the VM is off). CMD's stderr goes to the
# console (ttyS0); when the VM is off, the console lines between the start and exit markers
# are printed to this script's stderr (a kernel message printed meanwhile shows up there too;
# the kernel runs with loglevel=3). The exit status is CMD's.
#
# Options:
#   --nodes N       NUMA nodes (default 2)
#   --cpus N        virtual CPUs, a multiple of NODES (default 4)
#   --mem SIZE      memory, e.g. 2G or 1536M, split evenly between nodes (default 2G)
#   --timeout SEC   kill the VM after SEC seconds of wall time and fail (default 300)
#   --add PATH      also put PATH (file or directory, recursively) in the VM at its absolute
#                   host path; for an ELF program, also the shared objects ldd lists for it.
#                   Repeatable.
#   --out FILE      write CMD's stdout to FILE instead of this script's stdout
#   --err FILE      write CMD's stderr to FILE instead of this script's stderr
#   --log FILE      the whole serial console (kernel, stderr, markers) also to FILE; by
#                   default it is kept in build/vm/runs/RUN/console.log (last 20 runs kept)
#   --append ARGS   more kernel command-line arguments
#   --times         print "vm-run: ..." timings to stderr at the end
#   -v, --verbose   stream the whole console (kernel, CMD's stderr, markers) to stderr as it
#                   comes, instead of printing CMD's stderr at the end
#   --no-build      do not run tests/vm/build.sh first
#   -h, --help      this text
#
# Exit status: CMD's status (0-255); 124 when the timeout killed the VM; 125 when the VM
# failed before reporting CMD's status (qemu error, kernel panic, /init failure); 2 for a
# usage error; 130 when this script was interrupted (INT, TERM, HUP: qemu is stopped). On
# 124 and 125 the last lines of the console are printed to stderr. When the guest kernel is
# tainted at the end (a WARN, an oops), a warning line says so on stderr.
#
# Each run leaves build/vm/runs/RUN/ (RUN = date-pid): console.log, stdout, run.cpio.gz (the
# per-run archive), qemu.out, times (host seconds: boot = qemu start to CMD start, cmd, total
# = qemu's whole run; guest uptime at CMD start and CMD's guest time).
#
# Examples:
#   tests/vm/run.sh -- cat /sys/devices/system/node/node1/cpulist
#   tests/vm/run.sh --times -- build/memscope-bpf --json -- build/workloads/launched 10
#   tests/vm/run.sh --add tests/vm/guest/smoke.sh -- sh tests/vm/guest/smoke.sh 3
#   tests/vm/run.sh -- sh -c 'taskset -c 3 build/workloads/launched 10 && echo node1 ok'
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { echo "vm-run: error: $*" >&2; exit 125; }
bad() { echo "vm-run: $*" >&2; echo "usage: $0 [OPTIONS] -- CMD [ARGS...] (--help)" >&2; exit 2; }

NODES=2 CPUS=4 MEM=2G TIMEOUT=300 OUT='' ERR='' LOG='' APPEND='' TIMES=0 VERBOSE=0 BUILD=1
ADDS=()
while [ $# -gt 0 ]; do
	case $1 in
	--nodes) NODES=${2:?}; shift 2 ;;
	--cpus) CPUS=${2:?}; shift 2 ;;
	--mem) MEM=${2:?}; shift 2 ;;
	--timeout) TIMEOUT=${2:?}; shift 2 ;;
	--add) ADDS+=("${2:?}"); shift 2 ;;
	--out) OUT=${2:?}; shift 2 ;;
	--err) ERR=${2:?}; shift 2 ;;
	--log) LOG=${2:?}; shift 2 ;;
	--append) APPEND=${2:?}; shift 2 ;;
	--times) TIMES=1; shift ;;
	-v | --verbose) VERBOSE=1; shift ;;
	--no-build) BUILD=0; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) bad "unknown option: $1" ;;
	esac
done
[ $# -gt 0 ] || bad "no command"
[[ $NODES =~ ^[1-9][0-9]*$ ]] || bad "--nodes: not a number: $NODES"
[[ $CPUS =~ ^[1-9][0-9]*$ ]] || bad "--cpus: not a number: $CPUS"
[ $((CPUS % NODES)) = 0 ] || bad "--cpus $CPUS is not a multiple of --nodes $NODES"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || bad "--timeout: not a number of seconds: $TIMEOUT"
case $MEM in
*[kK]) mem_mib=$((${MEM%?} / 1024)) ;;
*[mM]) mem_mib=${MEM%?} ;;
*[gG]) mem_mib=$((${MEM%?} * 1024)) ;;
*[tT]) mem_mib=$((${MEM%?} * 1024 * 1024)) ;;
*[0-9]) mem_mib=$((MEM / 1024 / 1024)) ;;
*) bad "--mem: bad size: $MEM" ;;
esac
node_mib=$((mem_mib / NODES))
[ "$node_mib" -ge 128 ] || bad "--mem $MEM: less than 128 MiB per node"

REPO=$(cd "$(dirname "$0")/../.." && pwd)
VMDIR=${MEMSCOPE_VM_DIR:-$REPO/build/vm}
[ "$BUILD" = 0 ] || "$REPO/tests/vm/build.sh" -q || die "tests/vm/build.sh failed"
VMDIR=$(cd "$VMDIR" && pwd)
KERNEL=$VMDIR/vmlinuz
BASE=$VMDIR/initramfs.cpio.gz
{ [ -f "$KERNEL" ] && [ -f "$BASE" ]; } || die "no $KERNEL or $BASE: run tests/vm/build.sh"
BUSYBOX=/bin/busybox

# --- the run directory and the per-run archive ---------------------------------------------
mkdir -p "$VMDIR/runs"
RUN=$VMDIR/runs/$(date +%Y%m%d-%H%M%S)-$$
mkdir "$RUN"
# keep the last 20 runs
ls -1d "$VMDIR"/runs/*/ 2>/dev/null | sort | head -n -20 | xargs -r rm -rf
[ -n "$LOG" ] || LOG=$RUN/console.log

TOKEN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
stage=$RUN/stage
mkdir -p "$stage/vm" "$stage/usr/bin" "$stage/usr/sbin" "$stage/usr/lib" "$stage/usr/lib64"
# the base archive's merged-/usr links, so that files land where the base has its directories
for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
printf '%s\n' "$TOKEN" >"$stage/vm/token"
printf '%s\n' "$PWD" >"$stage/vm/cwd"
mkdir -p "$stage$PWD"
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
	printf '# written by tests/vm/run.sh\nexec'
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	printf '\n'
} >"$stage/vm/run"

put() { # host path (absolute) -> same path in the stage, real file behind any symlink
	local src=$1 real
	real=$(readlink -f "$src")
	mkdir -p "$stage$(dirname "$real")"
	[ -e "$stage$real" ] || cp -pR "$real" "$stage$real"
	if [ "$src" != "$real" ] && [ ! -e "$stage$src" ] && [ ! -L "$stage$src" ]; then
		mkdir -p "$stage$(dirname "$src")"
		ln -s "$real" "$stage$src"
	fi
}
for a in "${ADDS[@]}"; do
	[ -e "$a" ] || die "--add $a: no such file"
	abs=$(cd "$(dirname "$a")" && pwd)/$(basename "$a")
	put "$abs"
	while IFS= read -r -d '' f; do
		head -c4 "$f" 2>/dev/null | grep -q 'ELF' || continue
		{ ldd "$f" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
			while read -r lib; do
				# the base archive has the common ones; a copy here would only replace them
				grep -qxF "$(readlink -f "$lib")" "$VMDIR/initramfs.list" 2>/dev/null ||
					put "$lib"
			done
	done < <(find "$(readlink -f "$abs")" -type f -perm -u+x -print0)
done
(cd "$stage" && find . -mindepth 1 ! -path ./bin ! -path ./sbin ! -path ./lib ! -path ./lib64 |
	LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) |
	gzip -1 >"$RUN/run.cpio.gz"
cat "$BASE" "$RUN/run.cpio.gz" >"$RUN/initrd"
rm -rf "$stage"

# --- qemu ----------------------------------------------------------------------------------
numa=()
per=$((CPUS / NODES))
for ((i = 0; i < NODES; i++)); do
	numa+=(-object "memory-backend-ram,id=m$i,size=${node_mib}M"
		-numa "node,nodeid=$i,cpus=$((i * per))-$((i * per + per - 1)),memdev=m$i")
done
if [ "$VERBOSE" = 1 ]; then
	console=(-chardev "stdio,id=con,signal=off,logfile=$LOG")
else
	console=(-chardev "file,id=con,path=$LOG")
fi
: >"$LOG"
qemu=(qemu-system-x86_64 -accel tcg -cpu max -m "$((node_mib * NODES))M"
	-smp "cpus=$CPUS,sockets=$NODES,cores=$per,threads=1"
	"${numa[@]}"
	-nodefaults -no-user-config -display none -no-reboot
	"${console[@]}" -serial chardev:con
	-chardev "file,id=out,path=$RUN/stdout" -serial chardev:out
	-kernel "$KERNEL" -initrd "$RUN/initrd"
	-append "console=ttyS0 quiet loglevel=3 panic=-1 oops=panic rdinit=/init $APPEND")

t0=$(date +%s.%N)
# host time at which CMD started: watch the console for the START marker
(
	while ! grep -q "^@@memscope-vm $TOKEN START" "$LOG" 2>/dev/null; do sleep 0.05; done
	date +%s.%N >"$RUN/.started"
) &
watcher=$!
# timeout runs qemu in a process group of its own (a terminal's ^C does not reach it): pass
# INT, TERM and HUP on, and wait for qemu to go
if [ "$VERBOSE" = 1 ]; then
	timeout -k 5 "$TIMEOUT" "${qemu[@]}" </dev/null >&2 &
else
	timeout -k 5 "$TIMEOUT" "${qemu[@]}" </dev/null >"$RUN/qemu.out" 2>&1 &
fi
qpid=$!
interrupted=0
trap 'interrupted=1; kill -TERM "$qpid" 2>/dev/null' INT TERM HUP
set +e
wait "$qpid"
qrc=$?
while kill -0 "$qpid" 2>/dev/null; do
	wait "$qpid"
	qrc=$?
done
set -e
trap - INT TERM HUP
t2=$(date +%s.%N)
sleep 0.1
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
rm -f "$RUN/initrd"
if [ "$interrupted" = 1 ]; then
	echo "vm-run: interrupted; qemu stopped (console: $LOG)" >&2
	exit 130
fi

# --- results -------------------------------------------------------------------------------
[ "$LOG" = "$RUN/console.log" ] || cp "$LOG" "$RUN/console.log"
con=$(tr -d '\r' <"$LOG")
start_line=$(grep -m1 "^@@memscope-vm $TOKEN START" <<<"$con" || true)
exit_line=$(grep -m1 "^@@memscope-vm $TOKEN EXIT" <<<"$con" || true)
[ -f "$RUN/stdout" ] || : >"$RUN/stdout"

if [ -n "$OUT" ]; then cp "$RUN/stdout" "$OUT"; else cat "$RUN/stdout"; fi
if [ -n "$start_line" ]; then
	# CMD's stderr: the console between the markers
	errtext=$(awk -v s="@@memscope-vm $TOKEN START" -v e="@@memscope-vm $TOKEN EXIT" '
		index($0, e) == 1 { exit } on { print } index($0, s) == 1 { on = 1 }' <<<"$con")
	if [ -n "$ERR" ]; then
		if [ -n "$errtext" ]; then printf '%s\n' "$errtext" >"$ERR"; else : >"$ERR"; fi
	elif [ "$VERBOSE" = 0 ] && [ -n "$errtext" ]; then
		printf '%s\n' "$errtext" >&2
	fi
fi

up_start=$(sed -n 's/.* START uptime=\([0-9.]*\).*/\1/p' <<<"$start_line")
up_exit=$(sed -n 's/.* EXIT [0-9]* uptime=\([0-9.]*\).*/\1/p' <<<"$exit_line")
t1=$(cat "$RUN/.started" 2>/dev/null || echo "$t2")
rm -f "$RUN/.started"
times=$(awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v us="${up_start:-0}" -v ue="${up_exit:-0}" \
	'BEGIN { printf "boot %.2f cmd %.2f total %.2f guest_uptime_start %.2f guest_cmd %.2f\n",
		t1 - t0, t2 - t1, t2 - t0, us, ue - us }')
echo "$times" >"$RUN/times"

tail_console() {
	echo "vm-run: last console lines ($LOG):" >&2
	tail -n 30 <<<"$con" | sed 's/^/  | /' >&2
	[ ! -s "$RUN/qemu.out" ] || sed 's/^/  qemu: /' "$RUN/qemu.out" >&2
}
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "vm-run: timed out after $TIMEOUT s; qemu killed" >&2
	tail_console
	exit 124
fi
if [ -z "$exit_line" ]; then
	echo "vm-run: the VM stopped without reporting the command's status (qemu status $qrc)" >&2
	tail_console
	exit 125
fi
rc=$(sed -n 's/.* EXIT \([0-9]*\).*/\1/p' <<<"$exit_line")
tainted=$(sed -n 's/.* tainted=\([0-9]*\).*/\1/p' <<<"$exit_line")
[ "${tainted:-0}" = 0 ] ||
	echo "vm-run: warning: the kernel is tainted ($tainted): a WARN or oops? see $RUN/console.log" >&2
[ "$TIMES" = 0 ] || echo "vm-run: $times (status $rc, run dir $RUN)" >&2
exit "$rc"
