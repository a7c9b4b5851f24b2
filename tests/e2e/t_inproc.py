# t_inproc.py: --in-process, the launched command's calls recorded by a preloaded library:
# the same exact figures as the uprobes give, against the workloads' ground truths
import json
import os
import shutil
import signal
import time
from harness import TRACER, Check, Fail, Skip, test
from t_faults import proc_state
from run import (WINDOW_TIMEOUT, allocator_in, check_exit_run, check_records, nonzero, proc_in,
                 records, stop_tracer)


def launched_run(ctx, args, extra=(), **kw):
    tr = ctx.tracer(["--json", "--in-process"] + list(extra) + ["--"] + list(args), **kw)
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    if not any("attached in-process" in l for l in tr.err()):
        raise Fail("no 'attached in-process' line on stderr: %s" % tr.stderr_text())
    return tr


def command_run(ctx, args, label):
    """memscope-bpf --json ARGS run to its end: (tracer, its type records, the final one)"""
    tr = ctx.tracer(["--json"] + list(args))
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s): %s" % (
            label, rc, tr.stderr_text()))
    recs = [json.loads(l) for l in tr.out() if l.startswith('{"type"')]
    return tr, recs, next(r for r in recs if r.get("type") == "final")


@test
def inproc_launched(ctx):
    """--in-process -- launched 100: every glibc allocator call (realloc's three outcomes,
    failed calls, aligned_alloc == memalign, calloc's product, reallocarray), exact"""
    tr = launched_run(ctx, [ctx.workload_path("launched"), "100"])
    recs, other = records(tr, allow_other=True)
    gts = [o for o in other if isinstance(o, dict) and "allocs" in o]
    if len(gts) != 1:
        raise Fail("launched's ground truth lines (expected 1, got %d); other output: %r" % (
            len(gts), other[:3]))
    c = Check()
    check_exit_run(c, recs, gts[0], gts[0]["pid"], "launched", "in-process launched")
    c.done()


SIGNAL_NESTED_SIGNALS = 500


@test
def inproc_signal_nested(ctx):
    """--in-process=block -- signal_nested: signal handlers allocate (the C library's pvalloc)
    at any point of the main thread's jemalloc calls, inside the interposers' record writing
    too: every call recorded once (the handlers' as user calls, or as jemalloc's backing
    inside its calls), none lost, none written over another"""
    tr = launched_run(ctx, [ctx.workload_path("signal_nested"), str(SIGNAL_NESTED_SIGNALS)],
                      ["--in-process=block"])
    recs, other = records(tr, allow_other=True)
    gts = [o for o in other if isinstance(o, dict) and "loops" in o]
    if len(gts) != 1:
        raise Fail("signal_nested's ground truth lines (expected 1, got %d); other output: %r" %
                   (len(gts), other[:3]))
    gt = gts[0]
    fin = next((r for r in recs if r.get("type") == "final"), None)
    if fin is None:
        raise Fail("no final record")
    c = Check()
    c.eq("events lost", 0, fin.get("events_lost"))
    p = proc_in(fin, gt["pid"], "final record")
    je = allocator_in(c, "signal_nested", p, "jemalloc")
    if je is None:
        c.done()
    # libc's pvalloc made no user call when every handler ran inside a jemalloc call
    libc = next((a for a in p.get("allocators") or [] if a.get("name") == "libc"), {})
    loops, sigs = gt["loops"], gt["signals"]
    c.eq("jemalloc: blocks of %d bytes (size class 2048)" % gt["loop_size"], loops,
         (je.get("size_hist") or {}).get("2048"))
    c.eq("jemalloc: frees, unmatched, dead, missed", [loops, 0, 0, 0],
         [je.get(k) for k in ("frees", "unmatched_frees", "dead_frees", "missed_frees")])
    c.eq("jemalloc: allocs - frees = live", je.get("allocs", 0) - je.get("frees", 0),
         je.get("live_allocs"))
    c.eq("libc: pvalloc calls, all its calls, frees", [libc.get("allocs", 0)] * 2 + [0],
         [(libc.get("by_func") or {}).get("pvalloc", 0), libc.get("allocs", 0),
          libc.get("frees", 0)])
    c.eq("handlers' pvallocs: libc's user calls + jemalloc's backing", sigs,
         libc.get("allocs", 0) + je.get("backing_allocs", 0))
    c.eq("handlers' bytes: libc's + jemalloc's backing", sigs * gt["sig_size"],
         libc.get("alloc_bytes", 0) + je.get("backing_bytes", 0))
    c.eq("libc: blocks by size class", nonzero({"4096": libc.get("allocs", 0)}),
         nonzero(libc.get("size_hist") or {}))
    c.done()


@test
def inproc_library_missing(ctx):
    """memscope-bpf copied alone (no libmemscope-preload.so beside it, none installed): a
    COMMAND is traced by uprobes, said on stderr, its figures exact; --in-process asked
    for by name fails with the same line"""
    libdir = "/usr/local/lib/memscope-bpf"  # the Makefile's default MS_LIBDIR
    if os.path.exists(os.path.join(libdir, "libmemscope-preload.so")):
        raise Skip("%s holds an installed library" % libdir)
    alone = os.path.join(ctx.tmpdir(), "memscope-bpf")
    shutil.copy2(ctx.bin, alone)
    wl = [ctx.workload_path("launched"), "100"]
    tr = ctx.spawn([alone, "--json", "--"] + wl, TRACER)
    c = Check()
    c.eq("tracer exit status without the library", 0, tr.wait_exit(WINDOW_TIMEOUT))
    err = tr.err()
    c.true(any("cannot find libmemscope-preload.so" in l and "traced by uprobes" in l
               for l in err), "the line that says the command is traced by uprobes: %s" %
           tr.stderr_text())
    c.true(not any("attached in-process" in l for l in err),
           "no 'attached in-process' line: %s" % tr.stderr_text())
    recs, other = records(tr, allow_other=True)
    gts = [o for o in other if isinstance(o, dict) and "allocs" in o]
    if c.eq("launched's ground truth lines", 1, len(gts)):
        check_exit_run(c, recs, gts[0], gts[0]["pid"], "launched", "by uprobes, no library")
    named = ctx.spawn([alone, "--json", "--in-process", "--"] + wl, TRACER)
    c.eq("tracer exit status of --in-process without the library", 1,
         named.wait_exit(WINDOW_TIMEOUT))
    c.true(any("--in-process: cannot find libmemscope-preload.so" in l for l in named.err()),
           "--in-process's line: %s" % named.stderr_text())
    c.eq("--in-process without the library: nothing on stdout", [], named.out())
    c.done()


def foreign_lib(path):
    """A library at path that is not one of this build's (another version's): a copy of the
    system's zlib, which defines no memscope_shm_v* function"""
    shutil.copy2("/lib/x86_64-linux-gnu/libz.so.1", path)


@test
def inproc_library_other_version(ctx):
    """memscope-bpf beside a libmemscope-preload.so of another version (one that does not
    define this build's memscope_shm_vN: it would not take the region as its own and record
    nothing): a COMMAND is traced by uprobes, said, its figures exact; --in-process by name
    fails with the line. A family's library of another version: that family's own functions
    are not recorded, said; the C library's are, in-process"""
    d = ctx.tmpdir()
    alone = os.path.join(d, "memscope-bpf")
    shutil.copy2(ctx.bin, alone)
    foreign_lib(os.path.join(d, "libmemscope-preload.so"))
    wl = [ctx.workload_path("launched"), "100"]
    tr = ctx.spawn([alone, "--json", "--"] + wl, TRACER)
    c = Check()
    c.eq("tracer exit status with another version's library", 0, tr.wait_exit(WINDOW_TIMEOUT))
    err = tr.err()
    c.true(any("libmemscope-preload.so is not this memscope-bpf's" in l and
               "traced by uprobes" in l for l in err),
           "the line that says the command is traced by uprobes: %s" % tr.stderr_text())
    c.true(not any("attached in-process" in l for l in err),
           "no 'attached in-process' line: %s" % tr.stderr_text())
    recs, other = records(tr, allow_other=True)
    gts = [o for o in other if isinstance(o, dict) and "allocs" in o]
    if c.eq("launched's ground truth lines", 1, len(gts)):
        check_exit_run(c, recs, gts[0], gts[0]["pid"], "launched",
                       "by uprobes, another version's library")
    named = ctx.spawn([alone, "--json", "--in-process", "--"] + wl, TRACER)
    c.eq("tracer exit status of --in-process with another version's library", 1,
         named.wait_exit(WINDOW_TIMEOUT))
    c.true(any("--in-process:" in l and "is not this memscope-bpf's" in l
               for l in named.err()), "--in-process's line: %s" % named.stderr_text())
    c.eq("--in-process with another version's library: nothing on stdout", [], named.out())
    # the family's library: Debian's redis-server links jemalloc (make deps installs it)
    lib = os.path.join(os.path.dirname(ctx.bin), "libmemscope-preload.so")
    shutil.copy2(lib, os.path.join(d, "libmemscope-preload.so"))
    foreign_lib(os.path.join(d, "libmemscope-preload-jemalloc.so"))
    fam = ctx.spawn([alone, "--json", "--", "redis-server", "--version"], TRACER)
    c.eq("tracer exit status, jemalloc's library of another version", 0,
         fam.wait_exit(WINDOW_TIMEOUT))
    c.true(any("loads jemalloc" in l and "libmemscope-preload-jemalloc.so is another "
               "version's: jemalloc's own functions are not recorded" in l
               for l in fam.err()), "the family's line: %s" % fam.stderr_text())
    att = [l for l in fam.err() if "attached in-process" in l]
    c.true(len(att) == 1 and "jemalloc" not in att[0],
           "attached in-process without jemalloc's library: %s" % fam.stderr_text())
    c.done()


def interval_after(path, pred, what, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            for l in f:
                if l.startswith("{"):
                    r = json.loads(l)
                    if pred(r):
                        return r
        time.sleep(0.1)
    raise Fail("no %s within %d s" % (what, timeout))


@test
def inproc_threads(ctx):
    """--in-process -- mt_mix 4 500: four threads, cross-thread frees, address reuse; the
    window's calls (between the interval records around it) equal its ground truth"""
    out = os.path.join(ctx.tmpdir(), "mt.jsonl")
    tr = ctx.tracer(["--json", "--in-process", "-i", "0.2", "-o", out, "--",
                     ctx.workload_path("mt_mix"), "4", "500"])
    line, _ = tr.wait_line("out", lambda l: l.startswith("ready "), 30, "mt_mix's ready line")
    pid = int(line.split()[1])
    # a record after the start-up, before the window
    before = interval_after(out, lambda r: r.get("type") == "interval" and any(
        p.get("pid") == pid for p in r.get("processes", [])), "interval record", 10)
    os.kill(pid, signal.SIGUSR1)
    gl, _ = tr.wait_line("out", lambda l: l.startswith("{"), WINDOW_TIMEOUT, "ground truth")
    gt = json.loads(gl)
    after = interval_after(out, lambda r: r.get("type") == "interval" and r["ts"] > 0 and
                           (proc_in(r, pid, "interval").get("allocs", 0) -
                            proc_in(before, pid, "interval").get("allocs", 0)) >=
                           gt["allocs"], "interval record with the window", 20)
    os.kill(pid, signal.SIGUSR2)
    c = Check()
    c.eq("tracer exit status", 0, tr.wait_exit(WINDOW_TIMEOUT))
    p0, p1 = proc_in(before, pid, "before"), proc_in(after, pid, "after")
    delta = lambda f: p1.get(f, 0) - p0.get(f, 0)
    for f in ("allocs", "alloc_bytes", "failed_allocs"):
        c.eq("mt_mix window: %s (after - before)" % f, gt[f], delta(f))
    # the blocks each thread allocated before the window, freed in it, are unmatched to
    # a tracer that attaches at the window (the ground truth's view); traced from the
    # start, they are frees of known blocks
    c.eq("mt_mix window: frees + unmatched_frees (after - before)",
         gt["frees"] + gt["unmatched_frees"], delta("frees") + delta("unmatched_frees"))
    c.eq("mt_mix window: unmatched_frees (traced from the start)", 0, delta("unmatched_frees"))
    c.true(delta("freed_bytes") >= gt["freed_bytes"], "mt_mix window: freed_bytes %d, its "
           "ground truth's (known blocks only) %d" % (delta("freed_bytes"), gt["freed_bytes"]))
    c.eq("mt_mix: live blocks after (before + allocated - freed)",
         p0.get("live_allocs", 0) + delta("allocs") - delta("frees"), p1.get("live_allocs"))
    d = {k: (p1.get("by_func") or {}).get(k, 0) - (p0.get("by_func") or {}).get(k, 0)
         for k in set(p1.get("by_func") or {}) | set(p0.get("by_func") or {})}
    c.eq("mt_mix window: by_func (after - before)", nonzero(gt["by_func"]), nonzero(d))
    c.eq("mt_mix: events lost", 0, after.get("events_lost"))
    c.done()


@test
def inproc_rings_reused(ctx):
    """thread_churn 40 rounds of 8 (320 threads, more than the 256 rings): rings let go when
    their threads end are taken again and read; every figure what the uprobes count of the
    same run but glibc's own frees of each thread's cache at its end (a call inside libc,
    which the uprobes see and an interposer cannot: unmatched frees there), nothing lost"""
    path = ctx.workload_path("thread_churn")
    got = {}
    c = Check()
    for label, extra in (("in-process", []), ("--bpf", ["--bpf"])):
        _, _, fin = command_run(ctx, extra + ["--", path, "40", "8", "100"], label)
        c.eq("%s: events lost" % label, 0, fin.get("events_lost"))
        got[label] = proc_in(fin, fin["processes"][0]["pid"], "%s final" % label)
    ip, bp = got["in-process"], got["--bpf"]
    for f in ("allocs", "frees", "live_allocs", "size_hist"):
        c.eq("in-process %s (the uprobes')" % f, bp.get(f), ip.get(f))
    # bytes by call site: the same, but that the library's thread-local storage makes
    # glibc's table of each thread's TLS blocks (allocate_dtv's calloc) one entry, 16
    # bytes, longer in-process: the program does allocate that much more
    def by_site(p):
        return {s["stack"][-1].split("+")[0].split(" ")[0]: (s["allocs"], s["alloc_bytes"])
                for s in (p.get("sites") or {}).get("by_live_bytes", [])}
    isites, bsites = by_site(ip), by_site(bp)
    dtv = bsites.get("allocate_dtv", (0, 0))[0]
    c.true(dtv > 0, "--bpf: allocate_dtv's callocs among the sites: %r" % bsites)
    want = {k: (n, b + 16 * n if k == "allocate_dtv" else b) for k, (n, b) in bsites.items()}
    c.eq("in-process allocs and bytes by site (the uprobes', a DTV entry more)", want, isites)
    c.eq("in-process: frees of blocks never seen allocated", 0, ip.get("unmatched_frees"))
    c.eq("--bpf: glibc's frees of the 320 threads' caches", 320, bp.get("unmatched_frees"))
    want = dict(bp.get("by_func") or {})
    want["free"] = want.get("free", 0) - bp.get("unmatched_frees", 0)
    c.eq("in-process by_func (the uprobes' but those frees)", want, ip.get("by_func"))
    c.done()


def stopped_churn(ctx, extra, rounds, pairs):
    """thread_churn ROUNDS 8 PAIRS under the tracer, which is stopped for half a second
    once it has attached: threads go on starting and ending, their rings wait to be freed
    by a daemon that does not read. The final record's process and its lost counts."""
    tr = ctx.tracer(["--json"] + list(extra) + [
        "--", ctx.workload_path("thread_churn"), str(rounds), "8", str(pairs)])
    tr.wait_line("err", lambda l: "attached in-process" in l, 30, "'attached in-process' line")
    time.sleep(0.05)
    os.kill(tr.pid, signal.SIGSTOP)
    time.sleep(0.5)
    os.kill(tr.pid, signal.SIGCONT)
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s): %s" % (rc, tr.stderr_text()))
    fin = next(json.loads(l) for l in tr.out() if l.startswith('{"type":"final"'))
    return fin["processes"][0], fin.get("lost") or {}, fin.get("events_lost")


@test
def inproc_rings_wait_for_reads(ctx):
    """thread_churn 4000 rounds of 8 threads, 10 pairs each, the tracer stopped for 0.5 s
    meanwhile: the 256 rings are soon all held by threads that ended. Lossy, the threads
    after them lose their records, whole (counted as threads_full, 20 a thread); with the
    block (the default) a thread waits until the daemon frees a ring: nothing lost, every
    call recorded"""
    rounds, pairs = 4000, 10
    mallocs = rounds * 8 * pairs + 1  # and the main thread's stdout buffer
    c = Check()
    p, lost, total = stopped_churn(ctx, ["--in-process=lossy"], rounds, pairs)
    full = lost.get("threads_full", 0)
    c.true(full > 0, "lossy: records lost to threads without a ring while the tracer was "
           "stopped (expected some, got %d)" % full)
    c.eq("lossy: lost counts but threads_full", {}, nonzero(
        {k: v for k, v in lost.items() if k != "threads_full"}))
    c.eq("lossy: records lost, in whole threads", 0, full % (2 * pairs))
    c.eq("lossy: mallocs recorded and lost", mallocs,
         (p.get("by_func") or {}).get("malloc", 0) + full // 2)
    c.eq("lossy: the threads' blocks (32 to 41 bytes) recorded and lost", rounds * 8 * pairs,
         (p.get("size_hist") or {}).get("32", 0) + full // 2)
    p, lost, total = stopped_churn(ctx, [], rounds, pairs)
    c.eq("block: events lost", 0, total)
    c.eq("block: mallocs", mallocs, (p.get("by_func") or {}).get("malloc"))
    c.eq("block: the threads' blocks (32 to 41 bytes)", rounds * 8 * pairs,
         (p.get("size_hist") or {}).get("32"))
    c.eq("block: frees of blocks never seen allocated", 0, p.get("unmatched_frees"))
    c.done()


def cpu_ns(pid):
    """The CPU time of process pid's threads so far, in ns (schedstat: on the CPU)"""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total


@test
def inproc_full_ring_sleeps(ctx):
    """-- churn 1 (malloc and free as fast as it can), the tracer stopped for half a second
    in the middle: the thread fills its ring in a few ms and then sleeps until the daemon
    has read half of it (a futex wait, woken by the daemon), rather than spin on the CPU the
    daemon needs: state S (at 4 of 5 looks), on the CPU for less than a quarter of 0.4 s of
    the stop. After it, every call of the window recorded (the ground truth's, past an
    interval record taken before it), nothing lost (the stop stays under the second after which a writer stops
    waiting for a daemon that does not read: 2^32 TSC ticks, 1.1 s at 4 GHz)"""
    stop = 0.4
    tr = ctx.tracer(["--json", "-i", "0.1", "--", ctx.workload_path("churn"), "1"])
    line, _ = tr.wait_line("out", lambda l: l.startswith("ready "), 30, "churn's ready line")
    pid = int(line.split()[1])
    _, i = tr.wait_line("out", lambda l: l.startswith('{"type":"interval"'), 30,
                        "an interval record")
    _, i = tr.wait_line("out", lambda l: l.startswith('{"type":"interval"'), 30,
                        "a second interval record", i + 1)
    base = proc_in(json.loads(tr.out()[i]), pid, "the interval record before the window")
    c = Check()
    os.kill(pid, signal.SIGUSR1)  # the window
    time.sleep(0.05)
    os.kill(tr.pid, signal.SIGSTOP)
    try:
        time.sleep(0.05)  # its ring full by then: 65,536 records in a few ms
        before = cpu_ns(pid)
        # churn 1: the main thread (waiting for a signal) and the churning one, looked at
        # 5 times: asleep, but for its look at the heartbeat every 10 ms (a thread woken
        # on a busy host can wait its turn a while in R)
        states = []
        for _ in range(5):
            time.sleep(stop / 5)
            states += [proc_state(int(t)) for t in os.listdir("/proc/%d/task" % pid)
                       if int(t) != pid]
        used = cpu_ns(pid) - before
    finally:
        os.kill(tr.pid, signal.SIGCONT)
    c.true(states.count("S") >= 4 and len(states) == 5,
           "the churning thread's state at 5 looks while the tracer is stopped (expected S "
           "at 4 or more, got %s)" % states)
    c.true(used < stop * 1e9 / 4, "churn on the CPU for %.0f ms of the tracer's %.0f ms "
           "stop (expected under a quarter: asleep, not spinning)" % (used / 1e6, stop * 1e3))
    time.sleep(0.2)
    os.kill(pid, signal.SIGUSR1)  # its end
    line, _ = tr.wait_line("out", lambda l: l.startswith('{"pid"'), 30, "the ground truth")
    gt = json.loads(line)
    os.kill(pid, signal.SIGUSR2)
    c.eq("tracer exit status", 0, tr.wait_exit(WINDOW_TIMEOUT))
    fin = next(json.loads(l) for l in tr.out() if l.startswith('{"type":"final"'))
    p = proc_in(fin, pid, "final")
    c.eq("events lost", 0, fin.get("events_lost"))
    c.eq("lost", {}, nonzero(fin.get("lost") or {}))
    c.true(gt["allocs"] > 65536, "calls in the window: %d, fewer than a ring" % gt["allocs"])
    for f in ("allocs", "frees", "alloc_bytes", "freed_bytes", "unmatched_frees"):
        c.eq("%s in the window (final - the interval before)" % f, gt[f],
             p.get(f, 0) - base.get(f, 0))
    c.done()


@test
def inproc_rings_all_held(ctx):
    """thread_churn 1 300 1 together: 300 threads alive at once, each with a 32-byte block
    allocated before a barrier and freed after it; the main thread holds a ring, the first
    255 threads the others: the last 45 threads' malloc and free are lost (threads_full
    90), and even with the block (the default) the program does not wait for a ring (none
    would come free)"""
    tr = ctx.tracer(["--json", "--", ctx.workload_path("thread_churn"), "1", "300", "1",
                     "together"])
    c = Check()
    c.eq("tracer exit status", 0, tr.wait_exit(WINDOW_TIMEOUT))
    fin = next(json.loads(l) for l in tr.out() if l.startswith('{"type":"final"'))
    p = fin["processes"][0]
    c.eq("lost", {"threads_full": 90}, nonzero(fin.get("lost") or {}))
    c.eq("mallocs recorded (255 threads' and the stdout buffer)", 256,
         (p.get("by_func") or {}).get("malloc"))
    c.eq("the threads' blocks (32 bytes) recorded", 255, (p.get("size_hist") or {}).get("32"))
    c.done()


@test
def inproc_no_children(ctx):
    """--in-process without -f: the command's children (a shell's) record nothing: only
    the command is in the records"""
    tr = launched_run(ctx, ["sh", "-c", "%s 10; %s 10" % (
        ctx.workload_path("launched"), ctx.workload_path("launched"))])
    recs, other = records(tr, allow_other=True)
    gts = [o for o in other if isinstance(o, dict) and "allocs" in o]
    c = Check()
    c.eq("launched ground truths", 2, len(gts))
    pids = {p.get("pid") for r in recs for p in r.get("processes", [])}
    c.eq("processes in the records (the shell only)", 1, len(pids))
    for g in gts:
        c.true(g["pid"] not in pids, "child %d is in the records" % g["pid"])
    c.done()


BUSY_PY = """import time
t0 = time.time()
n = 0
while time.time() - t0 < 3:
    x = [bytearray(600) for _ in range(100)]
    n += 1
print("done", n, flush=True)
"""


@test
def inproc_tracer_killed(ctx):
    """--in-process=block: the tracer killed while the command allocates: the command runs on
    to its end (a writer waits only while the tracer reads), nothing is left in /dev/shm"""
    script = os.path.join(ctx.tmpdir(), "busy.py")
    with open(script, "w") as f:
        f.write(BUSY_PY)
    before = set(os.listdir("/dev/shm"))
    tr = ctx.tracer(["-q", "--in-process=block", "--", "python3", script])
    tr.wait_line("err", lambda l: "attached in-process" in l, 30, "'attached in-process' line")
    time.sleep(1)
    os.kill(tr.pid, signal.SIGKILL)
    t0 = time.monotonic()
    line, _ = tr.wait_line("out", lambda l: l.startswith("done "), 30, "the script's end")
    c = Check()
    # 3 s of work, 1 of them traced: a writer gives up waiting a second or two after the
    # tracer stopped reading, then each full ring's record is lost at once
    c.true(time.monotonic() - t0 < 10, "the script ended %.1f s after the tracer was "
           "killed (expected under 10)" % (time.monotonic() - t0))
    c.eq("files the tracer left in /dev/shm", [],
         sorted(set(os.listdir("/dev/shm")) - before))
    c.done()


def suid_copy(ctx, src, name):
    """a copy of src, set-user-ID to nobody: run by root, the loader is in secure mode
    (AT_SECURE) and ignores LD_PRELOAD"""
    d = ctx.tmpdir()
    os.chmod(d, 0o755)
    dst = os.path.join(d, name)
    with open(src, "rb") as f, open(dst, "wb") as g:
        g.write(f.read())
    os.chown(dst, 65534, 65534)
    os.chmod(dst, 0o4755)
    return dst


@test
def inproc_follow(ctx):
    """--in-process=block -f -- spawner: the parent, its fork-only child (both record their
    own calls) and its exec'd child exact; an exec'd child that is set-user-ID to another
    user falls back to uprobes (said with -v), exact too, in the same run"""
    from t_real_programs import RP_CHILD_ITERS, RP_CHILD_M, rp_spawner_gts
    from run import compare_proc, exit_records, final_record, no_loss
    spawner, launched = ctx.workload_path("spawner"), ctx.workload_path("launched")
    c = Check()
    for child, how in ((launched, "in-process"), (suid_copy(ctx, launched, "launched_suid"),
                                                  "uprobes")):
        what = "-f, exec'd child by %s" % how
        tr = ctx.tracer(["--json", "-v", "--in-process=block", "-f", "--", spawner, child,
                         str(RP_CHILD_ITERS), str(RP_CHILD_M)])
        rc = tr.wait_exit(WINDOW_TIMEOUT)
        if rc != 0:
            raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
                what, rc, tr.stderr_text()))
        recs, other = records(tr, allow_other=True)
        gts = [o for o in other if isinstance(o, dict)]
        if not gts:
            raise Fail("%s: no ground truth line" % what)
        parent, execd, forked = rp_spawner_gts(gts, gts[-1]["pid"], what)
        fin = final_record(recs)
        no_loss(c, fin)
        c.eq("%s: final untraced_children" % what, 0, fin.get("untraced_children"))
        comm = os.path.basename(child)
        for gt, cm, who in ((parent, "spawner", "parent"), (execd, comm, "exec'd child"),
                            (forked, "spawner", "fork-only child")):
            label = "%s: %s %d" % (what, who, gt["pid"])
            if any(p.get("pid") == gt["pid"] for p in fin.get("processes") or []):
                compare_proc(c, label + ": final record", gt, proc_in(fin, gt["pid"], "final"),
                             cm)
            else:
                c.fail("%s: not in the final record" % label)
            ex = [r for r in exit_records(recs, gt["pid"]) if r.get("reason") == "exit"]
            if c.eq("%s: exit records of reason exit" % label, 1, len(ex)):
                compare_proc(c, label + ": exit record", gt, ex[0]["processes"][0], cm)
        fell = [l for l in tr.err() if "pid %d (" % execd["pid"] in l and
                "traced by uprobes" in l]
        c.eq("%s: -v lines saying the exec'd child is traced by uprobes" % what,
             1 if how == "uprobes" else 0, len(fell))
        if how == "uprobes":
            c.true(fell and "set-user-ID" in fell[0], "%s: the reason (set-user-ID): %r" % (
                what, fell))
        # the children are not held at fork: only the uprobe one has probes
        probed = [l for l in tr.err() if "return probes of" in l]
        c.eq("%s: -v lines of probes attached" % what, 1 if how == "uprobes" else 0,
             len(probed))
    c.done()


@test
def inproc_fallback(ctx):
    """--in-process falls back to uprobes, said with -v, for what the library cannot
    record: --stacks --stack-unwind fp, --alloc, --preset, a command set-user-ID to another user; each
    exact (launched 20). Without COMMAND or with a bad mode: usage (exit 2)"""
    launched = ctx.workload_path("launched")
    c = Check()
    for args in (["--in-process", "-p", "1"], ["--in-process=never", "--", launched, "1"]):
        tr = ctx.tracer(args)
        rc = tr.wait_exit(30)
        c.eq("%s: exit status" % " ".join(args[:2]), 2, rc)
        c.true(any("--in-process" in l for l in tr.err()), "%s: no word of --in-process: "
               "%s" % (" ".join(args), tr.stderr_text()))
    suid = suid_copy(ctx, launched, "launched_suid")
    # a function of a library launched never loads: traced once it is, never here
    plugin = ctx.workload_path("libnofp_plugin.so") + ":plugin_fill(size)"
    for extra, cmd, why in ((["--stacks", "--stack-unwind", "fp"], launched, "--stack-unwind fp"),
                            (["--alloc", plugin], launched, "--alloc"),
                            (["--preset", "rust"], launched, "--preset"),
                            ([], suid, "set-user-ID")):
        what = why
        tr = ctx.tracer(["--json", "-v", "--in-process"] + extra + ["--", cmd, "20"])
        rc = tr.wait_exit(WINDOW_TIMEOUT)
        if not c.eq("%s: exit status" % what, 0, rc):
            c.fail("%s: stderr: %s" % (what, tr.stderr_text()))
            continue
        lines = [l for l in tr.err() if l.startswith("memscope-bpf: --in-process: ") and
                 "traced by uprobes" in l]
        c.true(len(lines) == 1 and why in lines[0],
               "%s: one -v line saying why it is traced by uprobes: %r" % (what, lines))
        c.true(not any("attached in-process" in l for l in tr.err()),
               "%s: said attached in-process" % what)
        lines = [json.loads(l) for l in tr.out() if l.startswith("{")]
        # --stacks' leak report is a record of its own shape: the figures are the others'
        recs = [r for r in lines if "type" in r and r["type"] != "leaks"]
        check_records(recs)
        gts = [o for o in lines if "type" not in o and "allocs" in o]
        if c.eq("%s: ground truth lines" % what, 1, len(gts)):
            check_exit_run(c, recs, gts[0], gts[0]["pid"], os.path.basename(cmd), what)
    c.done()


def stack_share(c, p, label):
    """Every allocation of p took a stack (none lost, none cut short by the table)"""
    ps = p.get("sites") or {}
    c.eq("%s: allocations with a stack (every one)" % label, p.get("allocs"),
         ps.get("stack_allocs"))


@test
def inproc_stacks_launched(ctx):
    """--stacks -- launched 100 records in-process: every figure its ground truth's (the
    library's own walks, libunwind's loading and caches, not counted), every allocation
    with a stack, none lost"""
    tr = launched_run(ctx, [ctx.workload_path("launched"), "100"], ["-v", "--stacks"])
    c = Check()
    lines = [json.loads(l) for l in tr.out() if l.startswith("{")]
    recs = [r for r in lines if "type" in r and r["type"] != "leaks"]
    gts = [o for o in lines if "type" not in o and "allocs" in o]
    if not c.eq("ground truth lines", 1, len(gts)):
        c.done()
    check_exit_run(c, recs, gts[0], gts[0]["pid"], "launched", "--stacks in-process")
    fin = next(r for r in recs if r.get("type") == "final")
    c.eq("stack_map_full", 0, (fin.get("lost") or {}).get("stack_map_full"))
    ex = [r for r in recs if r.get("type") == "exit" and
          any(p.get("pid") == gts[0]["pid"] for p in r.get("processes", []))]
    if c.eq("exit records", 1, len(ex)):
        stack_share(c, proc_in(ex[0], gts[0]["pid"], "exit"), "exit record")
    c.done()


@test
def inproc_follow_stacks(ctx):
    """--stacks -f -- spawner: the parent, its fork-only child (the library's state after
    fork) and its exec'd child record in-process, each exact, each allocation with a stack"""
    from t_real_programs import RP_CHILD_ITERS, RP_CHILD_M, rp_spawner_gts
    from run import compare_proc, exit_records, final_record, no_loss
    launched = ctx.workload_path("launched")
    tr = launched_run(ctx, [ctx.workload_path("spawner"), launched, str(RP_CHILD_ITERS),
                            str(RP_CHILD_M)], ["-v", "--stacks", "-f"])
    c = Check()
    c.true(not any("traced by uprobes" in l for l in tr.err()),
           "something fell back to uprobes: %s" % tr.stderr_text())
    # --stacks' leak report is a record of its own shape: the figures are the others'
    lines = [json.loads(l) for l in tr.out() if l.startswith("{")]
    recs = [r for r in lines if "type" in r and r["type"] != "leaks"]
    check_records(recs)
    gts = [o for o in lines if "type" not in o]
    if not gts:
        raise Fail("no ground truth line")
    parent, execd, forked = rp_spawner_gts(gts, gts[-1]["pid"], "-f --stacks")
    fin = final_record(recs)
    no_loss(c, fin)
    c.eq("stack_map_full", 0, (fin.get("lost") or {}).get("stack_map_full"))
    for gt, cm, who in ((parent, "spawner", "parent"), (execd, "launched", "exec'd child"),
                        (forked, "spawner", "fork-only child")):
        label = "%s %d" % (who, gt["pid"])
        ex = [r for r in exit_records(recs, gt["pid"]) if r.get("reason") == "exit"]
        if c.eq("%s: exit records of reason exit" % label, 1, len(ex)):
            p = ex[0]["processes"][0]
            compare_proc(c, label + ": exit record", gt, p, cm)
            stack_share(c, p, label)
    c.done()


@test
def inproc_stacks_thread_churn(ctx):
    """--stacks in-process on threads that start and end (thread_churn 3 rounds of 6): the
    figures those without --stacks give, though each thread's first walk allocates
    libunwind's caches and glibc frees them when the thread ends; every allocation with a
    stack"""
    path = ctx.workload_path("thread_churn")
    got = {}
    c = Check()
    for label, extra in (("no --stacks", []), ("--stacks", ["--stacks"])):
        tr, recs, fin = command_run(ctx, extra + ["--", path, "3", "6", "200"], label)
        c.true(any("attached in-process" in l for l in tr.err()),
               "%s: no 'attached in-process' line: %s" % (label, tr.stderr_text()))
        ex = [r for r in recs if r.get("type") == "exit"]
        if not c.eq("%s: exit records" % label, 1, len(ex)):
            continue
        p = ex[0]["processes"][0]
        got[label] = {k: p.get(k) for k in ("allocs", "frees", "unmatched_frees",
                                             "dead_frees", "live_allocs", "by_func")}
        c.eq("%s: events lost" % label, 0, fin.get("events_lost"))
        if extra:
            stack_share(c, p, label)
    c.eq("the process' figures with --stacks (those without)", got.get("no --stacks"),
         got.get("--stacks"))
    c.eq("frees of blocks never seen allocated", 0, (got.get("--stacks") or {}).get(
        "unmatched_frees"))
    c.done()
