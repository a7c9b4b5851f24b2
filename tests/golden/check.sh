#!/bin/bash
# check.sh: replays fixed recordings and compares the output, byte for byte, with what the
# tracer printed for them when the expected files were written (issue 16: a restructuring
# changes no output). No root needed.
#
# usage: tests/golden/check.sh BIN          compare (exit 1 and a diff on a difference)
#        tests/golden/check.sh BIN --write  write the expected files anew (after a change
#                                           of output that is meant; say so in the commit)
# The text output's clock column (the time of the replay) is cut; everything else is
# compared as printed: JSON Lines, text tables, findings, exit lines, folded stacks.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: check.sh BIN [--write]}
write=${2:-}
dir=tests/golden
corpus=tests/fuzz/corpus/replay
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# NAME RECORDING ARGS...: one replay, its stdout and stderr and exit status
cases() {
	echo "demo-json $dir/demo.msr --json"
	echo "demo-text $dir/demo.msr"
	echo "demo-top1 $dir/demo.msr -n 1 -i 2"
	echo "pool-json $corpus/pool.gz --json"
	echo "pool-text $corpus/pool.gz"
	echo "jemalloc-json $corpus/jemalloc.gz --json"
	echo "jemalloc-text $corpus/jemalloc.gz"
	echo "execer-json $corpus/execer.gz --json"
	echo "launched-text $corpus/launched.gz -i 0.5"
	echo "launched-cut-json $corpus/launched.cut.raw --json"
}

status=0
while read -r name rec args; do
	# shellcheck disable=SC2086
	rc=0
	"$bin" --replay "$rec" $args >"$tmp/out" 2>"$tmp/err" || rc=$?
	{
		echo "# memscope-bpf --replay $rec $args: exit $rc"
		echo "# stdout"
		sed -E 's/^[0-9]{2}:[0-9]{2}:[0-9]{2} (interval|final) /HH:MM:SS \1 /' "$tmp/out"
		echo "# stderr"
		cat "$tmp/err"
	} >"$tmp/$name"
	if [ "$write" = --write ]; then
		cp "$tmp/$name" "$dir/$name.expected"
	elif ! diff -u "$dir/$name.expected" "$tmp/$name" >"$tmp/diff"; then
		echo "golden: $name differs:" >&2
		head -40 "$tmp/diff" >&2
		status=1
	fi
done < <(cases)
[ "$write" = --write ] && echo "golden: expected files written" >&2
[ $status = 0 ] && [ "$write" != --write ] && echo "golden: $(cases | wc -l) replays byte-identical" >&2
exit $status
