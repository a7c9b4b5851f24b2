# t_findings.py: findings that can be acted on, said once (issue 14, items 8-10); a test
# module imported by run.py.
#
# The dynamic loader's and CPython's own call sites are no pool candidates; a function's
# call sites make one candidate; a process attached while it ran says that the backing
# obtained before is unknown and never shows a utilisation above 100%; the bundled demo's
# pool is found (not named) and measured (named); many processes ending in one interval make
# one line of text, not a row each.

import os
import re
import signal
import time

from harness import EXIT_TIMEOUT, WINDOW_TIMEOUT, Check, Fail, Skip, run_cmd, test
from run import (SEED_PYTHON, build_workload, final_record, need_tool, proc_in, records,
                 spawn_gated, stop_tracer, wait_attached, wait_json)

FINDINGS_PY = """import time
words = [str(i) * 3 for i in range(20000)]
blobs = [bytes(1000) for i in range(20000)]
more = [bytes(3000) for i in range(100)]
time.sleep(1.5)
"""


def finding_lines(out):
    """The findings lines of a text run: (kind, rest of the line)"""
    return [l for l in out if re.match(r"  (pool|pool_candidate|slab_candidate) ", l)]


def no_repeats(c, label, recs):
    """No record lists a finding twice (same kind and name)"""
    for r in recs:
        for p in r.get("processes") or []:
            keys = [(f.get("kind"), f.get("name")) for f in p.get("pools") or []]
            c.true(len(keys) == len(set(keys)), "%s: %s record at ts %s, pid %s: a finding "
                   "listed twice: %s" % (label, r.get("type"), r.get("ts"), p.get("pid"), keys))


@test
def findings_python_runtime(ctx):
    """CPython: no candidate in the dynamic loader or the interpreter, nothing said twice"""
    py = os.path.realpath(SEED_PYTHON)
    if not os.access(py, os.X_OK):
        raise Skip("%s is missing" % SEED_PYTHON)
    argv = [py, "-S", "-E", "-c", FINDINGS_PY]
    env = dict(os.environ, PYTHONHASHSEED="0")
    tj = ctx.tracer(["--json", "-i", "0.5", "--preset", "pymalloc", "--"] + argv, env=env)
    tt = ctx.tracer(["-i", "0.5", "--preset", "pymalloc", "--"] + argv, env=env)
    c = Check()
    for tr in (tj, tt):
        rc = tr.wait_exit(WINDOW_TIMEOUT)
        if rc != 0:
            raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
                rc, tr.stderr_text()))
    recs = records(tj)
    final_record(recs)
    # before: "_dl_new_object obtains 1.3 KiB chunks from libc and keeps 5 of 5" (the
    # loader's link maps) in every record, "_PyObject_Malloc obtains 8.0 KiB chunks" (the
    # interpreter's allocator passing large objects to malloc), bytes_new, new_keys_object
    # (the interpreter's objects) in the interval records
    for r in recs:
        for p in r.get("processes") or []:
            cands = [f.get("name") for f in p.get("pools") or []
                     if f.get("kind") == "pool_candidate"]
            c.true(not cands, "%s record at ts %s: pool candidates in the loader or the "
                   "interpreter (expected none, got %s)" % (r.get("type"), r.get("ts"), cands))
    no_repeats(c, "json", recs)
    fin = final_record(recs)
    procs = fin.get("processes") or []
    if c.eq("final: processes", 1, len(procs)):
        p = procs[0]
        c.eq("final: live_since (launched: traced from its exec)", "start",
             p.get("live_since"))
        c.eq("final: findings (kind, name)", [("pool", "pymalloc")],
             [(f.get("kind"), f.get("name")) for f in p.get("pools") or []])
        # pymalloc's chunk policy is CPython's: figures, no advice on chunks
        adv = next((f.get("advice") for f in p.get("pools") or []), "")
        c.true("consider" not in adv, "pymalloc pool advice (expected no advice on its "
               "chunks, got %r)" % adv)
    lines = finding_lines(tt.out())
    c.eq("text: findings lines", ["pool pymalloc:"], [" ".join(l.split()[:2]) for l in lines])
    c.eq("text: findings lines said once", len(lines), len(set(lines)))
    c.done()


POOL_ATTACH_C = r"""
/* pool_attach: a pool of the program's own, in use before a tracer attaches
 * "ready <pid>"; SIGUSR1: 512 objects from the pool (448 from chunks obtained before, 64
 * from one new chunk), then "done"; SIGUSR2: exit */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define OBJ 64
#define PER 64

struct pool {
	void *free_list;
};

static void *(*volatile malloc_fn)(size_t) = malloc;

__attribute__((noipa)) void *tpool_alloc(struct pool *pl, size_t size)
{
	void *obj;

	if (size > OBJ)
		return NULL;
	if (!pl->free_list) {
		char *c = malloc_fn(OBJ * PER);

		if (!c)
			abort();
		for (int i = PER - 1; i >= 0; i--) {
			*(void **)(c + i * OBJ) = pl->free_list;
			pl->free_list = c + i * OBJ;
		}
	}
	obj = pl->free_list;
	pl->free_list = *(void **)obj;
	return obj;
}

__attribute__((noipa)) void tpool_free(struct pool *pl, void *obj)
{
	*(void **)obj = pl->free_list;
	pl->free_list = obj;
}

static struct pool pl;
static void *objs[1024];

int main(void)
{
	sigset_t set;
	int sig, i;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* before the attach: 8 chunks, 64 objects kept */
	for (i = 0; i < 8 * PER; i++)
		objs[i] = tpool_alloc(&pl, OBJ);
	for (i = 64; i < 8 * PER; i++)
		tpool_free(&pl, objs[i]);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	do
		sigwait(&set, &sig);
	while (sig != SIGUSR1);
	/* after: 448 objects in the old chunks, 64 in a new one */
	for (i = 64; i < 9 * PER; i++)
		objs[i] = tpool_alloc(&pl, OBJ);
	printf("done\n");
	fflush(stdout);
	do
		sigwait(&set, &sig);
	while (sig != SIGUSR2);
	return 0;
}
"""

TPOOL_SPECS = ["--alloc", "tpool=tpool_alloc(_, size)", "--free", "tpool=tpool_free(_, ptr)"]


@test
def findings_attach_pool(ctx):
    """-p to a pool in use: utilisation at most 100%, backing before the attach unknown"""
    cc = need_tool("cc")
    src = os.path.join(ctx.tmpdir(), "pool_attach.c")
    path = os.path.join(ctx.tmpdir(), "pool_attach")
    with open(src, "w") as f:
        f.write(POOL_ATTACH_C)
    build_workload([cc, "-O1", "-g", "-Wall", "-Werror", src, "-o", path], "pool_attach.c")
    w = spawn_gated(ctx, [path])
    tj = ctx.tracer(["--json", "-i", "0.5", "-p", str(w.pid)] + TPOOL_SPECS)
    tt = ctx.tracer(["-i", "0.5", "-p", str(w.pid)] + TPOOL_SPECS)
    wait_attached(tj)
    wait_attached(tt)
    w.signal(signal.SIGUSR1)
    w.wait_line("out", lambda l: l == "done", WINDOW_TIMEOUT, "its done line")
    # the objects' records reach both tracers' figures
    wait_json(tj, lambda r: r.get("type") == "interval" and any(
        p.get("pid") == w.pid and p.get("allocs") == 512 for p in r.get("processes") or []),
        "an interval record with the 512 objects", timeout=20)
    time.sleep(1)
    recs = stop_tracer(tj)
    tt.signal(signal.SIGINT)
    rc = tt.wait_exit(EXIT_TIMEOUT, "exit after SIGINT")
    if rc != 0:
        raise Fail("text tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tt.stderr_text()))
    c = Check()
    no_repeats(c, "json", recs)
    p = proc_in(final_record(recs), w.pid, "final record")
    c.eq("final: live_since", "attach", p.get("live_since"))
    pools = [f for f in p.get("pools") or [] if f.get("kind") == "pool"]
    if c.eq("final: pools (names)", ["tpool"], [f.get("name") for f in pools]):
        ev = pools[0].get("evidence") or {}
        # 512 objects of 64 bytes live since the attach, one 4 KiB chunk obtained since:
        # 32 KiB over 4 KiB (before: "800% of its 4.0 KiB of live backing holds live
        # objects"); the chunks obtained since hold at most everything: 1
        c.eq("tpool evidence (objects, live_object_bytes, chunks, backing_live_bytes)",
             (512, 32768, 1, 4096),
             (ev.get("objects"), ev.get("live_object_bytes"), ev.get("chunks"),
              ev.get("backing_live_bytes")))
        c.eq("tpool evidence utilization", 1, ev.get("utilization"))
        c.eq("tpool advice",
             "tpool served 512.0 objects per 4.0 KiB chunk; at most 100% of the 4.0 KiB of "
             "live backing it obtained since attaching holds live objects; 100% of its "
             "allocations needed no new chunk; backing obtained before attaching is unknown",
             pools[0].get("advice"))
    for r in recs:
        for q in r.get("processes") or []:
            for f in q.get("pools") or []:
                u = (f.get("evidence") or {}).get("utilization")
                c.true(u is None or u <= 1, "%s record at ts %s: %s utilization %s (expected "
                       "at most 1)" % (r.get("type"), r.get("ts"), f.get("name"), u))
    out = tt.out()
    lines = finding_lines(out)
    c.true(any(l.startswith("  pool tpool: ") and "backing obtained before attaching is "
               "unknown" in l for l in lines),
           "text: a pool tpool line saying the backing before the attach is unknown: %r"
           % lines)
    for l in out:
        for pct in re.findall(r"(\d+)% of", l):
            c.true(int(pct) <= 100, "text: a share above 100%%: %r" % l)
    c.true(any(re.search(r"^\s*%d pool_attach\* " % w.pid, l) for l in out),
           "text: pid %d's row marked attached ('pool_attach*'): %r" % (w.pid, out[:6]))
    c.true(any("attached while running: live figures cover the blocks allocated since" in l
               for l in out), "text: the mark explained under the table")
    w.signal(signal.SIGUSR2)
    c.eq("workload exit status", 0, w.wait_exit(10))
    c.done()


DEMO_OWN = re.compile(r"memscope-demo: own calls: allocs=(\d+) frees=(\d+) alloc_bytes=(\d+) "
                      r"freed_bytes=(\d+) live_allocs=(\d+) live_bytes=(\d+)")


def demo_run(ctx, extra=()):
    """The bundled demo launched under --json -i 1: (its process in the final record, its
    own counts)"""
    demo = os.path.join(os.path.dirname(ctx.bin), "memscope-demo")
    if not os.access(demo, os.X_OK):
        raise Fail("no demo at %s (make builds it)" % demo)
    tr = ctx.tracer(["--json", "-i", "1"] + list(extra) + ["--", demo])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    recs = records(tr)
    fin = final_record(recs)
    procs = [p for p in fin.get("processes") or [] if p.get("comm") == "memscope-demo"]
    if len(procs) != 1:
        raise Fail("final record: memscope-demo entries (expected 1, got %d)" % len(procs))
    own = [DEMO_OWN.search(l) for l in tr.err()]
    own = [m for m in own if m]
    if len(own) != 1:
        raise Fail("the demo's own counts line (expected 1, got %d): %s" % (
            len(own), tr.stderr_text()))
    return recs, procs[0], [int(x) for x in own[0].groups()]


@test
def findings_demo_pool(ctx):
    """make demo: the pool it advertises is found (not named) and measured (named)"""
    c = Check()
    recs, p, own = demo_run(ctx)
    no_repeats(c, "not named", recs)
    c.eq("not named: (allocs, frees, alloc_bytes, freed_bytes, live_allocs, live_bytes) "
         "(the demo's own count)", own,
         [p.get(k) for k in ("allocs", "frees", "alloc_bytes", "freed_bytes", "live_allocs",
                             "live_bytes")])
    pools = p.get("pools") or []
    if c.eq("not named: final findings (kind, name)", [("pool_candidate", "pool_alloc")],
            [(f.get("kind"), f.get("name")) for f in pools]):
        f = pools[0]
        # 4 chunks of 2056 bytes (a next pointer and 32 slots of 64 bytes), kept to the end
        c.eq("not named: pool_candidate evidence", {
            "chunk_size": 2056, "chunks": 4, "live_chunks": 4, "live_bytes": 8224},
            f.get("evidence"))
        c.true(re.match(r"pool_alloc\+0x[0-9a-f]+ \(.*demo\.c:\d+\)$", f.get("where") or ""),
               "not named: where (expected pool_alloc+0x.. (demo.c:N), got %r)"
               % f.get("where"))
        c.eq("not named: advice",
             "pool_alloc obtains 2.0 KiB chunks from libc and keeps 4 of 4: if it carves "
             "objects out of them, trace it with --alloc 'pool_alloc(ROLES)', naming its size "
             "parameter (e.g. --alloc 'pool_alloc(_, size)')", f.get("advice"))
    # named as the advice says: a pool, its objects and chunks exactly
    recs, p, own = demo_run(ctx, ["--alloc", "demopool=pool_alloc(_, size)",
                                  "--free", "demopool=pool_free(_, ptr)"])
    no_repeats(c, "named", recs)
    pools = p.get("pools") or []
    if c.eq("named: final findings (kind, name)", [("pool", "demopool")],
            [(f.get("kind"), f.get("name")) for f in pools]):
        ev = pools[0].get("evidence") or {}
        c.eq("named: pool evidence (objects, live_objects, chunks, live_chunks, "
             "backing_live_bytes, utilization)", [1000, 0, 4, 4, 8224, 0],
             [ev.get(k) for k in ("objects", "live_objects", "chunks", "live_chunks",
                                  "backing_live_bytes", "utilization")])
        c.eq("named: pool advice",
             "demopool served 250.0 objects per 2.0 KiB chunk; 0% of its 8.0 KiB of live "
             "backing holds live objects; 100% of its allocations needed no new chunk: most "
             "of its memory is idle, consider returning empty chunks or smaller chunks",
             pools[0].get("advice"))
    c.done()


@test
def findings_exits_summed_up(ctx):
    """every process, text: ten processes ending in one interval make one line, not ten rows"""
    path = ctx.workload_path("launched")
    tr = ctx.tracer(["-i", "3"])
    wait_attached(tr)
    for n in range(10):
        rc, _, _ = run_cmd([path, "300"], 30)
        if rc != 0:
            raise Fail("launched exit status (expected 0, got %s)" % rc)
    time.sleep(4)
    tr.signal(signal.SIGINT)
    rc = tr.wait_exit(EXIT_TIMEOUT, "exit after SIGINT")
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    out = tr.out()
    c = Check()
    rows = [l for l in out if re.match(r"exit:\s+\d+ launched\*?\s", l)]
    sums = [re.search(r"\blaunched\((\d+)\)", l) for l in out
            if re.match(r"\d+ processes exited \(", l)]
    counted = sum(int(m.group(1)) for m in sums if m)
    c.eq("launched processes in summary lines and rows", 10, counted + len(rows))
    c.true(len(rows) <= 4, "exit rows of launched (expected at most 4, got %d): %r"
           % (len(rows), rows))
    c.done()
