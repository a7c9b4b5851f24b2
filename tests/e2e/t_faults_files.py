# t_faults_files.py: files a traced process names, and objects built to be costly (issue
# 15, items 1 and 2); a test module imported by run.py.
#
# A traced process controls the paths the tracer reads its objects through: it can put a
# FIFO where a mapped file was (opened for reading, a FIFO blocks until a writer comes), and
# it can map a file built to make reading its symbols cost gigabytes. Neither may stop or
# kill the tracer: it attaches within a bound, traces the rest exactly, and ends on one
# SIGTERM with exit status 0.

import os
import re
import shutil
import signal
import stat as _stat
import struct
import subprocess
import sys
import time

from harness import TRACER, WINDOW_TIMEOUT, Check, Fail, Skip, test
from run import (compare_proc, final_record, ground_truth, need_tool, no_loss, proc_in,
                 proc_sites, site_records, wait_attached, wait_json)

FILES_TIMEOUT = 20  # s: to attach, or to end after one SIGTERM, on a loaded 2-core machine
SPARSE_SIZE = 128 << 20  # bytes: the crafted object's size (a few KiB of it on disk)
SPARSE_SYMTABS = 8  # SYMTAB sections of the crafted object, each over the whole file
MEMORY_BOUND = 256 << 20  # bytes: the tracer's resident memory at most, and its cgroup's limit


def shared_tmpdir(ctx):
    """The test's directory, open to every user (a process in a user namespace runs as
    nobody)"""
    d = ctx.tmpdir()
    os.chmod(d, 0o755)
    return d


def copy_exe(ctx, name, dest):
    shutil.copy2(ctx.workload_path(name), dest)
    os.chmod(dest, 0o755)
    return dest


def ready_pid(w):
    """The pid of a workload's "ready <pid>" line (it may run under a shell)"""
    line, _ = w.wait_line("out", lambda l: l.startswith("ready "), 30, "its ready line")
    return int(line.split()[1])


def attached_within(c, tr, what):
    """Whether the tracer prints 'attached' within FILES_TIMEOUT s; says how long it took"""
    t0 = time.monotonic()
    try:
        wait_attached(tr, FILES_TIMEOUT)
    except Fail as e:
        c.fail("%s: %s" % (what, e))
        return False
    print("  %s: attached after %.1f s" % (what, time.monotonic() - t0))
    return True


def ends_on_one_sigterm(c, tr, what):
    """One SIGTERM ends the tracer within FILES_TIMEOUT s with exit status 0"""
    t0 = time.monotonic()
    tr.signal(signal.SIGTERM)
    try:
        rc = tr.wait_exit(FILES_TIMEOUT, "exit after one SIGTERM")
    except Fail as e:
        c.fail("%s: %s" % (what, e))
        return False
    print("  %s: ended %.1f s after one SIGTERM" % (what, time.monotonic() - t0))
    return c.eq("%s: tracer exit status after one SIGTERM" % what, 0, rc)


def exec_mapping(pid, pred):
    """The first executable file mapping of pid whose path satisfies pred:
    (dev, inode, path as /proc/PID/maps spells it), or None"""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.rstrip("\n").split(None, 5)
            if len(parts) == 6 and "x" in parts[1] and pred(parts[5]):
                return parts[3], int(parts[4]), parts[5]
    return None


def final_of(c, tr, pid, gt, comm):
    """The final record's figures of pid compared with its ground truth; the process object
    (the leaks records of --stacks apart)"""
    try:
        recs = site_records(tr)[0]
        p = proc_in(final_record(recs), pid, "final record")
    except Fail as e:
        c.fail(str(e))
        return None
    no_loss(c, final_record(recs))
    compare_proc(c, "final pid %d" % pid, gt, p, comm)
    return p


@test
def fault_fifo_same_inode(ctx):
    """every process: a user namespace bind-mounts a FIFO with the mapped file's inode
    number over its path: the tracer attaches, traces the process exactly, ends on SIGTERM"""
    need_tool("unshare")
    need_tool("setpriv")
    d = shared_tmpdir(ctx)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    for m in (a, b):
        os.mkdir(m)
        os.chmod(m, 0o755)
    exe = copy_exe(ctx, "mapped", os.path.join(d, "mapped"))
    # as nobody, in a user and mount namespace of its own: two fresh tmpfs number their
    # first files alike; the mapped file is the first of one, the FIFO the first of the
    # other, bind-mounted over the mapped file's path once it is mapped
    script = ('mount -t tmpfs ms-a "$1" && mount -t tmpfs ms-b "$2" && cp "$3" "$1/lib.so" && '
              'mkfifo "$2/fifo" && { "$3" "$1/lib.so" | { IFS= read -r l; '
              'mount --bind "$2/fifo" "$1/lib.so" || exit 98; echo "$l"; exec cat; }; }')
    w = ctx.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "unshare",
                   "-Urm", "sh", "-c", script, "sh", a, b, exe], "mapped")
    pid = ready_pid(w)
    # the premise: through the process' root, the mapped path is a FIFO whose inode
    # number is the mapping's, on another device
    c = Check()
    m = exec_mapping(pid, lambda p: p.endswith("/lib.so"))
    if not m:
        raise Fail("pid %d maps no lib.so" % pid)
    st = os.stat("/proc/%d/root%s" % (pid, m[2]))
    maj, mnr = (int(x, 16) for x in m[0].split(":"))
    c.true(_stat.S_ISFIFO(st.st_mode), "the mapped path is a FIFO now")
    c.eq("the FIFO's inode number (the mapping's)", m[1], st.st_ino)
    c.true(st.st_dev != os.makedev(maj, mnr), "the FIFO is on another device than the mapping")
    c.done()
    tr = ctx.tracer(["--json", "-i", "0.5"])
    if attached_within(c, tr, "every process"):
        os.kill(pid, signal.SIGUSR1)
        gt = ground_truth(w)
        wait_json(tr, lambda r: any(q.get("pid") == pid and q.get("allocs") == gt["allocs"]
                                    for q in r.get("processes") or []),
                  "a record with pid %d's window" % pid, timeout=FILES_TIMEOUT)
        if ends_on_one_sigterm(c, tr, "every process"):
            final_of(c, tr, pid, gt, "mapped")
    else:
        ends_on_one_sigterm(c, tr, "every process, not attached")
    c.done()


@test
def fault_fifo_exe_replaced(ctx):
    """-p -j -d 6: a program that replaced its executable by a FIFO gets its findings,
    named, and the tracer ends by itself"""
    exe = copy_exe(ctx, "mapped", os.path.join(shared_tmpdir(ctx), "fifo_exe"))
    w = ctx.spawn([exe, "-x"], "fifo_exe")
    pid = ready_pid(w)
    c = Check()
    c.true(_stat.S_ISFIFO(os.stat(exe).st_mode), "%s is a FIFO now" % exe)
    c.eq("/proc/%d/exe" % pid, exe + " (deleted)", os.readlink("/proc/%d/exe" % pid))
    c.done()
    t0 = time.monotonic()
    tr = ctx.tracer(["-j", "-d", "6", "-p", str(pid)])
    if not attached_within(c, tr, "-p"):
        ends_on_one_sigterm(c, tr, "-p, not attached")
        c.done()
    os.kill(pid, signal.SIGUSR1)
    gt = ground_truth(w)
    try:
        rc = tr.wait_exit(6 + FILES_TIMEOUT, "end by itself after -d 6")
        print("  -d 6: ended %.1f s after it started" % (time.monotonic() - t0))
        c.eq("tracer exit status (-d)", 0, rc)
    except Fail as e:
        c.fail(str(e))
        ends_on_one_sigterm(c, tr, "-d 6 passed")
        c.done()
    p = final_of(c, tr, pid, gt, "fifo_exe")
    cands = [f for f in (p or {}).get("pools") or [] if f.get("kind") == "pool_candidate"]
    keep = [f for f in cands if f.get("name") == "keep_chunk"]
    if c.eq("final: pool candidates named keep_chunk (of %s)" % [f.get("name") for f in cands],
            1, len(keep)):
        c.true(re.match(r"keep_chunk\+0x[0-9a-f]+ \(mapped\.c:\d+\)$", keep[0].get("where")
                        or ""), "keep_chunk's where (expected keep_chunk+0x.. (mapped.c:N), "
               "got %r)" % keep[0].get("where"))
        c.eq("keep_chunk's evidence (chunk_size, chunks, live_chunks)", [2048, 8, 8],
             [(keep[0].get("evidence") or {}).get(k) for k in ("chunk_size", "chunks",
                                                               "live_chunks")])
    w.signal(signal.SIGUSR2)
    c.eq("fifo_exe exit status", 0, w.wait_exit(10))
    c.done()


@test
def fault_fifo_loader_newline(ctx):
    """-p: a dynamic loader at a path with a newline (/proc/PID/maps spells it \\012) and a
    FIFO at the path spelt that way: the tracer attaches, traces exactly, ends on SIGTERM"""
    d = shared_tmpdir(ctx)
    real, fake = os.path.join(d, "a\nb"), os.path.join(d, "a\\012b")
    os.mkdir(real)
    os.mkdir(fake)
    ld = os.path.join(real, "ld-linux-x86-64.so.2")
    shutil.copy2(os.path.realpath("/lib64/ld-linux-x86-64.so.2"), ld)
    os.mkfifo(os.path.join(fake, "ld-linux-x86-64.so.2"))
    w = ctx.spawn([ld, ctx.workload_path("mapped")], "ld-linux-x86-64.so.2")
    pid = ready_pid(w)
    c = Check()
    m = exec_mapping(pid, lambda p: p.endswith("/ld-linux-x86-64.so.2"))
    if not c.true(m and "\\012" in m[2], "the loader's path in /proc/%d/maps has \\012: %r"
                  % (pid, m)):
        c.done()
    c.true(_stat.S_ISFIFO(os.stat("/proc/%d/root%s" % (pid, m[2])).st_mode),
           "the path as /proc/%d/maps spells it is a FIFO" % pid)
    c.done()
    tr = ctx.tracer(["--json", "-i", "0.5", "-p", str(pid)])
    if attached_within(c, tr, "-p"):
        os.kill(pid, signal.SIGUSR1)
        gt = ground_truth(w)
        wait_json(tr, lambda r: any(q.get("pid") == pid and q.get("allocs") == gt["allocs"]
                                    for q in r.get("processes") or []),
                  "a record with pid %d's window" % pid, timeout=FILES_TIMEOUT)
        if ends_on_one_sigterm(c, tr, "-p"):
            final_of(c, tr, pid, gt, "ld-linux-x86-64.so.2")
    else:
        ends_on_one_sigterm(c, tr, "-p, not attached")
    w.signal(signal.SIGUSR2)
    c.done()


def sparse_elf(path, size, symtabs):
    """An ELF64 shared object of size bytes, nearly all of it a hole: a header, a section
    header table, and symtabs SYMTAB sections over the whole file (with one string table,
    also the whole file)"""
    n = symtabs + 2  # the null section, the symbol tables, the string table
    shoff = 4096
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 3, 62, 1, 0,
                       0, shoff, 0, 64, 56, 0, 64, n, 0)
    shdrs = bytes(64)
    for _ in range(symtabs):  # name, type, flags, addr, offset, size, link, info, align, entsize
        shdrs += struct.pack("<IIQQQQIIQQ", 0, 2, 0, 0, 0, size // 24 * 24, n - 1, 0, 8, 24)
    shdrs += struct.pack("<IIQQQQIIQQ", 0, 3, 0, 0, 0, size, 0, 0, 1, 0)
    with open(path, "wb") as f:
        f.write(ehdr)
        f.seek(shoff)
        f.write(shdrs)
        f.truncate(size)


def hostile_elf(shdrs, size=16384, phnum=0, shnum=None, data=(), shstrndx=0):
    """An ELF64 shared object of size bytes as bytes: the header, section headers shdrs
    (tuples of the Elf64_Shdr fields, section 0 first) at 4 KiB, (offset, bytes) of data"""
    n = len(shdrs) if shnum is None else shnum
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 3, 62, 1, 0,
                       0, 4096, 0, 64, 56, phnum, 64, n, shstrndx)
    out = bytearray(size)
    out[:64] = ehdr
    for i, sh in enumerate(shdrs):
        struct.pack_into("<IIQQQQIIQQ", out, 4096 + 64 * i, *sh)
    for off, b in data:
        out[off:off + len(b)] = b
    return bytes(out)


def elf_write_corpus(d):
    """The ELF fuzz corpus' hostile-* seeds: small objects built to cost without bound before
    issue 15 (tests/fuzz/seeds.sh writes them into tests/fuzz/corpus/elf)"""
    whole = [(0, 2, 0, 0, 0, 16384 // 24 * 24, 9, 0, 8, 24)] * 8  # SYMTAB over the file
    seeds = {
        # eight symbol tables and their string table over the whole file
        "hostile-sparse-symtabs": hostile_elf([(0,) * 10] + whole +
                                              [(0, 3, 0, 0, 0, 16384, 0, 0, 1, 0)]),
        # two million section headers by extended numbering (section 0's sh_size)
        "hostile-shnum-huge": hostile_elf([(0, 0, 0, 0, 0, 2000000, 0, 0, 0, 0)], shnum=0),
        # two million program headers (PN_XNUM, section 0's sh_info)
        "hostile-phnum-xnum": hostile_elf([(0, 0, 0, 0, 0, 0, 0, 2000000, 0, 0)],
                                          phnum=0xffff),
        # a symbol table of 1-byte entries, 64 MiB past the file's end
        "hostile-entsize-1": hostile_elf([(0,) * 10, (0, 2, 0, 0, 8192, 64 << 20, 2, 0, 8, 1),
                                          (0, 3, 0, 0, 12288, 4096, 0, 0, 1, 0)]),
        # a compressed section that would inflate to 1 GiB (SHF_COMPRESSED, zlib)
        "hostile-inflate-1g": hostile_elf([(0,) * 10, (0, 1, 0x800, 0, 8192, 4096, 0, 0, 1, 0)],
                                          data=[(8192, struct.pack("<IIQQ", 1, 0, 1 << 30, 1))]),
        # a string table past the file's end
        "hostile-strtab-outside": hostile_elf([(0,) * 10, (0, 2, 0, 0, 8192, 2400, 2, 0, 8, 24),
                                               (0, 3, 0, 0, 1 << 40, 4096, 0, 0, 1, 0)]),
    }
    # a .gnu_debugdata whose xz stream asks for a 3 GiB dictionary to unpack
    names = b"\0.shstrtab\0.gnu_debugdata\0"
    xz = xz_big_dictionary()
    seeds["hostile-xz-dict"] = hostile_elf(
        [(0,) * 10, (1, 3, 0, 0, 8192, len(names), 0, 0, 1, 0),
         (11, 1, 0, 0, 9216, len(xz), 0, 0, 1, 0)],
        data=[(8192, names), (9216, xz)], shstrndx=1)
    for name, b in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)


def xz_big_dictionary():
    """A valid xz stream of one byte whose block header says its LZMA2 dictionary is 3 GiB
    (properties byte 39): what unpacking it would allocate"""
    import lzma
    import zlib
    b = bytearray(lzma.compress(b"x", format=lzma.FORMAT_XZ, preset=0))
    hdr = 12  # the stream header; the block header follows
    size = (b[hdr] + 1) * 4
    i = b.index(b"\x21\x01", hdr, hdr + size)  # filter LZMA2, one byte of properties
    b[i + 2] = 39
    struct.pack_into("<I", b, hdr + size - 4, zlib.crc32(bytes(b[hdr:hdr + size - 4])))
    return bytes(b)


class MemoryLimit:
    """A memory cgroup limited to limit bytes (v2, else v1), or RLIMIT_AS when no cgroup
    can be made: wrap runs a command inside it"""

    def __init__(self, limit):
        self.dir, self.kind, self.wrap = None, None, ()
        name = "memscope-e2e-%d" % os.getpid()
        v2 = "/sys/fs/cgroup"
        try:
            with open(os.path.join(v2, "cgroup.controllers")) as f:
                if "memory" in f.read().split():
                    self._make(os.path.join(v2, name), "memory.max", limit, "v2")
        except OSError:
            pass
        if not self.dir and os.path.isdir("/sys/fs/cgroup/memory"):
            try:
                self._make(os.path.join("/sys/fs/cgroup/memory", name),
                           "memory.limit_in_bytes", limit, "v1")
            except OSError:
                self.dir = None
        if self.dir:
            self.wrap = ("sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.dir)
        else:
            # the address space holds the ring buffers and thread stacks too: 4 x the limit
            self.kind = "RLIMIT_AS"
            self.wrap = ("prlimit", "--as=%d" % (4 * limit), "--")

    def _make(self, d, knob, limit, kind):
        os.mkdir(d)
        self.dir, self.kind = d, kind
        with open(os.path.join(d, knob), "w") as f:
            f.write(str(limit))

    def peak(self):
        """The cgroup's peak usage in bytes (memory.peak, max_usage_in_bytes), or None"""
        for knob in ("memory.peak", "memory.max_usage_in_bytes"):
            try:
                with open(os.path.join(self.dir or "/nonexistent", knob)) as f:
                    return int(f.read().split()[0])
            except (OSError, ValueError):
                continue
        return None

    def remove(self):
        deadline = time.monotonic() + 10
        while self.dir and os.path.isdir(self.dir):
            try:
                os.rmdir(self.dir)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def kill_tracers(ctx):
    """SIGKILL to the test's tracers, before what they may be using goes (a memory limit's
    cgroup, a mount)"""
    for p in ctx.procs:
        if p.name == TRACER:
            p.kill()


def vm_hwm(pid):
    """The process' peak resident memory in bytes (VmHWM)"""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


@test
def fault_sparse_elf_bounded(ctx):
    """-p: a 128 MiB sparse object with eight symbol tables over the whole file, mapped
    executable: under a 256 MiB memory limit the tracer attaches, skips it with one line
    naming it and the bound, and traces the process exactly"""
    d = shared_tmpdir(ctx)
    crafted = os.path.join(d, "crafted.so")
    sparse_elf(crafted, SPARSE_SIZE, SPARSE_SYMTABS)
    on_disk = os.stat(crafted).st_blocks * 512
    w = ctx.spawn([ctx.workload_path("mapped"), crafted], "mapped")
    pid = ready_pid(w)
    lim = MemoryLimit(MEMORY_BOUND)
    c = Check()
    try:
        t0 = time.monotonic()
        tr = ctx.tracer(["--json", "-i", "0.5", "-p", str(pid)], wrap=lim.wrap)
        if attached_within(c, tr, "-p under a %d MiB limit (%s)" % (MEMORY_BOUND >> 20,
                                                                    lim.kind)):
            took = time.monotonic() - t0
            hwm = vm_hwm(tr.pid)
            os.kill(pid, signal.SIGUSR1)
            gt = ground_truth(w)
            wait_json(tr, lambda r: any(q.get("pid") == pid and q.get("allocs") ==
                                        gt["allocs"] for q in r.get("processes") or []),
                      "a record with pid %d's window" % pid, timeout=FILES_TIMEOUT)
            hwm = max(hwm, vm_hwm(tr.pid))
            peak = lim.peak()
            print("  %s (%d MiB, %d KiB on disk): attached in %.1f s, VmHWM %.1f MiB, "
                  "cgroup peak %s" % (os.path.basename(crafted), SPARSE_SIZE >> 20,
                                      on_disk >> 10, took, hwm / 1048576.0,
                                      "%.1f MiB" % (peak / 1048576.0) if peak else "-"))
            c.true(hwm <= MEMORY_BOUND, "the tracer's resident memory (VmHWM %.1f MiB, "
                   "expected at most %d MiB)" % (hwm / 1048576.0, MEMORY_BOUND >> 20))
            lines = [l for l in tr.err() if crafted in l]
            c.true(len(lines) == 1 and "bound" in lines[0],
                   "one stderr line naming %s and the bound: %r" % (crafted, lines))
            if ends_on_one_sigterm(c, tr, "-p"):
                final_of(c, tr, pid, gt, "mapped")
        else:
            ends_on_one_sigterm(c, tr, "-p, not attached")
    finally:
        kill_tracers(ctx)
        lim.remove()
    w.signal(signal.SIGUSR2)
    c.done()


def stripped_with_debuglink(ctx, d, name):
    """A copy of the mapped workload at d/name, stripped of every symbol, its symbols and
    DWARF in d/name.debug, found through its .gnu_debuglink: (executable, debug file)"""
    need_tool("objcopy")
    exe = copy_exe(ctx, "mapped", os.path.join(d, name))
    debug = exe + ".debug"
    subprocess.run(["objcopy", "--only-keep-debug", exe, debug], check=True)
    subprocess.run(["objcopy", "--strip-all", "--add-gnu-debuglink=" + debug, exe], check=True,
                   cwd=d)
    return exe, debug


def site_named(rec, pid, func):
    """Whether a record lists a site of pid whose stack names func with a file:line"""
    for p in rec.get("processes") or []:
        if p.get("pid") == pid:
            for s in proc_sites(p).values():
                if any(re.match(r"%s\+0x[0-9a-f]+ \(mapped\.c:\d+\)$" % func, f)
                       for f in s.get("stack") or ()):
                    return True
    return False


@test
def fault_debug_file_truncated(ctx):
    """-p --stacks: the debug file the tracer has mapped for names and lines is truncated
    by its owner, then the process allocates at a call site not yet named: the tracer
    lives (a fault, not SIGBUS), traces exactly and ends on one SIGTERM"""
    d = shared_tmpdir(ctx)
    exe, debug = stripped_with_debuglink(ctx, d, "trunc_exe")
    w = ctx.spawn([exe, "-2"], "trunc_exe")
    pid = ready_pid(w)
    c = Check()
    tr = ctx.tracer(["--json", "--stacks", "-i", "0.5", "-p", str(pid)])
    if not attached_within(c, tr, "-p --stacks"):
        ends_on_one_sigterm(c, tr, "-p, not attached")
        c.done()
    os.kill(pid, signal.SIGUSR1)
    _, i = w.wait_line("out", lambda l: l.startswith("{"), WINDOW_TIMEOUT, "ground truth")
    # names and lines from the debug file: the tracer has it mapped
    wait_json(tr, lambda r: site_named(r, pid, "keep_chunk"),
              "a record naming keep_chunk (mapped.c:N) from %s" % debug, timeout=FILES_TIMEOUT)
    os.truncate(debug, 0)
    os.kill(pid, signal.SIGUSR1)
    gt = ground_truth(w, start=i + 1)
    try:
        wait_json(tr, lambda r: any(q.get("pid") == pid and q.get("allocs") == gt["allocs"]
                                    for q in r.get("processes") or []),
                  "a record with pid %d's second window" % pid, timeout=FILES_TIMEOUT)
        time.sleep(1.5)  # three intervals more, each naming the sites it lists
    except Fail as e:
        c.fail(str(e))
    c.true(tr.p.poll() is None, "the tracer runs after the truncation (exit status %s)" %
           tr.p.poll())
    lines = [l for l in tr.err() if "SIGBUS" in l]
    c.true(len(lines) == 1 and "trunc_exe" in lines[0],
           "one stderr line naming trunc_exe and the fault it took: %r" % lines)
    if tr.p.poll() is None and ends_on_one_sigterm(c, tr, "-p --stacks"):
        final_of(c, tr, pid, gt, "trunc_exe")
    w.signal(signal.SIGUSR2)
    c.eq("trunc_exe exit status", 0, w.wait_exit(10))
    c.done()


XZ_BOMB = 1 << 30  # bytes a crafted .gnu_debugdata unpacks to (150 KiB of xz)


def xz_zeros(path, size):
    """An xz stream of size zero bytes at path"""
    import lzma
    z = lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=0)
    chunk = bytes(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size // len(chunk)):
            f.write(z.compress(chunk))
        f.write(z.flush())


@test
def fault_xz_bomb_bounded(ctx):
    """-p --stacks: a program without symbols whose .gnu_debugdata (MiniDebugInfo, which
    libdwfl unpacks) unpacks to 1 GiB: under a 256 MiB memory limit the tracer names its
    frames from what it can read, says once that the object is past the bound, and traces
    the process exactly"""
    need_tool("objcopy")
    d = shared_tmpdir(ctx)
    exe = copy_exe(ctx, "mapped", os.path.join(d, "xz_bomb"))
    bomb = os.path.join(d, "bomb.xz")
    xz_zeros(bomb, XZ_BOMB)
    subprocess.run(["objcopy", "--strip-all", "--add-section", ".gnu_debugdata=" + bomb, exe],
                   check=True)
    w = ctx.spawn([exe], "xz_bomb")
    pid = ready_pid(w)
    lim = MemoryLimit(MEMORY_BOUND)
    c = Check()
    try:
        tr = ctx.tracer(["--json", "--stacks", "-i", "0.5", "-p", str(pid)], wrap=lim.wrap)
        if attached_within(c, tr, "-p --stacks under a %d MiB limit (%s)" % (
                MEMORY_BOUND >> 20, lim.kind)):
            os.kill(pid, signal.SIGUSR1)
            gt = ground_truth(w)
            try:
                wait_json(tr, lambda r: any(q.get("pid") == pid and q.get("allocs") ==
                                            gt["allocs"] and proc_sites(q)
                                            for q in r.get("processes") or []),
                          "a record with pid %d's window and its sites" % pid,
                          timeout=FILES_TIMEOUT)
                time.sleep(1.5)
            except Fail as e:
                c.fail(str(e))
            hwm = vm_hwm(tr.pid) if tr.p.poll() is None else 0
            print("  %s (.gnu_debugdata of %d KiB, %d MiB unpacked): VmHWM %.1f MiB, "
                  "cgroup peak %s" % (os.path.basename(exe), os.stat(bomb).st_size >> 10,
                                      XZ_BOMB >> 20, hwm / 1048576.0,
                                      "%.1f MiB" % (lim.peak() / 1048576.0)
                                      if lim.peak() else "-"))
            c.true(tr.p.poll() is None, "the tracer runs (exit status %s)" % tr.p.poll())
            c.true(hwm <= MEMORY_BOUND, "the tracer's resident memory (VmHWM %.1f MiB, "
                   "expected at most %d MiB)" % (hwm / 1048576.0, MEMORY_BOUND >> 20))
            lines = [l for l in tr.err() if "xz_bomb" in l]
            c.true(len(lines) == 1 and "bound" in lines[0],
                   "one stderr line naming xz_bomb and the bound: %r" % lines)
            if tr.p.poll() is None and ends_on_one_sigterm(c, tr, "-p --stacks"):
                final_of(c, tr, pid, gt, "xz_bomb")
        else:
            ends_on_one_sigterm(c, tr, "-p, not attached")
    finally:
        kill_tracers(ctx)
        lim.remove()
    w.signal(signal.SIGUSR2)
    c.done()


FUSE_SERVER = "tests/e2e/fuse_stall.py"  # beside run.py
FUSE_PYTHON = "/usr/bin/python3"  # Debian's, with python3-fusepy


class StallingFuse:
    """fuse_stall.py serving src at mnt: answers until stall(), then never again"""

    def __init__(self, ctx, src, mnt):
        if subprocess.run([FUSE_PYTHON, "-c", "import fusepy"],
                          stderr=subprocess.DEVNULL).returncode:
            raise Skip("no fusepy for %s (apt-get install python3-fusepy)" % FUSE_PYTHON)
        if not os.path.exists("/dev/fuse"):
            raise Skip("no /dev/fuse")
        os.makedirs(mnt, exist_ok=True)
        self.mnt = mnt
        server = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])),
                              os.path.basename(FUSE_SERVER))
        self.server = ctx.spawn([FUSE_PYTHON, server, src, mnt], "fuse_stall")
        self.server.wait_line("out", lambda l: l == "mounted", 30, "its 'mounted' line")

    def stall(self):
        with open(os.path.join(self.mnt, "stall")) as f:
            f.read()
        time.sleep(1.5)  # past the kernel's attribute and entry timeouts (1 s)

    def remove(self, ctx):
        """Ends the tracers (a reader left waiting on FUSE dies of SIGKILL), then the mount"""
        kill_tracers(ctx)
        subprocess.run(["umount", "-l", self.mnt], stderr=subprocess.DEVNULL)
        self.server.kill()


def traced_exactly_with_fuse(ctx, c, w, pid, name, what):
    """-p --stacks on pid: attaches, gets the window exactly, ends on one SIGTERM; the
    tracer's stderr lines that name FUSE"""
    tr = ctx.tracer(["--json", "--stacks", "-i", "0.5", "-p", str(pid)])
    if not attached_within(c, tr, what):
        ends_on_one_sigterm(c, tr, what + ", not attached")
        return None
    os.kill(pid, signal.SIGUSR1)
    gt = ground_truth(w)
    try:
        wait_json(tr, lambda r: any(q.get("pid") == pid and q.get("allocs") == gt["allocs"]
                                    and proc_sites(q) for q in r.get("processes") or []),
                  "a record with pid %d's window and its sites" % pid, timeout=FILES_TIMEOUT)
        time.sleep(1.5)  # three intervals more, each naming the sites it lists
    except Fail as e:
        c.fail(str(e))
    if ends_on_one_sigterm(c, tr, what):
        final_of(c, tr, pid, gt, name)
    return [l for l in tr.err() if "FUSE" in l]


@test
def fault_fuse_exe_stalls(ctx):
    """-p --stacks: a program run from a FUSE mount whose server then stops answering:
    the tracer attaches within the bound, says once it leaves the file alone, traces the
    process exactly and ends on one SIGTERM"""
    d = shared_tmpdir(ctx)
    src, mnt = os.path.join(d, "src"), os.path.join(d, "mnt")
    os.mkdir(src)
    copy_exe(ctx, "mapped", os.path.join(src, "fused_exe"))
    fs = StallingFuse(ctx, src, mnt)
    c = Check()
    try:
        w = ctx.spawn([os.path.join(mnt, "fused_exe")], "fused_exe")
        pid = ready_pid(w)
        fs.stall()
        lines = traced_exactly_with_fuse(ctx, c, w, pid, "fused_exe", "-p, exe on FUSE")
        if lines is not None:
            c.true(len(lines) == 1 and os.path.join(mnt, "fused_exe") in lines[0],
                   "one stderr line naming the program on FUSE: %r" % lines)
            w.signal(signal.SIGUSR2)
            c.eq("fused_exe exit status", 0, w.wait_exit(10))
    finally:
        fs.remove(ctx)
    c.done()


@test
def fault_fuse_debug_dir_stalls(ctx):
    """-p --stacks: a program whose debug directory (DIR/.debug, where its debuglink is
    looked for) is a FUSE mount whose server stops answering: the tracer never waits on
    it, names what it can, traces the process exactly and ends on one SIGTERM"""
    d = shared_tmpdir(ctx)
    exe, debug = stripped_with_debuglink(ctx, d, "fuse_dbg")
    src, mnt = os.path.join(d, "dbgsrc"), os.path.join(d, ".debug")
    os.mkdir(src)
    shutil.move(debug, os.path.join(src, os.path.basename(debug)))
    fs = StallingFuse(ctx, src, mnt)
    c = Check()
    try:
        w = ctx.spawn([exe], "fuse_dbg")
        pid = ready_pid(w)
        fs.stall()
        if traced_exactly_with_fuse(ctx, c, w, pid, "fuse_dbg",
                                    "-p, debug directory on FUSE") is not None:
            w.signal(signal.SIGUSR2)
            c.eq("fuse_dbg exit status", 0, w.wait_exit(10))
    finally:
        fs.remove(ctx)
    c.done()
