# t_faults_replay.py: hostile recordings (issue 15, item 6); a test module imported by run.py.
#
# --replay needs no privileges, so any user can hand memscope-bpf any file. These tests
# write recordings no tracer would (Python, in the format of user/record.c) that used to
# cost without bound, replay them as root and as nobody, and bound the time, the peak
# resident memory and the output of each replay. tests/fuzz/seeds.sh writes small copies
# of them into the replay fuzzer's corpus (msr_write_corpus below).

import json
import os
import resource
import shutil
import struct
import subprocess
import threading
import time
import zlib

from harness import TRACER, Check, Skip, test
from run import proc_in, world_executable

# ---------------------------------------------------------------- the recording format

MSR_MAGIC = b"MSCOPE\0R"
MSR_VERSION = 2
MSR_COUNTERS = 7  # MS_CNT_MAX
MSR_BATCH = 4096  # events per EVTS frame (record.c's BATCH)
TAG_FUNC, TAG_ALOC, TAG_COMM, TAG_LOST, TAG_EVTS, TAG_END = (
    0x434E5546, 0x434F4C41, 0x4D4D4F43, 0x54534F4C, 0x53545645, 0x21444E45)
EV_ALLOC, EV_FREE, EV_REALLOC_ENTER, EV_REALLOC, EV_EXEC, EV_EXIT, EV_DLSTATE, EV_FORK = range(
    1, 9)
FN_ALLOC, FN_FREE, FN_REALLOC, FN_DLSTATE = range(1, 5)
SEC = 1000000000


def msr_event(type_, func, tgid, tid, ts, ptr=0, size=0, ret=0, flags=0, cpu=0, node=0,
              depth=0, outer=0, caller=0):
    """One struct ms_event (include/memscope.h), 64 bytes"""
    return struct.pack("<BBHHBBIIQQQQiHHQ", type_, flags, func, cpu, node, depth, tgid, tid,
                       ts, ptr, size, ret, -1, outer, 0, caller)


class MsrWriter:
    """A recording as record.c writes it: a gzip stream of the header, then frames"""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.z = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip wrapper
        self.batch = []
        self.events = 0
        self.funcs = 0
        self.allocators = 1  # libc is allocator 1 without a frame
        self._put(struct.pack("<8sIIIIQ64s64s", MSR_MAGIC, MSR_VERSION, 64, MSR_COUNTERS, 0,
                              1700000000 * SEC, b"hostile", b"t_faults_replay"))

    def _put(self, data):
        self.f.write(self.z.compress(data))

    def frame(self, tag, payload):
        self.flush()
        self._put(struct.pack("<II", tag, len(payload)) + payload)

    def allocator(self, name, kind=6):
        """Defines the next allocator (kind 6: custom); returns its id"""
        self.allocators += 1
        self.frame(TAG_ALOC, struct.pack("<HB5x32s", self.allocators, kind, name.encode()))
        return self.allocators

    def func(self, name, kind, allocator=1, fixed_size=0):
        """Defines the next function; returns its id"""
        self.funcs += 1
        self.frame(TAG_FUNC, struct.pack("<HHBB2xQ64s", self.funcs, allocator, kind, 0,
                                         fixed_size, name.encode()))
        return self.funcs

    def comm(self, pid, comm, flags=0):
        self.frame(TAG_COMM, struct.pack("<iI16s", pid, flags, comm.encode()))

    def event(self, *args, **kw):
        self.batch.append(msr_event(*args, **kw))
        if len(self.batch) == MSR_BATCH:
            self.flush()

    def flush(self):
        if self.batch:
            data = b"".join(self.batch)
            self._put(struct.pack("<II", TAG_EVTS, len(data)) + data)
            self.events += len(self.batch)
            self.batch = []

    def close(self):
        self.flush()
        self._put(struct.pack("<II", TAG_END, 8) + struct.pack("<Q", self.events))
        self.f.write(self.z.flush())
        self.f.close()
        return self.events


def msr_unknown_ids(path, pids):
    """One process with a call of malloc (function 1), then one call each of pids other
    processes to function 65535, which the recording never defines: unchecked, each such
    process grew its by_func to 65536 counters (512 KiB)"""
    w = MsrWriter(path)
    malloc = w.func("malloc", FN_ALLOC)
    w.event(EV_ALLOC, malloc, 100, 100, SEC, ptr=0x1000, size=16)
    for i in range(pids):
        w.event(EV_ALLOC, 65535, 1000 + i, 1000 + i, SEC + i, ptr=0x1000, size=16)
    return w.close()


def msr_pending_reallocs(path, threads):
    """One process whose threads each malloc a block and enter realloc with it, and never
    return: a realloc in flight per thread, none ever dropped, each allocation compared
    with all of them"""
    w = MsrWriter(path)
    malloc = w.func("malloc", FN_ALLOC)
    realloc = w.func("realloc", FN_REALLOC)
    for i in range(threads):
        tid, ptr = 1000 + i, 0x100000 + 16 * i
        w.event(EV_ALLOC, malloc, 100, tid, SEC + 2 * i, ptr=ptr, size=16)
        w.event(EV_REALLOC_ENTER, realloc, 100, tid, SEC + 2 * i + 1, ptr=ptr, size=32)
    return w.close()


def msr_many_pids(path, pids, steps):
    """pids processes that each allocate a block, then steps records one recorded second
    apart (one process allocating and freeing): a record's interval ends at each, and each
    interval record listed every process"""
    w = MsrWriter(path)
    malloc = w.func("malloc", FN_ALLOC)
    free = w.func("free", FN_FREE)
    for i in range(pids):
        w.event(EV_ALLOC, malloc, 1000 + i, 1000 + i, SEC, ptr=0x1000, size=16)
    for k in range(steps):
        ts = SEC + (k + 1) * SEC
        if k % 2 == 0:
            w.event(EV_ALLOC, malloc, 1000, 1000, ts, ptr=0x2000, size=32)
        else:
            w.event(EV_FREE, free, 1000, 1000, ts, ptr=0x2000)
    return w.close()


def msr_write_corpus(d):
    """Small copies of the hostile recordings for the replay fuzzer, under its 64 KiB
    -max_len: gzip, and decompressed (where mutations work on the frames themselves).
    tests/fuzz/seeds.sh calls this"""
    for name, make, gz_args, raw_args in (
            ("hostile-unknown-ids", msr_unknown_ids, (200,), (200,)),
            # past MS_MAX_PENDING (4096) reallocs in flight: some are dropped
            ("hostile-pending-reallocs", msr_pending_reallocs, (4500,), (400,)),
            ("hostile-many-pids", msr_many_pids, (300, 3000), (100, 700))):
        make(os.path.join(d, name + ".gz"), *gz_args)
        make(os.path.join(d, name + ".raw"), *raw_args)
        with open(os.path.join(d, name + ".raw"), "rb") as f:
            raw = zlib.decompress(f.read(), 31)
        with open(os.path.join(d, name + ".raw"), "wb") as f:
            f.write(raw)


# ---------------------------------------------------------------- bounded replays

FR_TIME = 10  # s: the most a replay of these recordings may take
FR_RSS = 256 << 10  # KiB: the most resident memory it may reach
FR_AS = 4 << 30  # bytes of address space a replay gets here, so that a bug cannot take the machine


def fr_binary(ctx):
    """The tracer, where user nobody can run it"""
    if world_executable(ctx.bin):
        return ctx.bin
    path = os.path.join(ctx.tmpdir(), TRACER)
    if not os.path.exists(path):
        os.chmod(ctx.tmpdir(), 0o755)
        shutil.copy2(ctx.bin, path)
        os.chmod(path, 0o755)
    return path


def fr_recording(ctx, name, make, *args):
    """Writes a recording nobody can read; returns (path, records in it)"""
    os.chmod(ctx.tmpdir(), 0o755)
    path = os.path.join(ctx.tmpdir(), name)
    n = make(path, *args)
    os.chmod(path, 0o644)
    return path, n


def fr_replay(ctx, path, args=(), nobody=False, timeout=60, max_out=512 << 20):
    """Replays path (as uid 65534 with nobody): a dict of status, seconds, rss_kib (peak
    resident), out_bytes, last (the last stdout line), err (stderr lines), killed (why it
    was stopped, or None)"""
    argv = [fr_binary(ctx) if nobody else ctx.bin, "--replay", path] + list(args)
    if nobody:
        if not shutil.which("setpriv"):
            raise Skip("no setpriv to run a replay as nobody")
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + argv

    # ASan reserves terabytes of address space for its shadow memory: no RLIMIT_AS there
    sanitized = "/sanitize/" in ctx.bin

    def limit():
        if not sanitized:
            resource.setrlimit(resource.RLIMIT_AS, (FR_AS, FR_AS))

    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=limit)
    got = {"out": 0, "tail": b"", "err": b""}

    def read_out():
        fd = p.stdout.fileno()
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                return
            got["out"] += len(b)
            got["tail"] = (got["tail"] + b)[-(8 << 20):]

    def read_err():
        got["err"] = p.stderr.read()[-65536:]

    readers = [threading.Thread(target=read_out, daemon=True),
               threading.Thread(target=read_err, daemon=True)]
    for r in readers:
        r.start()
    killed, status, ru = None, None, None
    try:
        while True:
            pid, st, rusage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                status, ru = os.waitstatus_to_exitcode(st), rusage
                break
            if time.monotonic() - t0 > timeout:
                killed = "still running after %d s" % timeout
            elif got["out"] > max_out:
                killed = "more than %d MiB of output" % (max_out >> 20)
            if killed:
                p.kill()
                pid, st, rusage = os.wait4(p.pid, 0)
                status, ru = os.waitstatus_to_exitcode(st), rusage
                break
            time.sleep(0.02)
    finally:
        p.returncode = status if status is not None else -9
        if status is None:
            p.kill()
    secs = time.monotonic() - t0
    for r in readers:
        r.join(10)
    lines = got["tail"].decode("utf-8", "replace").splitlines()
    return {"status": status, "seconds": secs, "rss_kib": ru.ru_maxrss if ru else 0,
            "out_bytes": got["out"], "last": lines[-1] if lines else "",
            "err": got["err"].decode("utf-8", "replace").splitlines(), "killed": killed,
            "sanitized": sanitized}


def fr_bounded(c, who, r, max_out):
    """The replay ended by itself within the time, memory and output bounds"""
    c.true(r["killed"] is None, "%s: the replay was stopped: %s" % (who, r["killed"]))
    # under ASan and UBSan: three times slower, and its shadow memory and quarantine are
    # not the tracer's
    limit_s = FR_TIME * (3 if r["sanitized"] else 1)
    c.true(r["seconds"] < limit_s, "%s: took %.1f s (expected < %d s)" % (
        who, r["seconds"], limit_s))
    if not r["sanitized"]:
        c.true(r["rss_kib"] < FR_RSS, "%s: peak resident memory %.1f MiB (expected < %d MiB)"
               % (who, r["rss_kib"] / 1024, FR_RSS >> 10))
    c.true(r["out_bytes"] <= max_out, "%s: wrote %.1f MiB (expected at most %.1f MiB)" % (
        who, r["out_bytes"] / 1048576, max_out / 1048576))
    print("  %s: %.2f s, %.1f MiB peak resident, %.2f MiB written, exit %s" % (
        who, r["seconds"], r["rss_kib"] / 1024, r["out_bytes"] / 1048576, r["status"]))


def fr_final(c, who, r):
    """The final record (the last line), or None"""
    try:
        rec = json.loads(r["last"])
    except ValueError:
        c.fail("%s: the last line is not a JSON record: %r" % (who, r["last"][:200]))
        return None
    if rec.get("type") != "final":
        c.fail("%s: the last record is %r, not the final record" % (who, rec.get("type")))
        return None
    return rec


@test
def replay_hostile_unknown_ids(ctx):
    """a recording naming functions it never defined: refused as corrupt at once, cheaply"""
    pids = 4000
    path, n = fr_recording(ctx, "unknown-ids.msr", msr_unknown_ids, pids)
    c = Check()
    for nobody in (False, True):
        who = "as nobody" if nobody else "as root"
        r = fr_replay(ctx, path, ["--json"], nobody=nobody)
        fr_bounded(c, who, r, 1 << 20)
        c.eq("%s: exit status (a corrupt recording)" % who, 1, r["status"])
        c.true(any("corrupt" in l for l in r["err"]),
               "%s: stderr says the recording is corrupt: %s" % (who, " | ".join(r["err"])))
        fin = fr_final(c, who, r)
        if fin:
            # what came before the first bad record: the one process and its call
            pids_seen = [p.get("pid") for p in fin.get("processes", [])]
            c.true(pids_seen == [100], "%s: processes in the final record (expected [100], "
                   "got %d: %s)" % (who, len(pids_seen), pids_seen[:5]))
            c.eq("%s: records replayed" % who, 1, fin.get("events"))
    c.done()


@test
def replay_hostile_pending_reallocs(ctx):
    """250,000 threads each inside a realloc that never returns: bounded time and memory,
    the reallocs past the cap dropped and counted, every block accounted for"""
    threads = 250000
    path, n = fr_recording(ctx, "pending.msr", msr_pending_reallocs, threads)
    c = Check()
    for nobody in (False, True):
        who = "as nobody" if nobody else "as root"
        r = fr_replay(ctx, path, ["--json"], nobody=nobody)
        fr_bounded(c, who, r, 1 << 20)
        c.eq("%s: exit status" % who, 0, r["status"])
        fin = fr_final(c, who, r)
        if not fin:
            continue
        p = proc_in(fin, 100, who)
        c.eq("%s: allocs" % who, threads, p.get("allocs"))
        # a realloc whose return never came keeps its block live: every block is
        c.eq("%s: live_allocs" % who, threads, p.get("live_allocs"))
        c.eq("%s: allocs - frees - live_allocs" % who, 0,
             p.get("allocs", 0) - p.get("frees", 0) - p.get("live_allocs", 0))
        # a side holds at most 4096 reallocs in flight: the others were dropped, counted
        c.eq("%s: lost.untracked (reallocs in flight dropped past 4096)" % who,
             threads - 4096, fin.get("lost", {}).get("untracked"))
    c.done()


@test
def replay_hostile_many_pids(ctx):
    """2,000 processes, then 20,000 records one recorded second apart: the interval
    records hold no more figures than the records they cover"""
    pids, steps = 2000, 20000
    path, n = fr_recording(ctx, "many-pids.msr", msr_many_pids, pids, steps)
    size = os.path.getsize(path)
    c = Check()
    for nobody in (False, True):
        who = "as nobody" if nobody else "as root"
        r = fr_replay(ctx, path, ["--json"], nobody=nobody)
        # the README's bound: interval records show no more figures (a process, each of
        # its allocators, functions, size classes and nodes) than records came since the
        # previous one, so at most about 2 KiB of JSON per record of the recording
        fr_bounded(c, who, r, 2048 * n)
        c.eq("%s: exit status" % who, 0, r["status"])
        fin = fr_final(c, who, r)
        if fin:
            c.eq("%s: processes in the final record" % who, pids, len(fin.get("processes", [])))
            c.eq("%s: records replayed" % who, n, fin.get("events"))
        print("  %s: %d records in %d bytes, %.0f bytes written per record" % (
            who, n, size, r["out_bytes"] / n))
    # text: the same bound
    r = fr_replay(ctx, path, [], nobody=True)
    fr_bounded(c, "text, as nobody", r, 2048 * n)
    c.eq("text: exit status", 0, r["status"])
    c.done()
