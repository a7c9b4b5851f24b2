#!/bin/bash
# seeds.sh: regenerates the seed corpora under tests/fuzz/corpus/ (run from anywhere;
# the recordings of fuzz_replay need root and a built tracer: `make` first). The seeds
# are committed; this script documents where each came from. Inputs the fuzzer finds
# are added with libFuzzer's merge instead (see README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
C=tests/fuzz/corpus
S=tests/fuzz/seeds
mkdir -p "$C"/{maps_line,allocspec,elf,demangle,json_string,cpulist,replay,prom_label,prom_addr,placement}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# put TARGET NAME: stdin into the corpus
put() { cat >"$C/$1/$2"; }

# ---- maps_line: lines of /proc/PID/maps, plain and odd
put maps_line exec <<<'7f28bd21e000-7f28bd374000 r-xp 00026000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6'
put maps_line anon <<<'7f28bd175000-7f28bd197000 rw-p 00000000 00:00 0 '
put maps_line heap <<<'5615efa93000-5615efab4000 rw-p 00000000 00:00 0                          [heap]'
put maps_line deleted <<<'7f0000001000-7f0000002000 r-xp 00001000 08:01 1234 /tmp/lib old.so (deleted)'
put maps_line spaces <<<'400000-401000 r-xp 00000000 fd:01 42   /opt/my app/bin/a b  c'
put maps_line memfd <<<'7f1000000000-7f1000001000 r-xp 00000000 00:01 9 /memfd:jit (deleted)'
put maps_line huge <<<'ffffffffffffffff-ffffffffffffffff r-xp ffffffffffffffff ffff:ffff 18446744073709551615 /x'
put maps_line deleted_only <<<'1000-2000 r-xp 00000000 00:00 7  (deleted)'
printf '1000-2000 r-xp 00000000 00:00 7 /a\n/b\n3000-4000 r-xp 00000000 00:00 8 /c (deleted) (deleted)\n' | put maps_line multiline
head -c 3000 /proc/self/maps | put maps_line file

# ---- allocspec: a kind byte (1 alloc, 2 free, 3 realloc), then the spec
spec() { printf "\\x$(printf %02x "$2")%s" "$3" | put allocspec "$1"; }
spec alloc_named 1 'objpool=obj_pool_alloc(_, size)'
spec alloc_fixed 1 'slab_get(_)=64'
spec alloc_out 1 'my_memalign(out, _, size)'
spec alloc_calloc 1 'my_calloc(nmemb, size)'
spec alloc_cxx 1 'arena=/opt/app/libarena.so:ns::Arena::Allocate(_, size)'
spec alloc_tmpl 1 'Pool<int>::get(_, size)'
spec free_named 2 'objpool=obj_pool_free(_, ptr)'
spec free_dtor 2 'ns::Arena::~Arena(ptr)'
spec realloc_obj 3 '/opt/app/libpool.so:pool_resize(ptr, size)'
spec realloc_six 3 'f(_, _, _, _, ptr, size)'
spec bad_seven 1 'f(_, _, _, _, _, _, size)'
spec bad_hex 1 'g(_) = 0x40'
spec bad_neg 1 'g(_)=-1'

# ---- demangle: SYMBOL NUL NAME
dm() { printf '%s\0%s' "$2" "$3" | put demangle "$1"; }
dm cxx '_ZN2ns5Arena8AllocateEm' 'ns::Arena::Allocate'
dm cxx_tmpl '_ZN4PoolIiE3getEPvm' 'Pool<int>::get'
dm cxx_op '_Znwm' 'operator new'
dm rust_v0 '_RNvCsdBezmDYvm3G_7___rustc12___rust_alloc' '__rust_alloc'
dm rust_legacy '_ZN5alloc5alloc11__rdl_alloc17h0123456789abcdefE' '__rdl_alloc'
dm versioned 'memcpy@@GLIBC_2.14' 'memcpy'
dm deep '_ZZZZZZZZZZZ1fvE1gvE1hvE1ivE1jvE1kvE1lvE1mvE1nvE1ovE1pv' 'f'

# ---- json_string: process names, paths, symbols
put json_string plain <<<'redis-server'
printf 'a"b\\c\n\t\r\x01\x1f\x7f' | put json_string escapes
printf 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80' | put json_string utf8
printf '\xff\xfe\xc0\xaf\xe0\x80\xaf\xed\xa0\x80\xf4\x90\x80\x80\xc3' | put json_string invalid
printf 'nul\0inside' | put json_string nul
printf '\xc2\x9b31m C1 CSI' | put json_string c1

# ---- cpulist: sysfs CPU lists
printf '0\n' | put cpulist one
printf '0-3,8,10-11\n' | put cpulist ranges
printf '0-65535' | put cpulist max
printf '1,\n' | put cpulist trailing_comma
printf '3-1' | put cpulist reversed
printf '99999999999999999999' | put cpulist overflow

# ---- prom_label: FLAGS, COMM_A[16], COMM_B[16], the cgroup file
pl() { { printf "\\x$(printf %02x "$2")"; printf '%-16.16s' "$3" | head -c 16; printf '%-16.16s' "$4" | head -c 16; printf '%b' "$5"; } | put prom_label "$1"; }
pl v2 0 'redis-server' 'nginx' '0::/system.slice/redis.service\n'
pl docker 1 'app' 'worker' '0::/system.slice/docker-4f1b6a7e6c3d2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a.scope\n'
pl v1 2 'a"b\\c' 'x\ny' '12:memory:/docker/4f1b6a7e6c3d2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a\n1:name=systemd:/user.slice/user-1000.slice\n'
pl quotes 0x1f 'q"uote' 'tab\there' '0::/user.slice/user-1000.slice/user@1000.service/app.slice/my "odd" \\\\ group\n'
pl root 4 'root' 'root' '0::/\n'
pl utf8 7 'caf\xc3\xa9' '\xe2\x82\xac' '0::/user.slice/caf\xc3\xa9\n'

# ---- prom_addr: --prometheus values
for a in 9464 :9464 127.0.0.1:9464 '[::1]:9464' localhost:0 0.0.0.0:65535 '[fe80::1%eth0]:1' '::1:9464'; do
	printf '%s' "$a" | put prom_addr "$(printf '%s' "$a" | tr -c 'A-Za-z0-9' _)"
done

# ---- placement: a protect mask byte, then code from real function entries
pro() { { printf "\\x$(printf %02x "$2")"; printf '%b' "$3"; } | put placement "$1"; }
pro push_rbp 0x03 '\x55\x48\x89\xe5\x48\x83\xec\x10\xe8\x00\x00\x00\x00\xc9\xc3'
pro endbr_push 0x01 '\xf3\x0f\x1e\xfa\x41\x57\x41\x56\x49\x89\xfe\x53\xc3'
pro sub_rsp 0x01 '\x48\x83\xec\x08\x48\x85\xff\x74\x05\xe8\x00\x00\x00\x00\x48\x83\xc4\x08\xc3'
pro jmp_back 0x01 '\x90\x55\xeb\xfd\xc3'
pro tail_jmp 0x3f '\xe9\x10\x00\x00\x00'
# the entries of libc's allocator functions
libc=$(ldconfig -p | awk '/libc\.so\.6 .*x86-64/ {print $NF; exit}')
if [ -n "$libc" ] && command -v nm >/dev/null && command -v readelf >/dev/null; then
	# libc's text: file offset = address - (p_vaddr - p_offset) of its executable PT_LOAD
	read -r off vaddr < <(readelf -lW "$libc" | awk '$1 == "LOAD" && / R E / {print $2, $3}' | head -1)
	for f in malloc free calloc realloc posix_memalign; do
		addr=$(nm -D --defined-only "$libc" | awk -v f="$f" '$3 == f || index($3, f "@@") == 1 {print $1; exit}' || true)
		[ -n "$addr" ] || continue
		{ printf '\x03'; dd if="$libc" iflag=skip_bytes,count_bytes skip=$((16#$addr - (vaddr - off))) count=256 status=none; } | put placement "libc_$f"
	done
fi

# ---- elf: a small program, stripped and not, a shared object, and damaged copies
cc -Os -g0 -fno-asynchronous-unwind-tables -Wl,--build-id -Wl,-z,noseparate-code \
	"$S/tiny.c" -o "$tmp/tiny"
cp "$tmp/tiny" "$C/elf/tiny_symtab"
strip -o "$C/elf/tiny_stripped" "$tmp/tiny"
cc -Os -g -fPIC -shared -Wl,--build-id -Wl,-z,noseparate-code "$S/tiny.c" -o "$C/elf/tiny_debug.so"
head -c 64 "$C/elf/tiny_stripped" >"$C/elf/cut_ehdr"
head -c 1000 "$C/elf/tiny_symtab" >"$C/elf/cut_1000"
head -c $(($(stat -c %s "$C/elf/tiny_symtab") - 200)) "$C/elf/tiny_symtab" >"$C/elf/cut_shdrs"
printf '\x7fELF\x02\x01\x01' | put elf magic_only
# hostile objects built to cost (issue 15): huge header counts, tables over or past the
# file, a section inflating to 1 GiB, an xz .gnu_debugdata asking a 3 GiB dictionary; from
# the generator of tests/e2e/t_faults_files.py
python3 - "$C/elf" <<'EOF'
import sys
sys.path.insert(0, "tests/e2e")
import t_faults_files
t_faults_files.elf_write_corpus(sys.argv[1])
EOF

# ---- replay: recordings of real runs (root, a built tracer), raw and gzip, and damaged
bin=${MEMSCOPE_BIN:-build/memscope-bpf}
w=${WORKLOADS:-build/workloads}
if [ "$(id -u)" = 0 ] && [ -x "$bin" ] && [ -x "$w/launched" ]; then
	rec() { # NAME ARGS...: a recording, its decompressed stream, a cut copy of each
		local name=$1
		shift
		timeout 30 "$bin" --record "$tmp/$name.msr" "$@" >/dev/null 2>&1 || true
		[ -s "$tmp/$name.msr" ] || return 0
		cp "$tmp/$name.msr" "$C/replay/$name.gz"
		zcat "$tmp/$name.msr" >"$C/replay/$name.raw" 2>/dev/null || true
		head -c $(($(stat -c %s "$C/replay/$name.raw") * 2 / 3)) "$C/replay/$name.raw" >"$C/replay/$name.cut.raw"
		head -c $(($(stat -c %s "$tmp/$name.msr") / 2)) "$tmp/$name.msr" >"$C/replay/$name.cut.gz"
	}
	rec launched -- "$w/launched" 3
	rec execer -- "$w/execer" 2
	rec pool --alloc 'objpool=obj_pool_alloc(_, size)' --free 'objpool=obj_pool_free(_, ptr)' \
		--free 'objpool=obj_pool_destroy(ptr)' -- "$w/pool" run
	if [ -x "$w/jemalloc_mix" ] && [ -e /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ]; then
		rec jemalloc -- env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 "$w/jemalloc_mix" 3
	fi
else
	echo "seeds.sh: not root or no $bin: the replay recordings are left as they are" >&2
fi
# ---- replay: hostile recordings no tracer writes (issue 15), from the generator of
# tests/e2e/t_faults_replay.py, small enough for -max_len: functions the recording never
# defined, reallocs that never return, many processes over many recorded seconds
python3 - "$C/replay" <<'EOF'
import sys
sys.path.insert(0, "tests/e2e")
import t_faults_replay
t_faults_replay.msr_write_corpus(sys.argv[1])
EOF
du -sh "$C"
