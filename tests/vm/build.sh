#!/bin/bash
# tests/vm/build.sh: the kernel and base initramfs for tests/vm/run.sh (a two-NUMA-node VM)
#
# usage: tests/vm/build.sh [-q]
#   -q    print nothing but errors
#
# Idempotent; everything is cached under build/vm/ (MEMSCOPE_VM_DIR overrides):
#   build/vm/kernel/PKG/{vmlinuz,config,System.map,package}
#          Debian's kernel image, package PKG = the dependency of linux-image-amd64
#          (linux-image-6.1.0-N-amd64 on Debian 12), fetched with `apt-get download` and
#          unpacked with `dpkg -x`, never installed. Only boot/ is kept.
#   build/vm/vmlinuz -> kernel/PKG/vmlinuz        the kernel run.sh boots
#   build/vm/initramfs.cpio.gz                    base initramfs (cpio newc, gzip)
#   build/vm/initramfs.sig                        signature of its inputs (rebuilt on change)
#   build/vm/initramfs.list                       the paths it holds, one a line
#
# The base initramfs holds busybox-static (every applet as a symlink), /init (below),
# build/memscope-bpf, build/memscope-demo, build/workloads/*, build/bench/* (executables) at
# the same absolute paths as on this host, /usr/sbin/bpftool when the host has it, and every
# shared object they load (as ldd lists them: real files at their real paths plus the soname
# links, and the dynamic loader). Run `make` first. run.sh appends a second, per-run archive
# with /vm/run (the command), the working directory and any --add files.
#
# Environment:
#   MEMSCOPE_VM_KERNEL=PATH   boot this bzImage instead of Debian's (no apt at all)
#   MEMSCOPE_VM_KPKG=NAME     use this kernel package instead of the one linux-image-amd64 wants
#   MEMSCOPE_VM_DIR=DIR       cache directory (default REPO/build/vm)
#
# Needs root only to install qemu-system-x86 and busybox-static when they are missing.
set -euo pipefail

QUIET=0
[ "${1:-}" = "-q" ] && QUIET=1
say() { [ "$QUIET" = 1 ] || echo "vm-build: $*" >&2; }
die() { echo "vm-build: error: $*" >&2; exit 1; }

REPO=$(cd "$(dirname "$0")/../.." && pwd)
VMDIR=${MEMSCOPE_VM_DIR:-$REPO/build/vm}
mkdir -p "$VMDIR"
VMDIR=$(cd "$VMDIR" && pwd)

# One build at a time (run.sh may be started in parallel).
exec 9>"$VMDIR/.lock"
flock 9

APT_UPDATED=0
apt_update() {
	[ "$APT_UPDATED" = 1 ] && return 0
	say "apt-get update"
	apt-get update -q >/dev/null || true
	APT_UPDATED=1
}

# --- host tools ----------------------------------------------------------------------------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
is_static() { [ -x "$1" ] && [[ $(LC_ALL=C ldd "$1" 2>&1) == *"not a dynamic executable"* ]]; }
is_static /bin/busybox || need_pkgs+=(busybox-static)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	say "installing ${need_pkgs[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${need_pkgs[@]}" >/dev/null; then
		apt_update
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${need_pkgs[@]}" >/dev/null || die "cannot install ${need_pkgs[*]}"
	fi
fi
BUSYBOX=/bin/busybox
is_static "$BUSYBOX" || die "$BUSYBOX is not busybox-static"

# --- kernel --------------------------------------------------------------------------------
# The package linux-image-amd64's candidate depends on; apt-cache takes half a second, so
# the answer is kept until apt's package lists change.
kernel_pkg() {
	local lists ans
	lists=$(stat -c '%n %s %Y' /var/lib/apt/lists/*_Packages* 2>/dev/null | sha256sum | cut -c1-16)
	if [ -f "$VMDIR/kernel-pkg" ] && [ "$(cut -d' ' -f1 "$VMDIR/kernel-pkg")" = "$lists" ]; then
		cut -d' ' -f2 "$VMDIR/kernel-pkg"
		return
	fi
	ans=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
		sed -n 's/^Depends: *\(linux-image-[0-9][^ ,]*\).*/\1/p' | head -n1) || true
	[ -z "$ans" ] || echo "$lists $ans" >"$VMDIR/kernel-pkg"
	echo "$ans"
}

if [ -n "${MEMSCOPE_VM_KERNEL:-}" ]; then
	[ -f "$MEMSCOPE_VM_KERNEL" ] || die "MEMSCOPE_VM_KERNEL=$MEMSCOPE_VM_KERNEL: no such file"
	ln -sfn "$(readlink -f "$MEMSCOPE_VM_KERNEL")" "$VMDIR/vmlinuz"
else
	pkg=${MEMSCOPE_VM_KPKG:-$(kernel_pkg)}
	if [ -z "$pkg" ]; then
		apt_update
		pkg=$(kernel_pkg)
	fi
	if [ -z "$pkg" ]; then
		# offline, no lists: fall back on the newest cached kernel
		pkg=$(ls -1 "$VMDIR/kernel" 2>/dev/null | sort -V | tail -n1)
		[ -n "$pkg" ] || die "cannot find the kernel package linux-image-amd64 depends on"
		say "apt-cache knows no linux-image-amd64; using cached $pkg"
	fi
	kdir=$VMDIR/kernel/$pkg
	if [ ! -f "$kdir/vmlinuz" ]; then
		say "fetching $pkg"
		tmp=$(mktemp -d "$VMDIR/.kernel.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null); then
			apt_update
			(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) ||
				die "apt-get download $pkg failed"
		fi
		deb=$(ls "$tmp"/*.deb)
		dpkg -x "$deb" "$tmp/x"
		mkdir -p "$tmp/k"
		mv "$tmp"/x/boot/vmlinuz-* "$tmp/k/vmlinuz"
		mv "$tmp"/x/boot/config-* "$tmp/k/config"
		mv "$tmp"/x/boot/System.map-* "$tmp/k/System.map"
		{
			dpkg-deb -f "$deb" Package Version
			echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
			echo "Release: $(ls "$tmp/x/lib/modules")"
		} >"$tmp/k/package"
		mkdir -p "$VMDIR/kernel"
		rm -rf "$kdir"
		mv "$tmp/k" "$kdir"
		rm -rf "$tmp"
		trap - EXIT
		# what the tracer needs must be built in: no modules are shipped in the initramfs
		for opt in BPF_SYSCALL DEBUG_INFO_BTF UPROBES UPROBE_EVENTS BPF_EVENTS NUMA ACPI_NUMA \
			PERF_EVENTS DEVTMPFS BLK_DEV_INITRD RD_GZIP SERIAL_8250 SERIAL_8250_CONSOLE; do
			grep -qx "CONFIG_$opt=y" "$kdir/config" ||
				say "warning: $pkg: CONFIG_$opt is not built in"
		done
	fi
	ln -sfn "kernel/$pkg/vmlinuz" "$VMDIR/vmlinuz"
fi

# --- base initramfs ------------------------------------------------------------------------
[ -x "$REPO/build/memscope-bpf" ] || die "$REPO/build/memscope-bpf missing: run make first"
bins=("$REPO/build/memscope-bpf")
# bpftool too when the host has it: tests count leftover BPF objects with it
for f in "$REPO"/build/memscope-demo "$REPO"/build/workloads/* "$REPO"/build/bench/* \
	/usr/sbin/bpftool; do
	[ -f "$f" ] && [ -x "$f" ] && bins+=("$f")
done

# shared objects of a list of ELF files, one per line: the path ldd gives (soname path)
elf_deps() {
	local f
	for f in "$@"; do
		{ ldd "$f" 2>/dev/null || true; } | awk '
			$2 == "=>" && $3 ~ /^\// { print $3 }
			$1 ~ /^\// { print $1 }'
	done | sort -u
}
mapfile -t libs < <(elf_deps "${bins[@]}")

INIT=$(cat <<'EOF'
#!/bin/sh
# /init of the memscope-bpf test VM (tests/vm/build.sh): runs /vm/run, then powers off.
# Console (ttyS0): kernel, the command's stderr, and markers
#   @@memscope-vm TOKEN START uptime=SECONDS kernel=RELEASE
#   @@memscope-vm TOKEN EXIT STATUS uptime=SECONDS tainted=KERNEL_TAINT_FLAGS
# ttyS1 (raw): the command's stdout, byte for byte.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# / is already a writable tmpfs: /tmp and /run stay on it, so --add files there are seen
hostname memscope-vm
ip link set lo up 2>/dev/null
ulimit -c 0
token=$(cat /vm/token 2>/dev/null)
cwd=$(cat /vm/cwd 2>/dev/null || echo /)
up() { cut -d' ' -f1 /proc/uptime; }
echo "@@memscope-vm $token START uptime=$(up) kernel=$(uname -r)"
(
	stty raw -echo <&1 || echo "vm-init: stty on ttyS1 failed" >&2
	cd "$cwd" || exit 125
	exec sh /vm/run
) >/dev/ttyS1 2>/dev/console </dev/null
rc=$?
echo "@@memscope-vm $token EXIT $rc uptime=$(up) tainted=$(cat /proc/sys/kernel/tainted)"
poweroff -f
echo o >/proc/sysrq-trigger
sleep 10
EOF
)

# Signature of everything the archive is made of: rebuild when any of it changes.
sig=$(
	{
		echo "repo $REPO"
		sha256sum "$0" | cut -d' ' -f1
		stat -L -c '%n %s %Y' "$BUSYBOX" "${bins[@]}" "${libs[@]}"
	} | sha256sum | cut -d' ' -f1
)
if [ -f "$VMDIR/initramfs.cpio.gz" ] && [ "$(cat "$VMDIR/initramfs.sig" 2>/dev/null)" = "$sig" ]; then
	say "up to date: $(readlink "$VMDIR/vmlinuz"), initramfs.cpio.gz"
	exit 0
fi

say "building initramfs (${#bins[@]} programs, ${#libs[@]} shared objects)"
root=$VMDIR/.root
rm -rf "$root"
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,dev,proc,sys,tmp,run,root,etc,vm,mnt}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
chmod 1777 "$root/tmp"

cp "$BUSYBOX" "$root/usr/bin/busybox"
while read -r applet; do
	case $applet in */*) ;; *) applet=usr/bin/$applet ;; esac
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /usr/bin/busybox "$root/$applet"
done < <("$BUSYBOX" --list-full)

# a host file at its own path: the real file at its real path, links at the other names
put() {
	local src=$1 real
	real=$(readlink -f "$src")
	mkdir -p "$root$(dirname "$real")"
	[ -e "$root$real" ] || cp -p "$real" "$root$real"
	if [ "$src" != "$real" ] && [ ! -e "$root$src" ]; then
		mkdir -p "$root$(dirname "$src")"
		ln -s "$real" "$root$src"
	fi
}
for f in "${bins[@]}" "${libs[@]}"; do put "$f"; done

printf '%s\n' "$INIT" >"$root/init"
chmod 755 "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
# the kernel opens /dev/console before /init runs (init reopens it after mounting devtmpfs)
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort) >"$VMDIR/.list"
(cd "$root" && "$BUSYBOX" cpio -o -H newc <"$VMDIR/.list" 2>/dev/null) |
	gzip -1 >"$VMDIR/initramfs.cpio.gz.tmp"
# what the base holds, for run.sh --add (one absolute path a line)
sed 's|^\.||' "$VMDIR/.list" >"$VMDIR/initramfs.list"
rm -f "$VMDIR/.list"
mv "$VMDIR/initramfs.cpio.gz.tmp" "$VMDIR/initramfs.cpio.gz"
echo "$sig" >"$VMDIR/initramfs.sig"
rm -rf "$root"
say "built $(readlink "$VMDIR/vmlinuz"), initramfs.cpio.gz ($(du -k "$VMDIR/initramfs.cpio.gz" | cut -f1) KiB)"
