# t_faults.py: faults, privileges and load (issue 9); a test module imported by run.py.
#
# What must hold after each fault: no probe, link or map of the tracer is left (the
# harness checks that after every test), the traced processes keep running, and the
# figures printed before the fault were right.

import json
import os
import shutil
import signal
import subprocess
import time

from harness import ATTACH_TIMEOUT, EXIT_TIMEOUT, WINDOW_TIMEOUT, Check, Fail, Skip, run_cmd, test
from run import (comm_of, compare_proc, exit_records, final_record, free_port, ground_truth,
                 http_get, need_tool, one_error, proc_in, records, redis_benchmark, refused,
                 start_redis, stop_tracer, wait_attached)


def proc_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def attach_window(ctx, name, *wargs, extra=()):
    """A gated workload, a -p tracer attached to it, the window run: (w, tr, gt)"""
    w = ctx.workload(name, *wargs)
    tr = ctx.tracer(["--json", "-i", "0.2", "-p", str(w.pid)] + list(extra))
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    return w, tr, gt


def wait_record(tr, pred, what, timeout=10):
    line, _ = tr.wait_line("out", lambda l: l.startswith("{") and pred(json.loads(l)),
                           timeout, what)
    return json.loads(line)


@test
def fault_tracer_sigkill(ctx):
    """the tracer is SIGKILLed: the kernel drops its probes, the process runs on"""
    w, tr, gt = attach_window(ctx, "peak")
    # a record printed before the fault carries the window's figures
    rec = wait_record(tr, lambda r: r.get("type") == "interval" and any(
        p.get("pid") == w.pid and p.get("allocs") == gt["allocs"]
        for p in r.get("processes", [])), "an interval record with the window's figures")
    c = Check()
    compare_proc(c, "interval before SIGKILL", gt, proc_in(rec, w.pid, "interval"), "peak")
    tr.signal(signal.SIGKILL)
    tr.wait_exit(EXIT_TIMEOUT, "die on SIGKILL")
    c.true(proc_alive(w.pid), "pid %d alive after the tracer was killed" % w.pid)
    w.signal(signal.SIGUSR2)
    c.eq("workload exit status", 0, w.wait_exit(10))
    c.done()


@test
def fault_tracer_sigterm(ctx):
    """SIGTERM detaches, prints the final record with the window's figures, exit 0"""
    w, tr, gt = attach_window(ctx, "peak")
    recs = stop_tracer(tr, signal.SIGTERM)
    c = Check()
    fin = [r for r in recs if r.get("type") == "final"]
    if c.eq("final records", 1, len(fin)):
        compare_proc(c, "final", gt, proc_in(fin[0], w.pid, "final"), "peak")
    c.true(proc_alive(w.pid), "pid %d alive after the tracer ended" % w.pid)
    w.signal(signal.SIGUSR2)
    c.done()


@test
def fault_stdout_closed(ctx):
    """stdout is a pipe whose reader goes away (| head -1): the tracer ends, exit 0"""
    w = ctx.workload("peak")
    sh = ctx.spawn(["sh", "-c", "'%s' -i 0.1 --json -p %d | head -1" % (ctx.bin, w.pid)],
                   name="pipeline")
    line, _ = sh.wait_line("out", lambda l: l.startswith("{"), ATTACH_TIMEOUT,
                           "the one line head passes")
    rc = sh.wait_exit(EXIT_TIMEOUT, "end once head has gone")
    c = Check()
    c.eq("pipeline exit status", 0, rc)
    c.true(json.loads(line).get("type") == "interval", "head got an interval record")
    # the tracer itself must be gone, not blocked on a dead pipe
    deadline = time.monotonic() + EXIT_TIMEOUT
    while time.monotonic() < deadline and subprocess.run(
            ["pgrep", "-f", "%s -i 0.1 --json -p %d" % (ctx.bin, w.pid)],
            stdout=subprocess.DEVNULL).returncode == 0:
        time.sleep(0.1)
    c.true(subprocess.run(["pgrep", "-f", "%s -i 0.1 --json -p %d" % (ctx.bin, w.pid)],
                          stdout=subprocess.DEVNULL).returncode != 0,
           "the tracer ended after its stdout closed")
    c.true(proc_alive(w.pid), "pid %d alive" % w.pid)
    w.signal(signal.SIGUSR1)
    ground_truth(w)
    w.signal(signal.SIGUSR2)
    c.done()


@test
def fault_process_killed(ctx):
    """the traced process is SIGKILLed mid-window: an exit record, the tracer ends by itself"""
    w = ctx.workload("mt_mix", 2, 4000)
    tr = ctx.tracer(["--json", "-i", "0.2", "-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    time.sleep(0.1)  # inside the window, or just after it: either way mid-run
    w.signal(signal.SIGKILL)
    w.wait_exit(10)
    rc = tr.wait_exit(EXIT_TIMEOUT, "end after its only process was killed")
    c = Check()
    c.eq("tracer exit status", 0, rc)
    recs = [json.loads(l) for l in tr.out() if l.startswith("{")]
    exits = exit_records(recs, w.pid)
    if c.eq("exit records", 1, len(exits)):
        p = proc_in(exits[0], w.pid, "exit record")
        c.true(p["allocs"] > 0, "calls seen before the kill (allocs %d)" % p["allocs"])
        c.eq("allocs - frees - live_allocs", 0, p["allocs"] - p["frees"] - p["live_allocs"])
    c.eq("final records", 1, len([r for r in recs if r.get("type") == "final"]))
    c.done()


@test
def fault_forks(ctx):
    """a -p process forks: the child is not traced, the parent's figures stay exact"""
    # the parent's exact figures come from the gated window; a child forked by the shell
    # that runs it is another process the tracer must not count
    w, tr, gt = attach_window(ctx, "peak")
    child = ctx.spawn([ctx.workload_path("late")])
    ground_truth(child)
    child.wait_exit(10)
    recs = stop_tracer(tr)
    c = Check()
    fin = [r for r in recs if r.get("type") == "final"][0]
    compare_proc(c, "final", gt, proc_in(fin, w.pid, "final"), "peak")
    c.eq("processes in the final record", [w.pid],
         [p["pid"] for p in fin.get("processes", [])])
    w.signal(signal.SIGUSR2)
    c.done()


@test
def privileges_no_cap_bpf(ctx):
    """root without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN: one line naming what is missing, exit 1"""
    w = ctx.workload("peak")
    drop = ["setpriv", "--inh-caps=-bpf,-perfmon,-sys_admin",
            "--bounding-set=-bpf,-perfmon,-sys_admin", "--"]
    tr = ctx.tracer(["-p", str(w.pid)], wrap=drop)
    rc = tr.wait_exit(EXIT_TIMEOUT, "refuse to start")
    err = tr.err()
    c = Check()
    c.eq("exit status", 1, rc)
    c.eq("stderr lines", 1, len(err))
    c.true(err and "CAP_BPF" in err[0] and err[0].startswith("memscope-bpf: "),
           "the line names CAP_BPF: %r" % err)
    w.signal(signal.SIGUSR1)
    ground_truth(w)
    w.signal(signal.SIGUSR2)
    c.done()


@test
def privileges_read_only_sys(ctx):
    """a read-only /sys: the tracer needs no write there and traces exactly"""
    w = ctx.workload("peak")
    wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount -o remount,bind,ro /sys && exec "$@"', "sh"]
    tr = ctx.tracer(["--json", "-p", str(w.pid)], wrap=wrap)
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    recs = stop_tracer(tr)
    c = Check()
    fin = [r for r in recs if r.get("type") == "final"][0]
    compare_proc(c, "final", gt, proc_in(fin, w.pid, "final"), "peak")
    w.signal(signal.SIGUSR2)
    c.done()


def rss_anon_kb(pid):
    """The tracer's own memory: anonymous pages (not the page cache of the files it
    reads, not the ring buffer's kernel pages)"""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@test
def load_parallel_build(ctx):
    """every-process mode during a parallel build of a real C project: consistent figures"""
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tree = os.path.join(ctx.tmpdir(), "tree")
    shutil.copytree(src, tree, ignore=shutil.ignore_patterns("build", ".git", "bench"))
    tr = ctx.tracer(["--json", "-i", "0.5", "-n", "0"])
    wait_attached(tr)
    build = ctx.spawn(["make", "-C", tree, "-j2", "OUT=" + os.path.join(tree, "out"),
                       os.path.join(tree, "out", "memscope-bpf")], name="make")
    hwm = 0
    while build.p.poll() is None:
        hwm = max(hwm, rss_anon_kb(tr.pid))
        time.sleep(0.1)
    rc = build.wait_exit(600)
    hwm = max(hwm, rss_anon_kb(tr.pid))
    recs = stop_tracer(tr)
    c = Check()
    c.eq("build exit status", 0, rc)
    checked = 0
    for r in recs:
        for p in r.get("processes", []):
            checked += 1
            if p["allocs"] - p["frees"] != p["live_allocs"]:
                c.true(False, "%s record pid %d (%s): allocs %d - frees %d != live %d" % (
                    r["type"], p["pid"], p["comm"], p["allocs"], p["frees"],
                    p["live_allocs"]))
    c.true(checked > 10, "process figures checked: %d" % checked)
    # it keeps up, or it counts what it lost, cause by cause, and says so on stderr
    last = recs[-1] if recs else {}
    lost, by = last.get("events_lost", -1), last.get("lost", {})
    c.eq("events_lost is the sum of its causes", by.get("ringbuf_full", 0) +
         by.get("threads_full", 0) + by.get("too_deep", 0) + by.get("stale_calls", 0) +
         by.get("untracked", 0) + by.get("missed_free", 0) + by.get("late", 0), lost)
    if by.get("ringbuf_full", 0):
        c.true(any("--ringbuf-size" in l for l in tr.err()),
               "the loss is reported on stderr with the option to change")
    # the documented bound: 86 bytes per block the tables held at their most (32-byte slots,
    # at least 3/8 full), plus a fixed part under 40 MiB (the ring buffer's pages are the
    # kernel's, not counted). The fixed part grows with the build: 29-34 MiB measured on
    # this project's tree of 2026-12-04, by this binary and by the one before this stop's
    # changes alike (over 32 MiB in 3 of 6 runs)
    peak = last.get("tracked_blocks_peak", 0)
    bound = (40 * 1024 * 1024 + 86 * peak) // 1024
    if "/sanitize/" not in ctx.bin:  # ASan's shadow memory and quarantine are not ours
        c.true(0 < hwm <= bound, "tracer memory (anonymous) at most %d KiB within 40 MiB + "
               "86 B x %d blocks = %d KiB" % (hwm, peak, bound))
    c.done()


@test
def load_redis_every_process(ctx):
    """every-process mode during redis-benchmark on a real redis-server: consistent"""
    rs, port = start_redis(ctx)
    tr = ctx.tracer(["--json", "-i", "0.5", "-n", "0"])
    wait_attached(tr)
    rc, out, err = redis_benchmark(port, 10000)
    recs = stop_tracer(tr)
    c = Check()
    c.eq("redis-benchmark status", 0, rc)
    last = recs[-1] if recs else {}
    by = last.get("lost", {})
    c.eq("events_lost is the sum of its causes", by.get("ringbuf_full", 0) +
         by.get("threads_full", 0) + by.get("too_deep", 0) + by.get("stale_calls", 0) +
         by.get("untracked", 0) + by.get("missed_free", 0) + by.get("late", 0), last.get("events_lost"))
    seen = 0
    for r in recs:
        for p in r.get("processes", []):
            if p["pid"] != rs.pid:
                continue
            seen += 1
            c.eq("%s record: redis allocs - frees (live_allocs)" % r["type"],
                 p["live_allocs"], p["allocs"] - p["frees"])
    c.true(seen > 0, "redis-server in the records (%d times)" % seen)
    fin = [r for r in recs if r.get("type") == "final"][0]
    p = proc_in(fin, rs.pid, "final record")
    kinds = {a.get("kind"): a for a in p.get("allocators") or []}
    c.true("jemalloc" in kinds and kinds["jemalloc"]["allocs"] > 40000,
           "redis' jemalloc traffic seen: %r" % {k: a.get("allocs") for k, a in kinds.items()})
    c.done()


SHORT_PROCESSES = 10000  # bounded_short_processes' processes, one after the other


@test
def bounded_short_processes(ctx):
    """every-process mode, ten thousand short-lived processes: bounded state, exact exit records

    With nothing lost, each process has one exit record with exactly its ground truth."""
    tr = ctx.tracer(["--json", "-i", "1", "-n", "0"])
    wait_attached(tr)
    # each a process that allocates (the workload "late" runs a known mix, prints its
    # ground truth and exits), under a name of its own: other tests' processes may run
    # meanwhile
    late = os.path.join(ctx.tmpdir(), "late_bounded")
    shutil.copy2(ctx.workload_path("late"), late)
    # their ground truth lines, each one write(2) to the end of one file
    gt_path = os.path.join(ctx.tmpdir(), "late_bounded.gt")
    sh = ctx.spawn(["sh", "-c", "i=0; while [ $i -lt %d ]; do '%s' 1 >>'%s'; "
                    "i=$((i + 1)); done" % (SHORT_PROCESSES, late, gt_path)], name="spawner")
    peak = 0
    while sh.p.poll() is None:
        peak = max(peak, rss_anon_kb(tr.pid))
        time.sleep(0.2)
    c = Check()
    c.eq("spawner exit status", 0, sh.wait_exit(600))
    recs = stop_tracer(tr)
    fin = [r for r in recs if r.get("type") == "final"][0]
    exits = [r for r in recs if r.get("type") == "exit"
             and r["processes"][0].get("comm") == "late_bounded"]
    lost = fin.get("events_lost", 0)
    if lost == 0:
        with open(gt_path) as f:
            check_short_exits(c, [json.loads(l) for l in f if l.startswith("{")], exits)
    else:
        # records lost (other tracers or processes may fill the rings): the exit records
        # seen are fewer, and the loss is counted
        c.true(len(exits) <= SHORT_PROCESSES, "exit records of the %d processes: %d "
               "(events lost %d)" % (SHORT_PROCESSES, len(exits), lost))
    # exited processes leave the tables: the state is what still runs, not the history
    c.true(fin.get("tracked_blocks", 0) < 100000,
           "tracked blocks at the end: %d" % fin.get("tracked_blocks", 0))
    c.true(not any(p.get("comm") == "late_bounded" for p in fin.get("processes", [])),
           "no exited process left in the final record")
    if "/sanitize/" not in ctx.bin:
        bound = (32 * 1024 * 1024 + 86 * fin.get("tracked_blocks_peak", 0)) // 1024
        c.true(0 < peak <= bound, "tracer memory (anonymous) at most %d KiB within %d KiB" % (
            peak, bound))
    c.done()


def check_short_exits(c, gts, exits):
    """One exit record (reason exit) per short process, in the order they ran (a pid
    can come back), with exactly the figures its ground truth gives"""
    c.eq("ground truth lines of the short processes", SHORT_PROCESSES, len(gts))
    c.eq("exit records of the short processes (nothing lost)", SHORT_PROCESSES, len(exits))
    by_pid = {}
    for r in exits:
        by_pid.setdefault(r["processes"][0].get("pid"), []).append(r)
    wrong = []
    for n, gt in enumerate(gts):
        mine = by_pid.get(gt["pid"]) or []
        one = Check()
        if one.true(mine, "no exit record"):
            r = mine.pop(0)
            one.eq("reason", "exit", r.get("reason"))
            compare_proc(one, "exit record", gt, r["processes"][0], "late_bounded")
        if one.diffs:
            wrong.append("process %d (pid %d): %s" % (n, gt["pid"], "; ".join(one.diffs)))
    extra = sum(len(v) for v in by_pid.values())
    c.true(not extra, "exit records of no short process that ran: %d" % extra)
    c.true(not wrong, "short processes whose exit record differs: %d; the first: %s" % (
        len(wrong), " | ".join(wrong[:3])))


DLPOOL_SRC = r"""
#include <stdlib.h>
#include <string.h>
__attribute__((noinline)) void *dl_pool_get(size_t size)
{
	void *p = malloc(size);
	memset(p, 1, size);
	return p;
}
__attribute__((noinline)) void dl_pool_put(void *p)
{
	free(p);
}
"""

DLMAIN_SRC = r"""
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	sigset_t set;
	int sig, i;
	void *h, *(*get)(size_t), (*put)(void *), *keep[100];

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready %d\n", getpid());
	fflush(stdout);
	sigwait(&set, &sig); /* the tracer is attached */
	h = dlopen(argv[1], RTLD_NOW);
	if (!h)
		return 3;
	get = (void *(*)(size_t))dlsym(h, "dl_pool_get");
	put = (void (*)(void *))dlsym(h, "dl_pool_put");
	sleep(1); /* the tracer attaches to what the loader mapped */
	for (i = 0; i < 100; i++)
		keep[i] = get(64);
	for (i = 0; i < 60; i++)
		put(keep[i]);
	dlclose(h); /* unloaded while probed */
	for (i = 0; i < 1000; i++) { /* and the process goes on allocating */
		void *volatile q = malloc(32 + (i & 7)); /* volatile: GCC drops a bare pair */

		free(q);
	}
	printf("done\n");
	fflush(stdout);
	return 0;
}
"""


@test
def fault_dlclose(ctx):
    """a library with a traced allocator is dlopen'ed by a -p process, then unloaded"""
    d = ctx.tmpdir()
    lib, exe = os.path.join(d, "libdlpool.so"), os.path.join(d, "dlmain")
    for path, src, flags in ((lib, DLPOOL_SRC, ["-shared", "-fPIC"]), (exe, DLMAIN_SRC, [])):
        with open(path + ".c", "w") as f:
            f.write(src)
        rc, out, err = run_cmd(["cc", "-O1", "-g"] + flags + [path + ".c", "-o", path] +
                               (["-ldl"] if path == exe else []), 120)
        if rc != 0:
            raise Fail("building %s: %s" % (path, " | ".join(err[-4:])))
    w = ctx.spawn([exe, lib], name="dlmain")
    w.wait_line("out", lambda l: l.startswith("ready "), 30, "its ready line")
    tr = ctx.tracer(["--json", "-i", "0.2", "-p", str(w.pid),
                     "--alloc", "dlpool=%s:dl_pool_get(size)" % lib,
                     "--free", "dlpool=%s:dl_pool_put(ptr)" % lib], env=None)
    line, _ = tr.wait_line("err", lambda l: "attached" in l or "no function" in l, 30,
                           "attached, or the spec refused")
    c = Check()
    if "no function" in line:
        # the library is not mapped before dlopen: a -p spec naming it is refused at
        # attach (the documented rule); attach without it and check the unload only
        tr.wait_exit(EXIT_TIMEOUT)
        tr = ctx.tracer(["--json", "-i", "0.2", "-p", str(w.pid)])
        wait_attached(tr)
        named = False
    else:
        named = True
    w.signal(signal.SIGUSR1)
    w.wait_line("out", lambda l: l == "done", 60, "its done line")
    c.eq("dlmain exit status", 0, w.wait_exit(30))
    rc = tr.wait_exit(EXIT_TIMEOUT, "end after its process exited")
    c.eq("tracer exit status", 0, rc)
    recs = [json.loads(l) for l in tr.out() if l.startswith("{")]
    fin = [r for r in recs if r.get("type") == "final"]
    if c.eq("final records", 1, len(fin)):
        p = proc_in(fin[0], w.pid, "final")
        c.eq("allocs - frees (live_allocs)", p["live_allocs"], p["allocs"] - p["frees"])
        c.true(p["allocs"] >= 1000, "the calls after dlclose counted (allocs %d)" % p["allocs"])
        if named:
            pool = [a for a in p.get("allocators") or [] if a.get("name") == "dlpool"]
            if c.eq("dlpool allocator", 1, len(pool)):
                c.eq("dlpool allocs", 100, pool[0]["allocs"])
                c.eq("dlpool frees", 60, pool[0]["frees"])
                c.eq("dlpool backing allocs", 100, pool[0]["backing_allocs"])
    c.done()


MANY_SRC = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
/* N blocks allocated and kept: a live set of millions in one process (no stdio: its
 * buffer would be one more malloc) */
int main(int argc, char **argv)
{
	long n = atol(argv[1]), i;
	void *volatile *keep = calloc(n, sizeof(void *)); /* one calloc first */
	char line[64];
	int len;

	for (i = 0; i < n; i++)
		keep[i] = malloc(16);
	len = snprintf(line, sizeof(line), "{\"allocs\": %ld}\n", n + 1);
	return write(1, line, len) == len ? 0 : 1;
}
"""


@test
def bounded_million_live(ctx):
    """two million live blocks in one process, a cap of one million: counted, said, bounded"""
    exe = os.path.join(ctx.tmpdir(), "many")
    with open(exe + ".c", "w") as f:
        f.write(MANY_SRC)
    rc, out, err = run_cmd(["cc", "-O1", exe + ".c", "-o", exe], 120)
    if rc != 0:
        raise Fail("building many: %s" % " | ".join(err[-4:]))
    tr = ctx.tracer(["--json", "-i", "1", "--max-live", "1000000", "--", exe, "2000000"])
    peak = 0
    while tr.p.poll() is None:
        peak = max(peak, rss_anon_kb(tr.pid))
        time.sleep(0.1)
    c = Check()
    c.eq("tracer exit status (the command's)", 0, tr.wait_exit(EXIT_TIMEOUT))
    recs = [json.loads(l) for l in tr.out() if l.startswith("{\"type\"")]
    gt = [json.loads(l) for l in tr.out() if l.startswith("{\"allocs\"")]
    fin = [r for r in recs if r.get("type") == "final"][0]
    p = fin["processes"][0]
    # every call counted; a million blocks tracked, the rest counted as untracked
    c.eq("allocs", gt[0]["allocs"] if gt else None, p["allocs"])
    c.eq("live_allocs (tracked)", 1000000, p["live_allocs"])
    c.eq("untracked", 2000001 - 1000000, fin["lost"]["untracked"])
    c.eq("tracked_blocks_peak", 1000000, fin["tracked_blocks_peak"])
    c.true(any("a cap was reached" in l and "--max-live" in l for l in tr.err()),
           "the cap said on stderr: %r" % tr.err()[-3:])
    if "/sanitize/" not in ctx.bin:
        bound = (32 * 1024 * 1024 + 86 * fin["tracked_blocks_peak"]) // 1024
        c.true(0 < peak <= bound, "tracer memory (anonymous) at most %d KiB within %d KiB" % (
            peak, bound))
    c.done()


STORM_THREADS, STORM_ROUNDS = 64, 2000


@test
def load_thread_storm(ctx):
    """64 threads allocating at once under -p, more than the CPUs: threads preempted inside
    the BPF programs hold their CPU's ring back; every figure exact, or its loss counted"""
    w, tr, gt = attach_window(ctx, "storm", STORM_THREADS, STORM_ROUNDS,
                              extra=("--ringbuf-size", "64M"))
    recs = stop_tracer(tr)
    fin = final_record(recs)
    c = Check()
    p = proc_in(fin, w.pid, "final record")
    lost = fin.get("events_lost")
    if lost == 0:
        compare_proc(c, "final pid %d" % w.pid, gt, p, "storm", exact_peak=False)
    else:
        # a loss is allowed only with its cause named, and then only in the direction it
        # explains; figures off with nothing lost are what this test exists for
        by = fin.get("lost") or {}
        c.true(any(v for k, v in by.items() if k != "unmatched_returns"),
               "events_lost %s without a cause: %r" % (lost, by))
    c.eq("allocs - frees == live_allocs", p.get("allocs", 0) - p.get("frees", 0),
         p.get("live_allocs"))
    c.done()
    w.signal(signal.SIGUSR2)
    c.eq("storm exit status", 0, w.wait_exit(30))
    c.done()


def proc_state(pid):
    """The state letter of /proc/PID/stat, or None when the process is gone"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def rounds_of(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def runs_on(c, what, pid, path, secs=1.5):
    """pid is not stopped and its round counter keeps going for secs"""
    before = rounds_of(path)
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        time.sleep(0.1)
    state, after = proc_state(pid), rounds_of(path)
    c.true(state not in (None, "T", "t", "Z"), "%s: the command's state (expected running, "
           "got %r)" % (what, state))
    c.true(after > before, "%s: the command's rounds (expected more than %d after %.1f s, "
           "got %d)" % (what, before, secs, after))


@test
def fault_launched_runs_on(ctx):
    """a launched command whose loader stops it at every dlopen runs on, untraced, after
    the tracer ends by SIGTERM, by -d, or is killed with SIGKILL (nothing left stopped)"""
    c = Check()
    for how in ("SIGTERM", "-d", "SIGKILL", "-f SIGKILL"):
        d = ctx.tmpdir()
        counter = os.path.join(d, "rounds-%s" % how.replace(" ", "_"))
        opts = ["-q"] + (["-d", "1.5"] if how == "-d" else []) + \
            (["-f"] if how.startswith("-f") else [])
        tr = ctx.tracer(opts + ["--", ctx.workload_path("dlopen_loop"), counter])
        wait_attached(tr)
        deadline = time.monotonic() + 20
        while rounds_of(counter) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        child = [int(p) for p in open("/proc/%d/task/%d/children" % (tr.pid, tr.pid)).read()
                 .split() if comm_of(int(p)) == "dlopen_loop"]
        if not c.eq("%s: the tracer's children running dlopen_loop" % how, 1, len(child)):
            continue
        if how != "-d":
            tr.signal(signal.SIGKILL if "SIGKILL" in how else signal.SIGTERM)
        tr.wait_exit(EXIT_TIMEOUT, "exit")
        runs_on(c, how, child[0], counter)
        try:
            os.kill(child[0], signal.SIGKILL)
        except ProcessLookupError:
            pass
    c.done()


def spawn_with_pid(ctx, pid, argv, tries=50):
    """Starts argv as process pid (ns_last_pid set to pid - 1 before each fork), or Skip"""
    for _ in range(tries):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        p = ctx.spawn(argv)
        if p.pid == pid:
            return p
        p.kill()
    raise Skip("could not get pid %d back in %d tries (a busy machine)" % (pid, tries))


@test
def fault_pid_reuse(ctx):
    """-p A,C: A exits, a new process gets A's pid and execs: A keeps its figures, one exit
    record; the new process is not traced (it is not A)"""
    a, b = ctx.workload("peak"), ctx.workload("peak")
    tr = ctx.tracer(["--json", "-i", "0.2", "-p", "%d,%d" % (a.pid, b.pid)])
    wait_attached(tr)
    a.signal(signal.SIGUSR1)
    b.signal(signal.SIGUSR1)
    gta, gtb = ground_truth(a), ground_truth(b)
    a.signal(signal.SIGUSR2)
    c = Check()
    c.eq("A's exit status", 0, a.wait_exit(10))
    wait_record(tr, lambda r: r.get("type") == "exit" and r["processes"][0]["pid"] == a.pid,
                "A's exit record")
    # the pid comes back as a new program: it execs (late) and allocates
    n = spawn_with_pid(ctx, a.pid, [ctx.workload_path("late")])
    c.eq("the new process' exit status", 0, n.wait_exit(WINDOW_TIMEOUT))
    time.sleep(0.3)
    b.signal(signal.SIGUSR2)
    c.eq("C's exit status", 0, b.wait_exit(10))
    c.eq("tracer exit status (it ends when A and C have)", 0, tr.wait_exit(EXIT_TIMEOUT))
    recs = records(tr)
    exits = exit_records(recs, a.pid)
    c.eq("exit records for A's pid %d (reason, comm)" % a.pid, [("exit", "peak")],
         [(r.get("reason"), r["processes"][0].get("comm")) for r in exits])
    fin = final_record(recs)
    compare_proc(c, "final record: A", gta, proc_in(fin, a.pid, "final record"), "peak")
    compare_proc(c, "final record: C", gtb, proc_in(fin, b.pid, "final record"), "peak")
    c.eq("final record pids", sorted([a.pid, b.pid]),
         sorted(p.get("pid") for p in fin.get("processes", [])))
    c.done()


@test
def fault_planted_symlink(ctx):
    """-o, --folded and --record at a path another user made a symbolic link to a file: the
    root tracer refuses (exit 1, one line) and the file is intact; a link to a pipe is fine"""
    d = ctx.tmpdir()
    os.chmod(d, 0o1777)
    victim = os.path.join(d, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    launched = ctx.workload_path("launched")
    c = Check()
    for opt in (["-o"], ["--stacks", "--folded"], ["--record"]):
        link = os.path.join(d, "planted%s" % opt[-1])
        os.symlink(victim, link)
        rc, out, err = refused(ctx, opt + [link, "--", launched, "10"])
        one_error(c, " ".join(opt) + " LINK", rc, err, 1)
        c.true(any("symbolic link" in l for l in err),
               "%s: the error says why (got %r)" % (" ".join(opt), err[-1:]))
        with open(victim, "rb") as f:
            c.eq("%s: the link's target" % " ".join(opt), repr(b"precious\n"), repr(f.read()))
        with open(victim, "w") as f:
            f.write("precious\n")
        c.eq("%s: stdout" % " ".join(opt), [],
             [l for l in out if l.startswith("{") or "events" in l])
    # /dev/stdout, a link to the pipe this harness reads: the records come through it
    rc, out, err = refused(ctx, ["--json", "-o", "/dev/stdout", "--", launched, "10"])
    c.eq("-o /dev/stdout: exit status", 0, rc)
    c.true(any(l.startswith('{"type":"final"') for l in out),
           "-o /dev/stdout: the final record on stdout (got %r)" % out[-1:])
    c.done()


@test
def bad_bounds(ctx):
    """values past an option's bound are usage errors (exit 2), not wrapped or left to
    libbpf"""
    c = Check()
    for argv in (["-n", "4294967296"], ["--stacks", "--stack-map-size", "4294967295"],
                 ["--stacks", "--stack-map-size", "4194305"]):
        rc, out, err = refused(ctx, argv + ["-d", "1"])
        one_error(c, " ".join(argv), rc, err, 2)
    c.done()


RENAME_PY = """import ctypes, os, time
libc = ctypes.CDLL(None)
keep = [bytearray(100) for i in range(100)]
time.sleep(1.5)
libc.prctl(15, b"renamed-self", 0, 0, 0)
keep += [bytearray(100) for i in range(100)]
time.sleep(2)
"""


@test
def fault_comm_renamed(ctx):
    """a process that renames itself (prctl PR_SET_NAME) is shown, and labelled in the
    metrics, under its new name"""
    port = free_port()
    tr = ctx.tracer(["--json", "-i", "0.5", "--prometheus", "127.0.0.1:%d" % port, "--",
                     "python3", "-S", "-c", RENAME_PY])
    wait_attached(tr)
    deadline = time.monotonic() + 30
    body, c = "", Check()
    while time.monotonic() < deadline:
        st, hdr, body = http_get("http://127.0.0.1:%d/metrics" % port)
        body = body.decode("utf-8", "replace")
        if 'comm="renamed-self"' in body:
            break
        time.sleep(0.3)
    c.true('comm="renamed-self"' in body, "metrics: no series with comm=\"renamed-self\"")
    c.eq("tracer exit status", 0, tr.wait_exit(WINDOW_TIMEOUT))
    fin = final_record(records(tr))
    c.eq("final record comms", ["renamed-self"], [p.get("comm") for p in fin["processes"]])
    c.done()


@test
def fault_record_disk_full(ctx):
    """--record onto a full file system: said on stderr when it happens, with the reason;
    the figures go on, and the exit status says the file is not whole"""
    need_tool("mount")
    d = os.path.join(ctx.tmpdir(), "small")
    os.mkdir(d)
    rc, _, err = run_cmd(["mount", "-t", "tmpfs", "-o", "size=64k", "memscope-e2e", d], 20)
    if rc != 0:
        raise Skip("cannot mount a tmpfs: %s" % " ".join(err))
    try:
        tr = ctx.tracer(["--json", "-i", "0.2", "--record", os.path.join(d, "run.msr"), "--",
                         ctx.workload_path("launched"), "20000"])
        line, i = tr.wait_line("err", lambda l: "cannot write" in l, WINDOW_TIMEOUT,
                               "the write failure on stderr")
        c = Check()
        c.true("No space left on device" in line, "the reason (got %r)" % line)
        c.true(not any('"type":"final"' in l for l in tr.out()),
               "said while tracing, not only at the end (the final record came first)")
        c.eq("tracer exit status (the recording is cut short)", 1, tr.wait_exit(WINDOW_TIMEOUT))
        recs, other = records(tr, allow_other=True)
        gts = [o for o in other if isinstance(o, dict) and "allocs" in o]
        if c.eq("launched's ground truth lines", 1, len(gts)):
            compare_proc(c, "final record", gts[0],
                         proc_in(final_record(recs), gts[0]["pid"], "final record"), "launched")
        c.eq("lines saying so", 1, len([l for l in tr.err() if "cannot write" in l]))
        c.done()
    finally:
        run_cmd(["umount", "-l", d], 20)


@test
def spec_aliases(ctx):
    """--alloc naming two aliases of one address (aligned_alloc, memalign), or one function
    twice: no false 'no function' error; the named allocator gets those calls, exactly"""
    launched = ctx.workload_path("launched")
    c = Check()
    for specs in (["mine=aligned_alloc(_, size)", "mine=memalign(_, size)"],
                  ["mine=aligned_alloc(_, size)", "mine=aligned_alloc(_, size)"]):
        argv = ["--json"]
        for s in specs:
            argv += ["--alloc", s]
        tr = ctx.tracer(argv + ["--", launched, "40"])
        rc = tr.wait_exit(WINDOW_TIMEOUT)
        what = " ".join(specs)
        if not c.eq("%s: exit status" % what, 0, rc):
            c.fail("%s: stderr %s" % (what, tr.stderr_text()))
            continue
        recs, other = records(tr, allow_other=True)
        gt = [o for o in other if isinstance(o, dict) and "allocs" in o][0]
        p = proc_in(final_record(recs), gt["pid"], "final record")
        named = gt["by_func"].get("aligned_alloc/memalign", 0)
        mine = [a for a in p.get("allocators", []) if a.get("name") == "mine"]
        c.eq("%s: mine's calls (aligned_alloc and memalign: one address)" % what, named,
             sum(sum(a["by_func"].values()) for a in mine))
        c.eq("%s: the process' allocs" % what, gt["allocs"], p.get("allocs"))
    c.done()
