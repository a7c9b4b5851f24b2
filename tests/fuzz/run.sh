#!/bin/bash
# run.sh [SECONDS] [TARGET...]: builds the libFuzzer harnesses (fuzz.mk) and runs each
# for SECONDS (default 20) on its seed corpus tests/fuzz/corpus/TARGET, FUZZ_JOBS (default:
# the CPUs) at a time. New inputs go to a scratch directory, never into the repository;
# a crash, a sanitizer report, a failed check, a leak, a timeout or running out of memory
# fails the run (exit 1), its input saved under FUZZ_OUT/artifacts (build/fuzz).
#   FUZZ_OUT=DIR       build and artifact directory (build/fuzz)
#   FUZZ_JOBS=N        targets run at once
#   FUZZ_KEEP=1        keep the new corpus (printed at the end), for merging into the seeds
#   FUZZ_CC=clang-14   the compiler (clang)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

SECS=${1:-20}
shift 2>/dev/null || true
case $SECS in '' | *[!0-9]*)
	echo "usage: tests/fuzz/run.sh [SECONDS] [TARGET...]" >&2
	exit 2
	;;
esac
OUT=${FUZZ_OUT:-build/fuzz}
JOBS=${FUZZ_JOBS:-$(nproc)}
CC=${FUZZ_CC:-clang}

# Inputs larger than these are not generated (libFuzzer's -max_len)
declare -A MAX_LEN=([elf]=65536 [replay]=65536 [prom_addr]=512 [placement]=1024)
# libdw has no frame pointers: full unwinding at malloc, so that lsan.supp can match its
# frames (half the speed, for this target only)
declare -A ASAN_EXTRA=([elf]=fast_unwind_on_malloc=0)

# ---- build
if ! command -v "$CC" >/dev/null; then
	echo "run.sh: $CC not found (make deps installs clang)" >&2
	exit 2
fi
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$probe/t.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe/t.c" -o "$probe/t" 2>"$probe/err"; then
	cat "$probe/err" >&2
	echo "run.sh: $CC cannot link libFuzzer: install libclang-rt-14-dev (Debian)" >&2
	rm -rf "$probe"
	exit 2
fi
rm -rf "$probe"
if ! make -s -k -f tests/fuzz/fuzz.mk -j"$JOBS" FUZZ_OUT="$OUT" FUZZ_CC="$CC"; then
	echo "run.sh: building the harnesses failed" >&2
	exit 1
fi

if [ $# -eq 0 ]; then
	set -- $(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')
fi
for t in "$@"; do
	if [ ! -x "$OUT/fuzz_$t" ]; then
		echo "run.sh: no harness $t (tests/fuzz/fuzz_$t.c)" >&2
		exit 2
	fi
done

# ---- run
scratch=$(mktemp -d "${TMPDIR:-/tmp}/msfuzz-run.XXXXXX")
[ "${FUZZ_KEEP:-0}" = 1 ] || trap 'rm -rf "$scratch"' EXIT
mkdir -p "$OUT/artifacts" "$OUT/logs"
ASAN_BASE=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
unset DEBUGINFOD_URLS # the symbolizer must not ask the network

run_one() {
	local t=$1 log="$OUT/logs/$t.log" new="$scratch/new/$t" args=()

	mkdir -p "$new" "$scratch/tmp/$t"
	[ -f "tests/fuzz/dict/$t.dict" ] && args+=("-dict=tests/fuzz/dict/$t.dict")
	[ -n "${MAX_LEN[$t]:-}" ] && args+=("-max_len=${MAX_LEN[$t]}")
	# the harnesses' fake /proc and /sys trees go to TMPDIR
	ASAN_OPTIONS="$ASAN_BASE${ASAN_EXTRA[$t]:+:${ASAN_EXTRA[$t]}}" TMPDIR="$scratch/tmp/$t" "$OUT/fuzz_$t" "$new" "tests/fuzz/corpus/$t" \
		-max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$OUT/artifacts/$t-" "${args[@]}" >"$log" 2>&1
	echo $? >"$scratch/$t.rc"
}

echo "fuzzing ${*} for ${SECS}s each, $JOBS at a time"
running=0
for t in "$@"; do
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$t" &
	running=$((running + 1))
done
wait

fail=0
printf '%-12s %10s %8s %6s %6s  %s\n' TARGET RUNS EXEC/S COV NEW RESULT
for t in "$@"; do
	log="$OUT/logs/$t.log"
	rc=$(cat "$scratch/$t.rc" 2>/dev/null || echo 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	new=$(ls "$scratch/new/$t" 2>/dev/null | wc -l)
	if [ "$rc" = 0 ]; then
		res=ok
	else
		res="FAILED (exit $rc), log $log"
		fail=1
	fi
	printf '%-12s %10s %8s %6s %6s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "$new" "$res"
done
for t in "$@"; do
	rc=$(cat "$scratch/$t.rc" 2>/dev/null || echo 1)
	[ "$rc" = 0 ] && continue
	echo
	echo "==== $t: the end of $OUT/logs/$t.log"
	grep -n -m1 -E 'ERROR: |FUZZ CHECK FAILED|runtime error|deadly signal|Test unit written' \
		"$OUT/logs/$t.log" | head -1
	tail -n 40 "$OUT/logs/$t.log"
	echo "reproduce: $OUT/fuzz_$t $(grep -o "Test unit written to [^ ]*" "$OUT/logs/$t.log" |
		tail -1 | sed 's/Test unit written to //')"
done
if [ "${FUZZ_KEEP:-0}" = 1 ]; then
	echo
	echo "new inputs kept in $scratch/new; to add the interesting ones to the seeds:"
	echo "  $OUT/fuzz_TARGET -merge=1 tests/fuzz/corpus/TARGET $scratch/new/TARGET"
fi
exit $fail
