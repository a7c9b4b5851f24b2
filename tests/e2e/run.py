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
import glob
import importlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import (ATTACH_TIMEOUT, EXIT_TIMEOUT, TESTS, TRACER, WINDOW_TIMEOUT, Check, Ctx,
                     Fail, Skip, run_cmd, test)

RECORD_TYPES = ("interval", "exit", "final", "leaks")
RECORD_FIELDS = ("type", "ts", "interval_s", "events", "events_lost", "processes")
PROC_COUNTS = ("allocs", "frees", "unmatched_frees", "dead_frees", "alloc_bytes",
               "freed_bytes", "live_allocs", "live_bytes", "peak_bytes", "failed_allocs")
PROC_FIELDS = ("pid", "comm") + PROC_COUNTS + (
    "by_func", "size_hist", "allocs_per_s", "frees_per_s", "alloc_bytes_per_s")
COMM_LEN = 15  # the kernel's task comm: 16 bytes with the NUL


# ---------------------------------------------------------------- records

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


def no_loss_but_missed_frees(c, rec):
    """Nothing lost but the frees an allocator's inlined paths hide (CPython's pymalloc):
    blocks allocated again while live, counted in lost.missed_free"""
    c.eq("%s record events_lost (all of them lost.missed_free)" % rec.get("type"),
         (rec.get("lost") or {}).get("missed_free"), rec.get("events_lost"))


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

def check_attach(tr):
    """With -v: the probes the tracer holds are the ones its lines name, attached the way
    it says: a perf-event uprobe each, or uprobe_multi links (one per object for its entry
    probes, one for its return probes, one for the loader probe); no other kind of them"""
    err = tr.err()
    how = [l for l in err if l.startswith("memscope-bpf: probes attach as ")]
    total = [int(m.group(1)) for m in (re.match(r"memscope-bpf: attached (\d+) probes? ", l)
                                       for l in err) if m]
    if len(how) != 1 or len(total) != 1:
        raise Fail("-v lines saying how probes attach and how many (one each): %r %r" % (
            how, total))
    perf = sum(1 for e in bpftool("perf") if e.get("pid") == tr.pid and
               e.get("fd_type") in ("uprobe", "uretprobe"))
    held = {k[1] for k, pids in fd_holders().items() if k[0] == "link" and tr.pid in pids}
    multi = sum(1 for l in bpftool("link") if l["id"] in held and
                l.get("type") in ("uprobe_multi", 12))  # bpftool 7.1 knows no name for it
    if "uprobe_multi links" not in how[0]:
        if (perf, multi) != (total[0], 0):
            raise Fail("%s: %d perf-event uprobes and %d uprobe_multi links held, %d probes "
                       "said" % (how[0], perf, multi, total[0]))
        return
    objs = [re.search(r"memscope-bpf: (\d+) entry and (\d+) return probes of .* in (\d) "
                      r"uprobe_multi links?$", l) for l in err]
    objs = [tuple(int(g) for g in m.groups()) for m in objs if m]
    loaders = sum(1 for l in err if l.startswith("memscope-bpf: loader probe at "))
    want_probes = sum(e + r for e, r, _ in objs) + loaders
    want_links = sum(n for _, _, n in objs) + loaders
    if (perf, multi, want_probes) != (0, want_links, total[0]):
        raise Fail("uprobe_multi: %d perf-event uprobes and %d links held; the -v lines name "
                   "%d links and %d probes, %d probes said" % (perf, multi, want_links,
                                                               want_probes, total[0]))


def pid_window(ctx, name, wargs, exact_peak, opts=()):
    """Starts a gated workload, traces it with -p, opens its window, compares; with -v,
    also how the probes are attached and placed"""
    w = ctx.workload(name, *wargs)
    tr = ctx.tracer(["--json", "-i", "1"] + list(opts) + ["-p", str(w.pid)])
    wait_attached(tr)
    if "-v" in opts:
        check_attach(tr)
    if "--no-placement" in opts:
        # -v: every probe at its function's entry
        lines = [l for l in tr.err() if l.startswith("memscope-bpf: probe ")]
        moved = [l for l in lines if "(entry+0x0" not in l]
        if not lines or moved:
            raise Fail("--no-placement: %d probe lines, moved: %r" % (len(lines), moved[:2]))
    if "--no-uprobe-multi" in opts and not any(
            l == "memscope-bpf: probes attach as perf-event uprobes (--no-uprobe-multi)"
            for l in tr.err()):
        raise Fail("--no-uprobe-multi: the tracer does not say it attaches perf-event uprobes")
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
def pid_window_perf_links(ctx):
    """the same mix with --no-uprobe-multi: perf-event uprobes give the same figures"""
    pid_window(ctx, "mt_mix", (4, 500), exact_peak=False, opts=("--no-uprobe-multi", "-v"))


@test
def pid_window_entries(ctx):
    """the same mix with --no-placement: probes at the function entries, same figures"""
    pid_window(ctx, "mt_mix", (4, 500), exact_peak=False, opts=("--no-placement", "-v"))


@test
def attach_links(ctx):
    """-v: on this kernel the probes attach as it says (uprobe_multi links where the
    kernel has them), exactly the probes its lines name; the figures are exact"""
    pid_window(ctx, "mt_mix", (2, 200), exact_peak=False, opts=("-v",))


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
    """memscope-bpf --json -- launched 100: traced from its first instruction, exact, by
    its preloaded library (the default for a COMMAND) and by uprobes (--bpf)"""
    # A plain glibc 2.36 program makes no libc allocator call of its own at start-up or at
    # exit (bpftrace oracle, see workload_oracle_launched), so the figures are exact with
    # no run at ITERS=0 to subtract.
    path = ctx.workload_path("launched")
    c = Check()
    for how, extra, said in (("in-process", [], "attached in-process"),
                             ("--bpf", ["--bpf"], "probes in")):
        tr = ctx.tracer(["--json"] + extra + ["--", path, "100"])
        rc = tr.wait_exit(WINDOW_TIMEOUT)
        if rc != 0:
            raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
                how, rc, tr.stderr_text()))
        c.true(any(said in l for l in tr.err()), "%s: no '%s' line on stderr: %s" % (
            how, said, tr.stderr_text()))
        # the command writes its ground truth to the stdout it shares with the tracer
        recs, other = records(tr, allow_other=True)
        gts = [o for o in other if isinstance(o, dict) and "allocs" in o]
        if len(gts) != 1:
            raise Fail("%s: launched's ground truth lines (expected 1, got %d); other output: "
                       "%r" % (how, len(gts), other[:3]))
        check_exit_run(c, recs, gts[0], gts[0]["pid"], "launched", "launched, " + how)
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


# A call that reaches a function straight (a call instruction whose target is the function's
# own address, not a PLT entry or a GOT slot): what malloc.c makes of its own functions, such
# as glibc's release of a thread's cache (tcache) when the thread ends. No preloaded library
# can see it; oracles of the in-process source leave it out
DIRECT_CALL = ('(*(uint8 *)($ra - 5) == 0xe8 && '
               '(int64)$ra + (int64)*(int32 *)($ra - 4) == (int64)reg("ip"))')


# oracle_script's and oracle_bytes_script's probes: an entry and a return a function
ORACLE_PROBES = 2 * len(ORACLE_FUNCS)


def oracle_script(filt, by=None, interposable=False):
    """bpftrace: outermost calls per function (a per-thread depth), free(NULL) left out;
    by: per value of that expression too (oracle_counts_by); interposable: the calls a
    preloaded library can see (not DIRECT_CALL). memalign only: aligned_alloc is the same
    address and would count every call twice."""
    allocs = [f for f in ORACLE_FUNCS if f != "free"]
    ent = ",\n".join("uprobe:%s:%s" % (LIBC, f) for f in allocs)
    ret = ",\n".join("uretprobe:%s:%s" % (LIBC, f) for f in ORACLE_FUNCS)
    key = "%s, probe" % by if by else "probe"
    ra, seen = "", ""
    if interposable:
        ra, seen = '$ra = *(uint64 *)reg("sp"); ', " && !%s" % DIRECT_CALL
    return (
        "%s\n/%s/ { %sif (@d[tid] == 0%s) { @calls[%s] = count(); } @d[tid]++; }\n"
        "uprobe:%s:free\n/%s/ { %sif (@d[tid] == 0 && arg0 != 0%s) { @calls[%s] = count(); }"
        " @d[tid]++; }\n"
        "%s\n/%s/ { @d[tid]--; }\n"
        "END { print(@calls); clear(@calls); clear(@d); %s }\n") % (
            ent, filt, ra, seen, key, LIBC, filt, ra, seen, key, ret, filt, ORACLE_END)


def oracle_bytes_script(filt, by):
    """bpftrace: the bytes of the calls oracle_script(filt, by, interposable=True) counts,
    per value of by: @ab the requested bytes of each block a call returned (calloc's count
    times size; posix_memalign's through its out pointer), @fb those of each block a free or
    a realloc that succeeded (or had size 0) released, found in @live[pid, address] (a block
    allocated before, or in a forked parent, releases nothing: an unmatched free)"""
    top = ('$ra = *(uint64 *)reg("sp"); if (@d[tid] == 0 && !%s) { @o[tid] = 1; '
           % DIRECT_CALL)
    got = ("if ($p != 0) { @live[pid, $p] = @sz[tid]; @ab[%s] = sum(@sz[tid]); }" % by)
    release = "@fb[%s] = sum(@live[pid, %%s]); delete(@live[pid, %%s]);" % by
    entries = (("malloc", "@sz[tid] = arg0;"), ("valloc", "@sz[tid] = arg0;"),
               ("pvalloc", "@sz[tid] = arg0;"), ("calloc", "@sz[tid] = arg0 * arg1;"),
               ("memalign", "@sz[tid] = arg1;"),
               ("posix_memalign", "@sz[tid] = arg2; @mp[tid] = arg0;"),
               ("realloc", "@sz[tid] = arg1; @old[tid] = arg0;"),
               ("reallocarray", "@sz[tid] = arg1 * arg2; @old[tid] = arg0;"),
               ("free", "if (arg0 != 0) { %s }" % (release % ("arg0", "arg0"))))
    out = ["uprobe:%s:%s\n/%s/ { %s%s } @d[tid]++; }" % (LIBC, f, filt, top, body)
           for f, body in entries]
    rets = [(f, "$p = retval; " + got) for f in ("malloc", "valloc", "pvalloc", "calloc",
                                                  "memalign")]
    rets.append(("posix_memalign", "if (retval == 0) { $p = *(uint64 *)@mp[tid]; %s }" % got))
    for f in ("realloc", "reallocarray"):
        rets.append((f, "$p = retval; $q = @old[tid]; if ($q != 0 && ($p != 0 || "
                        "@sz[tid] == 0)) { %s } %s" % (release % ("$q", "$q"), got)))
    rets.append(("free", ""))
    out += ["uretprobe:%s:%s\n/%s/ { @d[tid]--; if (@d[tid] == 0 && @o[tid]) { %s "
            "delete(@o[tid]); } }" % (LIBC, f, filt, body) for f, body in rets]
    out.append("END { print(@ab); print(@fb); clear(@ab); clear(@fb); clear(@live); "
               "clear(@d); clear(@o); clear(@sz); clear(@old); clear(@mp); %s }" % ORACLE_END)
    return "\n".join(out) + "\n"


def oracle_bytes_by(lines):
    """oracle_bytes_script's figures: {its value: {"alloc_bytes": n, "freed_bytes": n}}"""
    out = {}
    for l in lines:
        m = re.match(r"@(ab|fb)\[(.*)\]: (\d+)$", l.strip())
        if m:
            d = out.setdefault(m.group(2), {"alloc_bytes": 0, "freed_bytes": 0})
            d["alloc_bytes" if m.group(1) == "ab" else "freed_bytes"] = int(m.group(3))
    return out


def oracle_counts(lines):
    counts = {}
    for l in lines:
        m = re.match(r"@calls\[uprobe:[^\]]*:(\w+)\]: (\d+)$", l.strip())
        if m:
            counts[ORACLE_FUNCS[m.group(1)]] = int(m.group(2))
    return counts


def oracle_counts_by(lines):
    """oracle_script(by=...)'s counts: {its value: {function: calls}}"""
    counts = {}
    for l in lines:
        m = re.match(r"@calls\[(.*), uprobe:[^\]]*:(\w+)\]: (\d+)$", l.strip())
        if m:
            counts.setdefault(m.group(1), {})[ORACLE_FUNCS[m.group(2)]] = int(m.group(3))
    return counts


# bpftrace (0.17) ends its main loop on a SIGINT when the signal interrupts its epoll_wait;
# one that arrives between two of its 100 ms waits sets a flag it reads only when it has an
# event to print, and an oracle prints none before its END: it runs on (two CI runs' ASan
# passes, and once in 38 runs by hand of redis_oracle; 0 of 50 tries to provoke it).
# An oracle ends itself instead, by exit(), when the harness makes a call nothing else makes:
# libc's kill with signal 0 to a pid above any pid_max (2^22), one of its own (ESRCH: no
# process is touched). A uprobe, not the syscall's tracepoint: tracefs may not be mounted.
ORACLE_STOP_PID = 1 << 30
oracle_stops = itertools.count(ORACLE_STOP_PID)


def start_oracles(ctx, scripts):
    """bpftrace running each of scripts ((its text, its number of probes, its environment)),
    once all their probes are attached. Started together: a bpftrace's start, in a process
    that makes many malloc calls, traps at another's libc probes. Each gets a stop probe
    (stop_oracle)."""
    bts = []
    for script, _, env in scripts:
        stop = next(oracle_stops)
        fd, path = tempfile.mkstemp(suffix=".bt", dir=ctx.tmpdir())
        with os.fdopen(fd, "w") as f:
            f.write(script)
            f.write("uprobe:%s:kill\n/arg0 == %d && arg1 == 0/ { exit(); }\n" % (LIBC, stop))
        bt = ctx.spawn(["bpftrace", path], "bpftrace", env=env)
        bt.oracle_stop = stop
        bts.append(bt)
    # bpftrace says "Attaching" before it attaches: wait for every probe (and the stop) to exist
    deadline = time.monotonic() + 60
    for bt, (_, nprobes, _) in zip(bts, scripts):
        while sum(1 for e in bpftool("perf") if e.get("pid") == bt.pid) < nprobes + 1:
            if time.monotonic() > deadline or not bt.running():
                raise Fail("bpftrace did not attach its %d probes; stderr: %s" % (
                    nprobes + 1, bt.stderr_text()))
            time.sleep(0.2)
    return bts


def start_oracle(ctx, script, nprobes):
    """bpftrace running script (its text), once all its nprobes probes are attached"""
    return start_oracles(ctx, [(script, nprobes, None)])[0]


ORACLE_END = 'printf("oracle: end\\n");'


def stop_oracle(bt):
    """Ends a bpftrace oracle by its stop probe (exit(): its END probe runs within its next
    100 ms wait) once its END probe has printed the counts. One that has not printed them in
    15 s gets a SIGINT too (said), and fails the test if they are not there 45 s later. A
    bpftrace that printed them but hangs in its detach is killed (its counts are complete;
    what its threads wait on in the kernel is printed)."""
    try:
        os.kill(bt.oracle_stop, 0)
    except ProcessLookupError:
        pass
    try:
        bt.wait_line("out", lambda l: l == "oracle: end", 15, "its END probe's counts")
    except Fail:
        if not bt.running():
            raise
        print("  bpftrace did not end on its stop probe within 15 s: SIGINT")
        bt.signal(signal.SIGINT)
        try:
            bt.wait_line("out", lambda l: l == "oracle: end", 45, "its END probe's counts")
        except Fail as e:
            if bt.running():
                raise Fail("%s; its threads wait in: %s; stdout: %s" % (
                    e, kernel_stacks(bt.pid), " | ".join(bt.out()[-3:]) or "(nothing)"))
            raise
    try:
        bt.wait_exit(30)
    except Fail:
        print("  bpftrace printed its counts but did not exit within 30 s; its threads wait "
              "in: %s" % kernel_stacks(bt.pid))
        bt.kill()


def kernel_stacks(pid):
    """The innermost kernel frames of each thread of pid, for a hang's diagnosis"""
    tasks = []
    for tid in sorted(os.listdir("/proc/%d/task" % pid)):
        try:
            with open("/proc/%d/task/%s/stack" % (pid, tid)) as f:
                frames = [l.split()[-1] for l in f.read().splitlines()[:4]]
        except OSError as e:
            frames = [e.strerror]
        tasks.append("%s: %s" % (tid, " < ".join(frames)))
    return "; ".join(tasks) or "(no threads)"


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
    bt = start_oracle(ctx, oracle_script("pid == %d" % w.pid), ORACLE_PROBES)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    stop_oracle(bt)
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


# ---------------------------------------------------------------- Prometheus (--prometheus)

# family -> the ground truth's field; all per process and allocator (libc here)
PROM_FAMILIES = (
    ("memscope_allocations_total", "allocs"),
    ("memscope_frees_total", "frees"),
    ("memscope_unmatched_frees_total", "unmatched_frees"),
    ("memscope_failed_allocations_total", "failed_allocs"),
    ("memscope_allocated_bytes_total", "alloc_bytes"),
    ("memscope_freed_bytes_total", "freed_bytes"),
    ("memscope_live_allocations", "live_allocs"),
    ("memscope_live_bytes", "live_bytes"),
    ("memscope_peak_bytes", "peak_bytes"),
)
PROM_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROM_TIMEOUT = 60  # s: Prometheus' start, a scrape after a given time
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def need(*tools):
    for t in tools:
        if not shutil.which(t):
            raise Skip("%s is not installed (make deps installs it)" % t)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, method="GET", timeout=10):
    """(status, headers, body); an HTTP error status is returned, not raised"""
    try:
        with NO_PROXY.open(urllib.request.Request(url, method=method), timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def raw_request(port, data, timeout=15):
    """Sends data on a fresh connection and reads until the server closes it: the
    response's status (None when it closed without one) and its head"""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # it may answer and close before it has read everything
        got = b""
        try:
            while b"\r\n\r\n" not in got:
                b = s.recv(65536)
                if not b:
                    break
                got += b
        except OSError:
            pass
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", got)
    return (int(m.group(1)) if m else None), got.split(b"\r\n\r\n")[0].decode("latin-1")


def listen_addrs(port):
    """The local addresses of the sockets listening on TCP port, from /proc/net/tcp{,6}"""
    found = []
    for path, fam in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            addr, p = local.split(":")
            if state != "0A" or int(p, 16) != port:
                continue
            raw = b"".join(struct.pack("<I", int(addr[i:i + 8], 16))
                           for i in range(0, len(addr), 8))
            found.append(socket.inet_ntop(fam, raw))
    return found


def tracer_url(tr):
    line, _ = tr.wait_line("err", lambda l: "serving metrics at " in l, ATTACH_TIMEOUT,
                           "'serving metrics at' line")
    return line.split("serving metrics at ", 1)[1].strip()


def wait_intervals(tr, n):
    """Waits for n more interval records on the tracer's stdout"""
    start = len(tr.out())
    for _ in range(n):
        _, i = tr.wait_line("out", lambda l: l.startswith('{"type":"interval"'), 30,
                            "interval record", start)
        start = i + 1


def promtool_check(c, what, body):
    """`promtool check metrics` on an exposition: status 0 and nothing to say"""
    try:
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                           timeout=60)
    except subprocess.TimeoutExpired:
        raise Fail("promtool check metrics did not end within 60 s")
    said = (r.stdout + r.stderr).decode("utf-8", "replace").strip()
    c.true(r.returncode == 0 and not said, "%s: promtool check metrics (status %d): %s" % (
        what, r.returncode, said[:500] or "(nothing)"))


def start_prometheus(ctx, target):
    """A Prometheus server on loopback scraping target every second; its base URL"""
    port, d = free_port(), ctx.tmpdir()
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: memscope\n    static_configs:\n"
                "      - targets: ['%s']\n" % target)
    pr = ctx.spawn(["prometheus", "--config.file=" + cfg,
                    "--storage.tsdb.path=" + os.path.join(d, "tsdb"),
                    "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
                   "prometheus")
    base = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + PROM_TIMEOUT
    while True:
        try:
            if http_get(base + "/-/ready", timeout=2)[0] == 200:
                return base
        except OSError:
            pass
        if not pr.running():
            raise Fail("prometheus ended (status %s); stderr: %s" % (pr.p.returncode,
                                                                     pr.stderr_text()))
        if time.monotonic() > deadline:
            raise Fail("prometheus not ready within %d s; stderr: %s" % (PROM_TIMEOUT,
                                                                        pr.stderr_text()))
        time.sleep(0.2)


def prom_query(base, expr):
    """An instant query through Prometheus' HTTP API: [(labels, value)]"""
    st, _, body = http_get(base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    try:
        d = json.loads(body)
    except ValueError:
        d = {}
    if st != 200 or d.get("status") != "success":
        raise Fail("prometheus query %s: status %s: %s" % (expr, st, body[:300]))
    return [(r["metric"], float(r["value"][1])) for r in d["data"]["result"]]


def wait_scraped_after(base, t):
    """Waits until Prometheus holds a successful scrape that started after time t"""
    deadline = time.monotonic() + PROM_TIMEOUT
    while time.monotonic() < deadline:
        ts = prom_query(base, 'timestamp(up{job="memscope"})')
        up = prom_query(base, 'up{job="memscope"}')
        if ts and ts[0][1] > t and up and up[0][1] == 1:
            return
        time.sleep(0.2)
    raise Fail("prometheus: no successful scrape of the tracer within %d s (up: %s)" % (
        PROM_TIMEOUT, prom_query(base, 'up{job="memscope"}')))


def sample(body, family, pid):
    """The value of family{pid="PID",...} in an exposition, or None"""
    head = '%s{pid="%d",' % (family, pid)
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith(head):
            return float(line.rsplit(" ", 1)[1])
    return None


@test
def prometheus_scrape(ctx):
    """--prometheus :PORT, scraped by a real Prometheus every second: exact series"""
    need("prometheus", "promtool")
    w1, w2 = ctx.workload("peak"), ctx.workload("mt_mix", 4, 500)
    port = free_port()
    tr = ctx.tracer(["--json", "-i", "1", "--prometheus", ":%d" % port, "-p",
                     "%d,%d" % (w1.pid, w2.pid)])
    url = tracer_url(tr)
    c = Check()
    c.eq("metrics url", "http://127.0.0.1:%d/metrics" % port, url)
    # no host in the value: loopback only
    c.eq("addresses listening on port %d" % port, ["127.0.0.1"], listen_addrs(port))
    wait_attached(tr)
    base = start_prometheus(ctx, "127.0.0.1:%d" % port)
    w1.signal(signal.SIGUSR1)
    w2.signal(signal.SIGUSR1)
    gts = ((w1.pid, "peak", ground_truth(w1), True), (w2.pid, "mt_mix", ground_truth(w2), False))
    # the second interval record after the windows has every call; the update after it is
    # served once the third is out
    wait_intervals(tr, 3)
    wait_scraped_after(base, time.time())
    for pid, name, gt, exact_peak in gts:
        for fam, field in PROM_FAMILIES:
            what = "prometheus %s{pid=\"%d\"} (%s)" % (fam, pid, name)
            res = prom_query(base, '%s{job="memscope",pid="%d"}' % (fam, pid))
            if not c.eq(what + ": series", 1, len(res)):
                continue
            labels, v = res[0]
            c.eq(what + ": comm", name[:COMM_LEN], labels.get("comm"))
            c.eq(what + ": allocator", "libc", labels.get("allocator"))
            if field == "peak_bytes" and not exact_peak:
                c.true(gt["live_bytes"] <= v <= gt["alloc_bytes"],
                       "%s (expected %d <= value <= %d, got %s)" % (
                           what, gt["live_bytes"], gt["alloc_bytes"], v))
            else:
                c.eq(what, gt[field], int(v) if v == int(v) else v)
    causes = {l.get("cause"): v for l, v in
              prom_query(base, 'memscope_lost_events_total{job="memscope"}')}
    c.eq("prometheus memscope_lost_events_total causes",
         sorted(["ringbuf_full", "threads_full", "too_deep", "unmatched_returns", "stale_calls",
                 "stack_collisions", "stack_map_full", "untracked", "missed_free", "late"]),
         sorted(causes))
    for cause, v in causes.items():
        if cause != "unmatched_returns":
            c.eq("prometheus memscope_lost_events_total{cause=\"%s\"}" % cause, 0, int(v))
    for expr, want in (('memscope_processes{job="memscope"}', 2),
                       ('memscope_exported_processes{job="memscope"}', 2),
                       ('up{job="memscope"}', 1)):
        c.eq("prometheus " + expr, [want], [int(v) for _, v in prom_query(base, expr)])
    st, hdr, body = http_get(url)
    c.eq("GET /metrics status", 200, st)
    c.eq("GET /metrics Content-Type", PROM_CONTENT_TYPE, hdr.get("Content-Type"))
    promtool_check(c, "GET /metrics", body)
    c.done()
    final_record(stop_tracer(tr))
    for w in (w1, w2):
        w.signal(signal.SIGUSR2)
        rc = w.wait_exit(10)
        if rc != 0:
            raise Fail("%s exit status (expected 0, got %s)" % (w.name, rc))


# request, what it is, the statuses it may get (None: closed without a response)
BAD_REQUESTS = (
    (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", "binary garbage", (400, None)),
    (b"hello world\r\n\r\n", "text garbage", (400,)),
    (b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 102400 + b"\r\n\r\n",
     "a 100 KiB header", (431, 413, 400)),
    (b"GET /" + b"a" * 102400 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "a 100 KiB URL",
     (414, 431, 400)),
    (b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "POST", (405,)),
    (b"PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "PUT", (405,)),
    (b"GET /secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "an unknown path",
     (404,)),
    (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "/", (404,)),
    (b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n", "HTTP/9.9", (505, 400)),
    (b"GET /metrics HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n", "a bad header",
     (400,)),
)


@test
def prometheus_requests(ctx):
    """bad, oversized and garbage requests get HTTP errors; scrapes during heavy churn"""
    need("promtool")
    w = ctx.workload("churn", 2)
    tr = ctx.tracer(["--json", "-i", "1", "--ringbuf-size", "64M", "--prometheus",
                     "127.0.0.1:0", "-p", str(w.pid)])
    url = tracer_url(tr)
    port = int(re.match(r"http://127\.0\.0\.1:(\d+)/metrics$", url).group(1))
    wait_attached(tr)
    c = Check()
    # idle connections hold no one up
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    w.signal(signal.SIGUSR1)
    bodies, last, rounds = [], 0, 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        st, hdr, body = http_get(url)
        c.eq("scrape %d during the churn: status" % rounds, 200, st)
        v = sample(body, "memscope_allocations_total", w.pid) or 0
        c.true(v >= last, "scrape %d: memscope_allocations_total went back from %d to %d" % (
            rounds, last, v))
        last = v
        bodies.append(body)
        for req, what, statuses in BAD_REQUESTS:
            st, head = raw_request(port, req)
            if st not in statuses:
                c.fail("%s during the churn: status (expected %s, got %s): %r" % (
                    what, " or ".join(str(s) for s in statuses), st, head[:200]))
            if st == 405:
                c.true("\r\nAllow: GET, HEAD" in head, "%s: no 'Allow: GET, HEAD' in %r" % (
                    what, head[:300]))
        rounds += 1
    c.true(last > 0, "no allocation in any scrape during the churn")
    c.true(tr.running(), "the tracer ended during the requests; stderr: %s" % tr.stderr_text())
    for i in sorted({0, len(bodies) // 2, len(bodies) - 1}):
        promtool_check(c, "scrape %d during the churn" % i, bodies[i])
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    wait_intervals(tr, 3)
    st, hdr, body = http_get(url)
    c.eq("GET /metrics after the churn: status", 200, st)
    for fam, field in PROM_FAMILIES:
        if field != "peak_bytes":
            v = sample(body, fam, w.pid)
            c.eq("%s{pid=\"%d\"} after the churn" % (fam, w.pid), gt[field],
                 int(v) if v is not None else None)
    st, hdr, body = http_get(url, method="HEAD")
    c.eq("HEAD /metrics: status", 200, st)
    c.eq("HEAD /metrics: body bytes", 0, len(body))
    c.eq("HEAD /metrics: Content-Type", PROM_CONTENT_TYPE, hdr.get("Content-Type"))
    for s in idle:
        s.close()
    fin = final_record(stop_tracer(tr))
    no_loss(c, fin)
    c.done()
    w.signal(signal.SIGUSR2)
    rc = w.wait_exit(10)
    if rc != 0:
        raise Fail("churn exit status (expected 0, got %s)" % rc)


@test
def prometheus_refused(ctx):
    """--prometheus with a bad value (exit 2) or a port in use (exit 1)"""
    c = Check()
    for argv in (["--prometheus", "nonsense"], ["--prometheus", ":99999"],
                 ["--prometheus", "::1:9464"], ["--prometheus-max-processes", "-1"],
                 ["--prometheus-grace", "x"]):
        rc, out, err = refused(ctx, argv + ["-p", "1"])
        one_error(c, " ".join(argv), rc, err, 2)
    w = ctx.workload("peak")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        rc, out, err = refused(ctx, ["--prometheus", "127.0.0.1:%d" % port, "-p", str(w.pid)])
    # other notes may come first (e.g. the NUMA topology): the error is the last line
    c.eq("--prometheus on a port in use: exit status", 1, rc)
    last = ([l for l in err if l.strip()] or [""])[-1]
    c.true(last.startswith(TRACER + ": cannot serve --prometheus 127.0.0.1:%d: " % port) and
           "in use" in last, "--prometheus on a port in use: last stderr line %r" % last)
    c.done()


# ---------------------------------------------------------------- other allocators (issue 4)
# Workloads of allocators other than libc print agt.h's ground truth: the process' core
# figures (the sum of its allocators' user calls) and "allocators", one object per
# allocator with its user figures and, where known exactly, its backing figures.

WL_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workloads")
BACKING_COUNTS = tuple("backing_" + ("bytes" if f == "alloc_bytes" else f) for f in PROC_COUNTS)
ALLOCATOR_FIELDS = ("name", "kind") + PROC_COUNTS + (
    "by_func", "size_hist", "allocs_per_s", "frees_per_s", "alloc_bytes_per_s") + BACKING_COUNTS
USER_CALL_COUNTS = ("allocs", "frees", "unmatched_frees", "dead_frees", "failed_allocs")
JEMALLOC_SO = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
DEBIAN_PYTHON = "/usr/bin/python3.11"  # what Debian's /usr/bin/python3 links to


def need_tool(name, extra=()):
    """The path of a program, or Skip"""
    path = shutil.which(name) or next((p for p in extra if os.access(p, os.X_OK)), None)
    if not path:
        raise Skip("%s is not installed" % name)
    return path


def prebuilt(ctx, name, sources):
    """build/workloads/NAME when a make rule built it from the current sources"""
    path = os.path.join(ctx.wl_dir, name)
    if not os.access(path, os.X_OK):
        return None
    built = os.path.getmtime(path)
    if any(os.path.getmtime(os.path.join(WL_SRC, s)) > built for s in sources):
        return None
    return path


def build_workload(argv, what):
    rc, out, err = run_cmd(argv, 300)
    if rc != 0:
        raise Fail("building %s failed (status %s): %s" % (what, rc, " | ".join(
            (out + err)[-8:])))


def cxx_workload(ctx, name):
    """A C++ workload tests/e2e/workloads/NAME.cc: from make if it has a rule, else built
    here with g++ and the C workloads' flags"""
    src = name + ".cc"
    path = prebuilt(ctx, name, [src, "gt.h", "agt.h"])
    if path:
        return path
    gxx = need_tool("g++")
    path = os.path.join(ctx.tmpdir(), name)
    build_workload([gxx, "-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-Wall",
                    "-Werror", os.path.join(WL_SRC, src), "-o", path], src)
    return path


def rust_workload(ctx):
    """rust_alloc: the library crate rust_mix (rust_mix/lib.rs), then the program (see
    rust_alloc.rs)"""
    path = prebuilt(ctx, "rust_alloc", ["rust_alloc.rs", "rust_mix/lib.rs"])
    if path:
        return path
    rustc = need_tool("rustc", [os.path.expanduser("~/.cargo/bin/rustc"),
                                "/root/.cargo/bin/rustc"])
    d = ctx.tmpdir()
    lib = os.path.join(d, "librust_mix.rlib")
    path = os.path.join(d, "rust_alloc")
    build_workload([rustc, "-O", "--crate-type=rlib", "--crate-name", "rust_mix",
                    os.path.join(WL_SRC, "rust_mix", "lib.rs"), "-o", lib], "rust_mix/lib.rs")
    build_workload([rustc, "-O", "--extern", "rust_mix=" + lib,
                    os.path.join(WL_SRC, "rust_alloc.rs"), "-o", path], "rust_alloc.rs")
    return path


def spawn_gated(ctx, argv, env=None):
    """Starts a gated workload from argv and waits for its "ready <pid>" line"""
    w = ctx.spawn(list(argv), env=env)
    line, _ = w.wait_line("out", lambda l: l.startswith("ready "), 30, "its ready line")
    if line != "ready %d" % w.pid:
        raise Fail("%s said %r, expected 'ready %d'" % (w.name, line, w.pid))
    return w


def allocator_in(c, label, p, name):
    """The tracer's allocator object named name in process object p, or None"""
    found = [a for a in p.get("allocators") or [] if a.get("name") == name]
    if c.eq("%s: allocators named %s" % (label, name), 1, len(found)):
        return found[0]
    return None


def compare_allocators(c, label, gt, p):
    """Every allocator of the ground truth exactly, backing figures where it gives them;
    any other allocator the tracer lists made no user call"""
    allocs = p.get("allocators")
    if not c.true(isinstance(allocs, list), "%s: allocators (expected a list, got %r)" % (
            label, allocs)):
        return
    for a in allocs:
        for f in ALLOCATOR_FIELDS:
            c.true(f in a, "%s: allocator %s: field %s missing" % (label, a.get("name"), f))
    names = [ga["name"] for ga in gt["allocators"]]
    for ga in gt["allocators"]:
        a = allocator_in(c, label, p, ga["name"])
        if a is None:
            continue
        pre = "%s: allocator %s: " % (label, ga["name"])
        c.eq(pre + "kind", ga["kind"], a.get("kind"))
        for f in PROC_COUNTS + BACKING_COUNTS:
            if f in ga:
                c.eq(pre + f, ga[f], a.get(f))
        c.eq(pre + "by_func", nonzero(ga["by_func"]), nonzero(a.get("by_func")))
        c.eq(pre + "size_hist", nonzero(ga["size_hist"]), nonzero(a.get("size_hist")))
        for f in ("allocs_per_s", "frees_per_s", "alloc_bytes_per_s"):
            v = a.get(f)
            c.true(isinstance(v, (int, float)) and v >= 0,
                   "%s%s (expected a number >= 0, got %r)" % (pre, f, v))
    for a in allocs:
        if a.get("name") in names:
            continue
        pre = "%s: allocator %s (not used by the program): " % (label, a.get("name"))
        for f in USER_CALL_COUNTS:
            c.eq(pre + f, 0, a.get(f))
        c.eq(pre + "by_func", {}, nonzero(a.get("by_func")))


def compare_agt(c, label, gt, p, comm):
    compare_proc(c, label, gt, p, comm)
    compare_allocators(c, label, gt, p)


def agt_window(ctx, argv, specs, comm, env=None):
    """A gated agt workload traced with -p and specs; compares the final record"""
    w = spawn_gated(ctx, argv, env)
    tr = ctx.tracer(["--json", "-i", "1"] + list(specs) + ["-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    fin = final_record(stop_tracer(tr))
    c = Check()
    no_loss(c, fin)
    p = proc_in(fin, w.pid, "final record")
    compare_agt(c, "final pid %d" % w.pid, gt, p, comm)
    c.done()
    w.signal(signal.SIGUSR2)
    rc = w.wait_exit(10)
    if rc != 0:
        raise Fail("%s exit status (expected 0, got %s)" % (comm, rc))
    return gt, p


POOL_SPECS = ("--alloc", "objpool=obj_pool_alloc(_, size)",
              "--free", "objpool=obj_pool_free(_, ptr)",
              "--free", "objpool=obj_pool_destroy(ptr)")


@test
def custom_pool_named(ctx):
    """a C object pool named by its functions: objects and backing chunks exact (-p, launched)"""
    # Exact: every pool call, free, failed call, live object and byte, peak, by_func and
    # size_hist; the chunks from malloc inside the pool's calls as objpool's backing
    # (allocs, bytes, frees inside obj_pool_free and obj_pool_destroy, live, peak). The one
    # unmatched free is obj_pool_destroy's: its pointer is the pool handle, never an object.
    path = ctx.workload_path("pool")
    agt_window(ctx, [path, "gated"], POOL_SPECS, "pool")

    # the same as a launched command: the program does nothing else, so the whole
    # process' figures are the window's
    tr = ctx.tracer(["--json"] + list(POOL_SPECS) + ["--", path, "run"])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("launched: tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    recs, other = records(tr, allow_other=True)
    gts = [o for o in other if isinstance(o, dict) and "allocators" in o]
    if len(gts) != 1:
        raise Fail("launched: pool's ground truth lines (expected 1, got %d); other: %r" % (
            len(gts), other[:3]))
    gt, pid = gts[0], gts[0]["pid"]
    c = Check()
    exits = exit_records(recs, pid)
    if c.eq("launched: exit records for pid %d" % pid, 1, len(exits)):
        c.eq("launched: exit record reason", "exit", exits[0].get("reason"))
        no_loss(c, exits[0])
        compare_agt(c, "launched: exit record", gt, proc_in(exits[0], pid, "exit record"),
                    "pool")
    fin = final_record(recs)
    if any(p.get("pid") == pid for p in fin.get("processes", [])):
        compare_agt(c, "launched: final record", gt, proc_in(fin, pid, "final record"), "pool")
    c.done()


@test
def fixed_size_and_out(ctx):
    """slab_get(_)=64 and my_memalign(out, _, size): one unnamed allocator, exact"""
    # failed_allocs: an empty slab (NULL), my_memalign's non-zero status (too large: no
    # backing call; a bad alignment: posix_memalign fails inside, a failed backing call)
    agt_window(ctx, [ctx.workload_path("slab")], (
        "--alloc", "slab_get(_)=64", "--free", "slab_put(_, ptr)",
        "--alloc", "my_memalign(out, _, size)", "--free", "my_aligned_free(ptr)"), "slab")


@test
def cpp_demangled(ctx):
    """a C++ arena named as in source (Arena::Allocate): exact, by_func keys as given"""
    path = cxx_workload(ctx, "arena")
    agt_window(ctx, [path], ("--alloc", "arena=Arena::Allocate(_, size)",
                             "--free", "arena=Arena::Free(_, ptr)"), "arena")


@test
def jemalloc_preload(ctx):
    """LD_PRELOAD=libjemalloc.so.2: malloc... and mallocx/rallocx/sdallocx/dallocx, exact"""
    # user figures exact and attributed to jemalloc; libc made no user call (if listed,
    # zeros). jemalloc's backing (its own mmap use) is not predicted: not compared.
    if not os.path.exists(JEMALLOC_SO):
        raise Skip("%s is missing (apt-get install libjemalloc2)" % JEMALLOC_SO)
    env = dict(os.environ, LD_PRELOAD=JEMALLOC_SO)
    agt_window(ctx, [ctx.workload_path("jemalloc_mix"), "50"], (), "jemalloc_mix", env=env)


REDIS_TESTS = ("set", "get", "lpush", "lpop")
REDIS_N = 20000


def redis_argv(ctx, port):
    """Debian's redis-server on loopback port port, no persistence, in the foreground"""
    need_tool("redis-benchmark")
    return [need_tool("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save",
            "", "--appendonly", "no", "--daemonize", "no", "--dir", ctx.tmpdir()]


def wait_redis_ready(p):
    p.wait_line("out", lambda l: "Ready to accept connections" in l, 30, "its ready line")


def start_redis(ctx):
    """redis_argv's server on a free port, ready: (process, port)"""
    port = free_port()
    rs = ctx.spawn(redis_argv(ctx, port), "redis-server")
    wait_redis_ready(rs)
    return rs, port


def redis_benchmark(port, n=REDIS_N):
    """redis-benchmark -t set,get,lpush,lpop -n N -c 20 against port: (status, out, err)"""
    return run_cmd([need_tool("redis-benchmark"), "-h", "127.0.0.1", "-p", str(port), "-t",
                    ",".join(REDIS_TESTS), "-n", str(n), "-c", "20", "-q"], 600)


JE_ALLOC_FUNCS = ("malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign",
                  "valloc", "mallocx", "rallocx")
JE_FREE_FUNCS = ("free", "sdallocx", "dallocx")


def jemalloc_oracle_script(lib, filt):
    """bpftrace: outermost calls of jemalloc's functions where filt holds, free(NULL) left
    out; @moves: the reallocs of a block (not NULL), each also the free of the old block"""
    moving = ("realloc", "rallocx")
    ent = ",\n".join("uprobe:%s:%s" % (lib, f) for f in JE_ALLOC_FUNCS if f not in moving)
    mov = ",\n".join("uprobe:%s:%s" % (lib, f) for f in moving)
    fre = ",\n".join("uprobe:%s:%s" % (lib, f) for f in JE_FREE_FUNCS)
    ret = ",\n".join("uretprobe:%s:%s" % (lib, f) for f in JE_ALLOC_FUNCS + JE_FREE_FUNCS)
    return (
        "%s\n/%s/ { if (@d[tid] == 0) { @calls[probe] = count(); } @d[tid]++; }\n"
        "%s\n/%s/ { if (@d[tid] == 0) { @calls[probe] = count();"
        " if (arg0 != 0) { @moves = count(); } } @d[tid]++; }\n"
        "%s\n/%s/ { if (@d[tid] == 0 && arg0 != 0) { @calls[probe] = count(); } @d[tid]++; }\n"
        "%s\n/%s/ { @d[tid]--; }\n"
        "END { print(@calls); print(@moves); clear(@calls); clear(@moves); clear(@d); %s }\n") % (
            ent, filt, mov, filt, fre, filt, ret, filt, ORACLE_END)


def start_jemalloc_oracle(ctx, lib, filt):
    return start_oracle(ctx, jemalloc_oracle_script(lib, filt),
                        2 * len(JE_ALLOC_FUNCS) + 2 * len(JE_FREE_FUNCS))


def check_redis_benchmark(rc, out, err):
    done = [l for l in out if "requests per second" in l]  # progress lines end in \r
    if rc != 0 or len(done) != len(REDIS_TESTS):
        raise Fail("redis-benchmark status %s, %d of %d tests done: %s" % (
            rc, len(done), len(REDIS_TESTS), " | ".join((out + err)[-3:])))


def check_jemalloc_oracle(c, fin, p, lines, requests):
    """redis-server's process p in final record fin against the jemalloc oracle's output
    lines: every call per function, allocs, frees (a block allocated before the oracle
    began is an unmatched free), nothing through libc's malloc (PITFALLS)"""
    oracle, moves = {}, 0
    for l in lines:
        m = re.match(r"@calls\[uprobe:[^\]]*:(\w+)\]: (\d+)$", l.strip())
        if m:
            oracle[m.group(1)] = int(m.group(2))
        m = re.match(r"@moves: (\d+)$", l.strip())
        if m and not moves:  # print()'s line; bpftrace's own dump at exit shows it cleared
            moves = int(m.group(1))
    no_loss(c, fin)
    je = allocator_in(c, "redis", p, "jemalloc")
    if je is not None:
        c.eq("redis: jemalloc kind", "jemalloc", je.get("kind"))
        for f in ("malloc", "free", "realloc"):  # realloc: LPOP
            c.true((je.get("by_func") or {}).get(f, 0) > 0,
                   "redis: jemalloc by_func %s (expected > 0, got %r)" % (f, je.get("by_func")))
        c.true(oracle.get("malloc", 0) > requests,
               "redis: bpftrace's jemalloc malloc calls (expected more than the %d requests, "
               "got %r)" % (requests, oracle))
        c.eq("redis: jemalloc by_func per bpftrace", oracle, nonzero(je.get("by_func")))
        c.eq("redis: jemalloc allocs per bpftrace", sum(
            v for k, v in oracle.items() if k in JE_ALLOC_FUNCS), je.get("allocs"))
        c.eq("redis: jemalloc frees + unmatched_frees per bpftrace (frees and reallocs of a "
             "block)", sum(v for k, v in oracle.items() if k in JE_FREE_FUNCS) + moves,
             je.get("frees", 0) + je.get("unmatched_frees", 0))
        c.eq("redis: jemalloc dead_frees", 0, je.get("dead_frees"))
        c.eq("redis: jemalloc allocs - frees (live_allocs)", je.get("live_allocs"),
             je.get("allocs", 0) - je.get("frees", 0))
    for a in p.get("allocators") or []:
        if a.get("kind") == "libc":
            for f in USER_CALL_COUNTS:
                c.eq("redis: libc %s" % f, 0, a.get(f))
    c.eq("redis: process allocs - frees (live_allocs)", p.get("live_allocs"),
         p.get("allocs", 0) - p.get("frees", 0))
    for f in PROC_COUNTS:
        if f != "peak_bytes":
            c.eq("redis: process %s (the sum over its allocators)" % f, sum(
                a.get(f, 0) for a in p.get("allocators") or []), p.get(f))
    return je


@test
def redis_oracle(ctx):
    """every jemalloc call of redis-server under redis-benchmark, per bpftrace: the server is
    stopped (SIGSTOP, idle) while the two tracers attach and detach, so both see one window"""
    need_bpftrace()
    rs, port = start_redis(ctx)
    with open("/proc/%d/maps" % rs.pid) as f:
        libs = {l.split()[-1] for l in f if l.rstrip().endswith("/libjemalloc.so.2")}
    if len(libs) != 1:
        raise Fail("redis-server maps %d libjemalloc.so.2 files" % len(libs))
    time.sleep(0.5)  # idle: in epoll_wait, not inside an allocator call
    os.kill(rs.pid, signal.SIGSTOP)
    try:
        bt = start_jemalloc_oracle(ctx, libs.pop(), "pid == %d" % rs.pid)
        tr = ctx.tracer(["--json", "-i", "1", "-p", str(rs.pid)])
        wait_attached(tr)
    finally:
        os.kill(rs.pid, signal.SIGCONT)
    rc, out, err = redis_benchmark(port)
    time.sleep(0.5)  # the server drops the benchmark's clients, then idles
    os.kill(rs.pid, signal.SIGSTOP)
    try:
        fin = final_record(stop_tracer(tr))
        stop_oracle(bt)
    finally:
        os.kill(rs.pid, signal.SIGCONT)
    check_redis_benchmark(rc, out, err)
    c = Check()
    check_jemalloc_oracle(c, fin, proc_in(fin, rs.pid, "final record"), bt.out(),
                          REDIS_N * len(REDIS_TESTS))
    c.done()


PYMALLOC_FUNCS = ("PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc", "PyObject_Free")
PYMALLOC_SCRIPT = """\
# a deterministic mix of CPython object allocations (PYTHONHASHSEED=0, -S -E)
d = {}
for i in range(20000):
    d["k%d" % i] = [i, str(i), (i, i + 1)]
s = sum(len(v[1]) for v in d.values())
big = [bytes(300) for _ in range(2000)]
del d
t = tuple(range(50000))
print(s, len(big), len(t))
"""


def pymalloc_oracle_script():
    """bpftrace: outermost PyObject_* calls of the launched command, free(NULL) left out"""
    py = DEBIAN_PYTHON
    allocs = ",\n".join("uprobe:%s:%s" % (py, f) for f in PYMALLOC_FUNCS[:3])
    rets = ",\n".join("uretprobe:%s:%s" % (py, f) for f in PYMALLOC_FUNCS)
    return (
        "%s\n/pid == cpid/ { if (@d[tid] == 0) { @calls[probe] = count(); } @d[tid]++; }\n"
        "uprobe:%s:PyObject_Free\n/pid == cpid/ { if (@d[tid] == 0 && arg0 != 0) "
        "{ @calls[probe] = count(); } @d[tid]++; }\n"
        "%s\n/pid == cpid/ { @d[tid]--; }\n"
        "END { print(@calls); clear(@calls); clear(@d); %s }\n") % (allocs, py, rets, ORACLE_END)


@test
def pymalloc(ctx):
    """Debian's python3 under --preset pymalloc: by_func per bpftrace, backing arenas"""
    need_bpftrace()
    if not os.access(DEBIAN_PYTHON, os.X_OK):
        raise Skip("%s is missing" % DEBIAN_PYTHON)
    d = ctx.tmpdir()
    script = os.path.join(d, "mix.py")
    with open(script, "w") as f:
        f.write(PYMALLOC_SCRIPT)
    bt = os.path.join(d, "pymalloc.bt")
    with open(bt, "w") as f:
        f.write(pymalloc_oracle_script())
    env = dict(os.environ, PYTHONHASHSEED="0")
    cmd = [DEBIAN_PYTHON, "-S", "-E", script]

    # the oracle: bpftrace counts the same command's calls from its first instruction
    rc, out, err = run_cmd(["bpftrace", "-c", " ".join(cmd), bt], 300, env=env)
    oracle = {}
    for l in out:
        m = re.match(r"@calls\[uprobe:[^\]]*:(\w+)\]: (\d+)$", l.strip())
        if m:
            oracle[m.group(1)] = int(m.group(2))
    if rc != 0 or not oracle:
        raise Fail("bpftrace -c '%s' status %s; stderr: %s" % (" ".join(cmd), rc, " | ".join(
            err[-3:])))

    tr = ctx.tracer(["--json", "--preset", "pymalloc", "--"] + cmd, env=env)
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    recs, other = records(tr, allow_other=True)
    exits = [r for r in recs if r.get("type") == "exit"]
    c = Check()
    if not c.eq("exit records", 1, len(exits)):
        c.done()
    no_loss_but_missed_frees(c, exits[0])
    p = exits[0]["processes"][0]
    c.eq("python3 comm", os.path.basename(DEBIAN_PYTHON), p.get("comm"))
    py = allocator_in(c, "python3", p, "pymalloc")
    if py is None:
        c.done()
    c.eq("pymalloc kind", "pymalloc", py.get("kind"))
    c.true(py.get("allocs", 0) > 0, "pymalloc allocs (expected > 0, got %s)" % py.get("allocs"))
    # bpftrace counts every outermost call; the tracer's by_func leaves dead frees out
    got = dict(nonzero(py.get("by_func")))
    got["PyObject_Free"] = got.get("PyObject_Free", 0) + py.get("dead_frees", 0)
    c.eq("pymalloc by_func (PyObject_Free with its dead frees) per bpftrace", oracle, got)
    # Debian builds python3.11 with LTO, which inlines PyObject_Malloc into about 150
    # call sites and PyObject_Free into about 20 inside the interpreter: no probe on the
    # symbols sees those (bpftrace agrees, above). So blocks allocated inline and freed
    # through the symbol show as unmatched frees, arenas obtained inline are not seen
    # as backing, and exactness is what bpftrace sees. What must hold regardless: the
    # figures are consistent, for the objects and for the backing.
    # An address allocated inline, freed inline and allocated again through the symbol
    # looks allocated twice: its free was missed, and it is released then and counted
    # (missed_frees, in frees too). So live is allocs - frees exactly, for every side.
    for who, q in (("python3", p), ("pymalloc", py)):
        c.eq("%s live_allocs == allocs - frees" % who, q["allocs"] - q["frees"],
             q["live_allocs"])
    c.eq("pymalloc backing_live_allocs == backing_allocs - backing_frees",
         py["backing_allocs"] - py["backing_frees"], py["backing_live_allocs"])
    c.eq("lost.missed_free is the process' missed_frees", p.get("missed_frees"),
         (exits[0].get("lost") or {}).get("missed_free"))
    c.done()


@test
def rust(ctx):
    """a Rust #[global_allocator] under --preset rust: exact, __rust_* keys in by_func"""
    # The symbols are v0-mangled (_RNv..._7___rustc12___rust_alloc): by_func shows the
    # preset's names. Backing: System makes one libc call per call (rust_alloc.rs).
    path = rust_workload(ctx)
    agt_window(ctx, [path, "100"], ("--preset", "rust"), "rust_alloc")


BAD_SPECS = (
    # (option, spec, words the message must contain)
    ("--alloc", "obj_pool_alloc", "no parameter list"),
    ("--alloc", "obj_pool_alloc(_, size", "not closed"),
    ("--alloc", "f(_, bytes)", "unknown role 'bytes'"),
    ("--alloc", "f(size, size)", "twice"),
    ("--alloc", "f(_, _, _, _, _, _, size)", "more than 6"),
    ("--alloc", "f(_, nmemb)", "no 'size'"),
    ("--alloc", "f(size)=64", "both"),
    ("--free", "f(_)", "no 'ptr'"),
    ("--realloc", "f(ptr)", "'size'"),
    ("--alloc", "lib/libpool.so:pool_get(size)", "absolute path"),
    ("--alloc", "=f(size)", "name before '='"),
    ("--alloc", "f(size)x", "unexpected 'x'"),
    ("--alloc", "slab_get(_)=0", "fixed block size"),
    ("--alloc", "f()", "empty parameter list"),
    ("--alloc", "f(size,)", "missing"),
    ("--alloc", "f(ptr, size)", "'ptr'"),
    ("--free", "f(ptr, size)", "only 'ptr'"),
    ("--realloc", "f(ptr, size)=16", "fixed size"),
)


@test
def bad_specs(ctx):
    """bad --alloc/--free/--realloc specs: exit 2, one line naming the problem; -p without
    the function: exit 1; an unknown --preset: exit 2"""
    c = Check()
    gone = unused_pid()  # a spec accepted by mistake fails on the pid instead of tracing
    for opt, spec, words in BAD_SPECS:
        what = "%s '%s'" % (opt, spec)
        rc, out, err = refused(ctx, [opt, spec, "-p", str(gone), "-d", "2"])
        one_error(c, what, rc, err, 2)
        line = next((l for l in err if l.strip()), "")
        c.true(line.startswith("%s: %s: " % (TRACER, what)) and words in line,
               "%s: stderr (expected 'memscope-bpf: %s: ...%s...', got %r)" % (
                   what, what, words, line))
    # a function that is nowhere in the process: exit 1, one line naming it
    w = ctx.workload("peak")
    for spec, where in (("no_such_pool_alloc(_, size)", None),
                        ("/lib/x86_64-linux-gnu/libc.so.6:no_such_pool_alloc(size)",
                         "/lib/x86_64-linux-gnu/libc.so.6")):
        what = "--alloc '%s' -p %d" % (spec, w.pid)
        rc, out, err = refused(ctx, ["--alloc", spec, "-p", str(w.pid), "-d", "2"])
        one_error(c, what, rc, err, 1)
        line = next((l for l in err if l.strip()), "")
        c.true(line.startswith("%s: --alloc '%s': no function no_such_pool_alloc in " % (
            TRACER, spec)) and (where is None or where in line),
               "%s: stderr (expected 'memscope-bpf: --alloc '%s': no function "
               "no_such_pool_alloc in %s', got %r)" % (what, spec, where or "...", line))
    rc, out, err = refused(ctx, ["--preset", "no-such-preset", "-p", str(gone), "-d", "2"])
    one_error(c, "--preset no-such-preset", rc, err, 2)
    line = next((l for l in err if l.strip()), "")
    c.true("no-such-preset" in line, "--preset no-such-preset: stderr (expected it named, "
           "got %r)" % line)
    c.done()


# ---------------------------------------------------------------- patterns and pools (issue 5)
# The scenarios of the memscope-rs guide (../shared/seed/custom-allocator-integration.zh.md)
# as C programs (workloads/seed_*.c) that count their own patterns from the addresses they
# get (workloads/seed_pat.h), launched under the tracer: the final record's `patterns` and
# `pools` of the command's process, figure by figure. A plain glibc program makes no
# allocator call of its own at start-up or exit (see `launched`), so the figures are exact.

SEED_LIFE_BUCKETS = ("<1us", "<10us", "<100us", "<1ms", "<10ms", "<100ms", "<1s", "<10s",
                     ">=10s")
SEED_LIFE_LIMIT = {"<1us": 1000, "<10us": 10000, "<100us": 100000, "<1ms": 1000000,
                   "<10ms": 10000000, "<100ms": 100000000, "<1s": 1000000000,
                   "<10s": 10000000000}
SEED_PYTHON = "/usr/bin/python3"


def seed_g10(x):
    """x as the tracer prints a double (%.10g), so that a computed share compares exactly"""
    return float("%.10g" % x)


def seed_share(a, b):
    return a / b if b else 0


def seed_median(life):
    """The median lifetime bucket of a lifetime histogram (the first bucket whose running
    count reaches half), or None when it is empty"""
    total, seen = sum(life.values()), 0
    for b in SEED_LIFE_BUCKETS:
        seen += life.get(b, 0)
        if total and seen * 2 >= total:
            return b
    return None


def seed_launch(ctx, argv, tracer_args=(), env=None):
    """memscope-bpf --json -i 60 [tracer_args] -- argv to its end: the records and the
    command's own JSON lines (objects). -i 60: so short a run gets no interval record, so
    the interval figures and the backing growth in the final record count from the start."""
    kw = {"env": env} if env is not None else {}
    tr = ctx.tracer(["--json", "-i", "60"] + list(tracer_args) + ["--"] + list(argv), **kw)
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    recs, other = records(tr, allow_other=True)
    return recs, [o for o in other if isinstance(o, dict)]


def seed_line(lines, key):
    """The command's one JSON line with key"""
    found = [o for o in lines if key in o]
    if len(found) != 1:
        raise Fail("command output lines with %r (expected 1, got %d): %r" % (
            key, len(found), lines[:4]))
    return found[0]


def seed_no_interval(recs):
    return not any(r.get("type") == "interval" for r in recs)


def seed_final_proc(recs, pid):
    """The final record (no loss) and the command's process in it"""
    fin = final_record(recs)
    return fin, proc_in(fin, pid, "final record")


def seed_compare_patterns(c, label, want, got, lifetime=None, since_start=True):
    """A `patterns` object against a workload's ground truth (seed_pat.h): every figure.
    Lifetimes are times: per class their total must be the frees and the median must be
    the histogram's; lifetime={class: histogram} where the workload makes them certain."""
    pre = label + ": patterns."
    if not c.true(isinstance(got, dict), "%s missing (got %r)" % (pre, got)):
        return
    n = want["allocs"]
    for f in ("allocs", "small_allocs", "large_allocs", "temporary"):
        c.eq(pre + f, want[f], got.get(f))
    for f, v in (("small_share", want["small_allocs"]), ("large_share", want["large_allocs"]),
                 ("temporary_share", want["temporary"])):
        c.eq(pre + f, seed_g10(seed_share(v, n)), got.get(f))
    if since_start:
        c.eq(pre + "interval", {"allocs": n, "temporary": want["temporary"]},
             got.get("interval"))
    classes = got.get("size_classes") or []
    c.eq(pre + "size_classes (the classes)", [k["class"] for k in want["size_classes"]],
         [k.get("class") for k in classes])
    for w, g in zip(want["size_classes"], classes):
        cp = "%ssize_classes[class %d]." % (pre, w["class"])
        for f, v in w.items():
            c.eq(cp + f, v, g.get(f))
        c.eq(cp + "recycling_ratio", seed_g10(seed_share(w["alloc_bytes"], w["peak_bytes"])),
             g.get("recycling_ratio"))
        life = g.get("lifetime")
        if not c.true(isinstance(life, dict), "%slifetime missing" % cp):
            continue
        c.eq(cp + "lifetime (total: the frees)", w["frees"], sum(life.values()))
        c.eq(cp + "median_lifetime (of its lifetime histogram)", seed_median(life),
             g.get("median_lifetime"))
        if lifetime and w["class"] in lifetime:
            c.eq(cp + "lifetime", lifetime[w["class"]], life)
    c.eq(pre + "reuse", want["reuse"], got.get("reuse"))


def seed_live(want):
    """(live blocks, live bytes, allocated bytes) of a seed_pat.h ground truth"""
    k = want["size_classes"]
    return (sum(x["live_allocs"] for x in k), sum(x["live_bytes"] for x in k),
            sum(x["alloc_bytes"] for x in k))


def seed_compare_evidence(c, label, want, got):
    """A finding's evidence: every key, values as the tracer prints them"""
    got = got if isinstance(got, dict) else {}
    c.eq(label + " evidence keys", list(want), list(got))
    for k, v in want.items():
        if v is not None:
            c.eq("%s evidence %s" % (label, k), seed_g10(v), got.get(k))


@test
def seed_small_and_large(ctx):
    """guide: 1000 small vec-like blocks freed at once, one 4,000,000-byte block"""
    recs, lines = seed_launch(ctx, [ctx.workload_path("seed_vec")])
    gt, want = seed_line(lines, "allocs"), seed_line(lines, "patterns")["patterns"]
    fin, p = seed_final_proc(recs, gt["pid"])
    c = Check()
    no_loss(c, fin)
    compare_proc(c, "final", gt, p, "seed_vec")
    # the scenario, spelled out (the workload's own count must say the same): 1000 x 40
    # bytes, all live together, freed in allocation order after 150 ms: the last two
    # allocated are freed while among the last two allocations (temporary 2); then
    # 4,000,000 bytes (class 2 MiB) from mmap, freed after 30 ms, nothing allocated in
    # between (temporary); no address comes back (the large block is not on the heap)
    c.eq("ground truth", {
        "allocs": 1001, "small_allocs": 1000, "large_allocs": 1, "temporary": 3,
        "size_classes": [
            {"class": 32, "allocs": 1000, "alloc_bytes": 40000, "frees": 1000,
             "live_allocs": 0, "live_bytes": 0, "peak_bytes": 40000, "temporary": 2,
             "reused_same_size": 0, "reused_other_size": 0},
            {"class": 2097152, "allocs": 1, "alloc_bytes": 4000000, "frees": 1,
             "live_allocs": 0, "live_bytes": 0, "peak_bytes": 4000000, "temporary": 1,
             "reused_same_size": 0, "reused_other_size": 0}],
        "reuse": {"reused": 0, "same_size": 0, "other_size": 0, "distance_hist": {}}},
        {k: v for k, v in want.items() if k != "pid"})
    # the sleeps make the lifetimes certain: 150 ms to 1 s, and 30 ms to 100 ms
    seed_compare_patterns(c, "final", want, p.get("patterns"),
                          lifetime={32: {"<1s": 1000}, 2097152: {"<100ms": 1}},
                          since_start=seed_no_interval(recs))
    # no finding: 99.9% of 1001 allocations are in one class, but they live 150 ms, not
    # under 1 ms (no slab candidate); the large block is one block of its site (no pool
    # candidate); no allocator has a backing (no pool)
    c.eq("final: pools", [], p.get("pools"))
    c.done()


@test
def seed_churn_slab(ctx):
    """guide: one size class churned (20000 x malloc(48)+free): a slab candidate"""
    recs, lines = seed_launch(ctx, [ctx.workload_path("seed_churn"), "20000"])
    gt, want = seed_line(lines, "allocs"), seed_line(lines, "patterns")["patterns"]
    fin, p = seed_final_proc(recs, gt["pid"])
    c = Check()
    no_loss(c, fin)
    compare_proc(c, "final", gt, p, "seed_churn")
    c.eq("ground truth allocs, temporary", (20000, 20000), (want["allocs"], want["temporary"]))
    # glibc's tcache gives the freed block back at once: the workload saw it
    c.eq("ground truth reuse", {"reused": 19999, "same_size": 19999, "other_size": 0,
                                "distance_hist": {"0": 19999}}, want["reuse"])
    pat = p.get("patterns") or {}
    seed_compare_patterns(c, "final", want, pat, since_start=seed_no_interval(recs))
    pools = p.get("pools") or []
    if c.eq("final: pools (kind, name)", [("slab_candidate", "32 B-63 B")],
            [(f.get("kind"), f.get("name")) for f in pools]):
        f = pools[0]
        cls = (pat.get("size_classes") or [{}])[0]
        median = cls.get("median_lifetime")
        c.true(median in SEED_LIFE_LIMIT and SEED_LIFE_LIMIT[median] <= 1000000,
               "final: the class' median lifetime (expected under 1 ms, got %r)" % median)
        seed_compare_evidence(c, "slab_candidate", {
            "class": 32, "allocs": 20000, "share": 1, "frees": 20000,
            "median_lifetime_lt_ns": SEED_LIFE_LIMIT.get(median), "temporary": 20000,
            "peak_bytes": 48, "recycling_ratio": 20000}, f.get("evidence"))
        c.eq("slab_candidate advice",
             "100%% of allocations (20000) are 32 B-63 B and the median one lives %s; a free "
             "list or slab of 63 B objects would serve them without the allocator (recycling "
             "ratio 20000)" % median, f.get("advice"))
    c.done()


SEED_POOL_SPECS = ["--alloc", "seedpool=seed_pool_alloc(_, size)",
                   "--free", "seedpool=seed_pool_free(_, ptr)"]


@test
def seed_pool_named(ctx):
    """guide: an object pool over malloc'd chunks, traced by name: a pool, its figures"""
    recs, lines = seed_launch(ctx, [ctx.workload_path("seed_pool")], SEED_POOL_SPECS)
    objs, chunks = seed_line(lines, "objects")["objects"], seed_line(lines, "chunks")["chunks"]
    fin, p = seed_final_proc(recs, objs["pid"])
    c = Check()
    no_loss(c, fin)
    c.eq("final: comm", "seed_pool", p.get("comm"))
    # 200 objects of 48 bytes in 64-byte slots (4 chunks of 64 slots, 4096 bytes), the last
    # 80 freed newest first (the two newest are temporary), 100 more: the 80 slots back
    # (after 0..79 other allocations), then 20 never used; nothing freed at the end
    c.eq("ground truth (objects, live, live bytes, temporary, reused, chunks, live chunks)",
         (300, 220, 10560, 2, 80, 4, 4),
         (objs["allocs"], seed_live(objs)[0], seed_live(objs)[1], objs["temporary"],
          objs["reuse"]["reused"], chunks["allocs"], seed_live(chunks)[0]))
    # the process' user calls are the pool's objects; its chunks are the backing
    seed_compare_patterns(c, "final", objs, p.get("patterns"), since_start=seed_no_interval(recs))
    pool = allocator_in_seed(c, p, "seedpool")
    if pool is not None:
        c.eq("seedpool kind", "custom", pool.get("kind"))
        c.eq("seedpool by_func", {"seed_pool_alloc": 300, "seed_pool_free": 80},
             nonzero(pool.get("by_func")))
        c.eq("seedpool backing (allocs, bytes, live)", (4, 16384, 4),
             (pool.get("backing_allocs"), pool.get("backing_bytes"),
              pool.get("backing_live_allocs")))
    c.eq("final: allocators", ["seedpool"], [a.get("name") for a in p.get("allocators", [])])
    pools = p.get("pools") or []
    if c.eq("final: pools (kind, name)", [("pool", "seedpool")],
            [(f.get("kind"), f.get("name")) for f in pools]):
        nobj, nchunk = objs["allocs"], chunks["allocs"]
        live_objs, live_obj_bytes, _ = seed_live(objs)
        live_chunks, live_chunk_bytes, chunk_bytes = seed_live(chunks)
        seed_compare_evidence(c, "pool", {
            "objects": nobj, "live_objects": live_objs, "live_object_bytes": live_obj_bytes,
            "chunks": nchunk, "live_chunks": live_chunks, "backing_bytes": chunk_bytes,
            "backing_live_bytes": live_chunk_bytes, "chunk_size": chunk_bytes / nchunk,
            "objects_per_chunk": nobj / nchunk,
            "utilization": live_obj_bytes / live_chunk_bytes,
            "hit_ratio": 1 - nchunk / nobj,
            # since the previous report: with no interval record, since the start
            "backing_growth_bytes": live_chunk_bytes if seed_no_interval(recs) else None,
        }, pools[0].get("evidence"))
        c.eq("pool advice", "seedpool served 75.0 objects per 4.0 KiB chunk; 64% of its 16.0 "
             "KiB of live backing holds live objects; 99% of its allocations needed no new "
             "chunk", pools[0].get("advice"))
    c.done()


def allocator_in_seed(c, p, name):
    found = [a for a in p.get("allocators", []) if a.get("name") == name]
    if c.eq("allocators named %s" % name, 1, len(found)):
        return found[0]
    return None


@test
def seed_pool_unnamed(ctx):
    """guide: the same pool not named: a pool candidate named after seed_pool_grow"""
    recs, lines = seed_launch(ctx, [ctx.workload_path("seed_pool")])
    chunks = seed_line(lines, "chunks")["chunks"]
    fin, p = seed_final_proc(recs, chunks["pid"])
    c = Check()
    no_loss(c, fin)
    # the objects are invisible; the chunks are the process' only allocator calls
    c.eq("ground truth chunks (allocs, live, bytes)", (4, 4, 16384),
         (chunks["allocs"], seed_live(chunks)[0], seed_live(chunks)[2]))
    seed_compare_patterns(c, "final", chunks, p.get("patterns"),
                          since_start=seed_no_interval(recs))
    pools = p.get("pools") or []
    if c.eq("final: pools (kind, name)", [("pool_candidate", "seed_pool_grow")],
            [(f.get("kind"), f.get("name")) for f in pools]):
        ev = pools[0].get("evidence") or {}
        seed_compare_evidence(c, "pool_candidate", {
            "chunk_size": 4096, "chunks": 4, "live_chunks": 4, "live_bytes": 16384}, ev)
        # the call site, resolved: inside seed_pool_grow, at a line of seed_pool.c
        where = pools[0].get("where") or ""
        c.true(re.match(r"seed_pool_grow\+0x[0-9a-f]+ \(.*seed_pool\.c:\d+\)$", where),
               "pool_candidate where (expected seed_pool_grow+0x.. (seed_pool.c:N), got %r)"
               % where)
        c.eq("pool_candidate advice",
             "seed_pool_grow obtains 4.0 KiB chunks from libc and keeps 4 of 4: if it carves "
             "objects out of them, trace it with --alloc 'seed_pool_grow(ROLES)', naming its "
             "size parameter (e.g. --alloc 'seed_pool_grow(_, size)')",
             pools[0].get("advice"))
    c.done()


SEED_PY_SCRIPT = """import os
words = [str(i) * 3 for i in range(20000)]
table = {i: (i, i * 2) for i in range(5000)}
blobs = [bytes(1000) for i in range(200)]
del words, blobs
os.write(1, b'{"pid": %d}\\n' % os.getpid())
"""


@test
def seed_cpython_pymalloc(ctx):
    """guide: CPython under --preset pymalloc: pymalloc found as a pool, consistent figures"""
    py = os.path.realpath(SEED_PYTHON)
    if not os.access(py, os.X_OK):
        raise Skip("%s is missing" % SEED_PYTHON)
    # -E makes the interpreter ignore PYTHONHASHSEED (set as the other CPython runs set
    # it): nothing here depends on the hashes
    env = dict(os.environ, PYTHONHASHSEED="0")
    recs, lines = seed_launch(ctx, [py, "-S", "-E", "-c", SEED_PY_SCRIPT],
                              ["--preset", "pymalloc"], env=env)
    pid = seed_line(lines, "pid")["pid"]
    fin, p = seed_final_proc(recs, pid)
    c = Check()
    no_loss_but_missed_frees(c, fin)
    # What CPython allocates cannot be known in advance (its start-up, its arenas, which
    # calls its build inlines): the figures are checked against each other, not against
    # numbers. The pool's evidence must be its allocator's figures, and the ratios theirs.
    a = allocator_in_seed(c, p, "pymalloc")
    pools = [f for f in p.get("pools") or [] if f.get("kind") == "pool"]
    if a is None or not c.eq("final: pools of kind pool (names)", ["pymalloc"],
                             [f.get("name") for f in pools]):
        c.done()
    c.eq("pymalloc allocator kind", "pymalloc", a.get("kind"))
    c.true(a.get("backing_allocs", 0) > 0,
           "pymalloc backing_allocs (expected > 0, got %s)" % a.get("backing_allocs"))
    objs, chunks = a.get("allocs", 0), a.get("backing_allocs", 0)
    seed_compare_evidence(c, "pymalloc pool", {
        "objects": objs, "live_objects": a.get("live_allocs"),
        "live_object_bytes": a.get("live_bytes"), "chunks": chunks,
        "live_chunks": a.get("backing_live_allocs"), "backing_bytes": a.get("backing_bytes"),
        "backing_live_bytes": a.get("backing_live_bytes"),
        "chunk_size": seed_share(a.get("backing_bytes", 0), chunks),
        "objects_per_chunk": seed_share(objs, chunks),
        "utilization": seed_share(a.get("live_bytes", 0), a.get("backing_live_bytes", 0)),
        "hit_ratio": max(0.0, 1 - seed_share(chunks, objs)) if objs else 0,
        "backing_growth_bytes": a.get("backing_live_bytes") if seed_no_interval(recs) else None,
    }, pools[0].get("evidence"))
    c.true(str(pools[0].get("advice", "")).startswith("pymalloc served "),
           "pymalloc pool advice (expected 'pymalloc served ...', got %r)" % pools[0].get(
               "advice"))
    # the process' patterns are the sum of its allocators' users (libc and pymalloc)
    pat = p.get("patterns") or {}
    users = sum(x.get("allocs", 0) for x in p.get("allocators", []))
    c.eq("patterns allocs (the allocators' user allocs)", users, pat.get("allocs"))
    c.eq("patterns allocs (the process' allocs)", p.get("allocs"), pat.get("allocs"))
    c.eq("patterns allocs (the size classes' sum)", pat.get("allocs"),
         sum(k.get("allocs", 0) for k in pat.get("size_classes", [])))
    for k in pat.get("size_classes", []):
        life = k.get("lifetime") or {}
        c.eq("class %s lifetime total (its frees)" % k.get("class"), k.get("frees"),
             sum(life.values()))
        c.eq("class %s median_lifetime" % k.get("class"), seed_median(life),
             k.get("median_lifetime"))
    reuse = pat.get("reuse") or {}
    c.eq("patterns reuse reused (same + other)", reuse.get("reused"),
         (reuse.get("same_size") or 0) + (reuse.get("other_size") or 0))
    c.done()


# ---------------------------------------------------------------- allocation sites (--stacks)

# Issue 7: allocation sites, the leak report (at exit, on SIGUSR1), --folded. The
# workloads: leaks_three_sites.c (three leaking sites, a cache, churn; its header says
# why the figures are exact and the trends certain), leaks_cpp.cc and leaks_rust.rs
# (demangled names), built here when make does not build them.

SITE_FIELDS = ("stack", "truncated", "allocs", "alloc_bytes", "frees", "live_allocs", "live_bytes",
               "allocs_per_s", "peak_contribution", "trend")
SITE_RANKINGS = (("by_live_bytes", "live_bytes"), ("by_allocs_per_s", "allocs_per_s"),
                 ("by_peak", "peak_contribution"))
LEAK_SITE_FIELDS = ("stack", "truncated", "blocks", "bytes", "oldest_age_s", "trend", "leak",
                    "live_bytes_history")
TRENDS = ("growing", "leveled", "shrinking", "unknown")
SITE_HISTORY = 16  # samples of a site's live bytes kept for its trend
# "function+0x1c (file.c:42)", "function+0x1c", "libc.so.6+0x2724a", "0x7f..."
FRAME_RE = re.compile(r"^(?P<fn>.+?)(?:\+0x[0-9a-f]+)?(?: \((?P<file>[^()]*):(?P<line>\d+)\))?$")
MANGLED_RE = re.compile(r"^(_Z|_R[A-Z])")
THREE_SITES = "leaks_three_sites"
LEAKING = ("leak_small", "leak_big", "leak_triple")  # their live bytes keep growing
CACHE = "cache_fill"  # fills in the first 0.3 s, then stays
CHURN = "churn"  # never live


def frame_parts(frame):
    """(function, file or None, line or None) of a frame string"""
    m = FRAME_RE.match(frame) if isinstance(frame, str) else None
    if not m:
        return frame, None, None
    line = int(m.group("line")) if m.group("line") else None
    return m.group("fn"), m.group("file"), line


def last_type(tr):
    """The type of the tracer's last stdout line, if it is a record"""
    out = tr.out()
    try:
        return json.loads(out[-1]).get("type") if out else None
    except (ValueError, AttributeError):
        return None


def frame_fns(stack):
    return [frame_parts(f)[0] for f in stack or []]


def marker_line(src, marker):
    """The line number of the one line of workload src carrying marker"""
    with open(os.path.join(WL_SRC, src)) as f:
        found = [n for n, l in enumerate(f, 1)
                 if re.search(r"(//|/\*) " + re.escape(marker) + r"\b", l)]
    if len(found) != 1:
        raise Fail("%s: lines with marker %s (expected 1, got %d)" % (src, marker, len(found)))
    return found[0]


def check_frame_line(c, what, frame, src, marker):
    """A frame's file:line is the marked line of src (waits for debug info in frames)"""
    fn, f, line = frame_parts(frame)
    want = marker_line(src, marker)
    c.true(f is not None and os.path.basename(f) == src and line == want,
           "%s: frame %r (expected file:line %s:%d)" % (what, frame, src, want))


def check_leaks_record(c, rec):
    """A leaks record's shape: every site with its fields, by bytes, largest first"""
    where = "leaks record at ts %s" % rec.get("ts")
    for f in ("type", "ts", "events", "events_lost", "min_age_s", "processes"):
        c.true(f in rec, "%s: field %s missing" % (where, f))
    for p in rec.get("processes") or []:
        pw = "%s: pid %s" % (where, p.get("pid"))
        for f in ("pid", "comm", "sites"):
            c.true(f in p, "%s: field %s missing" % (pw, f))
        sites = p.get("sites") or []
        for n, s in enumerate(sites):
            sw = "%s: site %d" % (pw, n)
            for f in LEAK_SITE_FIELDS:
                c.true(f in s, "%s: field %s missing" % (sw, f))
            stack = s.get("stack")
            c.true(isinstance(stack, list) and stack and all(
                isinstance(x, str) and x for x in stack),
                "%s: stack (expected a list of frames, got %r)" % (sw, stack))
            c.true(s.get("trend") in TRENDS, "%s: trend %r" % (sw, s.get("trend")))
            c.eq("%s: leak (the trend is growing)" % sw, s.get("trend") == "growing",
                 s.get("leak"))
            c.true(isinstance(s.get("blocks"), int) and s["blocks"] >= 1,
                   "%s: blocks (expected >= 1, got %r)" % (sw, s.get("blocks")))
            age = s.get("oldest_age_s")
            c.true(isinstance(age, (int, float)) and age >= rec.get("min_age_s", 0),
                   "%s: oldest_age_s (expected >= min_age_s %s, got %r)" % (
                       sw, rec.get("min_age_s"), age))
            hist = s.get("live_bytes_history")
            c.true(isinstance(hist, list) and len(hist) <= SITE_HISTORY,
                   "%s: live_bytes_history (expected at most %d samples, got %r)" % (
                       sw, SITE_HISTORY, hist))
        got = [s.get("bytes") for s in sites]
        c.true(got == sorted(got, reverse=True),
               "%s: sites by bytes, largest first (got %s)" % (pw, got))


def check_sites_object(c, where, p, top=5):
    """The sites object of a process in an interval, exit or final record"""
    sites = p.get("sites")
    if not c.true(isinstance(sites, dict), "%s: sites (expected an object, got %r)" % (
            where, sites)):
        return
    c.true(isinstance(sites.get("untracked"), int), "%s: sites.untracked (got %r)" % (
        where, sites.get("untracked")))
    c.true(isinstance(sites.get("truncated_stacks"), int), "%s: sites.truncated_stacks (got %r)"
           % (where, sites.get("truncated_stacks")))
    for rank, key in SITE_RANKINGS:
        lst = sites.get(rank)
        if not c.true(isinstance(lst, list) and len(lst) <= top,
                      "%s: sites.%s (expected a list of at most %d, got %r)" % (
                          where, rank, top, lst)):
            continue
        for s in lst:
            for f in SITE_FIELDS:
                c.true(f in s, "%s: sites.%s: field %s missing" % (where, rank, f))
            c.true(s.get("trend") in TRENDS, "%s: sites.%s: trend %r" % (
                where, rank, s.get("trend")))
        vals = [s.get(key) for s in lst]
        c.true(vals == sorted(vals, reverse=True),
               "%s: sites.%s by %s, largest first (got %s)" % (where, rank, key, vals))


def proc_sites(p):
    """Every site listed in a process' rankings, once: stack tuple -> site"""
    out = {}
    for rank, _ in SITE_RANKINGS:
        for s in ((p.get("sites") or {}).get(rank) or []):
            out[tuple(s.get("stack") or ())] = s
    return out


def site_records(tr):
    """The tracer's records apart: (records, leaks records, other lines: a COMMAND's)"""
    recs, leaks, other = [], [], []
    for line in tr.out():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        if isinstance(obj, dict) and obj.get("type") == "leaks":
            leaks.append(obj)
        elif isinstance(obj, dict) and "type" in obj:
            recs.append(obj)
        else:
            other.append(obj)
    check_records(recs)
    c = Check()
    for rec in leaks:
        check_leaks_record(c, rec)
    c.done()
    return recs, leaks, other


def leak_proc(rec, pid):
    found = [p for p in rec.get("processes") or [] if p.get("pid") == pid]
    if len(found) != 1:
        raise Fail("leaks record at ts %s: entries for pid %d (expected 1, got %d)" % (
            rec.get("ts"), pid, len(found)))
    return found[0]


def sites_by_first_frame(c, where, sites):
    """name of the first frame's function -> site; each name once"""
    out = {}
    for s in sites:
        fn = frame_fns(s.get("stack"))[0] if s.get("stack") else None
        c.true(fn not in out, "%s: two sites whose first frame is %s" % (where, fn))
        out[fn] = s
    return out


def check_three_sites_leaks(c, where, p, gt, exact_trend):
    """A leaks record's entry of leaks_three_sites: exactly its cache and leak sites, each
    with its old blocks and bytes exactly, named by their functions (and file:line)"""
    sites = p.get("sites") or []
    expect = sorted((n for n in LEAKING + (CACHE,) if gt["sites"][n]["old_blocks"]),
                    key=lambda n: -gt["sites"][n]["old_bytes"])
    c.eq("%s: sites, by first frame (largest first)" % where, expect,
         [frame_fns(s.get("stack"))[0] for s in sites])
    by_fn = sites_by_first_frame(c, where, sites)
    for name in expect:
        s = by_fn.get(name)
        if s is None:
            continue
        sw = "%s: site %s" % (where, name)
        c.eq(sw + ": blocks", gt["sites"][name]["old_blocks"], s.get("blocks"))
        c.eq(sw + ": bytes", gt["sites"][name]["old_bytes"], s.get("bytes"))
        stack = s.get("stack") or []
        fns = frame_fns(stack)
        c.true(len(fns) >= 3 and fns[1] == "tick" and "main" in fns[2:],
               "%s: stack (expected %s, tick, main, ...; got %s)" % (sw, name, stack))
        # waits for the symbolizer: file:line of each frame of the workload
        check_frame_line(c, sw + ": first frame", stack[0], THREE_SITES + ".c",
                         "SITE:" + name)
        if len(stack) >= 3:
            check_frame_line(c, sw + ": tick's frame", stack[1], THREE_SITES + ".c",
                             "CALL:" + name)
            check_frame_line(c, sw + ": main's frame", stack[2], THREE_SITES + ".c",
                             "CALL:tick")
        if exact_trend:
            want = "leveled" if name == CACHE else "growing"
            c.eq(sw + ": trend", want, s.get("trend"))
            c.eq(sw + ": leak", want == "growing", s.get("leak"))


def longest_rise(hist):
    """The most samples in a row, each above the one before"""
    best = run = 1 if hist else 0
    for a, b in zip(hist, hist[1:]):
        run = run + 1 if b > a else 1
        best = max(best, run)
    return best


def run_three_sites(ctx, tag, folded_args):
    """leaks_three_sites launched under --stacks --min-age 1 -i 0.25 --folded: the tracer"""
    path = ctx.workload_path(THREE_SITES)
    folded = os.path.join(ctx.tmpdir(), tag + ".folded")
    tr = ctx.tracer(["--json", "--stacks", "--min-age", "1", "-i", "0.25", "--folded",
                     folded] + list(folded_args) + ["--", path])
    return tr, folded


def parse_folded(c, what, path, comm):
    """The folded file's lines: [(frames without comm, weight)]; each line checked"""
    out = []
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        c.fail("%s: cannot read %s: %s" % (what, path, e))
        return out
    c.true(text.endswith("\n"), "%s: the file does not end with a newline" % what)
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^(\S+) (\d+)$", line)
        if not c.true(m is not None, "%s: line %d is not 'frames weight': %r" % (
                what, n, line)):
            continue
        frames = m.group(1).split(";")
        c.eq("%s: line %d: first frame (the comm)" % (what, n), comm, frames[0])
        c.true(len(frames) >= 2 and all(frames),
               "%s: line %d: frames (expected comm and at least one frame): %r" % (
                   what, n, line))
        c.true(int(m.group(2)) > 0, "%s: line %d: weight 0" % (what, n))
        out.append((tuple(frames[1:]), int(m.group(2))))
    return out


def folded_frames(stack):
    """A record's stack as --folded writes it: outermost first, by function (no offset, no
    line), ';' and ' ' as '_'"""
    return tuple(frame_parts(f)[0].replace(";", "_").replace(" ", "_") for f in reversed(stack))


def folded_sum(pairs):
    """(frames, weight) pairs as --folded sums them: one line per stack of functions"""
    out = {}
    for frames, w in pairs:
        out[frames] = out.get(frames, 0) + w
    return out


def check_three_sites_run(c, label, tr, folded, what, weight):
    """Everything about one run of leaks_three_sites; the folded file per what/weight"""
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
            label, rc, tr.stderr_text()))
    recs, leaks, other = site_records(tr)
    gts = [o for o in other if isinstance(o, dict) and "sites" in o]
    if len(gts) != 1:
        raise Fail("%s: the workload's ground truth lines (expected 1, got %d): %r" % (
            label, len(gts), other[:3]))
    gt = gts[0]
    pid, comm = gt["pid"], THREE_SITES[:COMM_LEN]
    sec = 1e-9

    # the leak report at the exit: one, after the final record
    c.eq("%s: leaks records" % label, 1, len(leaks))
    if not leaks:
        return
    lr = leaks[-1]
    c.eq("%s: leaks record min_age_s" % label, 1, lr.get("min_age_s"))
    c.eq("%s: the last line's record type" % label, "leaks", last_type(tr))
    p = leak_proc(lr, pid)
    c.eq("%s: leaks record comm" % label, comm, p.get("comm"))
    # the premise of exact figures: the report's cut (its time less min_age) fell
    # between the old phase's last block and the young phase's first, by the workload's
    # clock; the report's time is the oldest block's time plus its age, that block
    # allocated in tick 0, up to 50 ms after t_first (tick 0's stack walks are the
    # process' first: on a busy machine they took 2 ms)
    ages = [s.get("oldest_age_s") for s in p.get("sites") or []
            if isinstance(s.get("oldest_age_s"), (int, float))]
    if ages:
        t_report = gt["t_first"] * sec + max(ages)
        cut = t_report - 1
        c.true(min(ages) > max(ages) - 0.05,
               "%s: oldest_age_s of the sites (all first allocated in tick 0, expected "
               "within 50 ms of each other, got %s)" % (label, ages))
        c.true(gt["end"] * sec <= t_report + 0.05 and t_report < gt["end"] * sec + 5,
               "%s: the exit leak report %.3f s after the workload's end (expected 0-5 s, "
               "less tick 0's 50 ms)" % (label, t_report - gt["end"] * sec))
        if not gt["old_end"] * sec < cut < gt["young_start"] * sec:
            raise Fail("%s: timing: the report's min-age cut fell %.3f s after the old "
                       "phase's end, %.3f s before the young phase (it must fall between: "
                       "the machine was too slow for the workload's schedule)" % (
                           label, cut - gt["old_end"] * sec, gt["young_start"] * sec - cut))
    check_three_sites_leaks(c, "%s: leaks record" % label, p, gt, exact_trend=True)
    for s in p.get("sites") or []:
        name = frame_fns(s.get("stack"))[0]
        hist = s.get("live_bytes_history") or []
        if name not in gt["sites"]:
            continue
        sw = "%s: leaks record: site %s: live_bytes_history %s" % (label, name, hist)
        # the last sample is the final report's, after the last allocation
        c.true(hist and hist[-1] == gt["sites"][name]["live_bytes"],
               "%s (expected it to end at the site's live bytes %d)" % (
                   sw, gt["sites"][name]["live_bytes"]))
        c.true(hist == sorted(hist), "%s (expected never to go down)" % sw)
        if name in LEAKING:
            c.true(longest_rise(hist) >= 4,
                   "%s (expected the old phase's growth over at least 4 samples in a row)"
                   % sw)
        else:
            c.true(len(hist) >= 3 and hist[-3:] == [gt["sites"][name]["live_bytes"]] * 3,
                   "%s (expected the cache's level at least over the last 3 samples)" % sw)

    # the final record: the process and its sites, exactly
    fin = final_record(recs)
    fp = proc_in(fin, pid, "final record")
    no_loss(c, fin)
    for f in ("live_bytes", "live_allocs", "allocs", "alloc_bytes"):
        c.eq("%s: final record %s" % (label, f), gt[f], fp.get(f))
    c.eq("%s: final record peak_bytes (the last allocation makes the peak)" % label,
         gt["live_bytes"], fp.get("peak_bytes"))
    check_sites_object(c, "%s: final record" % label, fp)
    fsites = proc_sites(fp)
    by_fn = sites_by_first_frame(c, "%s: final record" % label, fsites.values())
    c.eq("%s: final record sites, by first frame" % label, sorted(gt["sites"]),
         sorted(f for f in by_fn))
    c.eq("%s: final record sites.untracked" % label, 0,
         (fp.get("sites") or {}).get("untracked"))
    for name, g in gt["sites"].items():
        s = by_fn.get(name)
        if s is None:
            continue
        sw = "%s: final record: site %s" % (label, name)
        for f in ("allocs", "alloc_bytes", "frees", "live_allocs", "live_bytes"):
            c.eq("%s: %s" % (sw, f), g[f], s.get(f))
        # every site holds at the last peak what it holds at the end
        c.eq(sw + ": peak_contribution", g["live_bytes"], s.get("peak_contribution"))
        if name in LEAKING:
            c.eq(sw + ": trend", "growing", s.get("trend"))
        elif name == CACHE:
            c.eq(sw + ": trend", "leveled", s.get("trend"))

    # interval records: rankings in order, rates that are the counts' differences
    last, n = {}, 0  # stack -> (the interval record's number, its allocs)
    for r in recs:
        if r.get("type") != "interval":
            continue
        n += 1
        for q in r.get("processes") or []:
            if q.get("pid") != pid:
                continue
            check_sites_object(c, "%s: interval record at ts %s" % (label, r.get("ts")), q)
            for stack, s in proc_sites(q).items():
                seen, before = last.get(stack, (None, None))
                if seen == n - 1:
                    got = s.get("allocs_per_s", 0) * r.get("interval_s", 0)
                    c.true(abs(got - (s.get("allocs", 0) - before)) < 0.01,
                           "%s: interval at ts %s: site %s: allocs_per_s %s * interval_s "
                           "%s (expected the allocs since the previous record, %d)" % (
                               label, r.get("ts"), stack[0], s.get("allocs_per_s"),
                               r.get("interval_s"), s.get("allocs", 0) - before))
                last[stack] = (n, s.get("allocs", 0))

    # the folded file
    lines = parse_folded(c, "%s: %s" % (label, os.path.basename(folded)), folded, comm)
    weights = {}
    for frames, w in lines:
        c.true(frames not in weights, "%s: folded: a stack twice: %s" % (label, frames))
        weights[frames] = w
    if what == "leaked":
        want = folded_sum((folded_frames(s["stack"]), s[weight]) for s in p.get("sites") or [])
        total = sum(s[weight] for s in p.get("sites") or [])
    else:
        key = {("live", "bytes"): "live_bytes", ("live", "blocks"): "live_allocs",
               ("allocated", "bytes"): "alloc_bytes",
               ("allocated", "blocks"): "allocs"}[(what, weight)]
        want = folded_sum((folded_frames(s["stack"]), s[key]) for s in fsites.values() if s[key])
        total = fp.get(key)
    c.eq("%s: folded (--folded-what %s, weight %s): sum of the weights" % (
        label, what, weight), total, sum(weights.values()))
    c.eq("%s: folded (--folded-what %s, weight %s): stacks and weights" % (
        label, what, weight), sorted(want.items()), sorted(weights.items()))


@test
def leaks_three_sites(ctx):
    """--stacks: three leaking sites, a cache, churn; exact leak report, trends, folded"""
    # Three runs at once, one per --folded variant (allocated is left to the unit tests:
    # each tracer more makes every detach slower); each run is checked whole: the exit
    # leak report (exactly the old blocks of each site, first frames, tick and main,
    # file:line, growing leaks and a leveled cache), the final record's sites, the
    # interval rates, and the folded file, whose weights add up to the final record's
    # live bytes or blocks, or to the leak report's bytes.
    runs = (("live-bytes", (), "live", "bytes"),
            ("live-count", ("--folded-what", "live", "--folded-weight", "count"),
             "live", "blocks"),
            ("leaked-bytes", ("--folded-what", "leaked", "--folded-weight", "bytes"),
             "leaked", "bytes"))
    started = [(tag,) + run_three_sites(ctx, tag, args) + (what, weight)
               for tag, args, what, weight in runs]
    c = Check()
    for tag, tr, folded, what, weight in started:
        check_three_sites_run(c, tag, tr, folded, what, weight)
    c.done()


def wait_json(tr, pred, what, start=0, timeout=10):
    """The first record (from line start) of the tracer's stdout satisfying pred, and its
    line's index"""
    def ok(line):
        try:
            return pred(json.loads(line))
        except ValueError:
            return False
    line, i = tr.wait_line("out", ok, timeout, what, start)
    return json.loads(line), i


def live_of(rec, pid):
    return next((p.get("live_bytes") for p in rec.get("processes") or []
                 if p.get("pid") == pid), None)


def wait_caught_up(tr, gts):
    """Waits for an interval record with every workload's live bytes: the tracer has read
    their allocations; returns the index of its line"""
    _, i = wait_json(tr, lambda r: r.get("type") == "interval" and all(
        live_of(r, g["pid"]) == g["live_bytes"] for g in gts),
        "an interval record with the workloads' live bytes")
    return i


@test
def sigusr1(ctx):
    """-p with --stacks: SIGUSR1 makes a leaks record at once; the process runs on"""
    # leaks_three_sites gated: the old phase at 20 ms a tick, then its ground truth and a
    # wait for SIGUSR2. Every block is older than --min-age 0.05 when the tracer is asked.
    w = ctx.workload(THREE_SITES, "gated")
    tr = ctx.tracer(["--json", "--stacks", "--min-age", "0.05", "-i", "0.25", "-p",
                     str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    start = wait_caught_up(tr, [gt]) + 1
    time.sleep(0.1)
    c = Check()
    reports = []
    for n in range(2):
        asked = time.monotonic()
        tr.signal(signal.SIGUSR1)
        rec, i = wait_json(tr, lambda r: r.get("type") == "leaks", "a leaks record after "
                           "SIGUSR1", start)
        took = time.monotonic() - asked
        c.true(took < 2, "leaks record %d: %.1f s after SIGUSR1 (expected at once)" % (
            n + 1, took))
        check_leaks_record(c, rec)
        c.eq("leaks record %d: min_age_s" % (n + 1), 0.05, rec.get("min_age_s"))
        p = leak_proc(rec, w.pid)
        c.eq("leaks record %d: comm" % (n + 1), THREE_SITES[:COMM_LEN], p.get("comm"))
        check_three_sites_leaks(c, "leaks record %d" % (n + 1), p, gt, exact_trend=False)
        reports.append([(s.get("stack"), s.get("blocks"), s.get("bytes"))
                        for s in p.get("sites") or []])
        c.true(w.running() and tr.running(),
               "after SIGUSR1 %d: workload running %s, tracer running %s (expected both)"
               % (n + 1, w.running(), tr.running()))
        # the tracer goes on: its next interval record
        _, start = wait_json(tr, lambda r: r.get("type") == "interval",
                             "an interval record after the leaks record", i + 1)
        start += 1
    c.eq("the second report (nothing changed in between)", reports[0], reports[1])
    # the process ends: the tracer (-p) ends with it, with a final leak report
    w.signal(signal.SIGUSR2)
    rc = w.wait_exit(10)
    c.eq("workload exit status", 0, rc)
    rc = tr.wait_exit(EXIT_TIMEOUT, "exit after its process")
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    recs, leaks, _ = site_records(tr)
    c.eq("leaks records in all (two asked, one at the exit)", 3, len(leaks))
    c.eq("the last line's record type (the exit's leak report)", "leaks", last_type(tr))
    final_record(recs)
    if len(leaks) == 3:
        p = leak_proc(leaks[-1], w.pid)
        c.eq("exit leaks record: sites", reports[0], [
            (s.get("stack"), s.get("blocks"), s.get("bytes")) for s in p.get("sites") or []])
    c.done()


def build_leaks_cpp(ctx):
    path = prebuilt(ctx, "leaks_cpp", ["leaks_cpp.cc", "gt.h"])
    if path:
        return path
    gxx = need_tool("g++")
    path = os.path.join(ctx.tmpdir(), "leaks_cpp")
    rc, out, err = run_cmd([gxx, "-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-Wall",
                            "-Werror", os.path.join(WL_SRC, "leaks_cpp.cc"), "-o", path], 300)
    if rc != 0:
        raise Fail("building leaks_cpp.cc failed: %s" % " | ".join((out + err)[-8:]))
    return path


def build_leaks_rust(ctx):
    path = prebuilt(ctx, "leaks_rust", ["leaks_rust.rs"])
    if path:
        return path
    rustc = need_tool("rustc", [os.path.expanduser("~/.cargo/bin/rustc"),
                                "/root/.cargo/bin/rustc"])
    path = os.path.join(ctx.tmpdir(), "leaks_rust")
    rc, out, err = run_cmd([rustc, "-g", "-C", "force-frame-pointers=yes",
                            os.path.join(WL_SRC, "leaks_rust.rs"), "-o", path], 300)
    if rc != 0:
        raise Fail("building leaks_rust.rs failed: %s" % " | ".join((out + err)[-8:]))
    return path


def check_demangled(c, label, tr, src, fn_re, caller_re, marker, inlined=False):
    """A launched run's exit leak report: the site of fn (50 blocks, 10000 bytes) named
    demangled, with its file:line and its caller; no mangled frame in any site"""
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
            label, rc, tr.stderr_text()))
    recs, leaks, other = site_records(tr)
    gts = [o for o in other if isinstance(o, dict) and "blocks" in o]
    if len(gts) != 1 or len(leaks) != 1:
        raise Fail("%s: ground truth lines and leaks records (expected 1 and 1, got %d and "
                   "%d)" % (label, len(gts), len(leaks)))
    gt = gts[0]
    p = leak_proc(leaks[0], gt["pid"])
    sites = p.get("sites") or []
    for s in sites:
        for f in s.get("stack") or []:
            c.true(not MANGLED_RE.match(frame_parts(f)[0]),
                   "%s: a mangled frame %r in %s" % (label, f, s.get("stack")))
    found = [s for s in sites if any(fn_re.match(fn) for fn in frame_fns(s.get("stack")))]
    if not c.true(len(found) == 1, "%s: sites naming %s (expected 1, got %d); the sites: %s"
                  % (label, fn_re.pattern, len(found), [
                      (s.get("stack"), s.get("bytes")) for s in sites])):
        return
    s = found[0]
    c.eq("%s: the site's blocks" % label, gt["blocks"], s.get("blocks"))
    c.eq("%s: the site's bytes" % label, gt["bytes"], s.get("bytes"))
    stack = s.get("stack")
    fns = frame_fns(stack)
    k = next(i for i, fn in enumerate(fns) if fn_re.match(fn))
    c.true(any(caller_re.match(fn) for fn in fns[k + 1:]),
           "%s: stack (expected %s after %s, got %s)" % (
               label, caller_re.pattern, fn_re.pattern, stack))
    if not inlined:
        check_frame_line(c, "%s: the allocating function's frame" % label, stack[k], src,
                         marker)
    else:
        # Box::new is inlined into make_leak: the return address lies in the inlined
        # code, whose DWARF line is Box's (boxed.rs), not the call's in make_leak. The
        # frame still carries a file:line of its own.
        c.true(frame_parts(stack[k])[2] is not None,
               "%s: the allocating function's frame has a file:line: %r" % (label, stack[k]))


@test
def cpp_and_rust_demangled(ctx):
    """--stacks: a C++ method (new) and a Rust fn (Box) come out demangled, with file:line"""
    # leaks_cpp: ns::Cache::grow(unsigned long) news 50 Entries of 200 bytes; leaks_rust:
    # leaks_rust::make_leak boxes 50 of 200 bytes (Rust's legacy mangling of the program,
    # v0 of std's code: both demangled, a Rust hash suffix allowed). Both run 1.5 s and
    # exit; --min-age 0.25 sees every block old.
    cpp, rust = build_leaks_cpp(ctx), build_leaks_rust(ctx)
    args = ["--json", "--stacks", "--min-age", "0.25", "-i", "0.25", "--"]
    tcpp, trust = ctx.tracer(args + [cpp]), ctx.tracer(args + [rust])
    c = Check()
    check_demangled(c, "leaks_cpp", tcpp, "leaks_cpp.cc",
                    re.compile(r"^ns::Cache::grow\(unsigned long\)$"), re.compile(r"^main$"),
                    "SITE:grow")
    check_demangled(c, "leaks_rust", trust, "leaks_rust.rs",
                    re.compile(r"^leaks_rust::make_leak(::h[0-9a-f]{16})?$"),
                    re.compile(r"^leaks_rust::main(::h[0-9a-f]{16})?$"), "SITE:make_leak",
                    inlined=True)
    c.done()


@test
def mount_namespace(ctx):
    """-p --stacks: programs in other mount namespaces get their function names and lines
    (a binary bind-mounted over another one, a private tmpfs), through /proc/PID/root"""
    # bind: in its namespace, a copy of leaks_three_sites is bind-mounted over a copy of
    # peak and run from there: here that path is peak, a different program. tmpfs: a
    # copy run from a tmpfs mounted in its namespace only: here the path does not exist.
    unshare = need_tool("unshare")
    need_tool("mount")
    d = ctx.tmpdir()
    real, decoy, priv = (os.path.join(d, n) for n in ("real", "decoy", "priv"))
    shutil.copy2(ctx.workload_path(THREE_SITES), real)
    shutil.copy2(ctx.workload_path("peak"), decoy)
    os.mkdir(priv)
    ns = [unshare, "-m", "--propagation", "private", "sh", "-c"]
    ws = []
    for script, args, comm in (
            ('mount --bind "$1" "$2" && exec "$2" gated', (real, decoy), "decoy"),
            ('mount -t tmpfs memscope-e2e "$1" && cp "$2" "$1/leaks_ns" && '
             'exec "$1/leaks_ns" gated', (priv, real), "leaks_ns")):
        w = ctx.spawn(ns + [script, "sh"] + list(args), comm)
        line, _ = w.wait_line("out", lambda l: l.startswith("ready "), 30, "its ready line")
        if line != "ready %d" % w.pid:
            raise Fail("%s said %r, expected 'ready %d'" % (comm, line, w.pid))
        ws.append((w, comm))
    # the premise: here, the first's path is another program, the second's is nowhere
    c = Check()
    c.eq("the bind-mounted program's path here", os.path.realpath(decoy),
         os.readlink("/proc/%d/exe" % ws[0][0].pid))
    c.true(not os.path.exists(os.path.join(priv, "leaks_ns")),
           "%s exists outside the tmpfs' namespace" % os.path.join(priv, "leaks_ns"))
    c.done()
    tr = ctx.tracer(["--json", "--stacks", "--min-age", "0.05", "-i", "0.25", "-p",
                     ",".join(str(w.pid) for w, _ in ws)])
    wait_attached(tr)
    for w, _ in ws:
        w.signal(signal.SIGUSR1)
    gts = [ground_truth(w) for w, _ in ws]
    wait_caught_up(tr, gts)
    time.sleep(0.1)
    tr.signal(signal.SIGINT)
    rc = tr.wait_exit(EXIT_TIMEOUT, "exit after SIGINT")
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    recs, leaks, _ = site_records(tr)
    if len(leaks) != 1:
        raise Fail("leaks records (expected 1, at the exit; got %d)" % len(leaks))
    for (w, comm), gt in zip(ws, gts):
        p = leak_proc(leaks[0], w.pid)
        c.eq("%s: comm" % comm, comm, p.get("comm"))
        check_three_sites_leaks(c, comm, p, gt, exact_trend=False)
    for w, _ in ws:
        w.signal(signal.SIGUSR2)
        c.eq("%s exit status" % w.name, 0, w.wait_exit(10))
    c.done()


# ---------------------------------------------------------------- main

# Tests kept in modules of their own (t_*.py beside this one) import what they use from
# harness.py and from this module; importing them registers their @test functions after
# this module's, in the order of their file names. Run as a script, this module is
# __main__: it is registered as "run" too, so that they import it, not a second copy.
sys.modules.setdefault("run", sys.modules[__name__])
for _extra in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "t_*.py"))):
    importlib.import_module(os.path.splitext(os.path.basename(_extra))[0])


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
