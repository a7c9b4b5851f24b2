#!/usr/bin/env python3
"""run.py: memscope-bpf end-to-end tests, as root: real workloads traced, exact figures.

usage: python3 tests/e2e/run.py [--bin build/memscope-bpf] [--workloads build/workloads]
                                [-k NAME]... [--list]

Every workload (tests/e2e/workloads/*.c) knows what it did and prints it as one JSON line
with the tracer's field names (its ground truth); each test compares the tracer's record
with it field by field, exactly. Prints "PASS name" or "FAIL name: ..." per test and a
summary; exits 1 when a test failed. Python standard library only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

TRACER = "memscope-bpf"
ATTACH_TIMEOUT = 60  # s: attaching to every process can take a while
WINDOW_TIMEOUT = 120  # s: a traced workload's window, every call trapped
EXIT_TIMEOUT = 30  # s: a tracer's detach and final record after SIGINT
RECORD_TYPES = ("interval", "exit", "final")
RECORD_FIELDS = ("type", "ts", "interval_s", "events", "events_lost", "processes")
PROC_COUNTS = ("allocs", "frees", "unmatched_frees", "dead_frees", "alloc_bytes",
               "freed_bytes", "live_allocs", "live_bytes", "peak_bytes", "failed_allocs")
PROC_FIELDS = ("pid", "comm") + PROC_COUNTS + (
    "by_func", "size_hist", "allocs_per_s", "frees_per_s", "alloc_bytes_per_s")
COMM_LEN = 15  # the kernel's task comm: 16 bytes with the NUL


class Fail(Exception):
    """A test failed; the message says what differed"""


class Skip(Exception):
    """A test cannot run here; the message says why"""


# ---------------------------------------------------------------- processes

class Proc:
    """A started process whose stdout and stderr lines are collected by reader threads.

    Each process gets its own session, so that killing its group also kills what it
    started (a tracer's COMMAND)."""

    def __init__(self, argv, name=None, **kw):
        self.name = name or os.path.basename(argv[0])
        self.argv = argv
        self.lines = {"out": [], "err": []}
        self.eof = {"out": False, "err": False}
        self.cv = threading.Condition()
        self.started = time.monotonic()
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True, **kw)
        self.pid = self.p.pid
        self.readers = [threading.Thread(target=self._read, args=(s, f), daemon=True)
                        for s, f in (("out", self.p.stdout), ("err", self.p.stderr))]
        for t in self.readers:
            t.start()

    def _read(self, stream, f):
        for raw in iter(f.readline, b""):
            with self.cv:
                self.lines[stream].append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.eof[stream] = True
            self.cv.notify_all()

    def out(self):
        with self.cv:
            return list(self.lines["out"])

    def err(self):
        with self.cv:
            return list(self.lines["err"])

    def stderr_text(self):
        err = self.err()
        return " | ".join(err[-5:]) if err else "(nothing)"

    def wait_line(self, stream, pred, timeout, what, start=0):
        """The first line (from index start) of stream satisfying pred, and its index"""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                lines = self.lines[stream]
                for i in range(start, len(lines)):
                    if pred(lines[i]):
                        return lines[i], i
                start = len(lines)
                if self.eof[stream]:
                    self.p.poll()
                    raise Fail("%s ended (status %s) before %s; stderr: %s" % (
                        self.name, self.p.returncode, what, " | ".join(
                            self.lines["err"][-5:]) or "(nothing)"))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Fail("%s: no %s within %d s; stderr: %s" % (
                        self.name, what, timeout, " | ".join(self.lines["err"][-5:])
                        or "(nothing)"))
                self.cv.wait(min(left, 0.5))

    def wait_exit(self, timeout, what="exit"):
        """The exit status, once both streams are read to the end"""
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Fail("%s did not %s within %d s; stderr: %s" % (
                self.name, what, timeout, self.stderr_text()))
        for t in self.readers:
            t.join(5)
        return rc

    def running(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.running():
            os.kill(self.pid, sig)

    def kill(self):
        """Kills the process and its group (what it started), then reaps it"""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.running():
            try:
                self.p.kill()
            except ProcessLookupError:
                pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for t in self.readers:
            t.join(2)


def run_cmd(argv, timeout, **kw):
    """Runs argv to its end: (status, stdout lines, stderr lines); a hang is a failure"""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, start_new_session=True, **kw)
    except subprocess.TimeoutExpired:
        raise Fail("%s did not end within %d s" % (" ".join(argv), timeout))
    out = r.stdout.decode("utf-8", "replace").splitlines()
    err = r.stderr.decode("utf-8", "replace").splitlines()
    return r.returncode, out, err


# ---------------------------------------------------------------- the test context

class Ctx:
    """One test's processes (all killed at its end) and the paths it uses"""

    def __init__(self, args):
        self.bin = args.bin
        self.wl_dir = args.workloads
        self.procs = []
        self.tmp = None

    def workload_path(self, name):
        path = os.path.join(self.wl_dir, name)
        if not os.access(path, os.X_OK):
            raise Fail("no workload %s (make builds it from tests/e2e/workloads/%s.c)"
                       % (path, name))
        return path

    def spawn(self, argv, name=None, **kw):
        p = Proc(argv, name, **kw)
        self.procs.append(p)
        return p

    def workload(self, name, *args):
        """Starts a gated workload and waits for its "ready <pid>" line"""
        w = self.spawn([self.workload_path(name)] + [str(a) for a in args])
        line, _ = w.wait_line("out", lambda l: l.startswith("ready "), 30, "its ready line")
        if line != "ready %d" % w.pid:
            raise Fail("%s said %r, expected 'ready %d'" % (name, line, w.pid))
        return w

    def tracer(self, args, wrap=(), **kw):
        if not os.access(self.bin, os.X_OK):
            raise Fail("no tracer binary at %s (make)" % self.bin)
        return self.spawn(list(wrap) + [self.bin] + list(args), TRACER, **kw)

    def tmpdir(self):
        if not self.tmp:
            self.tmp = tempfile.mkdtemp(prefix="memscope-e2e-")
        return self.tmp

    def cleanup(self):
        for p in self.procs:
            p.kill()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def wait_attached(tr, timeout=ATTACH_TIMEOUT):
    line, _ = tr.wait_line("err", lambda l: "attached" in l, timeout, "'attached' line")
    return line


def ground_truth(w, timeout=WINDOW_TIMEOUT, start=0):
    """The workload's ground truth line, parsed"""
    line, _ = w.wait_line("out", lambda l: l.startswith("{"), timeout,
                          "ground truth line", start)
    try:
        return json.loads(line)
    except ValueError as e:
        raise Fail("%s's ground truth is not JSON (%s): %r" % (w.name, e, line))


def stop_tracer(tr, sig=signal.SIGINT):
    """Signals the tracer, checks it exits 0, returns its records"""
    tr.signal(sig)
    rc = tr.wait_exit(EXIT_TIMEOUT, "exit after %s" % signal.Signals(sig).name)
    if rc != 0:
        raise Fail("tracer exit status after %s (expected 0, got %s); stderr: %s" % (
            signal.Signals(sig).name, rc, tr.stderr_text()))
    return records(tr)


def records(tr, allow_other=False):
    """The tracer's JSON records; with allow_other, lines that are not records (a
    COMMAND's own output on the same stdout) are returned apart"""
    recs, other = [], []
    for line in tr.out():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            if allow_other:
                other.append(line)
                continue
            raise Fail("tracer stdout line is not JSON: %r" % line[:200])
        if isinstance(obj, dict) and "type" in obj:
            recs.append(obj)
        elif allow_other:
            other.append(obj)
        else:
            raise Fail("tracer stdout line is not a record: %r" % line[:200])
    check_records(recs)
    return (recs, other) if allow_other else recs


def check_records(recs):
    """Every record has the contract's shape; ts and the counters never go back"""
    c = Check()
    last_ts, last_events = None, None
    for n, r in enumerate(recs):
        where = "record %d (%s)" % (n, r.get("type"))
        for f in RECORD_FIELDS:
            c.true(f in r, "%s: field %s missing" % (where, f))
        if r.get("type") not in RECORD_TYPES:
            c.fail("%s: type (expected one of %s, got %r)" % (where, "/".join(RECORD_TYPES),
                                                               r.get("type")))
        for f in ("ts", "interval_s"):
            c.true(isinstance(r.get(f), (int, float)) and r.get(f, -1) >= 0,
                   "%s: %s (expected a number >= 0, got %r)" % (where, f, r.get(f)))
        for f in ("events", "events_lost"):
            c.true(isinstance(r.get(f), int) and r.get(f, -1) >= 0,
                   "%s: %s (expected an integer >= 0, got %r)" % (where, f, r.get(f)))
        c.true(isinstance(r.get("processes"), list),
               "%s: processes (expected a list, got %r)" % (where, type(r.get("processes"))))
        if r.get("type") == "exit":
            c.true(r.get("reason") in ("exit", "exec"),
                   "%s: reason (expected exit or exec, got %r)" % (where, r.get("reason")))
            c.true(len(r.get("processes") or []) == 1,
                   "%s: processes (expected exactly 1, got %d)" % (
                       where, len(r.get("processes") or [])))
        for p in r.get("processes") or []:
            for f in PROC_FIELDS:
                c.true(f in p, "%s: pid %s: field %s missing" % (where, p.get("pid"), f))
        ts, ev = r.get("ts"), r.get("events")
        if isinstance(ts, (int, float)) and last_ts is not None:
            c.true(ts >= last_ts, "%s: ts went back (from %s to %s)" % (where, last_ts, ts))
        if isinstance(ev, int) and last_events is not None:
            c.true(ev >= last_events, "%s: events went back (from %s to %s)" % (
                where, last_events, ev))
        last_ts = ts if isinstance(ts, (int, float)) else last_ts
        last_events = ev if isinstance(ev, int) else last_events
    c.done()


def final_record(recs):
    if not recs or recs[-1].get("type") != "final":
        raise Fail("last record type (expected final, got %s)" % (
            recs[-1].get("type") if recs else "no record at all"))
    finals = [r for r in recs if r.get("type") == "final"]
    if len(finals) != 1:
        raise Fail("final records (expected 1, got %d)" % len(finals))
    return recs[-1]


def proc_in(rec, pid, what):
    found = [p for p in rec.get("processes", []) if p.get("pid") == pid]
    if len(found) != 1:
        raise Fail("%s: entries for pid %d (expected 1, got %d)" % (what, pid, len(found)))
    return found[0]


def exit_records(recs, pid):
    return [r for r in recs if r.get("type") == "exit" and
            any(p.get("pid") == pid for p in r.get("processes", []))]


# ---------------------------------------------------------------- comparisons

class Check:
    """Collects every difference, so one run names all of them"""

    def __init__(self):
        self.diffs = []

    def fail(self, msg):
        self.diffs.append(msg)

    def true(self, cond, msg):
        if not cond:
            self.diffs.append(msg)
        return cond

    def eq(self, field, expected, got):
        return self.true(expected == got, "%s (expected %s, got %s)" % (
            field, json.dumps(expected, sort_keys=True), json.dumps(got, sort_keys=True)))

    def done(self):
        if self.diffs:
            raise Fail("; ".join(self.diffs))


def nonzero(d):
    """A name -> count object without zero counts: a zero and a missing key say the
    same, and the contract lists only non-empty buckets"""
    return {k: v for k, v in (d or {}).items() if v != 0} if isinstance(d, dict) else d


def compare_proc(c, label, gt, p, comm, exact_peak=True):
    """Compares a tracer's process object with a workload's ground truth, every field"""
    pre = "%s: " % label
    c.eq(pre + "pid", gt["pid"], p.get("pid"))
    c.eq(pre + "comm", comm[:COMM_LEN], p.get("comm"))
    for f in PROC_COUNTS:
        if f == "peak_bytes" and not exact_peak:
            continue
        c.eq(pre + f, gt[f], p.get(f))
    if not exact_peak:
        # mt_mix: which thread's blocks are live together depends on the interleaving,
        # so the exact peak is unknown; it lies between the end's live bytes and the
        # bytes allocated in all
        peak, live, total = p.get("peak_bytes"), gt["live_bytes"], gt["alloc_bytes"]
        c.true(isinstance(peak, int) and live <= peak <= total,
               "%speak_bytes (expected %d <= peak_bytes <= %d, got %s)" % (
                   pre, live, total, peak))
    c.eq(pre + "by_func", nonzero(gt["by_func"]), nonzero(p.get("by_func")))
    c.eq(pre + "size_hist", nonzero(gt["size_hist"]), nonzero(p.get("size_hist")))
    for f in ("allocs_per_s", "frees_per_s", "alloc_bytes_per_s"):
        v = p.get(f)
        c.true(isinstance(v, (int, float)) and v >= 0,
               "%s%s (expected a number >= 0, got %r)" % (pre, f, v))


def no_loss(c, rec):
    c.eq("%s record events_lost" % rec.get("type"), 0, rec.get("events_lost"))


# ---------------------------------------------------------------- leak check

MS_PREFIXES = ("ms_", "memscope")  # program and map names; internal maps: memscope.rodata


def bpftool(what):
    rc, out, err = run_cmd(["bpftool", "-j"] + what.split() + ["list"], 30)
    if rc != 0:
        raise Fail("bpftool %s list failed: %s" % (what, " ".join(err)))
    text = "\n".join(out).strip()
    return json.loads(text) if text else []


def fd_holders():
    """bpf object -> pids holding an fd of it, from /proc/*/fdinfo"""
    holders = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        d = "/proc/%s/fdinfo" % pid
        try:
            fds = os.listdir(d)
        except OSError:
            continue
        for fd in fds:
            try:
                with open(os.path.join(d, fd)) as f:
                    info = f.read()
            except OSError:
                continue
            # a link's fdinfo also names its program: the first kind found is the fd's
            for kind in ("link", "prog", "map"):
                m = re.search(r"^%s_id:\s*(\d+)" % kind, info, re.M)
                if m:
                    holders.setdefault((kind, int(m.group(1))), set()).add(int(pid))
                    break
    return holders


def comm_of(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def ms_objects():
    """The tracer's programs, maps, links and perf-event probes now present"""
    progs = {p["id"]: p.get("name", "") for p in bpftool("prog")
             if p.get("name", "").startswith(MS_PREFIXES)}
    objs = {("prog", i): "program %d %s" % (i, n) for i, n in progs.items()}
    for m in bpftool("map"):
        if m.get("name", "").startswith(MS_PREFIXES):
            objs[("map", m["id"])] = "map %d %s" % (m["id"], m["name"])
    for l in bpftool("link"):
        if l.get("prog_id") in progs:
            objs[("link", l["id"])] = "link %d (%s of %s)" % (
                l["id"], l.get("type"), progs[l["prog_id"]])
    for e in bpftool("perf"):
        if e.get("prog_id") in progs:
            objs[("perf", (e.get("pid"), e.get("fd")))] = "perf-event %s %s+%s of %s (pid %s)" % (
                e.get("fd_type"), e.get("filename"), e.get("offset"), progs[e["prog_id"]],
                e.get("pid"))
    return objs


def foreign(key, holders, mine):
    """Held only by other, running memscope-bpf processes (the developer's own tracer)"""
    if key[0] == "perf":
        pids = {key[1][0]}
    else:
        pids = holders.get(key, set())
    return bool(pids) and all(p not in mine and comm_of(p) == TRACER for p in pids)


def leak_check(before, mine, timeout=5):
    """Objects of the tracer that appeared during a test and outlived its processes.
    The kernel frees a dead process' maps a moment later (RCU): wait a little."""
    deadline = time.monotonic() + timeout
    while True:
        now = ms_objects()
        new = {k: v for k, v in now.items() if k not in before}
        if new:
            holders = fd_holders()
            new = {k: v for k, v in new.items() if not foreign(k, holders, mine)}
        if not new or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    if new:
        holders = fd_holders()
        items = ["%s held by %s" % (v, ", ".join("%d (%s)" % (p, comm_of(p)) for p in sorted(
            holders.get(k, ()))) or "no process") for k, v in sorted(new.items(), key=str)]
        more = " and %d more" % (len(items) - 6) if len(items) > 6 else ""
        raise Fail("left behind after the test: %s%s" % ("; ".join(items[:6]), more))


# ---------------------------------------------------------------- the tests

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def pid_window(ctx, name, wargs, exact_peak):
    """Starts a gated workload, traces it with -p, opens its window, compares"""
    w = ctx.workload(name, *wargs)
    tr = ctx.tracer(["--json", "-i", "1", "-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    recs = stop_tracer(tr)
    fin = final_record(recs)
    c = Check()
    no_loss(c, fin)
    compare_proc(c, "final pid %d" % w.pid, gt, proc_in(fin, w.pid, "final record"), name,
                 exact_peak)
    c.done()
    w.signal(signal.SIGUSR2)
    rc = w.wait_exit(10)
    if rc != 0:
        raise Fail("%s exit status (expected 0, got %s)" % (name, rc))


@test
def pid_window_mt(ctx):
    """4 threads of every allocator call, cross-thread frees; -p while running"""
    pid_window(ctx, "mt_mix", (4, 500), exact_peak=False)


@test
def pid_window_peak(ctx):
    """a staircase to a known peak_bytes; -p while running"""
    pid_window(ctx, "peak", (), exact_peak=True)


@test
def dead_frees(ctx):
    """a thread exits in the window: glibc frees its tcache, blocks already free"""
    pid_window(ctx, "thread_exit", (), exact_peak=True)


@test
def multi_pid(ctx):
    """-p PID1,PID2: two workloads, each with its own figures"""
    w1 = ctx.workload("mt_mix", 2, 200)
    w2 = ctx.workload("peak")
    tr = ctx.tracer(["--json", "-p", "%d,%d" % (w1.pid, w2.pid)])
    wait_attached(tr)
    w1.signal(signal.SIGUSR1)
    w2.signal(signal.SIGUSR1)
    gt1, gt2 = ground_truth(w1), ground_truth(w2)
    fin = final_record(stop_tracer(tr))
    c = Check()
    no_loss(c, fin)
    compare_proc(c, "final pid %d (mt_mix)" % w1.pid, gt1, proc_in(fin, w1.pid, "final record"),
                 "mt_mix", exact_peak=False)
    compare_proc(c, "final pid %d (peak)" % w2.pid, gt2, proc_in(fin, w2.pid, "final record"),
                 "peak")
    pids = sorted(p.get("pid") for p in fin.get("processes", []))
    c.eq("final record pids", sorted([w1.pid, w2.pid]), pids)
    c.done()


def check_exit_run(c, recs, gt, pid, comm, label):
    """The process' exit record (reason exit) carries its last figures; if the final
    record still lists it, there too"""
    exits = exit_records(recs, pid)
    if c.eq("%s: exit records for pid %d" % (label, pid), 1, len(exits)):
        c.eq("%s: exit record reason" % label, "exit", exits[0].get("reason"))
        compare_proc(c, "%s: exit record" % label, gt, proc_in(exits[0], pid, "exit record"),
                     comm)
        no_loss(c, exits[0])
    fin = final_record(recs)
    if any(p.get("pid") == pid for p in fin.get("processes", [])):
        compare_proc(c, "%s: final record" % label, gt, proc_in(fin, pid, "final record"),
                     comm)


@test
def launched(ctx):
    """memscope-bpf --json -- launched 100: traced from its first instruction"""
    # A plain glibc 2.36 program makes no libc allocator call of its own at start-up or at
    # exit (bpftrace oracle, see workload_oracle_launched), so the figures are exact with
    # no run at ITERS=0 to subtract.
    path = ctx.workload_path("launched")
    tr = ctx.tracer(["--json", "--", path, "100"])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    if not any("attached" in l for l in tr.err()):
        raise Fail("no 'attached' line on stderr: %s" % tr.stderr_text())
    # the command writes its ground truth to the stdout it shares with the tracer
    recs, other = records(tr, allow_other=True)
    gts = [o for o in other if isinstance(o, dict) and "allocs" in o]
    if len(gts) != 1:
        raise Fail("launched's ground truth lines (expected 1, got %d); other output: %r" % (
            len(gts), other[:3]))
    gt = gts[0]
    c = Check()
    check_exit_run(c, recs, gt, gt["pid"], "launched", "launched")
    c.done()


@test
def exec_record(ctx):
    """-- execer 10 late 20: an exit record of reason exec, then the new image afresh"""
    execer, late = ctx.workload_path("execer"), ctx.workload_path("late")
    tr = ctx.tracer(["--json", "--", execer, "10", late, "20"])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    recs, other = records(tr, allow_other=True)
    gts = [o for o in other if isinstance(o, dict) and "allocs" in o]
    if len(gts) != 2 or gts[0]["pid"] != gts[1]["pid"]:
        raise Fail("ground truth lines (expected 2 of one pid, got %r)" % gts)
    pid = gts[0]["pid"]
    c = Check()
    exits = exit_records(recs, pid)
    got = [(r.get("reason"), r["processes"][0].get("comm")) for r in exits]
    if c.eq("exit records for pid %d (reason, comm)" % pid, [("exec", "execer"),
                                                             ("exit", "late")], got):
        compare_proc(c, "exec record", gts[0], exits[0]["processes"][0], "execer")
        compare_proc(c, "exit record", gts[1], exits[1]["processes"][0], "late")
    fin = final_record(recs)
    if any(p.get("pid") == pid for p in fin.get("processes", [])):
        compare_proc(c, "final record", gts[1], proc_in(fin, pid, "final record"), "late")
    c.done()


@test
def every_process(ctx):
    """no -p: a program started after attaching is traced from its start"""
    path = ctx.workload_path("late")
    tr = ctx.tracer(["--json"])
    wait_attached(tr)
    w = ctx.spawn([path])
    gt = ground_truth(w)
    rc = w.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("late exit status (expected 0, got %s)" % rc)

    def is_exit(line):
        try:
            r = json.loads(line)
        except ValueError:
            return False
        return r.get("type") == "exit" and r.get("reason") == "exit" and any(
            p.get("pid") == w.pid for p in r.get("processes", []))

    try:
        tr.wait_line("out", is_exit, 15, "exit record for late (pid %d)" % w.pid)
    finally:
        recs = stop_tracer(tr)
    c = Check()
    exits = [r for r in exit_records(recs, w.pid) if r.get("reason") == "exit"]
    if c.eq("exit records (reason exit) for pid %d" % w.pid, 1, len(exits)):
        compare_proc(c, "exit record", gt, proc_in(exits[0], w.pid, "exit record"), "late")
        no_loss(c, exits[0])
    c.done()


@test
def every_process_new_libc(ctx):
    """no -p: a process whose libc is a file the tracer has not seen (as in a container)"""
    libdir = os.path.join(ctx.tmpdir(), "lib")
    os.makedirs(libdir)
    shutil.copy2("/lib/x86_64-linux-gnu/libc.so.6", libdir)
    tr = ctx.tracer(["--json", "-v"])
    wait_attached(tr)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    w = ctx.spawn([ctx.workload_path("gated")], env=env)
    w.wait_line("out", lambda l: l.startswith("ready "), 30, "its ready line")
    # the loader's report of the new libc makes the tracer attach to it
    tr.wait_line("err", lambda l: "new object" in l and "for pid %d" % w.pid in l, 15,
                 "attach to the copied libc")
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    w.signal(signal.SIGUSR2)
    if w.wait_exit(10) != 0:
        raise Fail("gated exit status (expected 0, got %s)" % w.p.returncode)

    def is_exit(line):
        return '"type":"exit"' in line and '"pid":%d,' % w.pid in line

    try:
        tr.wait_line("out", is_exit, 15, "exit record for gated (pid %d)" % w.pid)
    finally:
        recs = stop_tracer(tr)
    c = Check()
    exits = exit_records(recs, w.pid)
    if c.eq("exit records for pid %d" % w.pid, 1, len(exits)):
        compare_proc(c, "exit record", gt, proc_in(exits[0], w.pid, "exit record"), "gated")
        no_loss(c, exits[0])
    c.done()


@test
def exit_record(ctx):
    """a -p process exits while traced: its exit record, then the tracer ends by itself"""
    w = ctx.workload("mt_mix", 3, 100)
    tr = ctx.tracer(["--json", "-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    w.signal(signal.SIGUSR2)  # main returns; exit_group ends the parked threads
    if w.wait_exit(10) != 0:
        raise Fail("mt_mix exit status (expected 0, got %s)" % w.p.returncode)
    rc = tr.wait_exit(EXIT_TIMEOUT, "end by itself after its only process exited")
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    recs = records(tr)
    c = Check()
    exits = exit_records(recs, w.pid)
    if c.eq("exit records for pid %d" % w.pid, 1, len(exits)):
        c.eq("exit record reason", "exit", exits[0].get("reason"))
        compare_proc(c, "exit record", gt, proc_in(exits[0], w.pid, "exit record"), "mt_mix",
                     exact_peak=False)
    final_record(recs)
    c.done()


@test
def duration(ctx):
    """-d 4 -i 1: ends by itself with a final record, interval records about every second"""
    w = ctx.workload("peak")
    t0 = time.monotonic()
    tr = ctx.tracer(["--json", "-d", "4", "-i", "1", "-p", str(w.pid)])
    rc = tr.wait_exit(4 + ATTACH_TIMEOUT, "end by itself after -d 4")
    took = time.monotonic() - t0
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    recs = records(tr)
    final_record(recs)
    c = Check()
    c.true(took >= 3.5, "run time (expected about 4 s or more, got %.1f s)" % took)
    intervals = [r for r in recs if r.get("type") == "interval"]
    # not timed tightly: attaching takes part of the 4 s, and the last second may end
    # in the final record instead of an interval record
    c.true(2 <= len(intervals) <= 5, "interval records in 4 s at -i 1 (expected 2 to 5, got %d)"
           % len(intervals))
    for r in intervals:
        c.true(0.5 <= r.get("interval_s", 0) <= 2.5,
               "interval record interval_s (expected about 1, got %s)" % r.get("interval_s"))
    c.done()


@test
def text_output(ctx):
    """without --json: a table with a header and the workload's row"""
    w = ctx.workload("peak")
    tr = ctx.tracer(["-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    ground_truth(w)
    tr.signal(signal.SIGINT)
    rc = tr.wait_exit(EXIT_TIMEOUT, "exit after SIGINT")
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    out = tr.out()
    c = Check()
    c.true(any(re.search(r"\bPID\b", l, re.I) for l in out),
           "no header line with a PID column in: %r" % out[:5])
    c.true(any(re.search(r"(^|\s)%d\s" % w.pid, l) and "peak" in l for l in out),
           "no row with pid %d and comm peak in: %r" % (w.pid, out[:10]))
    c.true(not any(l.lstrip().startswith("{") for l in out), "JSON lines without --json")
    c.done()


def one_error(c, what, rc, err, status):
    """A refused run: the exit status and exactly one stderr line 'memscope-bpf: ...'"""
    c.eq("%s: exit status" % what, status, rc)
    lines = [l for l in err if l.strip()]
    c.eq("%s: stderr lines" % what, 1, len(lines))
    if lines:
        c.true(lines[0].startswith(TRACER + ": "),
               "%s: stderr (expected 'memscope-bpf: ...', got %r)" % (what, lines[0]))
    if len(lines) > 1:
        c.fail("%s: stderr was %r" % (what, lines[:4]))


def unused_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


def refused(ctx, argv_tail, wrap=(), timeout=60):
    if not os.access(ctx.bin, os.X_OK):
        raise Fail("no tracer binary at %s (make)" % ctx.bin)
    return run_cmd(list(wrap) + [ctx.bin] + argv_tail, timeout)


@test
def bad_pid(ctx):
    """-p of a process that does not exist: exit 1"""
    pid = unused_pid()
    rc, out, err = refused(ctx, ["-p", str(pid), "-d", "2"])
    c = Check()
    one_error(c, "-p %d" % pid, rc, err, 1)
    c.done()


def has_interp(path):
    """Whether an ELF executable names a dynamic loader (PT_INTERP)"""
    with open(path, "rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2:
            raise Fail("%s is not a 64-bit ELF file" % path)
        phoff, = struct.unpack_from("<Q", ehdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    return any(struct.unpack_from("<I", ph, i * phentsize)[0] == 3 for i in range(phnum))


@test
def no_libc(ctx):
    """-p of a static program without any libc: exit 1"""
    path = ctx.workload_path("nolibc")
    if has_interp(path):
        raise Fail("%s is dynamically linked: it must be built with the flags on the first "
                   "line of tests/e2e/workloads/nolibc.c" % path)
    w = ctx.workload("nolibc")
    rc, out, err = refused(ctx, ["-p", str(w.pid), "-d", "2"])
    c = Check()
    one_error(c, "-p %d (nolibc)" % w.pid, rc, err, 1)
    c.done()


@test
def bad_usage(ctx):
    """bad options and values: exit 2"""
    c = Check()
    for argv in (["--no-such-option"], ["-i", "abc"], ["-i", "-1"], ["-d", "abc"],
                 ["-p", "abc"], ["-p", "1,x"], ["-p"], ["-x"]):
        rc, out, err = refused(ctx, argv)
        one_error(c, " ".join(argv), rc, err, 2)
    c.done()


def world_executable(path):
    """Whether every directory up to path lets others through and path lets them run it"""
    path = os.path.abspath(path)
    parts = path.split("/")
    for i in range(2, len(parts) + 1):
        st = os.stat("/".join(parts[:i]) or "/")
        if not st.st_mode & 0o001:
            return False
    return True


@test
def not_root(ctx):
    """run as nobody: no privileges, exit 1"""
    w = ctx.workload("peak")
    bin_path = ctx.bin
    if not world_executable(bin_path):
        # nobody cannot reach the build directory: run an identical copy
        d = ctx.tmpdir()
        os.chmod(d, 0o755)
        bin_path = os.path.join(d, TRACER)
        shutil.copy2(ctx.bin, bin_path)
        os.chmod(bin_path, 0o755)
    rc, out, err = run_cmd(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            bin_path, "-p", str(w.pid), "-d", "2"], 60)
    c = Check()
    one_error(c, "as uid 65534", rc, err, 1)
    c.done()


def hidden(ctx, mounts, what):
    """Runs the tracer in a private mount namespace with tmpfs over the given paths"""
    w = ctx.workload("peak")
    script = "".join('mount -t tmpfs none "%s" || exit 99; ' % m for m in mounts)
    rc, out, err = refused(ctx, ["-p", str(w.pid), "-d", "2"], wrap=(
        "unshare", "-m", "--propagation", "private", "sh", "-c",
        script + 'exec "$0" "$@"'))
    if rc == 99:
        raise Fail("could not mount a tmpfs over %s: %s" % (", ".join(mounts), " ".join(err)))
    c = Check()
    one_error(c, what, rc, err, 1)
    c.done()


@test
def no_btf(ctx):
    """a kernel without BTF (tmpfs over /sys/kernel/btf): exit 1"""
    hidden(ctx, ["/sys/kernel/btf"], "without /sys/kernel/btf")


@test
def no_uprobes(ctx):
    """a kernel without uprobes: exit 1"""
    # libbpf falls back from the uprobe PMU to tracefs' uprobe_events when the PMU is
    # missing; a kernel without uprobes has neither, so both are hidden
    mounts = ["/sys/bus/event_source/devices/uprobe"]
    mounts += [d for d in ("/sys/kernel/tracing", "/sys/kernel/debug") if os.path.isdir(d)]
    hidden(ctx, mounts, "without uprobes")


# ---- the workloads checked against an independent oracle (bpftrace), tracer not involved

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
ORACLE_FUNCS = {"malloc": "malloc", "calloc": "calloc", "realloc": "realloc",
                "reallocarray": "reallocarray", "posix_memalign": "posix_memalign",
                "memalign": "aligned_alloc/memalign", "valloc": "valloc",
                "pvalloc": "pvalloc", "free": "free"}


def oracle_script(filt):
    """bpftrace: outermost calls per function (a per-thread depth), free(NULL) left out.
    memalign only: aligned_alloc is the same address and would count every call twice."""
    allocs = [f for f in ORACLE_FUNCS if f != "free"]
    ent = ",\n".join("uprobe:%s:%s" % (LIBC, f) for f in allocs)
    ret = ",\n".join("uretprobe:%s:%s" % (LIBC, f) for f in ORACLE_FUNCS)
    return (
        "%s\n/%s/ { if (@d[tid] == 0) { @calls[probe] = count(); } @d[tid]++; }\n"
        "uprobe:%s:free\n/%s/ { if (@d[tid] == 0 && arg0 != 0) { @calls[probe] = count(); }"
        " @d[tid]++; }\n"
        "%s\n/%s/ { @d[tid]--; }\n"
        "END { print(@calls); clear(@calls); clear(@d); }\n") % (ent, filt, LIBC, filt, ret,
                                                                 filt)


def oracle_counts(lines):
    counts = {}
    for l in lines:
        m = re.match(r"@calls\[uprobe:[^\]]*:(\w+)\]: (\d+)$", l.strip())
        if m:
            counts[ORACLE_FUNCS[m.group(1)]] = int(m.group(2))
    return counts


def need_bpftrace():
    if not shutil.which("bpftrace"):
        raise Skip("bpftrace is not installed")


def oracle_expected(gts):
    """What bpftrace counts for these ground truths: outermost calls, dead frees too"""
    total = {}
    for gt in gts:
        for k, v in gt["by_func"].items():
            total[k] = total.get(k, 0) + v
        if gt["dead_frees"]:
            total["free"] = total.get("free", 0) + gt["dead_frees"]
    return nonzero(total)


@test
def workload_oracle_launched(ctx):
    """bpftrace counts launched programs' calls from their first instruction"""
    need_bpftrace()
    launched, late = ctx.workload_path("launched"), ctx.workload_path("late")
    execer = ctx.workload_path("execer")
    script = os.path.join(ctx.tmpdir(), "oracle.bt")
    with open(script, "w") as f:
        f.write(oracle_script("pid == cpid"))
    c = Check()
    for cmd in ("%s 0" % launched, "%s 100" % launched, "%s 40" % late,
                "%s 10 %s 20" % (execer, late)):
        rc, out, err = run_cmd(["bpftrace", "-c", cmd, script], 120)
        gts = [json.loads(l) for l in out if l.startswith("{")]
        if rc != 0 or not gts:
            raise Fail("bpftrace -c '%s' status %s; stderr: %s" % (cmd, rc, " | ".join(
                err[-3:])))
        c.eq("%s: by_func per bpftrace" % " ".join(os.path.basename(w) for w in cmd.split()),
             oracle_expected(gts), oracle_counts(out))
    c.done()


def oracle_window(ctx, name, wargs):
    """bpftrace counts a gated workload's calls in its window"""
    need_bpftrace()
    w = ctx.workload(name, *wargs)
    script = os.path.join(ctx.tmpdir(), "oracle.bt")
    with open(script, "w") as f:
        f.write(oracle_script("pid == %d" % w.pid))
    bt = ctx.spawn(["bpftrace", script], "bpftrace")
    bt.wait_line("out", lambda l: l.startswith("Attaching"), 60, "Attaching line")
    # bpftrace says "Attaching" before it attaches: wait for all 18 probes to exist
    deadline = time.monotonic() + 60
    while sum(1 for e in bpftool("perf") if e.get("pid") == bt.pid) < 18:
        if time.monotonic() > deadline or not bt.running():
            raise Fail("bpftrace did not attach its 18 probes; stderr: %s" % bt.stderr_text())
        time.sleep(0.2)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    bt.signal(signal.SIGINT)
    bt.wait_exit(60)
    c = Check()
    c.eq("%s window: by_func per bpftrace" % name, oracle_expected([gt]),
         oracle_counts(bt.out()))
    c.done()


@test
def workload_oracle_mt_mix(ctx):
    """bpftrace counts mt_mix's calls in its window"""
    oracle_window(ctx, "mt_mix", (4, 100))


@test
def workload_oracle_thread_exit(ctx):
    """bpftrace counts thread_exit's calls in its window, the tcache release included"""
    oracle_window(ctx, "thread_exit", ())


@test
def workload_oracle_peak(ctx):
    """bpftrace counts peak's calls in its window"""
    oracle_window(ctx, "peak", ())


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--bin", default=os.path.join(root, "build", TRACER),
                    help="the tracer (default: build/memscope-bpf of this tree)")
    ap.add_argument("--workloads", default=os.path.join(root, "build", "workloads"),
                    help="the built workloads (default: build/workloads of this tree)")
    ap.add_argument("-k", action="append", default=[], metavar="NAME",
                    help="run the tests whose name contains NAME (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.workloads = os.path.abspath(args.workloads)
    tests = [t for t in TESTS if not args.k or any(k in t.__name__ for k in args.k)]
    if args.list:
        for t in tests:
            print("%-26s %s" % (t.__name__, t.__doc__.splitlines()[0]))
        return 0
    if os.geteuid() != 0:
        print("run.py: the e2e tests need root", file=sys.stderr)
        return 2
    if not tests:
        print("run.py: no test matches %s" % " ".join(args.k), file=sys.stderr)
        return 2
    sys.stdout.reconfigure(line_buffering=True)
    passed, failed, skipped = [], [], []
    for t in tests:
        ctx = Ctx(args)
        msg, t0 = None, time.monotonic()
        try:
            before = ms_objects()
        except Fail as e:
            before, msg = {}, str(e)
        mine = set()
        try:
            if msg is None:
                t(ctx)
        except Fail as e:
            msg = str(e)
        except Skip as e:
            msg = "SKIP"
            skipped.append(t.__name__)
            print("SKIP %s: %s" % (t.__name__, e))
        except Exception as e:  # a bug in this harness: say where
            msg = "harness error %s: %s" % (type(e).__name__, e)
        finally:
            mine = {p.pid for p in ctx.procs}
            ctx.cleanup()
        if msg != "SKIP":
            try:
                leak_check(before, mine)
            except Fail as e:
                msg = "%s; %s" % (msg, e) if msg else str(e)
        took = time.monotonic() - t0
        if msg == "SKIP":
            continue
        if msg:
            failed.append(t.__name__)
            print("FAIL %s: %s" % (t.__name__, msg))
        else:
            passed.append(t.__name__)
            print("PASS %s (%.1f s)" % (t.__name__, took))
    print("%d passed, %d failed, %d skipped%s" % (
        len(passed), len(failed), len(skipped),
        (": " + " ".join(failed)) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
