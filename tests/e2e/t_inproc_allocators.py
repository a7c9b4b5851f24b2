# t_inproc_allocators.py: --in-process and the allocators' own APIs (jemalloc's mallocx...,
# tcmalloc's tc_..., mimalloc's mi_...): a program linked with the allocator runs one window
# of known calls, traced with uprobes and then in-process (block); the window's figures, per
# process, per allocator and per function, equal its ground truth and each other
import json
import os
import signal
import time
from harness import Check, Fail, Skip, test
from run import (JEMALLOC_SO, PROC_COUNTS, USER_CALL_COUNTS, WINDOW_TIMEOUT, compare_agt,
                 nonzero)

MODES = (("uprobes", ["--bpf"]), ("in-process", ["-v", "--in-process=block"]))
INTERVAL = "0.2"
SETTLE_TIMEOUT = 20


def figures(p):
    """What a process or allocator object counts (not its rates), for settling and deltas"""
    if p is None:
        return None
    f = {k: p.get(k, 0) for k in PROC_COUNTS}
    f["by_func"] = nonzero(p.get("by_func"))
    f["size_hist"] = nonzero(p.get("size_hist"))
    f["allocators"] = {a.get("name"): figures(dict(a, allocators=[]))
                       for a in p.get("allocators") or []}
    return f


def interval_procs(path, pid, skip):
    """pid's objects in the interval records of the file at path, past its first skip lines"""
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for i, l in enumerate(f):
            if i < skip or not l.startswith("{"):
                continue
            r = json.loads(l)
            if r.get("type") != "interval":
                continue
            if r.get("events_lost"):
                raise Fail("%s: interval record at %s: events_lost %s (%s)" % (
                    path, r.get("ts"), r["events_lost"],
                    {k: v for k, v in (r.get("lost") or {}).items() if v}))
            found = [p for p in r.get("processes", []) if p.get("pid") == pid]
            if found:
                out.append(found[0])
    return out


def lines_in(path):
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for _ in f)


def settled(path, pid, what):
    """pid's figures in the first interval record written from now on that repeats the one
    before it (nothing left in flight): the process is idle, waiting for a signal"""
    skip = lines_in(path)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        ps = interval_procs(path, pid, skip)
        for a, b in zip(ps, ps[1:]):
            if figures(a) == figures(b):
                return b
        time.sleep(0.1)
    raise Fail("%s: no two interval records alike within %d s" % (what, SETTLE_TIMEOUT))


def minus(after, before):
    """The window: after's counts less before's; peak_bytes the window's summit above the
    live bytes it started from (the workload ends its window on a summit above all else)"""
    fa, fb = figures(after), figures(before) if before else None
    w = dict(after)
    for k in PROC_COUNTS:
        w[k] = fa[k] - (fb[k] if fb else 0)
    w["peak_bytes"] = fa["peak_bytes"] - (fb["live_bytes"] if fb else 0)
    for k in ("by_func", "size_hist"):
        d = dict(fa[k])
        for n, v in (fb[k] if fb else {}).items():
            d[n] = d.get(n, 0) - v
        w[k] = nonzero(d)
    if "allocators" in after:
        olds = {a.get("name"): a for a in (before or {}).get("allocators") or []}
        w["allocators"] = [minus(a, olds.get(a.get("name"))) for a in after["allocators"]]
    return w


def window_run(ctx, argv, mode_args, label, env=None):
    """argv (an apimix workload) launched under the tracer: its ground truth and the
    window's figures, the difference between the settled records around it"""
    out = os.path.join(ctx.tmpdir(), "%s.jsonl" % label)
    tr = ctx.tracer(["--json", "-i", INTERVAL, "-o", out] + mode_args + ["--"] + argv, env=env)
    line, _ = tr.wait_line("out", lambda l: l.startswith("ready "), 30, "%s: ready" % label)
    pid = int(line.split()[1])
    before = settled(out, pid, "%s: before the window" % label)
    os.kill(pid, signal.SIGUSR1)
    gl, _ = tr.wait_line("out", lambda l: l.startswith("{"), WINDOW_TIMEOUT,
                         "%s: ground truth" % label)
    gt = json.loads(gl)
    after = settled(out, pid, "%s: after the window" % label)
    os.kill(pid, signal.SIGUSR2)
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
            label, rc, tr.stderr_text()))
    return gt, minus(after, before), tr


def alias_names(gt, keys):
    """The ground truth with its functions named as the tracer names them: one address, all
    its aliases ("malloc/tc_malloc"); a function no key names keeps its own name"""
    def name(f):
        hits = sorted(k for k in keys if f in k.split("/"))
        return hits[0] if len(hits) == 1 else f

    def rename(by_func):
        d = {}
        for f, n in by_func.items():
            d[name(f)] = d.get(name(f), 0) + n
        return d
    g = dict(gt, by_func=rename(gt["by_func"]))
    g["allocators"] = [dict(a, by_func=rename(a["by_func"])) for a in gt["allocators"]]
    return g


# The uprobes' one known difference: tcmalloc's tc_free_sized ends in `jmp tc_free@plt`,
# mimalloc's mi_free_size and mi_free_aligned in `jmp mi_free@plt`, jemalloc's sized C++
# deletes in `jmp sdallocx@plt` (the operators of the others are aliases of those), and the BPF programs keep no
# frame for a free (no return probe): they see that inner free as a second free of the block,
# counted in dead_frees (nowhere else). The in-process source skips it, as the call inside the
# interposed free it is. Every other figure must be equal.
SIZED_DELETES = ("operator delete(void*, unsigned long)", "operator delete[](void*, unsigned long)")
UPROBES_DEAD_FREES = {
    "tcmalloc": ("tc_free_sized", "tc_delete_sized", "tc_deletearray_sized"),
    "mimalloc": ("mi_free_size", "mi_free_aligned"),
    "jemalloc": SIZED_DELETES,
    # with --stacks: libstdc++'s deletes end in jumps to operator delete(void*) and free
    "stdcxx": ("operator delete(void*)", "operator delete[](void*)") + SIZED_DELETES + (
        "operator delete(void*, std::align_val_t)", "operator delete[](void*, std::align_val_t)",
        "operator delete(void*, unsigned long, std::align_val_t)",
        "operator delete[](void*, unsigned long, std::align_val_t)"),
}
UPROBES_VIEWS = {"stdcxx": 2}  # views a free of those may have: delete[] -> delete -> free


def sized_frees(gt, family):
    return UPROBES_VIEWS.get(family, 1) * sum(
        n for f, n in gt["by_func"].items() if f in UPROBES_DEAD_FREES.get(family, ()))


def dead_frees_aside(c, label, w, gt, family):
    """The window with the uprobes' dead_frees checked apart (at most one per sized free of
    the family's) and set to the ground truth's"""
    w = dict(w, allocators=[dict(a) for a in w.get("allocators") or []])
    for o, g in [(w, gt)] + [(a, ga) for a in w["allocators"] for ga in gt["allocators"]
                             if ga["name"] == a["name"]]:
        c.true(0 <= o["dead_frees"] - g["dead_frees"] <= sized_frees(gt, family),
               "%s: %s dead_frees %d, its ground truth's %d and %d sized frees" % (
                   label, o.get("name", "process"), o["dead_frees"], g["dead_frees"],
                   sized_frees(gt, family)))
        o["dead_frees"] = g["dead_frees"]
    return w


def user_figures(w):
    """A window's user-side figures, per process and per allocator (not the backing: the
    in-process source does not see an allocator's mmap; not dead_frees, above)"""
    counts = tuple(k for k in PROC_COUNTS if k != "dead_frees") + ("by_func", "size_hist")
    f = {k: w[k] for k in counts}
    f["allocators"] = {a["name"]: {k: a[k] for k in counts}
                       for a in w.get("allocators") or []
                       if any(a.get(k) for k in USER_CALL_COUNTS)}
    return f


def family_test(ctx, workload, family, env=None, allocator=None, loads=None, extra=()):
    """The workload under both sources (env: the tracer's environment, which the command
    inherits; extra: both runs' other options): each window equals the ground truth of
    allocator (the family's name by default), and the two windows are equal. The library
    libmemscope-preload-FAMILY.so records in-process; -v says the command loads `loads`
    (the family's name by default: its object libNAME.so)"""
    argv = [ctx.workload_path(workload), "50"]
    allocator, loads = allocator or family, loads or family
    runs = {}
    for label, mode_args in MODES:
        gt, w, tr = window_run(ctx, argv, mode_args + list(extra), label, env)
        runs[label] = (gt, w, tr)
    keys = set()
    for gt, w, _ in runs.values():
        keys |= set(w["by_func"])
    c = Check()
    for label, (gt, w, tr) in runs.items():
        c.eq("%s: the ground truth's allocators" % label, [allocator],
             [a["name"] for a in gt["allocators"]])
        if label == "uprobes":
            w = dead_frees_aside(c, label, w, gt, family)
        compare_agt(c, "%s window" % label, alias_names(gt, keys), w, workload)
    inproc_tr = runs["in-process"][2]
    c.true(any("attached in-process" in l and "libmemscope-preload-%s.so" % family in l
               for l in inproc_tr.err()),
           "in-process: the preloaded libraries are not named, or not %s's: %s" % (
               family, inproc_tr.stderr_text()))
    obj = loads if loads.startswith("lib") else "lib" + loads
    c.true(any(" loads %s (" % loads in l and "/%s.so" % obj in l for l in inproc_tr.err()),
           "in-process -v: no word of the %s object the command loads: %s" % (
               loads, inproc_tr.stderr_text()))
    c.eq("in-process window equals the uprobes' (user figures)",
         user_figures(runs["uprobes"][1]), user_figures(runs["in-process"][1]))
    c.done()


@test
def inproc_jemalloc_api(ctx):
    """-ljemalloc, mallocx/rallocx/sdallocx/dallocx (and xallocx, not a call) beside malloc...:
    the window exact under uprobes and --in-process=block, and the same in both"""
    family_test(ctx, "jemalloc_api", "jemalloc")


@test
def inproc_jemalloc_user_preload(ctx):
    """LD_PRELOAD=libjemalloc.so.2 (the user's, kept after ours): jemalloc_mix's mallocx,
    rallocx, sdallocx, dallocx and standard names: the window exact under uprobes and
    --in-process=block, and the same in both"""
    if not os.path.exists(JEMALLOC_SO):
        raise Skip("%s is missing (apt-get install libjemalloc2)" % JEMALLOC_SO)
    # the tracer gets the user's LD_PRELOAD too (and hands it on): a tracer built with
    # AddressSanitizer (SANITIZE=1) cannot run on jemalloc's malloc (its runtime must come
    # first and own the heap); the plain build runs it
    if "/sanitize/" in ctx.bin:
        raise Skip("a tracer built with AddressSanitizer cannot have jemalloc preloaded "
                   "into itself (the plain build runs this test)")
    family_test(ctx, "jemalloc_mix", "jemalloc", dict(os.environ, LD_PRELOAD=JEMALLOC_SO))


@test
def inproc_tcmalloc_api(ctx):
    """-ltcmalloc, every tc_ function the uprobes trace beside malloc and free: the window
    exact under uprobes and --in-process=block, and the same in both"""
    family_test(ctx, "tcmalloc_api", "tcmalloc")


@test
def inproc_mimalloc_api(ctx):
    """-lmimalloc, every mi_ function the uprobes trace beside malloc and free: the window
    exact under uprobes and --in-process=block, and the same in both"""
    family_test(ctx, "mimalloc_api", "mimalloc")


@test
def inproc_tcmalloc_after_libstdcxx(ctx):
    """tcmalloc_api linked after libstdc++: its C++ operators are libstdc++'s (over malloc).
    The in-process library's operators pass them on untraced, their malloc and free counted
    as the uprobes count them: the window exact and the same in both"""
    family_test(ctx, "tcmalloc_stdcxx_first", "tcmalloc")


@test
def inproc_stdcxx_stacks(ctx):
    """--stacks, a program that loads libstdc++: every form of its operator new and delete
    the uprobes trace with --stacks (their caller the site), recorded in-process by
    libmemscope-preload-stdcxx.so as the uprobes record them: the window exact under both,
    and the same in both"""
    family_test(ctx, "stdcxx_api", "stdcxx", allocator="libc", loads="libstdc++",
                extra=["--stacks"])
