# t_inproc_real.py: real programs traced in-process (the default for a COMMAND), each
# call counted as an independent oracle counts it: bpftrace's uprobes on libc, in a run of
# its own of the same deterministic command
import os
import sys
from harness import Check, Fail, run_cmd, test
from run import (JEMALLOC_SO, ORACLE_PROBES, REDIS_TESTS, WINDOW_TIMEOUT,
                 check_jemalloc_oracle, check_redis_benchmark, final_record, free_port,
                 need_bpftrace, need_tool, nonzero, oracle_bytes_by, oracle_bytes_script,
                 oracle_counts, oracle_counts_by, oracle_script, redis_argv, redis_benchmark,
                 start_jemalloc_oracle, start_oracles, stop_oracle, wait_redis_ready)
from t_html import read_jsonl
from t_inproc import launched_run

# sqlite3: a table, an index, a join and a sort in memory; the rows are a function of
# their number, so that every run makes the same calls
SQLITE_SCRIPT = """create table t(a integer primary key, b text, c real);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 20000)
insert into t select i, printf('%050d', i * 7919 % 100003), i / 7.0 from n;
create index tb on t(b);
create table u as select a % 97 as k, count(*) as cnt, sum(c) as s from t group by k;
select count(*), sum(length(b)) from t join u on t.a % 97 = u.k where u.cnt > 200;
select b from t order by c desc limit 3;
"""

# CPython: objects from pymalloc, buffers and containers from malloc (the hash seed fixed:
# dict and set sizes the same each run)
PYTHON_SCRIPT = """import json, re
rows = [{"id": i, "name": "n%d" % i, "tags": ["t%d" % (i % 7)] * (i % 5)} for i in range(20000)]
text = json.dumps(rows)
back = json.loads(text)
words = re.findall(r"n[0-9]+", text)
big = [bytes(4096 + i) for i in range(200)]
print(len(back), len(words), sum(map(len, big)))
"""


# g++: a C++ program compiled and linked (the driver, cc1plus, as, collect2, ld)
GXX_SOURCE = """#include <iostream>
#include <map>
#include <string>
#include <vector>
int main()
{
	std::map<std::string, std::vector<int>> m;
	for (int i = 0; i < 100; i++)
		m[std::to_string(i)].push_back(i);
	std::cout << m.size() << std::endl;
}
"""
GXX_PROCS = ("g++", "cc1plus", "as", "collect2", "ld")

# node: V8's threads and libuv's pool (pbkdf2 on 8 requests), zlib and JSON on the main
# thread; threads end at the exit, and glibc releases their caches then (DIRECT_CALL)
NODE_SCRIPT = """const zlib = require('zlib');
const crypto = require('crypto');
const rows = [];
for (let i = 0; i < 2000; i++) rows.push({ i, s: 'x'.repeat(i % 300) });
const z = zlib.gzipSync(Buffer.from(JSON.stringify(rows)));
const back = zlib.gunzipSync(z);
let pending = 8;
for (let i = 0; i < 8; i++)
    crypto.pbkdf2('pw' + i, 'salt', 2000, 64, 'sha512', () => {
        if (--pending == 0) console.log(back.length);
    });
"""

# CPython's multiprocessing with fork: a pool of 3 workers forked while the parent's pool
# threads run, each building and encoding lists of dicts
MP_SCRIPT = """import json, multiprocessing as mp
def work(i):
    return len(json.dumps([{"k": j, "v": "x" * (j % 50)} for j in range(2000 + i)]))
if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Pool(3) as p:
        print(sum(p.map(work, range(24))))
"""


def real_python():
    """The interpreter itself (a wrapper script, such as pyenv's, would exec it: the oracle
    counts the whole pid, the tracer the last image)"""
    python = os.path.realpath("/usr/bin/python3")
    return python if os.access(python, os.X_OK) else os.path.realpath(sys.executable)


def real_env(extra=None):
    """The environment of both runs: the same variables. The in-process run adds LD_PRELOAD
    and MEMSCOPE_SHM; the oracle's run gets two of the same name lengths, so that a program
    that copies its environment (CPython's os.environ) makes the same calls in both"""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
           "PYTHONHASHSEED": "0", "HOME": "/nonexistent"}
    env.update(extra or {})
    return env


def traced_in_process(ctx, argv, comm):
    """memscope-bpf --in-process -- argv (the default for a COMMAND): the process' final
    figures"""
    out = os.path.join(ctx.tmpdir(), "%s.jsonl" % comm)
    launched_run(ctx, argv, extra=["-o", out], env=real_env())
    fin = final_record(read_jsonl(out))
    procs = fin.get("processes") or []
    if len(procs) != 1:
        raise Fail("%s: processes in the final record (expected 1, got %s)" % (
            comm, [p.get("comm") for p in procs]))
    return fin, procs[0]


def oracle_run(ctx, argv, what):
    """bpftrace -c: outermost calls per libc function, from the command's first
    instruction, in a run of its own under the same environment"""
    script = os.path.join(ctx.tmpdir(), "oracle.bt")
    with open(script, "w") as f:
        f.write(oracle_script("pid == cpid", interposable=True))
    rc, out, err = run_cmd(["bpftrace", "-c", " ".join(argv), script], 300,
                           env=real_env({"LD_PRELOAX": "x" * 40, "MEMSCOPE_SHX": "y" * 24}))
    if rc != 0:
        raise Fail("bpftrace -c '%s': status %s; stderr: %s" % (what, rc, " | ".join(err[-3:])))
    counts = oracle_counts(out)
    if not counts.get("malloc"):
        raise Fail("bpftrace -c '%s' counted no malloc: %s" % (what, out[-5:]))
    return counts


def with_dead_frees(p):
    """p's calls per function as bpftrace counts them: a free of a block already freed (a
    dead free) is a call; memscope-bpf counts it apart"""
    got = dict(p.get("by_func") or {})
    if p.get("dead_frees"):
        got["free"] = got.get("free", 0) + p["dead_frees"]
    return nonzero(got)


# What the same-run oracles count by: a process' name (its thread-group leader's), or its pid
BY_COMM = ("curtask->group_leader->comm", lambda p: p.get("comm"))
BY_PID = ("pid", lambda p: str(p.get("pid")))


def same_run_oracle(ctx, filt, by, argv, what):
    """memscope-bpf -f --json ARGV (in-process, the default) with two bpftraces, in the same
    run, counting where filt holds the calls a preloaded library can see and their bytes:
    (final record, {process: figures} of each), processes by BY_COMM or BY_PID, the figures
    {function: calls} and alloc_bytes, freed_bytes (an image that called exec, its exit
    record, added to the process)"""
    out = os.path.join(ctx.tmpdir(), "run.jsonl")
    # not this harness (a python3 of the same name)
    filt = "(%s) && pid != %d" % (filt, os.getpid())
    # the bytes: a key a live block, as many as the programs hold at once
    bt, btb = start_oracles(ctx, [
        (oracle_script(filt, by=by[0], interposable=True), ORACLE_PROBES, None),
        (oracle_bytes_script(filt, by[0]), ORACLE_PROBES,
         dict(os.environ, BPFTRACE_MAP_KEYS_MAX="500000"))])
    tr = ctx.tracer(["--json", "-f", "-o", out, "--"] + argv, env=real_env())
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    stop_oracle(bt)
    stop_oracle(btb)
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
            what, rc, tr.stderr_text()))
    if not any("attached in-process" in l for l in tr.err()):
        raise Fail("%s: no 'attached in-process' line on stderr: %s" % (what, tr.stderr_text()))
    recs = read_jsonl(out)
    fin = final_record(recs)
    got = {}
    images = [p for r in recs if r.get("type") == "exit" and r.get("reason") == "exec"
              for p in r.get("processes") or []]
    for p in images + (fin.get("processes") or []):
        fig = got.setdefault(by[1](p), {"alloc_bytes": 0, "freed_bytes": 0})
        for f, n in with_dead_frees(p).items():
            fig[f] = fig.get(f, 0) + n
        for f in ("alloc_bytes", "freed_bytes"):
            fig[f] += p.get(f, 0)
    want = oracle_counts_by(bt.out())
    for k, b in oracle_bytes_by(btb.out()).items():
        want.setdefault(k, {}).update(b)
    for k in want.values():
        for f in ("alloc_bytes", "freed_bytes"):
            k.setdefault(f, 0)
    for k in sorted(set(got) | set(want)):
        print("  %s: in-process %s; bpftrace %s" % (k, got.get(k), want.get(k)))
    return fin, got, want


def check_same_run(c, fin, got, want, procs=None):
    """same_run_oracle's figures: the processes (when given), their calls and bytes, nothing
    lost"""
    if procs is not None:
        c.eq("the processes traced", sorted(procs), sorted(got))
    c.eq("calls and bytes per process and function, in-process against bpftrace", want, got)
    for p in fin.get("processes") or []:
        c.eq("%s: allocs - frees = live_allocs" % p.get("comm"), p.get("live_allocs"),
             p.get("allocs", 0) - p.get("frees", 0))
    c.eq("records lost", {}, {k: v for k, v in (fin.get("lost") or {}).items() if v})


def compare_real(c, ctx, argv, comm):
    fin, p = traced_in_process(ctx, argv, comm)
    want = oracle_run(ctx, argv, comm)
    got = with_dead_frees(p)
    print("  %s: in-process %s; bpftrace %s" % (comm, got, want))
    c.eq("%s: calls per function, in-process against bpftrace" % comm, want, got)
    c.eq("%s: allocs - frees = live_allocs" % comm, p["live_allocs"],
         p["allocs"] - p["frees"])
    lost = {k: v for k, v in (fin.get("lost") or {}).items() if v}
    c.eq("%s: records lost" % comm, {}, lost)


@test
def inproc_real_programs_oracle(ctx):
    """sqlite3 (20,000 rows, an index, a join, a sort), CPython (json, re, buffers of 4 KiB)
    and git (log of this repository): each --in-process run's calls per function equal what
    bpftrace counts in a run of the same command"""
    need_bpftrace()
    c = Check()
    sql = os.path.join(ctx.tmpdir(), "script.sql")
    with open(sql, "w") as f:
        f.write(SQLITE_SCRIPT)
    compare_real(c, ctx, [need_tool("sqlite3"), "-init", sql, ":memory:", ".quit"], "sqlite3")
    py = os.path.join(ctx.tmpdir(), "script.py")
    with open(py, "w") as f:
        f.write(PYTHON_SCRIPT)
    python = real_python()
    compare_real(c, ctx, [python, "-S", py], os.path.basename(python))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isdir(os.path.join(repo, ".git")):
        compare_real(c, ctx, [need_tool("git"), "-C", repo, "--no-pager", "log",
                              "--stat", "-30"], "git")
    c.done()


@test
def inproc_gxx_follow_oracle(ctx):
    """g++ compiling and linking a C++ program under -f: the driver, cc1plus, as, collect2
    and ld, each an exec the preload is handed on through, each traced in-process; each
    one's calls per function equal what bpftrace counts of the same processes in the same
    run (cc1plus's vary by a few calls from run to run: no second run can be the oracle)"""
    need_bpftrace()
    gxx = need_tool("g++")
    src = os.path.join(ctx.tmpdir(), "prog.cc")
    exe = os.path.join(ctx.tmpdir(), "prog")
    with open(src, "w") as f:
        f.write(GXX_SOURCE)
    filt = " || ".join('comm == "%s"' % n for n in GXX_PROCS)
    fin, got, want = same_run_oracle(ctx, filt, BY_COMM, [gxx, "-O1", src, "-o", exe], "g++")
    c = Check()
    rc, pout, _ = run_cmd([exe], 30)
    c.eq("the compiled program's status and output", (0, ["100"]), (rc, pout))
    check_same_run(c, fin, got, want, GXX_PROCS)
    c.done()


@test
def inproc_node_threads_oracle(ctx):
    """node (V8's threads, libuv's pool running pbkdf2, zlib, JSON): its calls per function
    traced in-process equal what bpftrace counts of the same process in the same run, but
    for the calls malloc.c makes of free straight, not through the PLT (a thread's cache
    released at its end), which no preloaded library can see and the oracle leaves out"""
    need_bpftrace()
    node = need_tool("node", ["/usr/bin/nodejs"])
    js = os.path.join(ctx.tmpdir(), "script.js")
    with open(js, "w") as f:
        f.write(NODE_SCRIPT)
    fin, got, want = same_run_oracle(ctx, 'curtask->group_leader->comm == "node"', BY_COMM,
                                     [node, js], "node")
    c = Check()
    check_same_run(c, fin, got, want, ["node"])
    c.done()


@test
def inproc_python_fork_oracle(ctx):
    """CPython's multiprocessing pool under -f: 3 workers forked (no exec: the library and
    its region inherited, each child a process of its own) while the parent's threads run;
    each process' calls per function, by pid, equal what bpftrace counts in the same run"""
    need_bpftrace()
    python = real_python()
    py = os.path.join(ctx.tmpdir(), "pool.py")
    with open(py, "w") as f:
        f.write(MP_SCRIPT)
    comm = os.path.basename(python)[:15]
    fin, got, want = same_run_oracle(ctx, 'curtask->group_leader->comm == "%s"' % comm, BY_PID,
                                     [python, "-S", py], "multiprocessing")
    c = Check()
    c.eq("processes: the parent and its 3 workers", 4, len(got))
    check_same_run(c, fin, got, want)
    c.done()


@test
def inproc_redis_oracle(ctx):
    """`memscope-bpf -- redis-server` (its jemalloc's calls recorded in-process by
    libmemscope-preload-jemalloc.so) under redis-benchmark, to its shutdown: every jemalloc
    call of the server per function, its allocs and its frees equal what bpftrace counts of
    the same server in the same run, from its first instruction"""
    need_bpftrace()
    cli = need_tool("redis-cli")
    n = 5000
    port = free_port()
    argv = redis_argv(ctx, port)
    bt = start_jemalloc_oracle(ctx, JEMALLOC_SO,
                               'curtask->group_leader->comm == "redis-server"')
    out = os.path.join(ctx.tmpdir(), "redis.jsonl")
    tr = ctx.tracer(["--json", "-v", "-o", out, "--"] + argv)
    try:
        wait_redis_ready(tr)
        rc, bout, berr = redis_benchmark(port, n)
    finally:
        # the server outlives a tracer that is killed: it is shut down whatever happened
        run_cmd([cli, "-p", str(port), "shutdown", "nosave"], 30)
    rc_tr = tr.wait_exit(WINDOW_TIMEOUT, "exit after redis-server's shutdown")
    stop_oracle(bt)
    check_redis_benchmark(rc, bout, berr)
    if rc_tr != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc_tr, tr.stderr_text()))
    c = Check()
    c.true(any("attached in-process" in l and "libmemscope-preload-jemalloc.so" in l
               for l in tr.err()),
           "no 'attached in-process' line naming jemalloc's library: %s" % tr.stderr_text())
    fin = final_record(read_jsonl(out))
    procs = fin.get("processes") or []
    if len(procs) != 1 or procs[0].get("comm") != "redis-server":
        raise Fail("processes in the final record (expected redis-server, got %s)" % [
            p.get("comm") for p in procs])
    je = check_jemalloc_oracle(c, fin, procs[0], bt.out(), n * len(REDIS_TESTS))
    if je is not None:
        c.eq("redis: jemalloc unmatched_frees (traced from its first call)", 0,
             je.get("unmatched_frees"))
    c.done()
