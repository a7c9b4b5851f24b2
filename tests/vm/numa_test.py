#!/usr/bin/env python3
"""tests/vm/numa_test.py: NUMA attribution (issue 6) is exact on a two-node machine

usage: python3 tests/vm/numa_test.py [run.sh options...]   (e.g. --timeout SEC; default 120)

Boots the VM of tests/vm/run.sh (2 nodes, 4 CPUs, 2G: node 0 = CPUs 0-1, node 1 = CPUs 2-3)
and runs tests/vm/guest/numa.sh in it: build/workloads/numa_xfer with thread A pinned to
CPU 2 (node 1) and thread B to CPU 0 (node 0), traced by
`memscope-bpf --json --numa-pages -i 0.5 -p PID`. In its window A allocates N = 1000 blocks
of 200 bytes and two page-aligned blocks (256 KiB, 192 KiB, mmap'd by glibc); B frees 567
small blocks (remote frees), A frees 333 (local), 100 small blocks and both big ones stay
live. B writes the first byte of the 256 KiB block, whose first page glibc never wrote
(its chunk header is on the page before): that page is first touched on node 0. Nobody
writes the 192 KiB block: its first page is not present. (tests/e2e/workloads/numa_xfer.c
explains why each page's node is certain.)

Checks, exactly, on the final record and the last interval record (at least 1 s after the
window: a page sample made after it):
  - the process's figures equal the workload's ground truth (as in smoke.py);
  - numa.nodes: node 1 has every allocation, its bytes, peak and live blocks, and A's frees;
    node 0 has B's frees only; remote_frees/remote_free_bytes are B's frees; the shares;
  - the libc allocator's numa object equals the process's (pages aside);
  - numa.pages: sampled_blocks = 101 (the 100 small blocks and the 256 KiB one: every live
    block is sampled), sampled_bytes, remote_bytes = 256 KiB (only that block's page is on
    another node than its allocating CPU's: the small blocks' pages were first touched by
    A on node 1), not_present_blocks = 1 (the 192 KiB block).
The workload's own move_pages(2) view must agree with that design (else the environment,
not the tracer, is at fault, and the message says so). The tracer's stderr must not say
"one NUMA node" in the VM, and must say it on this host when the host has one node (the
tracer is run here once, on build/workloads/launched, as root, while the VM runs).
Python standard library only; needs root. Exit status 0 when every check passes.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COUNTS = ("allocs", "frees", "unmatched_frees", "dead_frees", "alloc_bytes", "freed_bytes",
          "live_allocs", "live_bytes", "peak_bytes", "failed_allocs")
NODE_FIELDS = ("allocs", "alloc_bytes", "frees", "freed_bytes", "live_allocs", "live_bytes",
               "peak_bytes")
CPU_A, CPU_B, N, KEEP = 2, 0, 1000, 100
ONE_NODE = "one NUMA node"


def nonzero(d):
    return {k: v for k, v in (d or {}).items() if v != 0} if isinstance(d, dict) else d


def close(a, b):
    return isinstance(b, (int, float)) and abs(a - b) <= 1e-9 * max(1.0, abs(a))


def expected_numa(nm):
    """The numa object the tracer must print, from the workload's figures"""
    a, b = nm["a"], nm["b"]
    na, nb = str(nm["node_a"]), str(nm["node_b"])
    nodes = {na: {f: 0 for f in NODE_FIELDS}, nb: {f: 0 for f in NODE_FIELDS}}
    for f in NODE_FIELDS:  # every block is A's: allocated on node_a
        nodes[na][f] = a[f]
    nodes[nb]["frees"] += b["frees"]
    nodes[nb]["freed_bytes"] += b["freed_bytes"]
    remote = na != nb
    return {
        "nodes": nodes,
        "remote_frees": b["frees"] if remote else 0,
        "remote_free_bytes": b["freed_bytes"] if remote else 0,
        "remote_free_share": (b["frees"] / (a["frees"] + b["frees"])) if remote else 0.0,
    }


def check_numa(eq, what, want, got, pages_want=None):
    """got (a numa object) against want (expected_numa), field by field"""
    if not isinstance(got, dict):
        eq(what, "an object", got)
        return
    gn = got.get("nodes") or {}
    eq(what + ".nodes keys", sorted(want["nodes"]), sorted(gn))
    live_total = sum(n["live_bytes"] for n in want["nodes"].values())
    for k, wn in sorted(want["nodes"].items()):
        g = gn.get(k) or {}
        for f in NODE_FIELDS:
            eq("%s.nodes.%s.%s" % (what, k, f), wn[f], g.get(f))
        share = wn["live_bytes"] / live_total if live_total else 0.0
        if not close(share, g.get("live_share")):
            eq("%s.nodes.%s.live_share" % (what, k), share, g.get("live_share"))
    eq(what + ".remote_frees", want["remote_frees"], got.get("remote_frees"))
    eq(what + ".remote_free_bytes", want["remote_free_bytes"], got.get("remote_free_bytes"))
    if not close(want["remote_free_share"], got.get("remote_free_share")):
        eq(what + ".remote_free_share", want["remote_free_share"], got.get("remote_free_share"))
    if pages_want is not None:
        gp = got.get("pages") or {}
        for f, v in pages_want.items():
            if f == "remote_share":
                if not close(v, gp.get(f)):
                    eq(what + ".pages." + f, v, gp.get(f))
            else:
                eq(what + ".pages." + f, v, gp.get(f))


def host_start(tmp):
    """Starts the tracer on this host (run meanwhile with the VM): returns (process, stderr)"""
    err = os.path.join(tmp, "host_err")
    with open(err, "w") as ef:
        proc = subprocess.Popen([os.path.join(REPO, "build/memscope-bpf"), "--json", "--",
                                 os.path.join(REPO, "build/workloads/launched"), "10"],
                                cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=ef)
    return proc, err


def host_check(proc, err, fails):
    """The tracer on this host says 'one NUMA node' iff the host has one; returns the nodes"""
    nnodes = len(glob.glob("/sys/devices/system/node/node[0-9]*")) or 1
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    with open(err, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if rc != 0:
        fails.append("host: memscope-bpf exited %d; stderr: %r" % (rc, text[-2000:]))
    said = text.count(ONE_NODE)
    if nnodes == 1 and said != 1:
        fails.append("host (one node): the tracer said %r %d times, expected once; stderr: %r"
                     % (ONE_NODE, said, text[-2000:]))
    if nnodes > 1 and said:
        fails.append("host (%d nodes): the tracer said %r" % (nnodes, ONE_NODE))
    return nnodes


def main():
    extra = sys.argv[1:]
    fails = []

    def eq(what, want, got):
        if want != got:
            fails.append("%s: expected %r, got %r" % (what, want, got))

    with tempfile.TemporaryDirectory() as tmp:
        host = host_start(tmp)
        out = os.path.join(tmp, "stdout")
        cmd = [os.path.join(REPO, "tests/vm/run.sh"), "--times", "--nodes", "2", "--cpus", "4",
               "--mem", "2G", "--timeout", "120", "--out", out,
               "--add", os.path.join(REPO, "tests/vm/guest/numa.sh")] + extra + [
            "--", "sh", "tests/vm/guest/numa.sh", str(CPU_A), str(CPU_B), str(N), str(KEEP)]
        rc = subprocess.call(cmd, cwd=REPO, stdin=subprocess.DEVNULL)
        host_nodes = host_check(host[0], host[1], fails)
        lines = []
        if os.path.exists(out):
            with open(out, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
    if rc != 0:
        print("FAIL: tests/vm/run.sh exited %d" % rc)
        for l in lines[-40:]:
            print("  | " + l[:300])
        return 1

    tags, nodes = {}, {}
    groups = {"work": [], "work_err": [], "trace": [], "trace_err": [], "error": []}
    for line in lines:
        tag, _, rest = line.partition(" ")
        if tag in groups:
            groups[tag].append(rest)
        elif tag == "node":
            n, _, cpus = rest.partition(" ")
            nodes[n] = cpus
        else:
            tags[tag] = rest
    for e in groups["error"]:
        fails.append("guest script: " + e)

    kernel = tags.get("kernel", "")
    if not kernel.startswith("6.1."):
        fails.append("kernel: expected 6.1.*, got %r" % kernel)
    eq("nodes", {"0": "0-1", "1": "2-3"}, nodes)
    eq("tracer exit status", "0", tags.get("tracer_status"))
    eq("workload exit status", "0", tags.get("workload_status"))
    if groups["work_err"]:
        fails.append("workload stderr: %r" % groups["work_err"][-10:])
    trace_err = groups["trace_err"]
    if not any("attached" in l for l in trace_err):
        fails.append("no 'attached' line from the tracer; its stderr: %r" % trace_err[-20:])
    if any(ONE_NODE in l for l in trace_err):
        fails.append("in the two-node VM the tracer said %r" % ONE_NODE)

    gt = nm = None
    for l in groups["work"]:
        if l.startswith("{"):
            o = json.loads(l)
            if "numa" in o:
                nm = o["numa"]
            else:
                gt = o
    objs = []
    for l in groups["trace"]:
        try:
            objs.append(json.loads(l))
        except ValueError:
            fails.append("not JSON on the tracer's stdout: %r" % l[:200])
    finals = [o for o in objs if o.get("type") == "final"]
    intervals = [o for o in objs if o.get("type") == "interval"]
    if gt is None or nm is None:
        fails.append("no ground truth from the workload: %r" % groups["work"][-5:])
    elif len(finals) != 1 or not intervals:
        fails.append("expected one final record and interval records, got %d and %d"
                     % (len(finals), len(intervals)))
    else:
        # the workload ran where it was meant to, and its pages are where the design puts
        # them: otherwise the environment is at fault, not the tracer
        env = "(environment, not the tracer) "
        eq(env + "A's CPU, node", (CPU_A, 1), (nm["cpu_a"], nm["node_a"]))
        eq(env + "B's CPU, node", (CPU_B, 0), (nm["cpu_b"], nm["node_b"]))
        pg = nm["pages"]
        eq(env + "live small blocks whose page is on A's node", pg["small"], pg["small_on_a"])
        eq(env + "node of the page B first touched", nm["node_b"], pg["remote_node"])
        if not pg["untouched_status"] < 0:
            fails.append(env + "the untouched block's page is present (node %d)"
                         % pg["untouched_status"])
        eq("workload: live small blocks", KEEP, pg["small"])

        want = expected_numa(nm)
        sampled_bytes = pg["small_bytes"] + pg["remote_bytes"]
        pages_want = {
            "sampled_blocks": pg["small"] + 1,
            "sampled_bytes": sampled_bytes,
            "remote_bytes": pg["remote_bytes"],
            "remote_share": pg["remote_bytes"] / sampled_bytes,
            "not_present_blocks": 1,
        }
        for rec, name in ((finals[0], "final"), (intervals[-1], "last interval")):
            eq(name + ": events_lost", 0, rec.get("events_lost"))
            procs = [p for p in rec.get("processes", []) if p.get("pid") == gt["pid"]]
            if len(procs) != 1:
                fails.append("%s record: no process %d" % (name, gt["pid"]))
                continue
            p = procs[0]
            for f in COUNTS:
                eq("%s: %s" % (name, f), gt[f], p.get(f))
            eq(name + ": by_func", nonzero(gt["by_func"]), nonzero(p.get("by_func")))
            eq(name + ": size_hist", nonzero(gt["size_hist"]), nonzero(p.get("size_hist")))
            check_numa(eq, name + ": numa", want, p.get("numa"), pages_want)
            libc = [a for a in p.get("allocators", []) if a.get("name") == "libc"]
            if len(libc) != 1:
                fails.append("%s: expected one libc allocator, got %r"
                             % (name, [a.get("name") for a in p.get("allocators", [])]))
            else:
                an = libc[0].get("numa")
                check_numa(eq, name + ": allocators[libc].numa", want, an)
                pn = dict(p.get("numa") or {})
                pn.pop("pages", None)
                eq(name + ": allocators[libc].numa == numa (pages aside)", pn, an)

    if fails:
        for f in fails:
            print("FAIL: " + f)
        return 1
    print("PASS: kernel %s, nodes %s: %d allocs on node 1, %d remote frees on node 0, "
          "%d blocks' pages sampled (one remote, one not present); host: %d node(s), %s"
          % (kernel, nodes, nm["a"]["allocs"], nm["b"]["frees"], pages_want["sampled_blocks"],
             host_nodes, "said %r" % ONE_NODE if host_nodes == 1 else "said nothing"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
