# t_inproc_real.py: real programs traced in-process (the default for a COMMAND), each
# call counted as an independent oracle counts it: bpftrace's uprobes on libc, in a run of
# its own of the same deterministic command
import os
import sys
from harness import Check, Fail, run_cmd, test
from run import final_record, need_bpftrace, need_tool, nonzero, oracle_counts, oracle_script
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
        f.write(oracle_script("pid == cpid"))
    rc, out, err = run_cmd(["bpftrace", "-c", " ".join(argv), script], 300,
                           env=real_env({"LD_PRELOAX": "x" * 40, "MEMSCOPE_SHX": "y" * 24}))
    if rc != 0:
        raise Fail("bpftrace -c '%s': status %s; stderr: %s" % (what, rc, " | ".join(err[-3:])))
    counts = oracle_counts(out)
    if not counts.get("malloc"):
        raise Fail("bpftrace -c '%s' counted no malloc: %s" % (what, out[-5:]))
    return counts


def compare_real(c, ctx, argv, comm):
    fin, p = traced_in_process(ctx, argv, comm)
    want = oracle_run(ctx, argv, comm)
    got = dict(p.get("by_func") or {})
    # bpftrace counts a free of a block already freed (a dead free) as a call; memscope-bpf
    # counts it apart
    if p.get("dead_frees"):
        got["free"] = got.get("free", 0) + p["dead_frees"]
    print("  %s: in-process %s; bpftrace %s" % (comm, nonzero(got), want))
    c.eq("%s: calls per function, in-process against bpftrace" % comm, want, nonzero(got))
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
    # the interpreter itself (a wrapper script, such as pyenv's, would exec it: the oracle
    # counts the whole pid, the tracer the last image)
    python = os.path.realpath("/usr/bin/python3")
    if not os.access(python, os.X_OK):
        python = os.path.realpath(sys.executable)
    compare_real(c, ctx, [python, "-S", py], os.path.basename(python))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isdir(os.path.join(repo, ".git")):
        compare_real(c, ctx, [need_tool("git"), "-C", repo, "--no-pager", "log",
                              "--stat", "-30"], "git")
    c.done()
