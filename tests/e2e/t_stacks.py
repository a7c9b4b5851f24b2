# t_stacks.py: whole stacks on code built without frame pointers, and what a stack says
# when it is not whole (issue 17); a test module imported by run.py.
#
# fake_frame.c allocates through a made-up frame whose return address is an address in its
# own data: a frame-pointer walk from malloc goes caller -> that address. The stack must
# stop at the caller and say it was cut ("truncated": true, "..." in text and folded), the
# data address never shown as a frame; its other site's stack reaches the thread's start
# and is whole; the C library's stdio buffer, allocated in code without frame pointers, is
# cut short by a frame-pointer walk (--stack-unwind fp) and says so, and whole from the
# call frame information (auto).
#
# leaks_nofp.c is built like a distribution package (-O2 -fomit-frame-pointer): two
# functions leak through one wrapper three calls down. From CFI (the default, auto) they
# are two sites, each with its exact blocks and the whole chain down to _start, the same
# chain elfutils' unwinder (eu-stack) takes of the stopped process; frame pointers (fp)
# see one site, cut at the wrapper. The wrapper's malloc is in a function inlined into it:
# a frame of its own with the line of its malloc, the wrapper's frame the line of the call.
#
# stack_paths.c, built so too, allocates through a dlopen'ed library built without frame
# pointers, on a second thread and in a signal handler on an alternate stack: each path's
# stack is whole, exact, and the one eu-stack takes of the stopped process. Debian's
# python3.11 and redis-server: at least 95% of the stacks reach the thread's start.
#
# A launched COMMAND's stacks are walked in the process by default (the preloaded library,
# libunwind) and by the BPF programs with --bpf: the tests that launch one run it both ways
# (SOURCES) and assert the same frames, sites and counts of each.

import json
import math
import os
import re
import signal
import subprocess
import time

from harness import Check, Fail, test
from harness import EXIT_TIMEOUT, run_cmd
from run import (WINDOW_TIMEOUT, frame_fns, frame_parts, ground_truth, marker_line, redis_benchmark,
                 start_redis, wait_attached)

FAKE, PLAIN = 7, 5  # blocks through the made-up frame (48 B) and through plain_malloc (80 B)

# How a launched COMMAND's stacks are walked: in the process (the default), by BPF (--bpf)
SOURCES = (("in-process", []), ("bpf", ["--bpf"]))


class Labelled:
    """A Check whose messages start with a label (the source of the run)"""

    def __init__(self, c, label):
        self.c, self.label = c, label

    def fail(self, msg):
        self.c.fail("%s: %s" % (self.label, msg))

    def true(self, cond, msg):
        return self.c.true(cond, "%s: %s" % (self.label, msg))

    def eq(self, field, expected, got):
        return self.c.eq("%s: %s" % (self.label, field), expected, got)


def check_source(c, tr, source):
    """The run recorded the command in-process, or by uprobes, as its source says"""
    inproc = any("attached in-process" in l for l in tr.err())
    c.eq("%s: recorded in-process" % source, source == "in-process", inproc)


def run_fake_frame(ctx, args):
    path = ctx.workload_path("fake_frame")
    tr = ctx.tracer(list(args) + ["--", path, str(FAKE), str(PLAIN)])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (rc, tr.stderr_text()))
    return tr


def check_truncated_at_data(ctx, mode, source="bpf", extra=()):
    tr = run_fake_frame(ctx, ["--json", "--stacks", "--stack-unwind", mode] + list(extra))
    lines = [json.loads(l) for l in tr.out() if l.startswith("{")]
    gt = next((l for l in lines if "data" in l), None)
    final = next((l for l in lines if l.get("type") == "final"), None)
    if gt is None or final is None:
        raise Fail("no ground truth line or no final record: %s" % tr.out())
    data = gt["data"]
    c = Check()
    check_source(c, tr, source)
    p = next((p for p in final.get("processes", []) if p.get("comm") == "fake_frame"), None)
    if p is None:
        raise Fail("no fake_frame process in the final record")
    sites = p.get("sites") or {}
    listed = {}
    for s in sites.get("by_live_bytes") or []:
        fns = frame_fns(s.get("stack"))
        listed[fns[0] if fns else None] = s
        for f in s.get("stack") or []:
            c.true(f != "0x%x" % data, "the data address 0x%x shown as a frame in %s" % (
                data, s.get("stack")))
    fake = listed.get("fake_frame_malloc")
    plain = listed.get("plain_malloc")
    stdio = listed.get("_IO_file_doallocate")
    if not fake or not plain:
        raise Fail("sites by first frame: %s" % sorted(k or "" for k in listed))
    c.eq("made-up frame: stack", ["fake_frame_malloc"], frame_fns(fake.get("stack")))
    c.eq("made-up frame: truncated", True, fake.get("truncated"))
    c.eq("made-up frame: allocs, live bytes", [FAKE, 48 * FAKE],
         [fake.get("allocs"), fake.get("live_bytes")])
    c.eq("plain: stack", ["plain_malloc", "main", "__libc_start_call_main"] +
         ([] if mode == "fp" else ["__libc_start_main", "_start"]), frame_fns(plain.get("stack")))
    c.eq("plain: truncated", False, plain.get("truncated"))
    c.eq("plain: allocs, live bytes", [PLAIN, 80 * PLAIN],
         [plain.get("allocs"), plain.get("live_bytes")])
    if not stdio:  # printf's and fgets' stdio buffers, allocated in libc
        c.fail("no site from _IO_file_doallocate: %s" % sorted(k or "" for k in listed))
    elif mode == "fp":  # stdout's buffer: libc has no frame pointers
        c.eq("stdio buffer: truncated", True, stdio.get("truncated"))
    else:
        c.eq("stdio buffer: truncated", False, stdio.get("truncated"))
        c.eq("stdio buffer: outermost frames", ["main", "__libc_start_call_main",
                                                "__libc_start_main", "_start"],
             frame_fns(stdio.get("stack"))[-4:])
    marked = sum(1 for s in sites.get("by_live_bytes") or [] if s.get("truncated"))
    c.eq("truncated_stacks", marked, sites.get("truncated_stacks"))
    c.done()


@test
def stack_truncated_at_data(ctx):
    """--stacks --stack-unwind fp: a walk into data stops at the last code frame"""
    check_truncated_at_data(ctx, "fp")


@test
def stack_truncated_at_data_auto(ctx):
    """--stacks (auto), walked in the process (libunwind): assembly without CFI by its frame
    pointer, into data: cut there"""
    check_truncated_at_data(ctx, "auto", "in-process")


@test
def stack_truncated_at_data_auto_bpf(ctx):
    """--bpf --stacks (auto), walked by the BPF programs: the same"""
    check_truncated_at_data(ctx, "auto", "bpf", ["--bpf"])


@test
def stack_truncated_text_and_folded(ctx):
    """--stacks: a truncated stack ends in '...' in the leak report and the folded file,
    walked in the process and by BPF"""
    c = Check()
    for source, extra in SOURCES:
        check_truncated_text(ctx, c, source, extra)
    c.done()


def check_truncated_text(ctx, c, source, extra):
    folded = os.path.join(ctx.tmpdir(), "folded-%s.txt" % source)
    tr = run_fake_frame(ctx, ["--stacks", "--min-age", "0", "--folded", folded] + extra)
    out = tr.out()
    check_source(c, tr, source)
    c = Labelled(c, source)
    try:
        i = next(i for i, l in enumerate(out) if l.strip().startswith("fake_frame_malloc+"))
        c.eq("leak report: the line after fake_frame_malloc", "...", out[i + 1].strip())
        j = next(i for i, l in enumerate(out) if l.strip().startswith("plain_malloc+"))
        c.true(out[j + 2].strip().startswith("__libc_start_call_main+") and
               (j + 3 >= len(out) or out[j + 3].strip() != "..."),
               "leak report: plain_malloc's stack whole, no '...': %s" % out[j:j + 4])
    except (StopIteration, IndexError):
        raise Fail("%s: no leak report lines for the two sites: %s" % (source, out))
    with open(folded) as f:
        lines = [l.split() for l in f.read().splitlines()]
    by_leaf = {parts[0].split(";")[-1].split("+")[0]: parts for parts in lines if parts}
    fake, plain = by_leaf.get("fake_frame_malloc"), by_leaf.get("plain_malloc")
    if not fake or not plain:
        raise Fail("%s: folded lines by leaf: %s" % (source, sorted(by_leaf)))
    c.eq("folded: made-up frame", ["fake_frame", "...", "fake_frame_malloc"],
         [f.split("+")[0] for f in fake[0].split(";")])
    c.eq("folded: made-up frame weight", str(48 * FAKE), fake[1])
    c.eq("folded: plain root", "fake_frame;_start",
         ";".join(plain[0].split(";")[:2]).split("+")[0])


# ---------------------------------------------------------------- leaks_nofp.c

INGEST, CACHE, SERVED = 300, 120, 50  # blocks of 40 and 56 bytes, kept; of 24, freed
CHAIN = ["alloc_node", "wrap_alloc", "make_node", "grow_table"]  # alloc_node is inlined
OUTER = ["main", "__libc_start_call_main", "__libc_start_main", "_start"]


def trace_nofp(ctx, args, stop=False, want_records=False):
    """leaks_nofp traced by -p with args; its final record's process"""
    w = ctx.workload("leaks_nofp", INGEST, CACHE, *(["stop"] if stop else []))
    tr = ctx.tracer(["--json", "--stacks"] + list(args) + ["-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    stacks = []
    if stop:
        for _ in range(2):
            stacks.append(eu_stack(w.pid, "wrap_alloc"))
            os.kill(w.pid, signal.SIGCONT)
    gt = ground_truth(w)
    if gt != {"ingest": INGEST, "cache": CACHE, "served": SERVED}:
        raise Fail("leaks_nofp's ground truth: %r" % gt)
    tr.signal(signal.SIGINT)
    rc = tr.wait_exit(EXIT_TIMEOUT)
    w.signal(signal.SIGUSR2)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s): %s" % (rc, tr.stderr_text()))
    recs = [json.loads(l) for l in tr.out()]
    final = next((r for r in recs if r.get("type") == "final"), {})
    p = next((p for p in final.get("processes", []) if p.get("pid") == w.pid), None)
    if p is None:
        raise Fail("leaks_nofp (pid %d) not in the final record" % w.pid)
    if want_records:
        return p, stacks, recs
    return p, stacks


def eu_stack(pid, fn="wrap_alloc", timeout=10):
    """The stack of pid, stopped, as elfutils' eu-stack unwinds it: function names from the
    frame that stopped (fn) outward, in the thread that holds it"""
    deadline = time.time() + timeout
    while True:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                break
        if time.time() > deadline:
            raise Fail("pid %d did not stop itself within %d s" % (pid, timeout))
        time.sleep(0.02)
    r = subprocess.run(["eu-stack", "-p", str(pid)], capture_output=True, text=True,
                       timeout=30)
    for thread in re.split(r"^TID \d+:$", r.stdout, flags=re.M)[1:]:
        fns = [m.group(1).split("@")[0] for m in
               re.finditer(r"^#\d+\s+0x[0-9a-f]+\s+(\S+)", thread, re.M)]
        if fn in fns:
            return fns[fns.index(fn):]
    raise Fail("eu-stack -p %d: no %s frame: %s %s" % (pid, fn, r.stdout, r.stderr))


def nofp_sites(p):
    """The process' sites (in any ranking), by the function below grow_table (or
    handle_request)"""
    out = {}
    sites = p.get("sites") or {}
    for rank in ("by_live_bytes", "by_allocs_per_s", "by_peak"):
        for s in sites.get(rank) or []:
            fns = frame_fns(s.get("stack"))
            out[fns[4] if len(fns) > 4 else fns[0] if fns else None] = s
    return out


@test
def stacks_without_frame_pointers(ctx):
    """--stacks on -O2 -fomit-frame-pointer code: two leaks through one wrapper, two sites;
    the leak report of the short run (under --min-age) and --folded name both owners"""
    c = Check()
    folded = os.path.join(ctx.tmpdir(), "nofp.folded")
    p, _, recs = trace_nofp(ctx, ["--folded", folded], want_records=True)
    sites = nofp_sites(p)
    for fn, n, size in (("ingest_orders", INGEST, 40), ("cache_sessions", CACHE, 56)):
        s = sites.get(fn)
        if not s:
            c.fail("auto: no site through %s: %s" % (fn, sorted(k or "" for k in sites)))
            continue
        c.eq("auto: %s: stack" % fn, CHAIN + [fn] + OUTER, frame_fns(s.get("stack")))
        c.eq("auto: %s: truncated" % fn, False, s.get("truncated"))
        lines = [frame_parts(f)[2] for f in s.get("stack")[:2]]
        c.eq("auto: %s: lines of the inlined malloc and of its call" % fn,
             [marker_line("leaks_nofp.c", "malloc in alloc_node"),
              marker_line("leaks_nofp.c", "alloc_node in wrap_alloc")], lines)
        c.eq("auto: %s: allocs, live blocks, live bytes" % fn, [n, n, n * size],
             [s.get("allocs"), s.get("live_allocs"), s.get("live_bytes")])
    c.eq("auto: truncated_stacks", 0, (p.get("sites") or {}).get("truncated_stacks"))
    # the freeing path: a site of its own that holds nothing live
    s = sites.get("serve_requests") or {}
    c.eq("auto: serve_requests: stack", CHAIN[:3] + ["handle_request", "serve_requests"] + OUTER,
         frame_fns(s.get("stack")))
    c.eq("auto: serve_requests: allocs, frees, live blocks, live bytes",
         [SERVED, SERVED, 0, 0], [s.get("allocs"), s.get("frees"), s.get("live_allocs"),
                                  s.get("live_bytes")])
    # the run lasted less than --min-age (5 s): the leak report has every live block
    leaks = next((r for r in recs if r.get("type") == "leaks"), {})
    c.eq("leaks: min_age_s, min_age_lowered_from_s", [0, 5],
         [leaks.get("min_age_s"), leaks.get("min_age_lowered_from_s")])
    lp = next((q for q in leaks.get("processes") or [] if q.get("pid") == p.get("pid")), {})
    got = {frame_fns(s.get("stack"))[4]: [s.get("blocks"), s.get("bytes")]
           for s in lp.get("sites") or [] if len(s.get("stack") or []) > 4}
    c.eq("leaks: the owners' blocks and bytes",
         {"ingest_orders": [INGEST, 40 * INGEST], "cache_sessions": [CACHE, 56 * CACHE]}, got)
    # --folded (live bytes) by function: one line per owner, outermost first
    with open(folded) as f:
        lines = dict(l.rsplit(" ", 1) for l in f.read().splitlines())
    for fn, n, size in (("ingest_orders", INGEST, 40), ("cache_sessions", CACHE, 56)):
        stack = ";".join(["leaks_nofp"] + list(reversed(CHAIN + [fn] + OUTER)))
        c.eq("folded: %s" % stack, str(n * size), lines.get(stack))
    # what frame pointers see: both leaks in one site, cut at the wrapper
    p, _ = trace_nofp(ctx, ["--stack-unwind", "fp"])
    fp = [s for s in (p.get("sites") or {}).get("by_live_bytes") or [] if s.get("live_bytes")]
    c.eq("fp: sites holding live bytes", 1, len(fp))
    if fp:
        c.eq("fp: the one site's stack", ["alloc_node", "wrap_alloc"],
             frame_fns(fp[0].get("stack")))
        c.eq("fp: truncated", True, fp[0].get("truncated"))
        c.eq("fp: live blocks", INGEST + CACHE, fp[0].get("live_allocs"))
    c.done()


@test
def stacks_match_eu_stack(ctx):
    """--stacks (auto) gives the chain elfutils' eu-stack unwinds from the stopped process"""
    c = Check()
    p, stacks = trace_nofp(ctx, ["--stack-unwind", "dwarf"], stop=True)
    sites = nofp_sites(p)
    for fn, eu in zip(("ingest_orders", "cache_sessions"), stacks):
        s = sites.get(fn)
        if not s:
            c.fail("no site through %s: %s" % (fn, sorted(k or "" for k in sites)))
            continue
        # eu-stack stopped in wrap_alloc itself, before the inlined alloc_node
        c.eq("%s: eu-stack's frames from wrap_alloc" % fn, eu, frame_fns(s.get("stack"))[1:])
    c.done()


# ---------------------------------------------------------------- stack_paths.c

# path -> blocks, their size, the stack from the caller of malloc outward
PATHS = {
    "plugin": (200, 72, ["plugin_alloc", "plugin_fill", "run_plugin"] + OUTER),
    "thread": (150, 88, ["thread_alloc", "thread_body", "thread_main", "start_thread",
                         "__clone3"]),
    "signal": (100, 104, ["signal_alloc", "on_signal", "__restore_rt",
                          "__pthread_kill_implementation", "raise", "run_signal"] + OUTER),
}
PATH_MARKERS = {"plugin": ("plugin/nofp_plugin.c", "malloc in plugin_alloc"),
                "thread": ("stack_paths.c", "malloc in thread_alloc"),
                "signal": ("stack_paths.c", "malloc in signal_alloc")}
PATH_ARGS = [PATHS[k][0] for k in ("plugin", "thread", "signal")]


def path_sites(p):
    """The process' sites by path (the function that calls malloc)"""
    first = {v[2][0]: k for k, v in PATHS.items()}
    out = {}
    for s in (p.get("sites") or {}).get("by_live_bytes") or []:
        fns = frame_fns(s.get("stack"))
        if fns and fns[0] in first:
            out[first[fns[0]]] = s
    return out


@test
def stacks_dlopen_thread_signal(ctx):
    """--stacks (auto) through a dlopen'ed library without frame pointers, on a second thread
    (to start_thread and clone3) and in a signal handler on an alternate stack (through the
    kernel's signal frame and __restore_rt): whole stacks, exact blocks; walked in the
    process and by BPF, the same sites"""
    c = Check()
    views = {}
    for source, extra in SOURCES:
        views[source] = check_paths(ctx, Labelled(c, source), source, extra)
    view_eq(c, "the sites", ("BPF", views["bpf"]), ("in-process", views["in-process"]))
    c.done()


def view_eq(c, field, a, b):
    """Two named site views, (name, view) each, the same; or a failure that names only the
    sites one has and the other has not (a whole view is thousands of characters)"""
    (na, va), (nb, vb) = a, b
    if va == vb:
        return
    for rank in sorted(set(va) | set(vb)):
        x, y = va.get(rank) or [], vb.get(rank) or []
        only_x = [s for s in x if s not in y]
        only_y = [s for s in y if s not in x]
        if only_x or only_y or x != y:
            c.fail("%s: %s: only %s's %s, only %s's %s%s" % (
                field, rank, na, json.dumps(only_x, sort_keys=True), nb,
                json.dumps(only_y, sort_keys=True), "" if only_x or only_y else
                " (the same sites in another order)"))


def check_paths(ctx, c, source, extra):
    path = ctx.workload_path("stack_paths")
    tr = ctx.tracer(["--json", "--stacks"] + extra + ["--", path] +
                    [str(n) for n in PATH_ARGS] + ["run"])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s): %s" % (
            source, rc, tr.stderr_text()))
    check_source(c.c, tr, source)
    lines = [json.loads(l) for l in tr.out() if l.startswith("{")]
    gt = next((l for l in lines if "plugin" in l), None)
    if gt != dict(zip(("plugin", "thread", "signal"), PATH_ARGS)):
        raise Fail("%s: stack_paths' ground truth: %r" % (source, gt))
    final = next((l for l in lines if l.get("type") == "final"), {})
    p = next((p for p in final.get("processes", []) if p.get("comm") == "stack_paths"), None)
    if p is None:
        raise Fail("%s: no stack_paths process in the final record" % source)
    sites = path_sites(p)
    for name, (n, size, chain) in sorted(PATHS.items()):
        s = sites.get(name)
        if not s:
            c.fail("%s: no site: %s" % (name, [frame_fns(t.get("stack")) for t in (
                p.get("sites") or {}).get("by_live_bytes") or []]))
            continue
        c.eq("%s: stack" % name, chain, frame_fns(s.get("stack")))
        c.eq("%s: truncated" % name, False, s.get("truncated"))
        c.eq("%s: line of its malloc" % name, marker_line(*PATH_MARKERS[name]),
             frame_parts(s.get("stack")[0])[2])
        c.eq("%s: allocs, live blocks, live bytes" % name, [n, n, n * size],
             [s.get("allocs"), s.get("live_allocs"), s.get("live_bytes")])
    ps = p.get("sites") or {}
    if not c.eq("truncated stacks, allocations with one", [0, 0],
                [ps.get("truncated_stacks"), ps.get("truncated_allocs")]):
        cut = {json.dumps([s.get("stack"), s.get("allocs")]) for rank in (
            "by_live_bytes", "by_allocs_per_s", "by_peak") for s in ps.get(rank) or []
            if s.get("truncated")}
        c.fail("the truncated sites' stacks and allocations: %s" % sorted(cut))
    c.eq("every allocation took a stack", p.get("allocs"),
         ps.get("stack_allocs", 0) + ps.get("untracked", 0))
    c.eq("stack_map_full", 0, (final.get("lost") or {}).get("stack_map_full"))
    return site_view(ps)


def eu_frames_match(c, eu, sites):
    """Each path's site has the frames eu-stack unwound for it"""
    for name in ("plugin", "thread", "signal"):
        s = sites.get(name)
        if not s:
            c.fail("%s: no site" % name)
            continue
        c.eq("%s: eu-stack's frames" % name, eu[name], frame_fns(s.get("stack")))


@test
def stacks_paths_match_eu_stack(ctx):
    """The three paths' stacks (dwarf) are the ones eu-stack unwinds from the stopped process,
    frame by frame, through the plugin, the thread and the signal frame"""
    w = ctx.workload("stack_paths", *(PATH_ARGS + ["stop"]))
    tr = ctx.tracer(["--json", "--stacks", "--stack-unwind", "dwarf", "-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    eu = {}
    for name in ("plugin", "thread", "signal"):
        eu[name] = eu_stack(w.pid, PATHS[name][2][0])
        os.kill(w.pid, signal.SIGCONT)
    gt = ground_truth(w)
    tr.signal(signal.SIGINT)
    rc = tr.wait_exit(EXIT_TIMEOUT)
    w.signal(signal.SIGUSR2)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s): %s" % (rc, tr.stderr_text()))
    if gt != dict(zip(("plugin", "thread", "signal"), PATH_ARGS)):
        raise Fail("stack_paths' ground truth: %r" % gt)
    final = next((r for r in map(json.loads, tr.out()) if r.get("type") == "final"), {})
    p = next((q for q in final.get("processes", []) if q.get("pid") == w.pid), {})
    sites = path_sites(p)
    c = Check()
    eu_frames_match(c, eu, sites)
    c.done()


@test
def stacks_paths_match_eu_stack_inproc(ctx):
    """Launched, walked in the process (libunwind): the three paths' stacks are the ones
    eu-stack unwinds from the stopped process, frame by frame"""
    tr = ctx.tracer(["--json", "--stacks", "--", ctx.workload_path("stack_paths")] +
                    [str(n) for n in PATH_ARGS] + ["stop"])
    line, _ = tr.wait_line("out", lambda l: l.startswith("ready "), 30, "the ready line")
    pid = int(line.split()[1])
    os.kill(pid, signal.SIGUSR1)
    eu = {}
    for name in ("plugin", "thread", "signal"):
        eu[name] = eu_stack(pid, PATHS[name][2][0])
        os.kill(pid, signal.SIGCONT)
    gl, _ = tr.wait_line("out", lambda l: l.startswith('{"plugin"'), WINDOW_TIMEOUT,
                         "the ground truth line")
    os.kill(pid, signal.SIGUSR2)
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s): %s" % (rc, tr.stderr_text()))
    if json.loads(gl) != dict(zip(("plugin", "thread", "signal"), PATH_ARGS)):
        raise Fail("stack_paths' ground truth: %r" % gl)
    c = Check()
    check_source(c, tr, "in-process")
    final = next((r for r in (json.loads(l) for l in tr.out() if l.startswith('{"type"'))
                  if r.get("type") == "final"), {})
    p = next((q for q in final.get("processes", []) if q.get("pid") == pid), {})
    sites = path_sites(p)
    eu_frames_match(c, eu, sites)
    c.eq("every allocation took a stack", p.get("allocs"),
         (p.get("sites") or {}).get("stack_allocs"))
    c.done()


@test
def sites_without_stacks(ctx):
    """Without --stacks every record still ranks each process' sites by caller (one frame
    and its inlined calls), exactly; the table names the top one; SIGUSR1 gives a leak
    report by caller"""
    path = ctx.workload_path("stack_paths")
    tr = ctx.tracer(["--json", "--", path] + [str(n) for n in PATH_ARGS] + ["run"])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s): %s" % (rc, tr.stderr_text()))
    final = next((r for r in (json.loads(l) for l in tr.out() if l.startswith("{"))
                  if r.get("type") == "final"), {})
    p = next((p for p in final.get("processes", []) if p.get("comm") == "stack_paths"), {})
    c = Check()
    sites = path_sites(p)
    for name, (n, size, chain) in sorted(PATHS.items()):
        s = sites.get(name) or {}
        c.eq("%s: the caller alone" % name, chain[:1], frame_fns(s.get("stack")))
        c.eq("%s: allocs, live blocks, live bytes" % name, [n, n, n * size],
             [s.get("allocs"), s.get("live_allocs"), s.get("live_bytes")])
    # the table: the top site under the process' row
    tr = ctx.tracer(["--", path] + [str(n) for n in PATH_ARGS] + ["run"])
    c.eq("tracer exit status (table)", 0, tr.wait_exit(WINDOW_TIMEOUT))
    top = [l.strip() for l in tr.out() if l.strip().startswith("top site ")]
    n, size, _ = PATHS["plugin"]
    c.true(top and top[-1].startswith("top site plugin_alloc+0x") and
           top[-1].endswith(" live in %d blocks (unknown)" % n) and
           "(nofp_plugin.c:%d)" % marker_line("plugin/nofp_plugin.c", "malloc in plugin_alloc")
           in top[-1], "the final table's top site line: %r" % top[-1:])
    # a leak report by caller on SIGUSR1, of leaks_nofp by -p, once the tracer has its blocks
    w = ctx.workload("leaks_nofp", INGEST, CACHE)
    tr = ctx.tracer(["--json", "-i", "0.2", "--min-age", "0", "-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    ground_truth(w)
    tr.wait_line("out", lambda l: '"allocs":%d,' % (INGEST + CACHE + SERVED) in l, WINDOW_TIMEOUT,
                 "a record with leaks_nofp's allocations")
    tr.signal(signal.SIGUSR1)
    tr.wait_line("out", lambda l: l.startswith('{"type":"leaks"'), WINDOW_TIMEOUT, "leaks")
    tr.signal(signal.SIGINT)
    c.eq("tracer exit status (-p)", 0, tr.wait_exit(EXIT_TIMEOUT))
    w.signal(signal.SIGUSR2)
    leaks = next(json.loads(l) for l in tr.out() if l.startswith('{"type":"leaks"'))
    lp = next((q for q in leaks.get("processes") or [] if q.get("pid") == w.pid), {})
    c.eq("leaks on SIGUSR1: by caller (the inlined malloc and its function), blocks, bytes",
         [[["alloc_node", "wrap_alloc"], INGEST + CACHE, 40 * INGEST + 56 * CACHE]],
         [[frame_fns(s.get("stack")), s.get("blocks"), s.get("bytes")]
          for s in lp.get("sites") or []])
    c.done()


def reach_share(p):
    """The share of p's allocations whose stack reaches its thread's start"""
    ps = p.get("sites") or {}
    n = ps.get("stack_allocs") or 0
    return (1 - (ps.get("truncated_allocs") or 0) / n) if n else 0.0, n


PY_IMPORTS = """import json, decimal, email.parser, collections, fractions, textwrap
keep = [json.dumps({"k%d" % i: [i, str(i)] * 8}) for i in range(2000)]
keep += [decimal.Decimal(i) / 7 for i in range(2000)]
print("done")
"""


@test
def stacks_reach_thread_start(ctx):
    """--stacks on Debian's python3.11 (importing modules, the deepest stacks it makes;
    launched: walked in the process and by BPF) and redis-server under redis-benchmark: at
    least 95% of the allocations' stacks reach the thread's start (the share is printed),
    every allocation took a stack"""
    c = Check()
    shares = []
    py = "/usr/bin/python3.11"
    procs = []
    for source, extra in SOURCES:  # launched: walked in the process, and by BPF
        tr = ctx.tracer(["--json", "--stacks"] + extra + ["--", py, "-c", PY_IMPORTS])
        rc = tr.wait_exit(WINDOW_TIMEOUT)
        if rc != 0:
            raise Fail("%s: tracer exit status (expected 0, got %s): %s" % (
                source, rc, tr.stderr_text()))
        check_source(c, tr, source)
        final = next((r for r in (json.loads(l) for l in tr.out() if l.startswith("{"))
                      if r.get("type") == "final"), {})
        procs += [dict(p, comm="python3.11 (%s)" % source)
                  for p in final.get("processes", []) if p.get("comm") == "python3.11"]
    rs, port = start_redis(ctx)
    tr = ctx.tracer(["--json", "--stacks", "-p", str(rs.pid)])
    wait_attached(tr)
    brc, out, err = redis_benchmark(port, 5000)
    tr.signal(signal.SIGINT)
    rc = tr.wait_exit(EXIT_TIMEOUT)
    if rc != 0 or brc != 0:
        raise Fail("tracer exit status %s, redis-benchmark's %s: %s %s" % (
            rc, brc, tr.stderr_text(), err[-3:]))
    final = next((r for r in map(json.loads, tr.out()) if r.get("type") == "final"), {})
    procs += [p for p in final.get("processes", []) if p.get("pid") == rs.pid]
    c.eq("processes traced (python3.11 twice, redis-server)",
         ["python3.11 (in-process)", "python3.11 (bpf)", "redis-server"],
         [p.get("comm") for p in procs])
    for p in procs:
        share, n = reach_share(p)
        shares.append("%s %.1f%% of %d" % (p.get("comm"), 100 * share, n))
        c.true(share >= 0.95, "%s: %.1f%% of %d stacks reach the thread's start (at least "
               "95%%): %d stacks cut short" % (p.get("comm"), 100 * share, n,
                                               (p.get("sites") or {}).get("truncated_stacks")))
        c.eq("%s: every allocation took a stack" % p.get("comm"), p.get("allocs"),
             n + (p.get("sites") or {}).get("untracked", 0))
        c.true(n > 1000, "%s: %d allocations with a stack (expected more than 1000)" % (
            p.get("comm"), n))
    print("  stacks reaching the thread's start: %s" % ", ".join(shares), flush=True)
    c.done()


# ---------------------------------------------------------------- CPython

PY_SCRIPT = """import sys
def leaf(n):
    return [bytes(1000 + i % 7) for i in range(n)]
def mid(n):
    return leaf(n)
keep = mid(BLOCKS)
sys.stdout.write("done\\n")
"""
PY_BLOCKS = 3000
THREAD_STARTS = ("_start", "start_thread", "clone3", "clone")


@test
def stacks_cpython(ctx):
    """--stacks on Debian's python3.11 (no frame pointers), walked in the process and by BPF:
    stacks through the interpreter reach _start, none shows a frame outside code, the cut
    ones are the depth's; the bytes objects' stack the same both ways"""
    py = "/usr/bin/python3.11"
    if not os.access(py, os.X_OK):
        raise Fail("no %s (python3.11 is Debian 12's python3)" % py)
    c = Check()
    comp = {}
    for source, extra in SOURCES:
        comp[source] = check_cpython(ctx, Labelled(c, source), source, extra, py)
    c.eq("in-process and BPF: the bytes objects' stack", comp["bpf"], comp["in-process"])
    c.done()


def check_cpython(ctx, c, source, extra, py):
    depth = 32
    tr = ctx.tracer(["--json", "--stacks", "--stack-depth", str(depth)] + extra + ["--", py,
                     "-c", PY_SCRIPT.replace("BLOCKS", str(PY_BLOCKS))])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s): %s" % (
            source, rc, tr.stderr_text()))
    check_source(c.c, tr, source)
    final = next((r for r in (json.loads(l) for l in tr.out() if l.startswith("{"))
                  if r.get("type") == "final"), {})
    p = next((p for p in final.get("processes", []) if p.get("comm") == "python3.11"), None)
    if p is None:
        raise Fail("%s: no python3.11 process in the final record: %s" % (
            source, tr.out()[-3:]))
    sites = p.get("sites") or {}
    listed = {}
    for rank in ("by_live_bytes", "by_allocs_per_s", "by_peak"):
        for s in sites.get(rank) or []:
            listed[tuple(s.get("stack") or [])] = s
    c.true(listed, "no sites listed")
    c.eq("every allocation took a stack", p.get("allocs"), sites.get("stack_allocs"))
    for stack, s in listed.items():
        fns = frame_fns(stack)
        c.true(not any(re.match(r"^0x[0-9a-f]+$", f) for f in stack),
               "a frame outside code: %s" % list(stack))
        if s.get("truncated"):
            c.true(len(stack) >= depth - 2, "cut short before --stack-depth %d: %s" % (
                depth, list(stack)))
        else:
            c.true(fns and fns[-1] in THREAD_STARTS, "whole but not from a thread's start: %s"
                   % list(stack))
    # the list comprehension's bytes objects: one site, through the interpreter, from _start
    comp = [s for s in listed.values() if s.get("allocs") == PY_BLOCKS]
    c.eq("sites of the %d bytes objects" % PY_BLOCKS, 1, len(comp))
    if comp:
        fns = frame_fns(comp[0].get("stack"))
        c.eq("their stack: whole", False, comp[0].get("truncated"))
        c.true("_PyEval_EvalFrameDefault" in fns and fns[-3:] == [
            "__libc_start_call_main", "__libc_start_main", "_start"],
            "their stack goes through the interpreter to _start: %s" % fns)
        return comp[0].get("stack")
    return None


SITE_SAME = ("stack", "truncated", "allocs", "alloc_bytes", "frees", "live_allocs", "live_bytes",
             "peak_contribution")


def site_view(sites):
    """A sites object's rankings, each site by the fields a replay gives as the live run did
    (rates and trends depend on the run's wall time and its records: the order by rate is
    not compared, the sites it lists are)"""
    view = {rank: [{f: s.get(f) for f in SITE_SAME} for s in sites.get(rank) or []]
            for rank in ("by_live_bytes", "by_allocs_per_s", "by_peak")}
    view["by_allocs_per_s"].sort(key=lambda s: s["stack"] or [])
    return view


def leak_view(recs, pid):
    leaks = next((r for r in recs if r.get("type") == "leaks"), {})
    p = next((p for p in leaks.get("processes", []) if p.get("pid") == pid), {})
    return [{f: s.get(f) for f in ("stack", "truncated", "blocks", "bytes")}
            for s in p.get("sites") or []]


@test
def stacks_recorded_replay(ctx):
    """--record with --stacks: --replay shows the live run's sites, frames, leak report and
    folded stacks, without the binaries"""
    d = ctx.tmpdir()
    rec, live_f, replay_f = (os.path.join(d, n) for n in ("nofp.msr", "live.folded",
                                                          "replay.folded"))
    p, _, recs = trace_nofp(ctx, ["--record", rec, "--folded", live_f, "--min-age", "0"],
                            want_records=True)
    rc, out, err = run_cmd([ctx.bin, "--json", "--replay", rec, "--folded", replay_f,
                            "--min-age", "0"], WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("--replay exit status %d: %s" % (rc, err))
    rrecs = [json.loads(l) for l in out]
    final = next((r for r in rrecs if r.get("type") == "final"), {})
    rp = next((q for q in final.get("processes", []) if q.get("pid") == p["pid"]), None)
    if rp is None:
        raise Fail("the replay's final record has no process %d" % p["pid"])
    c = Check()
    live_sites = site_view(p.get("sites") or {})
    c.true(len(live_sites["by_live_bytes"]) >= 2, "live: sites %s" % live_sites)
    c.eq("final record: sites", live_sites, site_view(rp.get("sites") or {}))
    c.eq("final record: truncated_stacks", (p.get("sites") or {}).get("truncated_stacks"),
         (rp.get("sites") or {}).get("truncated_stacks"))
    c.eq("leak report: sites", leak_view(recs, p["pid"]), leak_view(rrecs, p["pid"]))
    c.true(leak_view(recs, p["pid"]), "live: no leak report sites")
    with open(live_f) as f1, open(replay_f) as f2:
        c.eq("folded stacks", f1.read(), f2.read())
    c.done()


# ---------------------------------------------------------------- C++ through libstdc++

STRINGS = 300  # leaks_string.cc: blocks of 201 bytes made by std::string in libstdc++


def string_site(ctx, mode, extra=()):
    """leaks_string's exit leak report with --stack-unwind mode: its site of STRINGS blocks"""
    tr = ctx.tracer(["--json", "-v", "--stacks", "--stack-unwind", mode, "--min-age", "0"] +
                    list(extra) + ["--", ctx.workload_path("leaks_string"), str(STRINGS)])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s): %s" % (
            mode, rc, tr.stderr_text()))
    recs = [json.loads(l) for l in tr.out() if l.startswith("{")]
    leaks = [r for r in recs if r.get("type") == "leaks"]
    sites = [s for r in leaks for p in r.get("processes", []) for s in p.get("sites") or []
             if s.get("blocks") == STRINGS]
    if len(sites) != 1:
        raise Fail("%s: leak report sites of %d blocks (expected 1): %s" % (
            mode, STRINGS, [(s.get("blocks"), s.get("stack")) for s in leaks]))
    return sites[0], tr


@test
def stacks_cpp_through_libstdcxx(ctx):
    """--stacks: a std::string leak of a frame-pointer program goes on through libstdc++
    (no frame pointers) to the caller and _start; fp stops in libstdc++, marked cut. The
    site is operator new's caller: walked in the process (libstdc++'s operators interposed
    by libmemscope-preload-stdcxx.so, said with -v) and by BPF (its operator new probed),
    the same frames both ways"""
    c = Check()
    stacks = {}
    for source, extra in SOURCES:
        lc = Labelled(c, source)
        s, tr = string_site(ctx, "auto", extra)
        check_source(c, tr, source)
        if source == "in-process":
            lc.true(any("loads libstdc++" in l and "libmemscope-preload-stdcxx.so" in l
                        for l in tr.err()),
                    "a -v line: libstdc++'s operators through the stdcxx library: %s" %
                    tr.stderr_text())
        fns = frame_fns(s.get("stack"))
        stacks[source] = fns
        lc.eq("auto: bytes", 201 * STRINGS, s.get("bytes"))
        lc.eq("auto: truncated", False, s.get("truncated"))
        lc.true(fns and "_M_construct" in fns[0], "auto: first frame _M_construct: %s" % fns[:1])
        if "leak_strings(int)" in fns:
            k = fns.index("leak_strings(int)")
            lc.eq("auto: leak_strings' line", marker_line("leaks_string.cc", "SITE:leak_strings"),
                  frame_parts(s["stack"][k])[2])
            lc.eq("auto: from leak_strings out", ["leak_strings(int)", "main",
                                                  "__libc_start_call_main", "__libc_start_main",
                                                  "_start"], fns[k:])
        else:
            lc.fail("auto: no leak_strings(int) frame: %s" % fns)
    c.eq("the same frames walked in the process and by BPF", stacks["bpf"], stacks["in-process"])
    s, tr = string_site(ctx, "fp")
    c.true(any("--stack-unwind fp" in l and "traced by uprobes" in l for l in tr.err()),
           "fp: a -v line: traced by uprobes: %s" % tr.stderr_text())
    fns = frame_fns(s.get("stack"))
    c.eq("fp: truncated", True, s.get("truncated"))
    c.true("leak_strings(int)" not in fns, "fp: a walk through libstdc++? %s" % fns)
    c.done()


# ---------------------------------------------------------------- --sample-bytes

SAMPLE = 1024
S_INGEST, S_CACHE = 100000, 40000  # leaks_nofp's blocks of 40 and 56 bytes


@test
def stacks_sampled(ctx):
    """--sample-bytes: per-process figures exact, each site's an unbiased estimate (within
    10% of the truth, the issue's bound for sites over 50 sampling intervals: 4.7 standard
    deviations and more here), marked as such; a replay gives the same"""
    w = ctx.workload("leaks_nofp", S_INGEST, S_CACHE)
    rec = os.path.join(ctx.tmpdir(), "sampled.msr")
    tr = ctx.tracer(["--json", "--stacks", "--sample-bytes", "1K", "--record", rec, "-p",
                     str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    if ground_truth(w) != {"ingest": S_INGEST, "cache": S_CACHE, "served": SERVED}:
        raise Fail("leaks_nofp's ground truth")
    tr.signal(signal.SIGINT)
    rc = tr.wait_exit(EXIT_TIMEOUT)
    w.signal(signal.SIGUSR2)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s): %s" % (rc, tr.stderr_text()))
    final = next(r for r in map(json.loads, tr.out()) if r.get("type") == "final")
    p = next(q for q in final["processes"] if q.get("pid") == w.pid)
    c = Check()
    check_sampled(ctx, c, p, rec, w.pid)
    c.done()


def check_sampled(ctx, c, p, rec, pid):
    """leaks_nofp's process p, traced with --sample-bytes 1K and recorded in rec"""
    c.eq("process: allocs, live blocks (exact)", [S_INGEST + S_CACHE + SERVED, S_INGEST + S_CACHE],
         [p.get("allocs"), p.get("live_allocs")])
    c.eq("process: live bytes (exact)", 40 * S_INGEST + 56 * S_CACHE, p.get("live_bytes"))
    sites = p.get("sites") or {}
    c.eq("sites: estimated, sample_bytes", [True, SAMPLE],
         [sites.get("estimated"), sites.get("sample_bytes")])
    by = nofp_sites(p)
    c.eq("sites", ["cache_sessions", "ingest_orders"],
         sorted(k or "" for k in by if k != "serve_requests"))
    for fn, n, size in (("ingest_orders", S_INGEST, 40), ("cache_sessions", S_CACHE, 56)):
        s = by.get(fn)
        if not s:
            continue
        q = -math.expm1(-size / SAMPLE)  # a block's chance to be in the sample
        sd = math.sqrt(n * (1 - q) / q)
        est = s.get("allocs")
        c.true(abs(est - n) <= 0.10 * n and 0.10 * n >= 4.5 * sd,
               "%s: estimated allocs %.0f for %d (sd %.0f)" % (fn, est, n, sd))
        c.true(abs(s.get("live_bytes") - size * s.get("live_allocs")) < 1e-6 * size * n,
               "%s: live bytes %r for %r blocks of %d" % (fn, s.get("live_bytes"),
                                                          s.get("live_allocs"), size))
        c.eq("%s: stack" % fn, CHAIN + [fn] + OUTER, frame_fns(s.get("stack")))
    rc, out, err = run_cmd([ctx.bin, "--json", "--replay", rec], WINDOW_TIMEOUT)
    rfinal = next((r for r in map(json.loads, out) if r.get("type") == "final"), {})
    rp = next((q for q in rfinal.get("processes", []) if q.get("pid") == pid), {})
    c.eq("replay: sites", site_view(sites), site_view(rp.get("sites") or {}))
    c.eq("replay: estimated", True, (rp.get("sites") or {}).get("estimated"))


@test
def stacks_sampled_inproc(ctx):
    """--sample-bytes on a launched command, its stacks walked in the process: the library
    draws the sample as the BPF programs do (per-process figures exact, each site's an
    unbiased estimate within 10%, marked as such), a replay gives the same"""
    rec = os.path.join(ctx.tmpdir(), "sampled-inproc.msr")
    tr = ctx.tracer(["--json", "--stacks", "--sample-bytes", "1K", "--record", rec, "--",
                     ctx.workload_path("leaks_nofp"), str(S_INGEST), str(S_CACHE)])
    line, _ = tr.wait_line("out", lambda l: l.startswith("ready "), 30, "the ready line")
    pid = int(line.split()[1])
    os.kill(pid, signal.SIGUSR1)
    gl, _ = tr.wait_line("out", lambda l: l.startswith('{"ingest"'), WINDOW_TIMEOUT,
                         "the ground truth line")
    if json.loads(gl) != {"ingest": S_INGEST, "cache": S_CACHE, "served": SERVED}:
        raise Fail("leaks_nofp's ground truth: %r" % gl)
    os.kill(pid, signal.SIGUSR2)
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s): %s" % (rc, tr.stderr_text()))
    c = Check()
    check_source(c, tr, "in-process")
    final = next(r for r in (json.loads(l) for l in tr.out() if l.startswith('{"type"'))
                 if r.get("type") == "final")
    p = next((q for q in final["processes"] if q.get("pid") == pid), None)
    if p is None:
        raise Fail("leaks_nofp (pid %d) not in the final record" % pid)
    c.eq("stack_map_full", 0, (final.get("lost") or {}).get("stack_map_full"))
    check_sampled(ctx, c, p, rec, pid)
    c.done()
