#!/usr/bin/env bash
# run.sh: `make bench`: what memscope-bpf costs per allocator call, against the empty-probe
# floor at the same probe points, bpftrace, bcc's memleak and heaptrack, and on real programs.
#
# Every condition runs the same workload binary against a private copy of libc (probes are per
# inode: pid-filtered tracers of others do not touch it, ours touch nobody else; a tracer of
# every process can find it, and runs it disturbed are detected and not counted, see
# foreign_probes). Conditions are interleaved
# A B C A B C ... over the rounds (the order rotates each round); medians and min-max reported.
# Each -p run: the workload warms up, writes its pid and waits for SIGUSR1; the tracer attaches
# (we wait for its "attached" line and, where it has none we trust, for its probes to show in
# `bpftool perf list`); then the timed loop runs for BENCH_DURATION seconds.
#
# Environment:
#   BENCH_ROUNDS=N        rounds (default 5; 2 with BENCH_QUICK=1)
#   BENCH_QUICK=1         a smoke run, 2.5 minutes on an idle machine (default: 8-10)
#   BENCH_DURATION=SECS   timed seconds per micro run (default 1, quick 0.3)
#   BENCH_REDIS_N=N       requests of each redis-benchmark test (default 50000, quick
#                         10000; a run of -P 16 lasts tens of ms at 10000, and the
#                         daemon's work on the records then falls mostly after it:
#                         400000 for the steady state)
#   BENCH_SKIP=a,b        conditions to leave out (untraced floor floor-entry memscope
#                         memscope-noplace memscope-stacks memscope-stacks-fp
#                         memscope-stacks-sampled bpftrace memleak heaptrack inproc
#                         inproc-block inproc-stacks inproc-writer untraced-launched) or
#                         sections (micro bystander python redis replay unwind daemon
#                         writer); floor, memscope-stacks, inproc and inproc-block leave
#                         out those rows of the python and redis sections too, memscope,
#                         floor-entry, heaptrack and inproc-writer those of the redis
#                         section
#   BENCH_FLOOR_POINTS    probe points for the floor instead of memscope-bpf -v's, as floor
#                         arguments: "-e PATH+0xOFF -r PATH:SYMBOL ..."
#   MEMSCOPE_BPF=PATH     the tracer binary (default build/memscope-bpf)
# Output: the table on stdout, progress on stderr, everything in bench/results/latest.json.
# Needs root. Every process it starts is ended by a trap, whatever happens.

set -uo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=${BENCH_OUT:-$ROOT/build/bench}
MS=${MEMSCOPE_BPF:-$ROOT/build/memscope-bpf}
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
if [ -n "$QUICK" ]; then
	ROUNDS=${BENCH_ROUNDS:-2} DUR=${BENCH_DURATION:-0.3} PY_SCALE=1000
	REDIS_N=${BENCH_REDIS_N:-10000}
else
	ROUNDS=${BENCH_ROUNDS:-5} DUR=${BENCH_DURATION:-1} PY_SCALE=2500
	REDIS_N=${BENCH_REDIS_N:-50000}
fi
SKIP=",${BENCH_SKIP:-},"
T_START=$(date +%s)

log() { printf 'bench: [%3ds] %s\n' $(($(date +%s) - T_START)) "$*" >&2; }
die() {
	log "$*"
	exit 1
}
skipped() { [[ $SKIP == *",$1,"* ]]; }

# --- processes we started: every one is ended on exit ---------------------------------------
declare -A LIVE=()
track() { LIVE[$1]=1; }
# stop_pid PID [SIG]: send SIG (default INT), wait up to 10 s, then SIGKILL; reap it
stop_pid() {
	local pid=$1 sig=${2:-INT} i
	[ "$pid" -gt 0 ] 2>/dev/null || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -"$sig" "$pid" 2>/dev/null
		for ((i = 0; i < 200; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	unset "LIVE[$pid]"
	return 0
}
TRACER_PIDS=()
cleanup() {
	local pid ev
	trap - EXIT INT TERM
	[ ${#LIVE[@]} -gt 0 ] && log "ending ${#LIVE[@]} processes (perf-event uprobes take ~0.1 s each to detach)"
	for pid in "${!LIVE[@]}"; do kill -INT "$pid" 2>/dev/null; done
	sleep 0.5
	for pid in "${!LIVE[@]}"; do kill -KILL "$pid" 2>/dev/null; done
	wait 2>/dev/null
	# tracers that attach through tracefs leave entries behind when killed: remove ours
	ev=/sys/kernel/tracing/uprobe_events
	if [ -w $ev ] && [ ${#TRACER_PIDS[@]} -gt 0 ]; then
		for pid in "${TRACER_PIDS[@]}"; do
			grep -o "[^ :/]*_bcc_${pid}\b" $ev 2>/dev/null | while read -r e; do
				echo "-:$e" >>$ev 2>/dev/null
			done
		done
	fi
	[ -n "${WORK:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

# wait_for FILE REGEX SECS PID: until FILE has a line matching REGEX ("" : any content);
# fails when PID dies first or time runs out
wait_for() {
	local f=$1 re=$2 n=$(($3 * 20)) pid=$4 i
	for ((i = 0; i < n; i++)); do
		if [ -z "$re" ]; then [ -s "$f" ] && return 0; else grep -qE "$re" "$f" 2>/dev/null && return 0; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if [ -z "$re" ]; then [ -s "$f" ]; else grep -qE "$re" "$f" 2>/dev/null; fi
}
# wait_probes PID N SECS: until process PID holds N or more BPF perf-event probes
wait_probes() {
	local pid=$1 want=$2 n=$(($3 * 10)) i c
	for ((i = 0; i < n; i++)); do
		c=$(bpftool perf list 2>/dev/null | grep -c "^pid $pid ")
		[ "$c" -ge "$want" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# proc_cpu PID: CPU seconds the threads of PID have run so far, from schedstat (nanoseconds,
# unlike the 10 ms ticks of /proc/PID/stat); "null" when there is no such process
proc_cpu() {
	[ "${1:-0}" -gt 0 ] && [ -d "/proc/$1/task" ] || {
		echo null
		return
	}
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%.6f", t / 1e9 }'
}
# settled_cpu PID: proc_cpu once PID has stopped using CPU (under 1 ms in 100 ms, at most 2 s):
# a tracer still draining its buffers after the workload ended is charged for it
settled_cpu() {
	local a b i
	a=$(proc_cpu "$1")
	for ((i = 0; i < 20; i++)); do
		sleep 0.1
		b=$(proc_cpu "$1")
		[ "$b" = null ] && break
		awk -v a="$a" -v b="$b" 'BEGIN { exit !(b - a < 0.001) }' && break
		a=$b
	done
	echo "$a"
}
now_ns() { date +%s%N; }
# json_num JSON KEY: the number at "KEY": in a flat JSON text
json_num() { grep -oE "\"$2\": *[-0-9.e+]+" <<<"$1" | head -n 1 | sed 's/.*: *//'; }
# "${WL_ENV[@]}" CMD: CMD with SIGINT back (background jobs of a script ignore it), so the bench
# can end workloads and tracers with SIGINT; an array, not a function, so that $! is CMD's pid
WL_ENV=(env --default-signal=INT)
# spawn PREFIX CMD...: start a tracer in the background, output to PREFIX.out and PREFIX.err;
# sets TPID
spawn() {
	local pre=$1
	shift
	"${WL_ENV[@]}" "$@" >"$pre.out" 2>"$pre.err" &
	TPID=$!
	track $TPID
	TRACER_PIDS+=($TPID)
}
json_str() { $PY -c 'import json,sys; print(json.dumps(sys.stdin.read().rstrip("\n")))'; }
tail_err() { tail -n 3 "$1" 2>/dev/null | tr '\n' ' ' | cut -c1-300; }

# --- preconditions -------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root: BPF programs and uprobes"
[ -x "$MS" ] || die "no tracer at $MS: run make first"

ARCH_DEB=$(dpkg --print-architecture 2>/dev/null || echo amd64)
PKGS="bpfcc-tools linux-headers-$ARCH_DEB heaptrack redis-server redis-tools bpftrace python3
	clang llvm libbpf-dev bpftool"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=" $p"
done
if [ -n "$missing" ]; then
	log "installing:$missing"
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing; } >&2 ||
		log "cannot install some of:$missing (their rows will say unavailable)"
fi

make -s -C "$BENCH" OUT="$OUT" >&2 || die "cannot build the bench programs"

WORK=$(mktemp -d /tmp/memscope-bench.XXXXXX)
META=$WORK/meta
RUNS=$WORK/runs.jsonl
mkdir -p "$META" "$WORK/lib"
: >"$RUNS"
note() {
	log "note: $*"
	printf '%s\n' "$*" >>"$META/notes"
}

SYSLIBC=$(ldd "$OUT/pairs" | awk '/libc\.so/ { print $3 }')
[ -f "$SYSLIBC" ] || die "cannot find the libc the workloads use"
cp "$SYSLIBC" "$WORK/lib/" || die "cannot copy $SYSLIBC"
PLIBC_DIR=$WORK/lib
PLIBC=$PLIBC_DIR/$(basename "$SYSLIBC")
log "private libc: $PLIBC (copy of $SYSLIBC)"
# a copy of the tracer: a rebuild in the work tree during the run must not swap it mid-way
MS_COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || echo -dirty)"
cp "$MS" "$WORK/memscope-bpf" || die "cannot copy $MS"
# --in-process finds its library next to the binary, and the library of each allocator
# family the command loads (redis-server: jemalloc) beside it
for lib in "$(dirname "$MS")"/libmemscope-preload*.so; do
	[ -f "$lib" ] && cp "$lib" "$WORK/"
done
MS_ORIG=$MS
MS=$WORK/memscope-bpf

# --- other tracers on libc ------------------------------------------------------------------
bpftool perf list >"$META/perf_list_before" 2>&1
echo "bpftool perf list (before timing):" >&2
if [ -s "$META/perf_list_before" ]; then sed 's/^/  /' "$META/perf_list_before" >&2; else echo "  (empty)" >&2; fi
others=$(grep -E 'libc[.-][^ ]*\.so|libc\.so' "$META/perf_list_before" | awk '{ print $2 }' | sort -u)
if [ -n "$others" ]; then
	for pid in $others; do
		note "before timing: another tracer, pid $pid ($(cat /proc/"$pid"/comm 2>/dev/null || echo gone)), has $(grep -c "^pid $pid .*libc" "$META/perf_list_before") probes on a libc: if it traces every process, it slows the system-libc rows (bystander, python, redis) and may find the private copy (such runs are not counted)"
	done
fi

# --- the probe points memscope-bpf chooses --------------------------------------------------
# sym_off LIB SYMBOL: file offset of SYMBOL's definition in LIB
sym_off() {
	local va off v sz
	va=$(readelf -sW --dyn-syms "$1" 2>/dev/null |
		awk -v s="$2" '$8 == s || index($8, s "@") == 1 { if ($2 !~ /^0+$/) { print $2; exit } }')
	[ -n "$va" ] || return 1
	va=$((16#$va))
	while read -r off v sz; do
		if ((va >= v && va < v + sz)); then
			echo $((va - v + off))
			return 0
		fi
	done < <(readelf -lW "$1" | awk '$1 == "LOAD" { print $2, $3, $5 }')
	return 1
}

# The floor attaches where and how memscope-bpf attaches: every uprobe and uretprobe of a
# memscope-bpf -v -p run, as its probe lines give them (offsets in the file, "with a return
# probe"), through uprobe_multi links when memscope-bpf uses them (-m). floor-entry puts the
# same probes at the functions' entries (+0) as perf-event uprobes, where and how bpftrace
# and bcc put theirs.
FLOOR_ARGS=() FLOOR_MULTI=() ENTRY_ARGS=() POINT_NAMES=() PLACED=
# v_points FILE: the probes of memscope-bpf -v's lines in FILE, one per line, tab-separated:
# RET (1: with a return probe) PATH OFFSET ENTRY_OFFSET NAME (file offsets in decimal; the
# loader probe's NAME is "loader"). The lines: "memscope-bpf: probe NAME [(ALLOCATOR)] at
# [/proc/W/root]PATH+0xOFF (entry+0xN...) [with a return probe] ..." and "memscope-bpf:
# loader probe at [/proc/W/root]PATH+0xOFF ..."
v_points() {
	local re='^memscope-bpf: (loader probe|probe (.+)) at (/proc/[0-9]+/root)?([^ ]+)\+0x([0-9a-fA-F]+)( [(]entry\+0x([0-9a-fA-F]+))?'
	local line name off ret
	while read -r line; do
		[[ $line =~ $re ]] || continue
		name=${BASH_REMATCH[2]:-loader} off=$((16#${BASH_REMATCH[5]}))
		ret=0
		[[ $line == *" with a return probe"* ]] && ret=1
		printf '%s\t%s\t%s\t%s\t%s\n' $ret "${BASH_REMATCH[4]}" $off \
			$((off - 16#${BASH_REMATCH[7]:-0})) "${name% (*}"
	done <"$1"
}
discover_points() {
	local w pre=$WORK/discover name off first sym
	rm -f "$pre".*
	"${WL_ENV[@]}" LD_LIBRARY_PATH=$PLIBC_DIR "$OUT/pairs" -r "$pre.ready" -o /dev/null >/dev/null 2>&1 &
	w=$!
	track $w
	wait_for "$pre.ready" "" 20 $w || die "the pairs workload did not start"
	spawn "$pre" "$MS" -v -p $w
	wait_for "$pre.err" attached 60 $TPID || die "memscope-bpf -v -p did not attach: $(tail_err "$pre.err")"
	bpftool perf list 2>/dev/null | grep "^pid $TPID .*filename" >"$META/memscope_perf_list"
	bpftool link list 2>/dev/null >"$META/memscope_link_list"
	stop_pid $TPID INT
	stop_pid $w INT
	grep -E '^memscope-bpf: (loader )?probe ' "$pre.err" >"$META/memscope_points"
	[ -s "$META/memscope_points" ] ||
		die "memscope-bpf -v -p printed no probe lines: $(tail_err "$pre.err")"
	grep -q '^memscope-bpf: probes attach as uprobe_multi links' "$pre.err" && FLOOR_MULTI=(-m)
	log "memscope-bpf's probe points ($(grep -o 'probes attach as [^(]*' "$pre.err")):"
	sed 's/^/  /' "$META/memscope_points" >&2
	local file ret at
	while IFS=$'\t' read -r ret file off at name; do
		# the return probe first, as memscope-bpf attaches them
		[ $ret = 1 ] && FLOOR_ARGS+=(-r "$file+$(printf 0x%x "$off")")
		FLOOR_ARGS+=(-e "$file+$(printf 0x%x "$off")")
		[ "$file" = "$PLIBC" ] || continue # the workloads call libc only
		first=${name%%/*}
		POINT_NAMES+=("$first")
		ENTRY_ARGS+=(-e "$PLIBC:$first")
		# a return probe at the entry wherever memscope-bpf has one for this function
		[ $ret = 1 ] && ENTRY_ARGS+=(-r "$PLIBC:$first")
		sym=$(sym_off "$PLIBC" "$first") || sym=
		if [ -n "$sym" ] && [ "$sym" != "$off" ]; then
			PLACED+="$first+$((off - sym)) "
		fi
	done < <(v_points "$META/memscope_points")
	[ ${#POINT_NAMES[@]} -gt 0 ] ||
		die "cannot read memscope-bpf -v's probe lines (has their format changed?): $(head -n 1 "$META/memscope_points")"
	if [ -n "${BENCH_FLOOR_POINTS:-}" ]; then
		read -r -a FLOOR_ARGS <<<"$BENCH_FLOOR_POINTS"
		note "floor probe points from BENCH_FLOOR_POINTS: $BENCH_FLOOR_POINTS"
	fi
	[ ${#FLOOR_ARGS[@]} -gt 0 ] || die "cannot read memscope-bpf -v's probe lines: $(head -n 1 "$META/memscope_points")"
	log "floor: ${FLOOR_MULTI[*]} ${FLOOR_ARGS[*]}"
	log "floor-entry: ${ENTRY_ARGS[*]}"
	echo "${FLOOR_ARGS[*]}" >"$META/floor_args"
	echo "${ENTRY_ARGS[*]}" >"$META/floor_entry_args"
	if [ -n "$PLACED" ]; then
		log "memscope-bpf moves entry probes: $PLACED"
		echo "$PLACED" >"$META/placed"
	fi
}

HELP=$("$MS" --help 2>&1)
has_opt() { grep -q -- "$1" <<<"$HELP"; }

# bpftrace programs: pairs gets the three probes (malloc entry and return, free entry); mix gets
# the same set memscope-bpf has (entry and return for every allocating function, free's entry)
bt_script() {
	local f=$1 full=$2 n
	echo 'BEGIN { printf("attached\n"); }' >"$f"
	if [ "$full" = 0 ]; then
		printf 'uprobe:%s:malloc /pid == $1/ { }\nuretprobe:%s:malloc /pid == $1/ { }\n' "$PLIBC" "$PLIBC" >>"$f"
		printf 'uprobe:%s:free /pid == $1/ { }\n' "$PLIBC" >>"$f"
		return
	fi
	for n in "${POINT_NAMES[@]}"; do
		printf 'uprobe:%s:%s /pid == $1/ { }\n' "$PLIBC" "$n" >>"$f"
		[ "$n" = free ] || [ "$n" = cfree ] || printf 'uretprobe:%s:%s /pid == $1/ { }\n' "$PLIBC" "$n" >>"$f"
	done
}
discover_points
bt_script "$WORK/bt-pairs.bt" 0
bt_script "$WORK/bt-mix.bt" 1

# bcc compiles memleak's BPF at run time against kernel headers: Debian ships them for its own
# kernel, in a common and an arch part; BCC_KERNEL_SOURCE wants them as one tree
KSRC=
make_ksrc() {
	local common arch ver
	common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n 1)
	[ -n "$common" ] || return 1
	ver=${common#/usr/src/linux-headers-}
	ver=${ver%-common}
	arch=/usr/src/linux-headers-$ver-$ARCH_DEB
	[ -d "$arch" ] || return 1
	KSRC=/tmp/memscope-bench-kheaders-$ver
	if [ ! -f "$KSRC/.merged" ]; then
		log "merging $common and $arch into $KSRC for bcc"
		rm -rf "$KSRC" && mkdir -p "$KSRC" &&
			cp -a "$common/." "$KSRC/" && cp -a "$arch/." "$KSRC/" && touch "$KSRC/.merged" || return 1
	fi
}
make_ksrc || note "memleak: no Debian kernel headers to merge; it compiles against whatever bcc finds"

# --- conditions -----------------------------------------------------------------------------
MICRO_CONDS=(untraced floor)
[ -n "$PLACED" ] && MICRO_CONDS+=(floor-entry)
MICRO_CONDS+=(memscope)
if has_opt --no-placement; then MICRO_CONDS+=(memscope-noplace); else note "memscope-bpf has no --no-placement: row left out"; fi
if has_opt --stacks; then MICRO_CONDS+=(memscope-stacks); else note "memscope-bpf has no --stacks yet: row left out"; fi
if has_opt --stack-unwind; then MICRO_CONDS+=(memscope-stacks-fp); else note "memscope-bpf has no --stack-unwind: row left out"; fi
if has_opt --sample-bytes; then MICRO_CONDS+=(memscope-stacks-sampled); else note "memscope-bpf has no --sample-bytes: row left out"; fi
MICRO_CONDS+=(bpftrace memleak heaptrack)
if has_opt --in-process; then MICRO_CONDS+=(inproc inproc-block); else note "memscope-bpf has no --in-process: rows left out"; fi
# --stacks for a launched command, walked in the process (against memscope-stacks: the BPF
# programs' walk, as -p and --bpf --stacks -- take it, and heaptrack's, libunwind too)
if has_opt --in-process && has_opt --stacks && has_opt 'walked in the process'; then
	MICRO_CONDS+=(inproc-stacks)
else
	note "memscope-bpf does not walk stacks in the process: inproc-stacks row left out"
fi
conds=()
for c in "${MICRO_CONDS[@]}"; do skipped "$c" || conds+=("$c"); done
MICRO_CONDS=("${conds[@]}")
declare -A UNAVAIL=() # condition -> why it cannot run (after its second failure)
declare -A FAILS=()   # condition -> failures to attach so far

# start_tracer COND WPID PREFIX WORKLOAD: start COND's tracer on WPID, wait until attached.
# Sets TPID (0 when the condition has none); returns 1 with TR_ERR set on failure.
TPID=0 TR_ERR=
start_tracer() {
	local cond=$1 w=$2 pre=$3 wl=$4 n
	TPID=0 TR_ERR=
	case $cond in
	untraced | untraced-sys | heaptrack | inproc*) return 0 ;;
	floor) spawn "$pre" "$OUT/floor" -p "$w" "${FLOOR_MULTI[@]}" "${FLOOR_ARGS[@]}" ;;
	floor-entry) spawn "$pre" "$OUT/floor" -p "$w" "${ENTRY_ARGS[@]}" ;;
	memscope | bystander) spawn "$pre" "$MS" -v --json -i 100000 -p "$w" ;;
	memscope-noplace) spawn "$pre" "$MS" -v --json -i 100000 --no-placement -p "$w" ;;
	memscope-stacks) spawn "$pre" "$MS" -v --json -i 100000 --stacks -p "$w" ;;
	memscope-stacks-fp) spawn "$pre" "$MS" -v --json -i 100000 --stacks --stack-unwind fp -p "$w" ;;
	memscope-stacks-sampled) spawn "$pre" "$MS" -v --json -i 100000 --stacks --sample-bytes 524288 -p "$w" ;;
	bpftrace) spawn "$pre" bpftrace "$WORK/bt-$wl.bt" "$w" ;;
	memleak) spawn "$pre" PYTHONUNBUFFERED=1 ${KSRC:+BCC_KERNEL_SOURCE=$KSRC} memleak-bpfcc -p "$w" ;;
	*) die "unknown condition $cond" ;;
	esac
	case $cond in
	floor*) wait_for "$pre.err" 'attached' 30 $TPID ;;
	memscope* | bystander) wait_for "$pre.err" 'attached' 60 $TPID ;;
	bpftrace)
		n=$(grep -c '^u' "$WORK/bt-$wl.bt")
		wait_for "$pre.out" '^attached' 120 $TPID && wait_probes $TPID "$n" 30
		;;
	memleak) # it says "Attaching" before it attaches: count its probes (20 on glibc)
		wait_for "$pre.out" 'Attaching to pid' 180 $TPID && wait_probes $TPID 20 60
		;;
	esac && return 0
	TR_ERR="$cond did not attach: $(tail_err "$pre.err")"
	stop_pid $TPID KILL
	TPID=0
	return 1
}

# record GROUP WORKLOAD THREADS COND ROUND OK ERROR RESULT CPU FINAL PROBES: one JSON line
# (with FOREIGN, the most probes other tracers held on the run's libc before or after the timed
# part, and CONTAM, whether the run was disturbed by them and must not count)
FOREIGN=null CONTAM=false
record() {
	printf '{"group":"%s","workload":"%s","threads":%s,"cond":"%s","round":%s,"ok":%s,"error":%s,"result":%s,"tracer_cpu_s":%s,"tracer_final":%s,"probes":%s,"foreign_probes":%s,"contaminated":%s}\n' \
		"$1" "$2" "$3" "$4" "$5" "$6" "$7" "${8:-null}" "${9:-null}" "${10:-null}" "${11:-null}" "${FOREIGN:-null}" "${CONTAM:-false}" >>"$RUNS"
}
fail() { # GROUP WORKLOAD THREADS COND ROUND REASON
	log "  $4: $6"
	record "$1" "$2" "$3" "$4" "$5" false "$(printf '%s' "$6" | json_str)"
}

# run_micro GROUP WORKLOAD THREADS COND ROUND: one timed run of a workload under a condition
run_micro() {
	local group=$1 wl=$2 t=$3 cond=$4 round=$5 pre=$WORK/run lib=$PLIBC_DIR
	local w hp=0 idle=0 c0 c1 cpu=null final=null probes=null res
	rm -f "$pre".* "$pre"-idle.*
	FOREIGN=null CONTAM=false
	if [ -n "${UNAVAIL[$cond]:-}" ]; then
		record "$group" "$wl" "$t" "$cond" "$round" false "$(printf '%s' "${UNAVAIL[$cond]}" | json_str)"
		return
	fi
	case $cond in untraced-sys | bystander) lib= ;; esac
	if [ "$cond" = bystander ]; then
		# an idle process on the system libc traced by memscope-bpf -p; the workload is not traced
		"${WL_ENV[@]}" "$OUT/pairs" -r "$pre-idle.ready" -o /dev/null >/dev/null 2>&1 &
		idle=$!
		track $idle
		wait_for "$pre-idle.ready" "" 20 $idle || {
			fail "$group" "$wl" "$t" "$cond" "$round" "the idle process did not start"
			stop_pid $idle INT
			return
		}
		if ! start_tracer bystander $idle "$pre" "$wl"; then
			fail "$group" "$wl" "$t" "$cond" "$round" "$TR_ERR"
			stop_pid $idle INT
			return
		fi
	fi
	if [ "$cond" = heaptrack ]; then
		"${WL_ENV[@]}" LD_LIBRARY_PATH=$lib heaptrack -o "$pre.heaptrack" "$OUT/$wl" -t "$t" -d "$DUR" \
			-r "$pre.ready" -o "$pre.wl" >"$pre.out" 2>"$pre.err" &
		hp=$!
		track $hp
		if ! wait_for "$pre.ready" "" 60 $hp; then
			UNAVAIL[$cond]="heaptrack did not start the workload: $(tail_err "$pre.err")"
			fail "$group" "$wl" "$t" "$cond" "$round" "${UNAVAIL[$cond]}"
			stop_pid $hp KILL
			return
		fi
		w=$(cat "$pre.ready")
		track "$w" # heaptrack's child: killed on exit too
	elif [[ $cond == inproc* ]]; then
		# memscope-bpf starts the workload with its library preloaded; it ends with it
		local mode==lossy
		[ "$cond" = inproc-block ] && mode==block
		[ "$cond" = inproc-stacks ] && mode="=block --stacks"
		# shellcheck disable=SC2086 # mode: the option, then --stacks for inproc-stacks
		"${WL_ENV[@]}" LD_LIBRARY_PATH=$lib "$MS" -v --json -i 100000 --in-process$mode -- \
			"$OUT/$wl" -t "$t" -d "$DUR" -r "$pre.ready" -o "$pre.wl" >"$pre.out" 2>"$pre.err" &
		hp=$!
		track $hp
		TRACER_PIDS+=($hp)
		if ! wait_for "$pre.ready" "" 60 $hp; then
			fail "$group" "$wl" "$t" "$cond" "$round" "the workload did not start: $(tail_err "$pre.err")"
			stop_pid $hp KILL
			return
		fi
		w=$(cat "$pre.ready")
		track "$w"
	else
		"${WL_ENV[@]}" LD_LIBRARY_PATH=$lib "$OUT/$wl" -t "$t" -d "$DUR" -r "$pre.ready" -o "$pre.wl" \
			>/dev/null 2>"$pre.wlerr" &
		w=$!
		track $w
		if ! wait_for "$pre.ready" "" 20 $w; then
			fail "$group" "$wl" "$t" "$cond" "$round" "the workload did not start: $(tail_err "$pre.wlerr")"
			stop_pid $w INT
			return
		fi
	fi
	if [ "$cond" != bystander ] && ! start_tracer "$cond" "$w" "$pre" "$wl"; then
		# a tracer that fails twice will not attach later: say so in every round after
		cp "$pre.err" "$META/error-$cond-$wl-$t-r$round" 2>/dev/null
		FAILS[$cond]=$((${FAILS[$cond]:-0} + 1))
		[ "${FAILS[$cond]}" -ge 2 ] && UNAVAIL[$cond]="$TR_ERR (failed twice: left out)"
		fail "$group" "$wl" "$t" "$cond" "$round" "$TR_ERR"
		stop_pid $w INT
		return
	fi
	local scope=private f1
	[ -z "$lib" ] && scope=system
	FOREIGN=$(foreign_probes $scope)
	[[ $cond == inproc* ]] && c0=$(proc_cpu $hp) || c0=$(proc_cpu $TPID)
	kill -USR1 "$w"
	if [[ $cond == inproc* ]]; then
		# the tracer's CPU when the workload has ended (it then reads what is left, exits)
		while kill -0 "$w" 2>/dev/null; do sleep 0.05; done
		c1=$(proc_cpu $hp)
		wait $hp
		unset "LIVE[$hp]" "LIVE[$w]"
		[ "$c0" != null ] && [ "$c1" != null ] && cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.6f", b - a }')
		final=$(grep '"type":"final"' "$pre.out" | tail -n 1)
		[ -n "$final" ] || final=null
	elif [ $hp -gt 0 ]; then
		wait $hp
		unset "LIVE[$hp]" "LIVE[$w]"
	else
		wait "$w"
		unset "LIVE[$w]"
	fi
	if [ $TPID -gt 0 ]; then
		c1=$(settled_cpu $TPID)
		[ "$c0" != null ] && [ "$c1" != null ] && cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.6f", b - a }')
		stop_pid $TPID INT
		case $cond in memscope* | bystander)
			final=$(grep '"type":"final"' "$pre.out" | tail -n 1)
			[ -n "$final" ] || final=null
			probes=$(grep '^memscope-bpf: probe ' "$pre.err" | json_str)
			;;
		esac
	fi
	[ $idle -gt 0 ] && stop_pid $idle INT
	f1=$(foreign_probes $scope)
	[ "$f1" -gt "$FOREIGN" ] && FOREIGN=$f1
	res=$(cat "$pre.wl" 2>/dev/null)
	if [ -z "$res" ]; then
		fail "$group" "$wl" "$t" "$cond" "$round" "the workload printed no result: $(tail_err "$pre.wlerr") $(tail_err "$pre.err")"
		return
	fi
	# disturbed: another tracer probed our private libc, or an untraced run was hit by uprobes
	# while another tracer had probes on its libc (without one, the hit is a finding: kept)
	if [ $scope = private ] && [ "$FOREIGN" -gt 0 ]; then
		CONTAM=true
	elif [ "$(json_num "$res" uprobes_mapped)" = 1 ] && [ "$FOREIGN" -gt 0 ]; then
		case $cond in untraced* | heaptrack | bystander) CONTAM=true ;; esac
	fi
	record "$group" "$wl" "$t" "$cond" "$round" true null "$res" "$cpu" "$final" "$probes"
	log "$(printf '  %-17s %12s ns wall %12s ns cpu  tracer cpu %s s%s' "$cond" \
		"$(json_num "$res" wall_ns_per_op)" "$(json_num "$res" cpu_ns_per_op)" "${cpu/null/-}" \
		"$([ $CONTAM = true ] && echo "  (other tracers on this libc: $FOREIGN probes; not counted)")")"
}

# foreign_probes private|system: perf-event probes that processes other than the tracers we
# started hold on our private libc copy (a tracer of every process finds it too) or on the
# other libcs; they slow the rows that run on that libc
foreign_probes() {
	bpftool perf list 2>/dev/null | grep -E 'filename [^ ]*libc[.-]' |
		if [ "$1" = private ]; then grep -F "$PLIBC"; else grep -vF "$PLIBC"; fi |
		awk -v mine=" ${TRACER_PIDS[*]} " 'index(mine, " " $2 " ") == 0' | wc -l
}
# check_others WHEN: note tracers not ours holding probes on a libc, and the load average
check_others() {
	local list
	echo "$1: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$META/loadavg_rounds"
	list=$(bpftool perf list 2>/dev/null | grep -E 'filename [^ ]*libc[.-]' |
		awk -v mine=" ${TRACER_PIDS[*]} " 'index(mine, " " $2 " ") == 0 { n[$2]++ }
			END { for (p in n) printf "%s:%d ", p, n[p] }')
	[ -n "$list" ] || return 0
	note "after $1: other tracers with probes on a libc: $(for x in $list; do
		printf '%s (%s, %s probes) ' "${x%%:*}" "$(cat /proc/"${x%%:*}"/comm 2>/dev/null || echo gone)" "${x##*:}"
	done)"
}

# rotate N ITEMS...: the items, starting at index N mod count
rotate() {
	local n=$1
	shift
	local a=("$@") k=${#a[@]} i
	for ((i = 0; i < k; i++)); do echo "${a[$(((i + n) % k))]}"; done
}

# --- real programs --------------------------------------------------------------------------
PY_CONDS=(untraced memscope)
# the floor for python: memscope-bpf's probe points in the private libc, as floor arguments
PY_FLOOR_ARGS=()
for ((i = 0; i + 1 < ${#FLOOR_ARGS[@]}; i += 2)); do
	[[ ${FLOOR_ARGS[i + 1]} == "$PLIBC+"* ]] && PY_FLOOR_ARGS+=("${FLOOR_ARGS[i]}" "${FLOOR_ARGS[i + 1]}")
done
[ ${#PY_FLOOR_ARGS[@]} -gt 0 ] && ! skipped floor && PY_CONDS+=(floor)
has_opt --preset && PY_CONDS+=(memscope-pymalloc)
has_opt --in-process && ! skipped inproc && PY_CONDS+=(inproc)
has_opt --in-process && ! skipped inproc-block && PY_CONDS+=(inproc-block)
has_opt --preset || note "memscope-bpf has no --preset yet: the pymalloc row is left out"
# what --stacks costs, and how many of its stacks reach the thread's start, on a real program:
# CPython's interpreter frames and redis' event loop, not the micro loops' two frames
has_opt --stacks && ! skipped memscope-stacks && PY_CONDS+=(memscope-stacks)
run_python() {
	local cond=$1 round=$2 pre=$WORK/py t0 t1 final=null res p
	rm -f "$pre".*
	FOREIGN=$(foreign_probes system) CONTAM=false
	t0=$(now_ns)
	case $cond in
	untraced) env PYTHONHASHSEED=0 $PY -S "$BENCH/py_alloc.py" "$pre.res" $PY_SCALE >"$pre.out" 2>"$pre.err" & ;;
	memscope) "${WL_ENV[@]}" PYTHONHASHSEED=0 "$MS" --json -i 100000 --bpf -- $PY -S "$BENCH/py_alloc.py" "$pre.res" $PY_SCALE >"$pre.out" 2>"$pre.err" & ;;
	memscope-pymalloc) "${WL_ENV[@]}" PYTHONHASHSEED=0 "$MS" --json -i 100000 --bpf --preset pymalloc -- $PY -S "$BENCH/py_alloc.py" "$pre.res" $PY_SCALE >"$pre.out" 2>"$pre.err" & ;;
	memscope-stacks) "${WL_ENV[@]}" PYTHONHASHSEED=0 "$MS" --json -i 100000 --bpf --stacks -- $PY -S "$BENCH/py_alloc.py" "$pre.res" $PY_SCALE >"$pre.out" 2>"$pre.err" & ;;
	inproc) "${WL_ENV[@]}" PYTHONHASHSEED=0 "$MS" --json -i 100000 --in-process=lossy -- $PY -S "$BENCH/py_alloc.py" "$pre.res" $PY_SCALE >"$pre.out" 2>"$pre.err" & ;;
	inproc-block) "${WL_ENV[@]}" PYTHONHASHSEED=0 "$MS" --json -i 100000 --in-process=block -- $PY -S "$BENCH/py_alloc.py" "$pre.res" $PY_SCALE >"$pre.out" 2>"$pre.err" & ;;
	floor)
		# the empty programs at memscope-bpf's libc points, the way it attaches, on the
		# private libc copy (in every process: only this python maps that file)
		spawn "$pre.floor" "$OUT/floor" "${FLOOR_MULTI[@]}" "${PY_FLOOR_ARGS[@]}"
		if ! wait_for "$pre.floor.err" attached 30 $TPID; then
			fail python py_alloc 1 "$cond" "$round" "floor did not attach: $(tail_err "$pre.floor.err")"
			stop_pid $TPID INT
			return
		fi
		t0=$(now_ns)
		env LD_LIBRARY_PATH=$PLIBC_DIR PYTHONHASHSEED=0 $PY -S "$BENCH/py_alloc.py" "$pre.res" $PY_SCALE >"$pre.out" 2>"$pre.err" &
		;;
	esac
	p=$!
	track $p
	TRACER_PIDS+=($p)
	wait $p
	unset "LIVE[$p]"
	t1=$(now_ns)
	[ "$cond" = floor ] && stop_pid $TPID INT
	res=$(cat "$pre.res" 2>/dev/null)
	if [ -z "$res" ]; then
		fail python py_alloc 1 "$cond" "$round" "no result: $(tail_err "$pre.err")"
		return
	fi
	if [ "$cond" != untraced ] && [ "$cond" != floor ]; then
		final=$(grep '"type":"final"' "$pre.out" | tail -n 1)
		[ -n "$final" ] || final=null
	fi
	[ "$cond" = untraced ] && [ "$(json_num "$res" uprobes_mapped)" = 1 ] && [ "$FOREIGN" -gt 0 ] && CONTAM=true
	res="{\"script\":$res,\"command_wall_s\":$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')}"
	record python py_alloc 1 "$cond" "$round" true null "$res" null "$final" null
	log "  $(printf '%-17s' "$cond") $res"
}

# every redis-server of the section, the long-lived one and the launched ones, after --port
REDIS_OPTS=(--bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$WORK")
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_pong PORT PID SECS: until a redis-server on PORT answers PING; fails when PID (the
# server or the command that starts it) dies first or time runs out
wait_pong() {
	local port=$1 pid=$2 n=$(($3 * 10)) i
	for ((i = 0; i < n; i++)); do
		redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# the libraries memscope-bpf -- redis-server preloads, as it says (the inproc-writer row's)
REDIS_INPROC_LIBS=
REDIS_PID=0 REDIS_PORT=0
start_redis() {
	REDIS_PORT=$(free_port)
	redis-server --port "$REDIS_PORT" "${REDIS_OPTS[@]}" --logfile "$WORK/redis.log" &
	REDIS_PID=$!
	track $REDIS_PID
	wait_pong "$REDIS_PORT" $REDIS_PID 10
}
# redis_points: memscope-bpf -v -p redis-server's probe points, for the floor rows: at the
# points and through the links memscope-bpf uses (REDIS_FLOOR), and at the functions' entries
# as perf-event uprobes (REDIS_ENTRY), the issue's "empty programs at the function entries"
REDIS_FLOOR=() REDIS_ENTRY=()
redis_points() {
	local pre=$WORK/redis-discover file off at ret name
	rm -f "$pre".*
	spawn "$pre" "$MS" -v -q -p $REDIS_PID
	if ! wait_for "$pre.err" attached 60 $TPID; then
		stop_pid $TPID INT
		return 1
	fi
	stop_pid $TPID INT
	grep -q '^memscope-bpf: probes attach as uprobe_multi links' "$pre.err" && REDIS_FLOOR=(-m)
	while IFS=$'\t' read -r ret file off at name; do
		[ $ret = 1 ] && REDIS_FLOOR+=(-r "$file+$(printf 0x%x $off)")
		REDIS_FLOOR+=(-e "$file+$(printf 0x%x $off)")
		[ $ret = 1 ] && REDIS_ENTRY+=(-r "$file+$(printf 0x%x $at)")
		REDIS_ENTRY+=(-e "$file+$(printf 0x%x $at)")
	done < <(v_points "$pre.err")
	echo "${REDIS_FLOOR[*]}" >"$META/redis_floor_args"
	echo "${REDIS_ENTRY[*]}" >"$META/redis_floor_entry_args"
	[ ${#REDIS_ENTRY[@]} -gt 0 ]
}
run_redis() {
	local cond=$1 pl=$2 round=$3 pre=$WORK/redis c0 c1 cpu=null final=null probes=null res
	rm -f "$pre".*
	TPID=0
	redis-cli -p "$REDIS_PORT" flushall >/dev/null 2>&1
	case $cond in memscope*)
		if ! start_tracer "$cond" $REDIS_PID "$pre" redis; then
			fail "redis-P$pl" redis 1 "$cond" "$round" "$TR_ERR"
			return
		fi
		;;
	esac
	case $cond in floor | floor-entry)
		if [ "$cond" = floor ]; then
			spawn "$pre" "$OUT/floor" -p $REDIS_PID "${REDIS_FLOOR[@]}"
		else
			spawn "$pre" "$OUT/floor" -p $REDIS_PID "${REDIS_ENTRY[@]}"
		fi
		if ! wait_for "$pre.err" attached 60 $TPID; then
			fail "redis-P$pl" redis 1 "$cond" "$round" "floor did not attach: $(tail_err "$pre.err")"
			stop_pid $TPID INT
			return
		fi
		;;
	esac
	FOREIGN=$(foreign_probes system) CONTAM=false
	c0=$(proc_cpu $TPID)
	redis_bench "$REDIS_PORT" "$pl" "$pre"
	case $cond in floor*) stop_pid $TPID INT ;; esac
	if [[ $cond == memscope* ]]; then
		c1=$(settled_cpu $TPID)
		[ "$c0" != null ] && [ "$c1" != null ] && cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.6f", b - a }')
		stop_pid $TPID INT
		final=$(grep '"type":"final"' "$pre.out" | tail -n 1)
		[ -n "$final" ] || final=null
		probes=$(grep '^memscope-bpf: probe ' "$pre.err" | json_str)
	fi
	res=$(redis_result $REDIS_PID "$pre.csv") || {
		fail "redis-P$pl" redis 1 "$cond" "$round" "redis-benchmark failed: $(tail_err "$pre.bmerr")"
		return
	}
	record "redis-P$pl" redis 1 "$cond" "$round" true null "$res" "$cpu" "$final" "$probes"
	log "  $(printf '%-17s' "$cond") -P $pl $res tracer cpu ${cpu/null/-} s"
}
# redis_bench PORT PL PRE: the section's redis-benchmark run against PORT with -P PL; its CSV
# in PRE.csv, its errors in PRE.bmerr
redis_bench() {
	redis-benchmark -h 127.0.0.1 -p "$1" -t set,get,lpush,lpop -c 20 -n "$REDIS_N" \
		-P "$2" --csv >"$3.csv" 2>"$3.bmerr"
}
# redis_result PID CSV: a redis_bench run's result object; fails when the CSV has no test.
# "test","rps",...: the throughput of the four tests together is 4 / sum(1 / rps); the pid
# picks redis-server out of the final record's processes
redis_result() {
	awk -F'","' -v pid="$1" 'NR > 1 { gsub(/"/, "", $1); r[$1] = $2 + 0; inv += 1 / ($2 + 0); n++ }
		END { if (!n) exit 1; printf "{\"pid\":%d,\"rps\":%.1f,\"tests\":{", pid, n / inv; s = ""
		      for (k in r) { printf "%s\"%s\":%.1f", s, k, r[k]; s = "," } printf "}}" }' "$2"
}

# run_redis_launched COND PL ROUND: one redis_bench run against a redis-server started for it
# alone (the long-lived server's options, a port of its own) by COND's command:
# untraced-launched: none; heaptrack: heaptrack -o FILE; inproc, inproc-block: memscope-bpf
# --in-process=lossy|block --, which cannot attach to a running server; inproc-writer: the
# libraries inproc preloads, under bench/writer.c's reader that reads every record and keeps
# no statistics (the in-process cost apart from the daemon's). Then `redis-cli shutdown
# nosave`: the command ends with the server, memscope-bpf after its final record. The
# server's start-up and shutdown are outside the timed part but inside the tracer's counts.
run_redis_launched() {
	local cond=$1 pl=$2 round=$3 pre=$WORK/redis-launched port lp rp c0 c1 cpu=null final=null
	local res why srv line lost=
	rm -f "$pre".*
	TPID=0 FOREIGN=null CONTAM=false
	if [ -n "${UNAVAIL[redis-$cond]:-}" ]; then
		record "redis-P$pl" redis 1 "$cond" "$round" false "$(printf '%s' "${UNAVAIL[redis-$cond]}" | json_str)"
		return
	fi
	port=$(free_port)
	srv=(redis-server --port "$port" "${REDIS_OPTS[@]}" --logfile "$pre.log")
	case $cond in
	untraced-launched) "${WL_ENV[@]}" "${srv[@]}" >"$pre.out" 2>"$pre.err" & ;;
	heaptrack) "${WL_ENV[@]}" heaptrack -o "$pre.heaptrack" "${srv[@]}" >"$pre.out" 2>"$pre.err" & ;;
	inproc) "${WL_ENV[@]}" "$MS" --json -i 100000 --in-process=lossy -- "${srv[@]}" >"$pre.out" 2>"$pre.err" & ;;
	inproc-block) "${WL_ENV[@]}" "$MS" --json -i 100000 --in-process=block -- "${srv[@]}" >"$pre.out" 2>"$pre.err" & ;;
	inproc-writer) "${WL_ENV[@]}" "$OUT/writer" -l "$REDIS_INPROC_LIBS" -m read -- "${srv[@]}" >"$pre.out" 2>"$pre.err" & ;;
	*) die "unknown condition $cond" ;;
	esac
	lp=$!
	track $lp
	[[ $cond == inproc* ]] && TPID=$lp && TRACER_PIDS+=($lp)
	if ! wait_pong "$port" $lp 60; then
		# a command that fails twice will not start the server later: say so in every round after
		why="redis-server did not answer under $cond: $(tail_err "$pre.err") $(tail_err "$pre.log")"
		FAILS[redis-$cond]=$((${FAILS[redis-$cond]:-0} + 1))
		[ "${FAILS[redis-$cond]}" -ge 2 ] && UNAVAIL[redis-$cond]="$why (failed twice: left out)"
		fail "redis-P$pl" redis 1 "$cond" "$round" "$why"
		end_launched "$port" $lp 0
		return
	fi
	# the server itself: the command's child (heaptrack, memscope-bpf) or the command
	rp=$(redis-cli -p "$port" info server 2>/dev/null | awk -F: '/^process_id:/ { print $2 + 0 }')
	[ "${rp:-0}" -gt 0 ] 2>/dev/null || rp=0
	[ $rp -gt 0 ] && track $rp
	FOREIGN=$(foreign_probes system)
	c0=$(proc_cpu $TPID)
	redis_bench "$port" "$pl" "$pre"
	if [ $TPID -gt 0 ]; then
		c1=$(settled_cpu $TPID)
		[ "$c0" != null ] && [ "$c1" != null ] && cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.6f", b - a }')
	fi
	end_launched "$port" $lp $rp
	if [ $TPID -gt 0 ] && [ $cond != inproc-writer ]; then
		final=$(grep '"type":"final"' "$pre.out" | tail -n 1)
		[ -n "$final" ] || final=null
	fi
	res=$(redis_result $rp "$pre.csv") || {
		fail "redis-P$pl" redis 1 "$cond" "$round" "redis-benchmark failed: $(tail_err "$pre.bmerr")"
		return
	}
	if [ $cond = inproc-writer ]; then
		# the reader's line: its mode and the records it read
		line=$(grep '"mode"' "$pre.out" | tail -n 1)
		if [ -z "$line" ]; then
			fail "redis-P$pl" redis 1 "$cond" "$round" "writer: $(tail_err "$pre.err")"
			return
		fi
		res="${res%\}},\"writer\":$line}"
	fi
	record "redis-P$pl" redis 1 "$cond" "$round" true null "$res" "$cpu" "$final" null
	if [ $TPID -gt 0 ] && [ $cond != inproc-writer ]; then
		lost=$(json_num "$final" events_lost)
		[ -n "$lost" ] || note "redis -P $pl round $round: $cond printed no final record: $(tail_err "$pre.err")"
		[ "$cond" = inproc-block ] && [ -n "$lost" ] && [ "$lost" != 0 ] &&
			note "redis -P $pl round $round: memscope-bpf --in-process=block lost $lost events (block is meant to be exact)"
	fi
	log "  $(printf '%-17s' "$cond") -P $pl $res tracer cpu ${cpu/null/-} s${lost:+, events lost $lost}"
}
# end_launched PORT PID SERVER_PID: shut the launched redis-server down and wait up to 30 s for
# the command PID that started it to end with it (memscope-bpf drains its rings first); then
# SIGINT (SIGKILL 10 s later) to what is left
end_launched() {
	local port=$1 lp=$2 rp=$3 i
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
	for ((i = 0; i < 600; i++)); do
		kill -0 "$lp" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$lp" 2>/dev/null && note "redis: $(cat /proc/"$lp"/comm 2>/dev/null) (pid $lp) did not end with its redis-server in 30 s: SIGINT"
	stop_pid "$lp" INT
	[ "$rp" != "$lp" ] && stop_pid "$rp" INT
	return 0
}

# --- the daemon alone: --replay of a recorded stream ----------------------------------------
run_replay() {
	local pre=$WORK/replay w i t0 t1 final
	if ! has_opt --replay || ! has_opt --record; then
		note "memscope-bpf has no --record/--replay yet: the daemon-throughput row is skipped"
		return
	fi
	log "recording a stream: pairs on 2 threads under memscope-bpf --record"
	"${WL_ENV[@]}" LD_LIBRARY_PATH=$PLIBC_DIR "$OUT/pairs" -t 2 -d 2 -r "$pre.ready" -o /dev/null >/dev/null 2>&1 &
	w=$!
	track $w
	wait_for "$pre.ready" "" 20 $w || {
		note "replay: the workload did not start"
		stop_pid $w INT
		return
	}
	spawn "$pre.rec" "$MS" --json -i 100000 --record "$pre.stream" -p "$w"
	if ! wait_for "$pre.rec.err" attached 60 $TPID; then
		note "replay: memscope-bpf --record did not attach: $(tail_err "$pre.rec.err")"
		stop_pid $TPID KILL
		stop_pid $w INT
		return
	fi
	kill -USR1 $w
	wait $w
	unset "LIVE[$w]"
	stop_pid $TPID INT
	for ((i = 1; i <= ROUNDS; i++)); do
		t0=$(now_ns)
		"$MS" --json --replay "$pre.stream" >"$pre.out" 2>"$pre.err"
		t1=$(now_ns)
		final=$(grep '"type":"final"' "$pre.out" | tail -n 1)
		if [ -z "$final" ]; then
			fail replay replay 1 memscope-replay "$i" "--replay printed no final record: $(tail_err "$pre.err")"
			continue
		fi
		record replay replay 1 memscope-replay "$i" true null \
			"{\"wall_s\":$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'),\"stream_bytes\":$(stat -c %s "$pre.stream")}" \
			null "$final" null
	done
}

# --- stacks walked in the process itself -----------------------------------------------------
# what --stacks would cost in-process (frame pointers, backtrace(), libunwind) at one leaf
# under 10 and 30 frames, straight and through libc: one row per (path, way), per round
run_unwind() {
	local d r line n=$((QUICK ? 50000 : 200000))
	for ((r = 1; r <= ROUNDS; r++)); do
		for d in 10 30; do
			while read -r line; do
				record unwind unwind 1 "unwind-d$d" "$r" true null "$line"
			done < <("$OUT/unwind" -d $d -n $n 2>>"$WORK/unwind.err")
		done
	done
	[ -s "$WORK/unwind.err" ] && note "unwind: $(tail_err "$WORK/unwind.err")"
}

# --- the daemon's own work a record -----------------------------------------------------------
# its statistics and merge, apart from any source (bench/daemon.c): the floor under the
# in-process block mode, which runs a writer at the daemon's pace
run_daemon() {
	local r line n=$((QUICK ? 1000000 : 4000000))
	for ((r = 1; r <= ROUNDS; r++)); do
		while read -r line; do
			record daemon daemon 1 daemon "$r" true null "$line"
		done < <("$OUT/daemon" -n $n 2>>"$WORK/daemon.err")
	done
	[ -s "$WORK/daemon.err" ] && note "daemon: $(tail_err "$WORK/daemon.err")"
}

# --- the in-process writer's floor ----------------------------------------------------------
# pairs under the real library with a reader that only moves the tails (skip) or only reads
# (read), apart from the daemon's statistics (bench/writer.c): what block mode cannot go
# below, whatever the daemon does; the private libc, as the micro rows
run_writer() {
	local r t mode pre=$WORK/writer line
	for ((r = 1; r <= ROUNDS; r++)); do
		for t in 1 2; do
			for mode in skip read; do
				rm -f "$pre".*
				if line=$("${WL_ENV[@]}" LD_LIBRARY_PATH="$PLIBC_DIR" "$OUT/writer" \
					-l "$WORK/libmemscope-preload.so" -m $mode -- "$OUT/pairs" -t $t \
					-d "$DUR" -o "$pre.wl" 2>>"$WORK/writer.err") && [ -s "$pre.wl" ]; then
					record writer pairs $t "writer-$mode" "$r" true null \
						"${line%\}},\"workload\":$(cat "$pre.wl")}"
				else
					fail writer pairs $t "writer-$mode" "$r" "writer: $(tail_err "$WORK/writer.err")"
				fi
			done
		done
	done
}

# --- the run --------------------------------------------------------------------------------
cat /proc/loadavg >"$META/loadavg_start"
{
	echo "rounds=$ROUNDS"
	echo "duration_s=$DUR"
	echo "quick=${QUICK:-0}"
	echo "py_scale=$PY_SCALE"
	echo "redis_n=$REDIS_N"
	echo "private_libc=$PLIBC"
	echo "system_libc=$SYSLIBC"
	echo "memscope_bpf=$MS_ORIG"
	echo "memscope_bpf_sha256=$(sha256sum "$MS" | cut -c1-16)"
	echo "memscope_commit=$MS_COMMIT"
	echo "kernel=$(uname -r)"
	echo "cpus=$(nproc)"
	echo "cpu_model=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "bpftrace=$(bpftrace --version 2>/dev/null)"
	echo "bcc=$(dpkg-query -W -f='${Version}' bpfcc-tools 2>/dev/null)"
	echo "heaptrack=$(heaptrack --version 2>/dev/null | head -n 1)"
	echo "redis=$(redis-server --version 2>/dev/null)"
	echo "python=$($PY --version 2>&1)"
	echo "kernel_headers_for_bcc=$KSRC"
} >"$META/info"

GROUPS_MICRO=("pairs 1" "pairs 2" "mix 1")
if ! skipped micro; then
	for ((r = 1; r <= ROUNDS; r++)); do
		for g in "${GROUPS_MICRO[@]}"; do
			set -- $g
			log "round $r/$ROUNDS: $1, $2 thread(s), ${DUR}s per run"
			for c in $(rotate $((r - 1)) "${MICRO_CONDS[@]}"); do
				run_micro "$1/$2" "$1" "$2" "$c" "$r"
				if [ "$CONTAM" = true ]; then # once more, a moment later
					sleep 1
					run_micro "$1/$2" "$1" "$2" "$c" "$r"
				fi
			done
		done
		if ! skipped bystander; then
			log "round $r/$ROUNDS: bystander (pairs, 1 thread, system libc)"
			for c in $(rotate $((r - 1)) untraced-sys bystander); do
				run_micro bystander pairs 1 "$c" "$r"
				if [ "$CONTAM" = true ]; then
					sleep 1
					run_micro bystander pairs 1 "$c" "$r"
				fi
			done
		fi
		check_others "micro round $r"
	done
fi

if ! skipped python; then
	for ((r = 1; r <= ROUNDS; r++)); do
		log "round $r/$ROUNDS: CPython py_alloc.py (scale $PY_SCALE)"
		for c in $(rotate $((r - 1)) "${PY_CONDS[@]}"); do
			run_python "$c" "$r"
			[ "$CONTAM" = true ] && sleep 1 && run_python "$c" "$r"
		done
		check_others "python round $r"
	done
fi

if ! skipped redis; then
	if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
		note "redis: redis-server or redis-benchmark missing: section skipped"
	elif ! start_redis; then
		note "redis: redis-server did not start: $(tail -n 3 "$WORK/redis.log" 2>/dev/null | tr '\n' ' ')"
	else
		echo "redis_port=$REDIS_PORT" >>"$META/info"
		REDIS_CONDS="untraced"
		skipped memscope || REDIS_CONDS+=" memscope"
		has_opt --stacks && ! skipped memscope-stacks && REDIS_CONDS+=" memscope-stacks"
		if ! redis_points; then
			note "redis: cannot read memscope-bpf -v's probe points in redis-server: no floor rows"
		else
			skipped floor || REDIS_CONDS+=" floor"
			skipped floor-entry || REDIS_CONDS+=" floor-entry"
		fi
		# commands that start the server they trace: a fresh server each run, against a fresh
		# untraced one (the long-lived server has served every earlier run)
		LAUNCHED=
		command -v heaptrack >/dev/null && ! skipped heaptrack && LAUNCHED+=" heaptrack"
		has_opt --in-process && ! skipped inproc && LAUNCHED+=" inproc"
		has_opt --in-process && ! skipped inproc-block && LAUNCHED+=" inproc-block"
		if has_opt --in-process && [ -x "$OUT/writer" ] && ! skipped inproc-writer; then
			REDIS_INPROC_LIBS=$("$MS" --json -- redis-server --version 2>&1 >/dev/null |
				sed -n 's/.*attached in-process (\(.*\) preloaded).*/\1/p')
			if [ -n "$REDIS_INPROC_LIBS" ]; then
				LAUNCHED+=" inproc-writer"
			else
				note "redis: memscope-bpf -- redis-server --version named no preloaded library: no inproc-writer row"
			fi
		fi
		[ -n "$LAUNCHED" ] && ! skipped untraced-launched && LAUNCHED=" untraced-launched$LAUNCHED"
		REDIS_CONDS+=$LAUNCHED
		for ((r = 1; r <= ROUNDS; r++)); do
			log "round $r/$ROUNDS: redis-server (pid $REDIS_PID${LAUNCHED:+; a fresh one each run for$LAUNCHED}) under redis-benchmark, $REDIS_N requests per test"
			for pl in 1 16; do
				for c in $(rotate $((r - 1)) $REDIS_CONDS); do
					case $c in
					untraced-launched | heaptrack | inproc*) run_redis_launched "$c" "$pl" "$r" ;;
					*) run_redis "$c" "$pl" "$r" ;;
					esac
				done
			done
			check_others "redis round $r"
		done
		stop_pid $REDIS_PID TERM
	fi
fi

skipped replay || run_replay
skipped unwind || run_unwind
skipped daemon || run_daemon
[ -f "$WORK/libmemscope-preload.so" ] && ! skipped writer && run_writer

cat /proc/loadavg >"$META/loadavg_end"
bpftool perf list >"$META/perf_list_after" 2>&1
echo "elapsed_s=$(($(date +%s) - T_START))" >>"$META/info"
mkdir -p "$BENCH/results"
$PY "$BENCH/report.py" "$WORK" "$BENCH/results/latest.json"
