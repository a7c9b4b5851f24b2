# t_real_programs.py: what real programs showed wrong (issue 14, items 1-7); a test module
# imported by run.py.
#
# 1. --preset pymalloc keeps no freed block live; a missed free (an address allocated
#    again while live) is counted, and allocs - frees = live_allocs holds with it
#    (pymalloc_no_freed_live, missed_free_counted)
# 2. the final record's rates cover the whole run (final_rates_whole_run)
# 3. a process is named after its thread-group leader (comm_is_leader)
# 4. every-process mode: forked children and exec rows have the image's comm
#    (fork_comm_every_process)
# 5. a missing --alloc function: one line on stderr, nothing on stdout
#    (missing_alloc_error_alone)
# 6. -f/--follow traces children; without it they are counted as untraced
#    (follow_children, follow_children_pid)
# 7. -o/--output FILE: the records go to FILE (output_file)

import json
import os
import re
import signal
import time

from harness import ATTACH_TIMEOUT, EXIT_TIMEOUT, TRACER, WINDOW_TIMEOUT, Check, Fail, Skip, test
from run import (allocator_in, check_exit_run, check_records, compare_proc, exit_records,
                 final_record, ground_truth, need_tool, no_loss, nonzero, one_error, proc_in,
                 records, refused, spawn_gated, stop_tracer, wait_attached)

RP_PYTHON = "/usr/bin/python3"
RP_PY_FREED = "x=[bytes(1000) for i in range(20000)]; del x"
RP_MIB = 1 << 20
# the causes events_lost sums (README: Output), with the new missed_free
RP_LOST_SUMMED = ("ringbuf_full", "threads_full", "too_deep", "stale_calls", "untracked",
                  "missed_free", "late")


def rp_launch(ctx, args, what, timeout=WINDOW_TIMEOUT, **kw):
    """memscope-bpf ARGS (a launched COMMAND) to its end, exit 0: (tracer, records, the
    command's JSON lines that are not records)"""
    tr = ctx.tracer(list(args), **kw)
    rc = tr.wait_exit(timeout)
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
            what, rc, tr.stderr_text()))
    recs, other = records(tr, allow_other=True)
    return tr, recs, [o for o in other if isinstance(o, dict)]


def rp_only_exit_pid(recs, what):
    """The pid of the one process with an exit record of reason exit"""
    pids = sorted({r["processes"][0].get("pid") for r in recs
                   if r.get("type") == "exit" and r.get("reason") == "exit"})
    if len(pids) != 1:
        raise Fail("%s: processes with an exit record (expected 1, got %r)" % (what, pids))
    return pids[0]


def rp_int(c, label, obj, field):
    """obj[field], which must be an integer >= 0 (None when it is not)"""
    v = obj.get(field)
    if c.true(isinstance(v, int) and not isinstance(v, bool) and v >= 0,
              "%s: %s (expected an integer >= 0, got %r)" % (label, field, v)):
        return v
    return None


def rp_identity(c, label, o, prefix=""):
    """allocs - frees == live_allocs (or the backing_ side's), exactly"""
    a, f, l = (o.get(prefix + k) for k in ("allocs", "frees", "live_allocs"))
    if all(isinstance(x, int) for x in (a, f, l)):
        c.true(a - f == l, "%s: %sallocs - %sfrees == %slive_allocs (got %d - %d = %d, "
               "live_allocs %d)" % (label, prefix, prefix, prefix, a, f, a - f, l))
    else:
        c.fail("%s: %sallocs, frees, live_allocs not integers: %r %r %r" % (
            label, prefix, a, f, l))


def rp_lost(c, label, rec):
    """The record's lost object has missed_free, and events_lost is the sum of the causes
    it counts in; returns lost.missed_free"""
    lost = rec.get("lost")
    if not c.true(isinstance(lost, dict), "%s: lost (expected an object, got %r)" % (
            label, lost)):
        return None
    mf = rp_int(c, label, lost, "missed_free")
    parts = [lost.get(k) for k in RP_LOST_SUMMED]
    if all(isinstance(x, int) for x in parts):
        c.eq("%s: events_lost (the sum of lost.%s)" % (label, ", ".join(RP_LOST_SUMMED)),
             sum(parts), rec.get("events_lost"))
    else:
        c.fail("%s: lost lacks some of %s: %r" % (label, RP_LOST_SUMMED, lost))
    return mf


# ---------------------------------------------------------------- 1. pymalloc, missed frees

def rp_python_run(ctx, preset):
    args = ["--json"] + (["--preset", "pymalloc"] if preset else []) + [
        "--", RP_PYTHON, "-c", RP_PY_FREED]
    what = "python3 %s--preset pymalloc" % ("" if preset else "without ")
    # both runs get the same stdio (stdin /dev/null, stdout and stderr pipes): CPython's
    # own allocations depend on the kind of its stdio (PITFALLS)
    tr, recs, _ = rp_launch(ctx, args, what)
    pid = rp_only_exit_pid(recs, what)
    return what, proc_in(final_record(recs), pid, "%s: final record" % what), final_record(recs)


@test
def pymalloc_no_freed_live(ctx):
    """--preset pymalloc on python3 freeing a 20,000-block list: nothing freed stays live;
    allocs - frees = live_allocs per process and allocator; missed_frees counted"""
    if not os.access(RP_PYTHON, os.X_OK):
        raise Skip("%s is missing" % RP_PYTHON)
    c = Check()
    what, p, fin = rp_python_run(ctx, True)
    base_what, base, base_fin = rp_python_run(ctx, False)
    missed = rp_int(c, what + ": process", p, "missed_frees")
    rp_identity(c, what + ": process", p)
    c.true(isinstance(p.get("live_bytes"), int) and p["live_bytes"] < 4 * RP_MIB,
           "%s: process live_bytes (expected < 4 MiB: the 20 MB list was freed; without the "
           "preset %s; got %s)" % (what, base.get("live_bytes"), p.get("live_bytes")))
    allocs = p.get("allocators") or []
    names = [a.get("name") for a in allocs]
    c.true("pymalloc" in names and "libc" in names,
           "%s: allocators (expected libc and pymalloc, got %r)" % (what, names))
    amissed = 0
    for a in allocs:
        la = "%s: allocator %s" % (what, a.get("name"))
        rp_identity(c, la, a)
        rp_identity(c, la, a, "backing_")
        m = rp_int(c, la, a, "missed_frees")
        amissed += m or 0
        for f in ("live_allocs", "backing_live_allocs"):
            c.true(isinstance(a.get(f), int) and a[f] < 10000,
                   "%s: %s (expected far below the list's 20,000 blocks, got %s)" % (
                       la, f, a.get(f)))
        if a.get("name") == "pymalloc":
            c.true(isinstance(a.get("live_bytes"), int) and a["live_bytes"] < 4 * RP_MIB,
                   "%s: live_bytes (expected < 4 MiB, got %s)" % (la, a.get("live_bytes")))
        if a.get("kind") == "libc":
            c.true(isinstance(a.get("unmatched_frees"), int) and a["unmatched_frees"] < 200,
                   "%s: unmatched_frees (expected < 200, got %s)" % (
                       la, a.get("unmatched_frees")))
    if missed is not None:
        c.eq("%s: process missed_frees (the sum over its allocators)" % what, amissed, missed)
    mf = rp_lost(c, what + ": final record", fin)
    if mf is not None and missed is not None:
        c.true(mf >= missed, "%s: final lost.missed_free %d >= the process' missed_frees %d"
               % (what, mf, missed))
    # the same program without the preset: libc alone, consistent too
    rp_identity(c, base_what + ": process", base)
    for a in base.get("allocators") or []:
        rp_identity(c, "%s: allocator %s" % (base_what, a.get("name")), a)
    c.true(isinstance(base.get("live_bytes"), int) and base["live_bytes"] < 4 * RP_MIB,
           "%s: process live_bytes (expected < 4 MiB, got %s)" % (
               base_what, base.get("live_bytes")))
    rp_lost(c, base_what + ": final record", base_fin)
    c.done()


@test
def missed_free_counted(ctx):
    """a ring allocator traced by its allocation function only: 1000 calls over 16 slots
    make 984 missed frees, 16 blocks live; allocs - frees = live_allocs, lost.missed_free"""
    n, k = 1000, 16
    args = ["--json", "--alloc", "ring=ring_get(_, size)", "--",
            ctx.workload_path("missed_free"), str(n), str(k)]
    tr, recs, gts = rp_launch(ctx, args, "missed_free")
    gts = [g for g in gts if "missed_frees" in g]
    if len(gts) != 1:
        raise Fail("missed_free's ground truth lines (expected 1, got %r)" % gts)
    gt = gts[0]
    pid = gt["pid"]
    c = Check()
    exits = exit_records(recs, pid)
    fin = final_record(recs)
    rows = [("final record", fin, proc_in(fin, pid, "final record"))]
    if c.eq("exit records for pid %d" % pid, 1, len(exits)):
        rows.insert(0, ("exit record", exits[0], proc_in(exits[0], pid, "exit record")))
    for label, rec, p in rows:
        c.eq("%s: comm" % label, "missed_free", p.get("comm"))
        ring = allocator_in(c, label, p, "ring")
        for obj, what in ((p, "%s: process" % label), (ring, "%s: allocator ring" % label)):
            if obj is None:
                continue
            for f in ("allocs", "missed_frees", "live_allocs", "live_bytes", "alloc_bytes"):
                c.eq("%s: %s" % (what, f), gt[f], obj.get(f))
            for f in ("unmatched_frees", "dead_frees", "failed_allocs"):
                c.eq("%s: %s" % (what, f), 0, obj.get(f))
            rp_identity(c, what, obj)
            ab, fb, lb = (obj.get(f) for f in ("alloc_bytes", "freed_bytes", "live_bytes"))
            if all(isinstance(x, int) for x in (ab, fb, lb)):
                c.true(ab - fb == lb, "%s: alloc_bytes - freed_bytes == live_bytes (got %d - "
                       "%d = %d, live_bytes %d)" % (what, ab, fb, ab - fb, lb))
        if ring is not None:
            c.eq("%s: allocator ring by_func" % label, {"ring_get": n},
                 nonzero(ring.get("by_func")))
        mf = rp_lost(c, label, rec)
        c.eq("%s: lost.missed_free" % label, gt["missed_frees"], mf)
    c.done()


# ---------------------------------------------------------------- 2. rates of the final record

RP_RATE = 2000  # malloc+free pairs a second
RP_SIZE = 100


@test
def final_rates_whole_run(ctx):
    """-p -i 1 -d 3 on pairs at 2000/s: the final record's interval_s is the whole run and
    its rates are its counts over it, within 25% of the workload's rate"""
    w = ctx.workload("rate", RP_RATE, RP_SIZE)
    # the pairs run before the tracer starts and after it ends: a steady rate over all of
    # the tracer's run, attaching included
    w.signal(signal.SIGUSR1)
    time.sleep(0.3)
    t0 = time.monotonic()
    tr = ctx.tracer(["--json", "-i", "1", "-d", "3", "-p", str(w.pid)])
    rc = tr.wait_exit(3 + ATTACH_TIMEOUT + EXIT_TIMEOUT, "end by itself after -d 3")
    took = time.monotonic() - t0
    w.signal(signal.SIGUSR2)
    gt = ground_truth(w)
    if w.wait_exit(10) != 0:
        raise Fail("rate exit status (expected 0, got %s)" % w.p.returncode)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    recs = records(tr)
    fin = final_record(recs)
    true_rate = gt["pairs"] / (gt["elapsed_ns"] / 1e9)
    c = Check()
    c.true(abs(true_rate - RP_RATE) <= 0.1 * RP_RATE,
           "the workload's own rate (expected about %d, got %.1f): its pacing failed" % (
               RP_RATE, true_rate))
    iv = fin.get("interval_s")
    if not c.true(isinstance(iv, (int, float)) and 2.5 <= iv <= max(6.0, took + 1),
                  "final interval_s (expected the whole run, about 3 s; got %r; the tracer "
                  "ran %.1f s)" % (iv, took)):
        c.done()
    p = proc_in(fin, w.pid, "final record")
    objs = [("process", p)] + [("allocator %s" % a.get("name"), a)
                               for a in p.get("allocators") or []]
    for label, o in objs:
        for rate, count in (("allocs_per_s", "allocs"), ("frees_per_s", "frees"),
                            ("alloc_bytes_per_s", "alloc_bytes")):
            v, n = o.get(rate), o.get(count)
            if not c.true(isinstance(v, (int, float)) and isinstance(n, int),
                          "final %s: %s and %s (got %r and %r)" % (label, rate, count, v, n)):
                continue
            want = n / iv
            c.true(abs(v - want) <= 1e-6 * max(1.0, want),
                   "final %s: %s == %s / interval_s (expected %d / %s = %.6f, got %s)" % (
                       label, rate, count, n, iv, want, v))
    for rate, want in (("allocs_per_s", true_rate), ("frees_per_s", true_rate),
                       ("alloc_bytes_per_s", true_rate * RP_SIZE)):
        v = p.get(rate)
        c.true(isinstance(v, (int, float)) and abs(v - want) <= 0.25 * want,
               "final process %s (expected within 25%% of the workload's %.1f, got %r)" % (
                   rate, want, v))
    c.done()


# ---------------------------------------------------------------- 3. the leader's name

RP_LEADER = "thread_names"


def rp_comm_everywhere(c, label, recs, pid, comm):
    """Every record that lists pid names it comm"""
    for n, r in enumerate(recs):
        for p in r.get("processes") or []:
            if p.get("pid") == pid:
                c.eq("%s: record %d (%s%s) comm" % (label, n, r.get("type"), (
                    " " + r.get("reason")) if r.get("reason") else ""), comm, p.get("comm"))


def rp_check_leader(c, label, recs, pid, gt):
    exits = exit_records(recs, pid)
    if c.eq("%s: exit records for pid %d" % (label, pid), 1, len(exits)):
        c.eq("%s: exit record reason" % label, "exit", exits[0].get("reason"))
        c.eq("%s: exit record comm" % label, RP_LEADER,
             proc_in(exits[0], pid, "exit record").get("comm"))
    fin = final_record(recs)
    p = proc_in(fin, pid, "%s: final record" % label)
    c.eq("%s: final record comm" % label, RP_LEADER, p.get("comm"))
    pairs = gt["main_pairs"] + gt["bg_pairs"]
    c.true((p.get("by_func") or {}).get("malloc", 0) >= pairs,
           "%s: final by_func malloc (expected at least the %d pairs, got %r)" % (
               label, pairs, p.get("by_func")))
    rp_comm_everywhere(c, label, recs, pid, RP_LEADER)


@test
def comm_is_leader(ctx):
    """a process whose last thread ('bg_flusher') outlives its main thread keeps the
    leader's comm, launched and with -p"""
    c = Check()
    path = ctx.workload_path(RP_LEADER)
    tr, recs, gts = rp_launch(ctx, ["--json", "-i", "0.2", "--", path], "launched")
    gts = [g for g in gts if g.get("thread") == "bg_flusher"]
    if len(gts) != 1:
        raise Fail("launched: thread_names' lines (expected 1, got %r)" % gts)
    rp_check_leader(c, "launched", recs, gts[0]["pid"], gts[0])

    w = ctx.workload(RP_LEADER, "gated")
    tr = ctx.tracer(["--json", "-i", "0.2", "-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    c.eq("-p: thread_names exit status", 0, w.wait_exit(10))
    rc = tr.wait_exit(EXIT_TIMEOUT, "end by itself after its process exited")
    if rc != 0:
        raise Fail("-p: tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    rp_check_leader(c, "-p", records(tr), w.pid, gt)
    c.done()


# ---------------------------------------------------------------- 4. every-process comm

def rp_exit_line(pid):
    def pred(line):
        try:
            r = json.loads(line)
        except ValueError:
            return False
        return r.get("type") == "exit" and r.get("reason") == "exit" and any(
            p.get("pid") == pid for p in r.get("processes") or [])
    return pred


def rp_gts(w):
    gts = []
    for l in w.out():
        if l.startswith("{"):
            try:
                gts.append(json.loads(l))
            except ValueError:
                raise Fail("%s: a line that is not JSON: %r" % (w.name, l))
    return gts


def rp_rows(recs, pid):
    """(reason, comm) of pid's exit records, in order"""
    return [(r.get("reason"), r["processes"][0].get("comm")) for r in exit_records(recs, pid)]


@test
def fork_comm_every_process(ctx):
    """no -p: children made by fork alone carry the parent's comm, up to an exec (exact
    figures); an exec row carries the image that called exec (execer, bash, bash's child,
    a bash started before the tracer); no row has an empty comm"""
    execer, late = ctx.workload_path("execer"), ctx.workload_path("late")
    bash = need_tool("bash")
    # a bash that runs before the tracer attaches, then (its flag file made) execs late
    flag = os.path.join(ctx.tmpdir(), "go")
    pre = ctx.spawn([bash, "-c", 'while [ ! -e "$0" ]; do sleep 0.05; done; exec "$1" 9',
                     flag, late], "bash")
    # -i 60: no interval record comes before the exit records, so no name may come from
    # reading /proc/PID/comm at an interval, only from what the tracer saw happen
    tr = ctx.tracer(["--json", "-i", "60"])
    wait_attached(tr)
    with open(flag, "w"):
        pass
    # forker: children 0 and 1 allocate and _exit, child 2 allocates and execs late
    fk = ctx.spawn([ctx.workload_path("forker"), "3", "40", late, "20"])
    ex = ctx.spawn([execer, "10", late, "20"])
    sh1 = ctx.spawn([bash, "-c", "%s 15" % late], "bash")  # bash execs a lone command
    sh2 = ctx.spawn([bash, "-c", "%s 12; exit 0" % late], "bash")  # a child of bash execs
    c = Check()
    for w in (pre, fk, ex, sh1, sh2):
        c.eq("%s exit status" % " ".join(os.path.basename(a) for a in w.argv), 0,
             w.wait_exit(WINDOW_TIMEOUT))
    fgts, egts, s1gts, s2gts = rp_gts(fk), rp_gts(ex), rp_gts(sh1), rp_gts(sh2)
    pgts = rp_gts(pre)
    if len(pgts) != 1 or pgts[0]["pid"] != pre.pid:
        raise Fail("bash started before the tracer: late's ground truth (expected 1 of "
                   "bash's pid %d; got %r)" % (pre.pid, pgts))
    parent = [g for g in fgts if g["pid"] == fk.pid]
    kids = {}
    for g in fgts:
        if g["pid"] != fk.pid:
            kids.setdefault(g["pid"], []).append(g)
    if len(parent) != 1 or sorted(len(v) for v in kids.values()) != [1, 1, 2]:
        raise Fail("forker's ground truths (expected the parent's, two children's and the "
                   "exec'ing child's two; got %r)" % fgts)
    if len(egts) != 2 or any(g["pid"] != ex.pid for g in egts):
        raise Fail("execer's ground truths (expected 2 of pid %d, got %r)" % (ex.pid, egts))
    if len(s1gts) != 1 or s1gts[0]["pid"] != sh1.pid:
        raise Fail("bash -c LATE: late's ground truth (expected 1 of bash's pid %d: bash "
                   "execs a lone command; got %r)" % (sh1.pid, s1gts))
    if len(s2gts) != 1 or s2gts[0]["pid"] == sh2.pid:
        raise Fail("bash -c 'LATE; exit 0': late's ground truth (expected 1 of a child of "
                   "bash, not bash's pid %d; got %r)" % (sh2.pid, s2gts))
    pids = [pre.pid, fk.pid, ex.pid, sh1.pid, sh2.pid, s2gts[0]["pid"]] + list(kids)
    try:
        for pid in pids:
            tr.wait_line("out", rp_exit_line(pid), 15, "the exit record of pid %d" % pid)
    finally:
        recs = stop_tracer(tr)
    # forker and its children
    if c.eq("forker parent %d: exit records (reason, comm)" % fk.pid, [("exit", "forker")],
            rp_rows(recs, fk.pid)):
        compare_proc(c, "forker parent: exit record", parent[0],
                     exit_records(recs, fk.pid)[0]["processes"][0], "forker")
    for pid, gts in kids.items():
        label = "forker child %d" % pid
        want = [("exit", "forker")] if len(gts) == 1 else [("exec", "forker"), ("exit", "late")]
        if c.eq("%s: exit records (reason, comm)" % label, want, rp_rows(recs, pid)):
            exits = exit_records(recs, pid)
            compare_proc(c, "%s: %s record" % (label, want[0][0]), gts[0],
                         exits[0]["processes"][0], "forker")
            if len(gts) == 2:
                compare_proc(c, "%s: late's exit record" % label, gts[1],
                             exits[1]["processes"][0], "late")
    # exec rows: execer, bash itself, a child of bash, a bash older than the tracer
    for pid, gts, first in ((ex.pid, egts, "execer"), (sh1.pid, s1gts, "bash"),
                            (s2gts[0]["pid"], s2gts, "bash"), (pre.pid, pgts, "bash")):
        label = "%s pid %d" % (first, pid)
        if c.eq("%s: exit records (reason, comm)" % label, [("exec", first), ("exit", "late")],
                rp_rows(recs, pid)):
            exits = exit_records(recs, pid)
            if first == "execer":
                compare_proc(c, "execer: exec record", gts[0], exits[0]["processes"][0],
                             "execer")
            compare_proc(c, "%s: late's exit record" % label, gts[-1],
                         exits[1]["processes"][0], "late")
    c.eq("bash pid %d (its child ran late): exit records (reason, comm)" % sh2.pid,
         [("exit", "bash")], rp_rows(recs, sh2.pid))
    # no row of any process, ours or not, has an empty name
    empty = sorted({(r.get("type"), r.get("reason"), p.get("pid")) for r in recs
                    for p in r.get("processes") or [] if not p.get("comm")}, key=str)
    c.true(not empty, "rows with an empty comm (type, reason, pid): %r" % empty[:8])
    c.done()


# ---------------------------------------------------------------- 5. a missing --alloc function

@test
def missing_alloc_error_alone(ctx):
    """--alloc 'nope(_, size)' -- COMMAND: exit 1, one stderr line naming nope, and
    nothing at all on stdout (no record, no table, no output of the command)"""
    path = ctx.workload_path("launched")
    c = Check()
    for mode in (["--json"], []):
        what = "%s--alloc 'nope(_, size)' -- launched 10" % (" ".join(mode) + " " if mode
                                                            else "")
        rc, out, err = refused(ctx, mode + ["--alloc", "nope(_, size)", "--", path, "10"])
        one_error(c, what, rc, err, 1)
        line = next((l for l in err if l.strip()), "")
        c.true(re.search(r"\bnope\b", line), "%s: stderr (expected the function nope named, "
               "got %r)" % (what, line))
        c.eq("%s: stdout" % what, [], out)
    c.done()


# ---------------------------------------------------------------- 6. -f / --follow

RP_CHILD_ITERS = 20  # the exec'd launched child's mix
RP_CHILD_M = 30  # the fork-only child's blocks


def rp_spawner_gts(gts, parent_pid, what):
    """spawner's three ground truths: (parent, exec'd launched child, fork-only child)"""
    gts = [g for g in gts if "allocs" in g]
    parent = [g for g in gts if g["pid"] == parent_pid]
    kids = [g for g in gts if g["pid"] != parent_pid]
    execd = [g for g in kids if "realloc" in g["by_func"]]  # the mix; the other has none
    forked = [g for g in kids if "realloc" not in g["by_func"]]
    if len(parent) != 1 or len(execd) != 1 or len(forked) != 1:
        raise Fail("%s: spawner's ground truths (expected the parent's, the exec'd child's "
                   "and the fork-only child's; got %r)" % (what, gts))
    return parent[0], execd[0], forked[0]


def rp_check_followed(c, what, recs, parent, execd, forked):
    fin = final_record(recs)
    no_loss(c, fin)
    for gt, comm, who in ((parent, "spawner", "parent"), (execd, "launched", "exec'd child"),
                          (forked, "spawner", "fork-only child")):
        label = "%s: %s %d" % (what, who, gt["pid"])
        if any(p.get("pid") == gt["pid"] for p in fin.get("processes") or []):
            compare_proc(c, label + ": final record", gt, proc_in(fin, gt["pid"], "final"), comm)
        else:
            c.fail("%s: not in the final record" % label)
        ex = [r for r in exit_records(recs, gt["pid"]) if r.get("reason") == "exit"]
        if c.eq("%s: exit records of reason exit" % label, 1, len(ex)):
            compare_proc(c, label + ": exit record", gt, ex[0]["processes"][0], comm)
    c.eq("%s: final untraced_children" % what, 0, fin.get("untraced_children"))


def rp_untraced_line(c, what, err, n):
    lines = [l for l in err if re.search(r"\b%d child process" % n, l)]
    if c.eq("%s: stderr lines saying %d child processes ran untraced" % (what, n), 1,
            len(lines)):
        c.true(lines[0].startswith(TRACER + ": ") and "untraced" in lines[0] and re.search(
            r"(^|[\s(])(-f|--follow)\b", lines[0]), "%s: the line (expected 'memscope-bpf: "
            "... %d child processes ... untraced ... -f', got %r)" % (what, n, lines[0]))


@test
def follow_children(ctx):
    """--bpf -f -- spawner: the parent, its fork+exec child (launched) and its fork-only
    child each exact in a row of its own; without -f the children are untraced and counted"""
    spawner, launched = ctx.workload_path("spawner"), ctx.workload_path("launched")
    cmd = [spawner, launched, str(RP_CHILD_ITERS), str(RP_CHILD_M)]
    # both at once: they trace different processes. By uprobes (--bpf): t_inproc's
    # inproc_follow is the same for the default, the preloaded library
    tf = ctx.tracer(["--json", "--bpf", "-f", "--"] + cmd)
    tn = ctx.tracer(["--json", "--bpf", "--"] + cmd)
    c = Check()
    ended = []
    for tr, what in ((tf, "-f"), (tn, "without -f")):
        rc = tr.wait_exit(WINDOW_TIMEOUT)
        if c.true(rc == 0, "%s: tracer exit status (expected 0, got %s); stderr: %s" % (
                what, rc, tr.stderr_text())):
            ended.append((tr, what))
    for tr, what in ended:
        recs, other = records(tr, allow_other=True)
        gts = [o for o in other if isinstance(o, dict)]
        # the parent is the launched COMMAND: the pid of its last line (it waits for both)
        if not gts:
            raise Fail("%s: no ground truth line" % what)
        parent, execd, forked = rp_spawner_gts(gts, gts[-1]["pid"], what)
        if what == "-f":
            rp_check_followed(c, what, recs, parent, execd, forked)
            rp_comm_everywhere(c, what + ": fork-only child", recs, forked["pid"], "spawner")
            continue
        fin = final_record(recs)
        no_loss(c, fin)
        compare_proc(c, "%s: parent: final record" % what, parent,
                     proc_in(fin, parent["pid"], "final record"), "spawner")
        for g in (execd, forked):
            c.true(not any(p.get("pid") == g["pid"] for r in recs
                           for p in r.get("processes") or []),
                   "%s: child %d is in a record (expected untraced)" % (what, g["pid"]))
        c.eq("%s: final untraced_children" % what, 2, fin.get("untraced_children"))
        rp_untraced_line(c, what, tr.err(), 2)
    c.done()


@test
def follow_children_pid(ctx):
    """-p PID -f on a gated spawner that forks and execs in its window: all three exact;
    -p without -f: untraced_children 2"""
    spawner, launched = ctx.workload_path("spawner"), ctx.workload_path("launched")
    c = Check()
    for follow in (False, True):
        what = "-p -f" if follow else "-p without -f"
        w = spawn_gated(ctx, [spawner, "gated", launched, str(RP_CHILD_ITERS),
                              str(RP_CHILD_M)])
        tr = ctx.tracer(["--json", "-i", "0.5"] + (["-f"] if follow else []) + [
            "-p", str(w.pid)])
        wait_attached(tr)
        w.signal(signal.SIGUSR1)
        w.wait_line("out", lambda l: l.startswith('{"pid": %d,' % w.pid), WINDOW_TIMEOUT,
                    "spawner's own ground truth")
        parent, execd, forked = rp_spawner_gts(rp_gts(w), w.pid, what)
        w.signal(signal.SIGUSR2)
        c.eq("%s: spawner exit status" % what, 0, w.wait_exit(10))
        rc = tr.wait_exit(EXIT_TIMEOUT, "end by itself once its processes exited")
        if rc != 0:
            raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
                what, rc, tr.stderr_text()))
        recs = records(tr)
        if follow:
            rp_check_followed(c, what, recs, parent, execd, forked)
            continue
        fin = final_record(recs)
        no_loss(c, fin)
        compare_proc(c, "%s: parent: final record" % what, parent,
                     proc_in(fin, w.pid, "final record"), "spawner")
        c.eq("%s: final pids" % what, [w.pid], [p.get("pid") for p in fin.get("processes")
                                                or []])
        c.eq("%s: final untraced_children" % what, 2, fin.get("untraced_children"))
        rp_untraced_line(c, what, tr.err(), 2)
    c.done()


# ---------------------------------------------------------------- 7. -o / --output FILE

def rp_file_lines(path, what):
    try:
        with open(path) as f:
            return [l.rstrip("\n") for l in f]
    except OSError as e:
        raise Fail("%s: cannot read %s: %s" % (what, path, e))


def rp_file_records(c, path, what):
    """FILE's lines, each a record (check_records' contract), the last the final one"""
    recs = []
    for n, l in enumerate(rp_file_lines(path, what)):
        try:
            r = json.loads(l)
        except ValueError:
            c.fail("%s: line %d of the file is not JSON: %r" % (what, n + 1, l[:200]))
            continue
        if not (isinstance(r, dict) and "type" in r):
            c.fail("%s: line %d of the file is not a record: %r" % (what, n + 1, l[:200]))
            continue
        recs.append(r)
    check_records(recs)
    final_record(recs)
    return recs


@test
def output_file(ctx):
    """-o FILE / --output FILE: the records (JSON or the table) go to FILE, truncated
    first; stdout carries only the command's own output; with -p, nothing"""
    path = ctx.workload_path("launched")
    d = ctx.tmpdir()
    c = Check()
    for opt, mode in (("-o", ["--json"]), ("--output", [])):
        what = "%s %s FILE -- launched 50" % (" ".join(mode) or "(table)", opt)
        out_path = os.path.join(d, "records%s" % opt)
        with open(out_path, "w") as f:
            f.write("stale text from before\n")  # must not survive
        tr = ctx.tracer(mode + [opt, out_path, "--", path, "50"])
        rc = tr.wait_exit(WINDOW_TIMEOUT)
        if rc != 0:
            raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
                what, rc, tr.stderr_text()))
        out = [l for l in tr.out() if l.strip()]
        if not c.eq("%s: stdout lines (only launched's ground truth)" % what, 1, len(out)):
            c.fail("%s: stdout was %r" % (what, [l[:120] for l in out[:4]]))
            continue
        try:
            gt = json.loads(out[0])
        except ValueError:
            c.fail("%s: stdout's line is not launched's ground truth: %r" % (what, out[0]))
            continue
        if not c.true(isinstance(gt, dict) and "type" not in gt and "allocs" in gt,
                      "%s: stdout's line is not launched's ground truth: %r" % (what, out[0])):
            continue
        c.true(not any(l.lstrip().startswith('{"type"') for l in tr.err()),
               "%s: records on stderr" % what)
        if mode:
            recs = rp_file_records(c, out_path, what)
            check_exit_run(c, recs, gt, gt["pid"], "launched", what)
            no_loss(c, final_record(recs))
        else:
            lines = rp_file_lines(out_path, what)
            c.true(not any("stale text" in l for l in lines),
                   "%s: the file's old content is still there" % what)
            c.true(any(re.search(r"\bPID\b", l, re.I) for l in lines),
                   "%s: no header line with a PID column in the file: %r" % (what, lines[:5]))
            c.true(any(re.search(r"(^|\s)%d\s" % gt["pid"], l) and "launched" in l
                       for l in lines),
                   "%s: no row with pid %d and comm launched in the file: %r" % (
                       what, gt["pid"], lines[:10]))
            c.true(not any(l.lstrip().startswith("{") for l in lines),
                   "%s: JSON lines in the file without --json" % what)

    # -p: the tracer's stdout stays empty
    what = "--json -o FILE -p PID"
    out_path = os.path.join(d, "records-p")
    w = ctx.workload("peak")
    tr = ctx.tracer(["--json", "-i", "0.5", "-o", out_path, "-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    tr.signal(signal.SIGINT)
    rc = tr.wait_exit(EXIT_TIMEOUT, "exit after SIGINT")
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
            what, rc, tr.stderr_text()))
    c.eq("%s: stdout" % what, [], [l for l in tr.out() if l.strip()])
    recs = rp_file_records(c, out_path, what)
    fin = final_record(recs)
    no_loss(c, fin)
    compare_proc(c, "%s: final record" % what, gt, proc_in(fin, w.pid, "final record"), "peak")
    w.signal(signal.SIGUSR2)
    c.eq("peak exit status", 0, w.wait_exit(10))
    c.done()
