#!/usr/bin/env python3
"""tests/vm/smoke.py: the two-node VM boots, and memscope-bpf traces exactly on Debian's 6.1

usage: python3 tests/vm/smoke.py [run.sh options...]   (e.g. --timeout SEC; default 120)

Boots the VM of tests/vm/run.sh (2 nodes, 4 CPUs, 2G) and runs tests/vm/guest/smoke.sh in
it, then checks: the kernel is 6.1; node 0 has CPUs 0-1 and node 1 CPUs 2-3; the kernel has
BTF; a task pinned with taskset to CPU 3 (node 1) runs there; `memscope-bpf --json --
build/workloads/launched 10`, pinned to CPU 3, exits 0, says it attached, loses nothing, and
its final record matches the workload's own ground truth field by field. When the record
has a `numa` object (issue 6), every allocation and free must be on node 1. Then
`memscope-bpf --json --stacks -- build/workloads/fake_frame 3 2`: the stacks walked from call
frame information in BPF (bpf_loop in bpf_loop) load and run on 6.1: plain_malloc's stack
goes through main into libc, the made-up frame's is cut and marked truncated.
Python standard library only; needs root (qemu is not run with KVM, so no /dev/kvm access
is needed, but build.sh may install packages). Exit status 0 when every check passes.
"""
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COUNTS = ("allocs", "frees", "unmatched_frees", "dead_frees", "alloc_bytes", "freed_bytes",
          "live_allocs", "live_bytes", "peak_bytes", "failed_allocs")


def nonzero(d):
    return {k: v for k, v in (d or {}).items() if v != 0} if isinstance(d, dict) else d


def main():
    extra = sys.argv[1:]
    fails = []

    def eq(what, want, got):
        if want != got:
            fails.append("%s: expected %r, got %r" % (what, want, got))

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stdout")
        cmd = [os.path.join(REPO, "tests/vm/run.sh"), "--times", "--nodes", "2", "--cpus", "4",
               "--mem", "2G", "--timeout", "120", "--out", out,
               "--add", os.path.join(REPO, "tests/vm/guest/smoke.sh")] + extra + [
            "--", "sh", "tests/vm/guest/smoke.sh", "3"]
        rc = subprocess.call(cmd, cwd=REPO, stdin=subprocess.DEVNULL)
        if rc != 0:
            print("FAIL: tests/vm/run.sh exited %d" % rc)
            return 1
        with open(out, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()

    tags = {}
    trace, trace_err, stacks, stacks_err, nodes = [], [], [], [], {}
    for line in lines:
        tag, _, rest = line.partition(" ")
        if tag == "trace":
            trace.append(rest)
        elif tag == "trace_err":
            trace_err.append(rest)
        elif tag == "stacks":
            stacks.append(rest)
        elif tag == "stacks_err":
            stacks_err.append(rest)
        elif tag == "node":
            n, _, cpus = rest.partition(" ")
            nodes[n] = cpus
        else:
            tags[tag] = rest

    kernel = tags.get("kernel", "")
    if not kernel.startswith("6.1."):
        fails.append("kernel: expected 6.1.*, got %r" % kernel)
    eq("nodes", {"0": "0-1", "1": "2-3"}, nodes)
    eq("btf", "yes", tags.get("btf"))
    eq("pinned task's CPU", "3", tags.get("pinned"))
    eq("tracer exit status", "0", tags.get("tracer_status"))
    if not any("attached" in l for l in trace_err):
        fails.append("no 'attached' line from the tracer; its stderr: %r" % trace_err[-20:])

    objs = []
    for l in trace:
        try:
            objs.append(json.loads(l))
        except ValueError:
            fails.append("not JSON on the tracer's stdout: %r" % l[:200])
    gts = [o for o in objs if "type" not in o and "allocs" in o]
    finals = [o for o in objs if o.get("type") == "final"]
    if len(gts) != 1 or len(finals) != 1:
        fails.append("expected one ground-truth line and one final record, got %d and %d"
                     % (len(gts), len(finals)))
    else:
        gt, fin = gts[0], finals[0]
        eq("events_lost", 0, fin.get("events_lost"))
        procs = [p for p in fin.get("processes", []) if p.get("pid") == gt["pid"]]
        if len(procs) != 1:
            fails.append("final record: no process %d" % gt["pid"])
        else:
            p = procs[0]
            for f in COUNTS:
                eq(f, gt[f], p.get(f))
            eq("by_func", nonzero(gt["by_func"]), nonzero(p.get("by_func")))
            eq("size_hist", nonzero(gt["size_hist"]), nonzero(p.get("size_hist")))
            numa = p.get("numa")
            if numa is not None:
                ns = numa.get("nodes", {})
                eq("numa.nodes keys", ["1"], sorted(k for k, v in ns.items()
                                                    if v.get("allocs") or v.get("frees")))
                eq("numa.nodes.1.allocs", gt["allocs"], ns.get("1", {}).get("allocs"))
                eq("numa.nodes.1.frees", gt["frees"], ns.get("1", {}).get("frees"))
                eq("numa.remote_frees", 0, numa.get("remote_frees"))

    eq("--stacks: tracer exit status", "0", tags.get("stacks_status"))
    eq("--stacks --sample-bytes: tracer exit status", "0", tags.get("sampled_status"))
    if not any('"sample_bytes":1024' in l for l in lines if l.startswith("sampled ")):
        fails.append("--stacks --sample-bytes: no sites object with sample_bytes 1024")
    sites = {}
    for l in stacks:
        try:
            rec = json.loads(l)
        except ValueError:
            continue
        for p in rec.get("processes", []) if rec.get("type") == "final" else []:
            for s in (p.get("sites") or {}).get("by_live_bytes") or []:
                fns = [f.split("+")[0].split(" ")[0] for f in s.get("stack") or []]
                if fns:
                    sites[fns[0]] = (fns, s.get("truncated"))
    plain, fake = sites.get("plain_malloc"), sites.get("fake_frame_malloc")
    if not plain or not fake:
        fails.append("--stacks: no plain_malloc or fake_frame_malloc site: %r; stderr %r" % (
            sorted(sites), stacks_err[-10:]))
    else:
        eq("--stacks: plain_malloc's first frames", ["plain_malloc", "main"], plain[0][:2])
        if len(plain[0]) < 4:
            fails.append("--stacks: plain_malloc's stack stops before libc: %r" % plain[0])
        eq("--stacks: made-up frame's stack", (["fake_frame_malloc"], True), fake)

    if fails:
        for f in fails:
            print("FAIL: " + f)
        return 1
    print("PASS: kernel %s, nodes %s, tracer exact on node 1" % (kernel, nodes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
