"""report.py: the bench's table and JSON from the runs bench/run.sh recorded.

Usage: python3 report.py WORKDIR OUT.json
WORKDIR holds runs.jsonl (one JSON record per timed run) and meta/ (one file per fact).
Prints the table on stdout and writes everything (meta, every run, the summary, the targets,
the table text) to OUT.json.
"""
import json
import os
import statistics
import sys

LABELS = {
    "untraced": "untraced",
    "floor": "floor: empty BPF at memscope-bpf's points",
    "floor-entry": "floor: empty BPF at function entries",
    "memscope": "memscope-bpf -p",
    "memscope-noplace": "memscope-bpf -p --no-placement",
    "memscope-stacks": "memscope-bpf -p --stacks (call frame information, auto)",
    "memscope-stacks-fp": "memscope-bpf -p --stacks --stack-unwind fp",
    "memscope-stacks-sampled": "memscope-bpf -p --stacks --sample-bytes 524288",
    "bpftrace": "bpftrace, empty probes, pid filter",
    "memleak": "memleak-bpfcc -p (bcc)",
    "heaptrack": "heaptrack (LD_PRELOAD, reference)",
    "inproc": "memscope-bpf --in-process=lossy --",
    "inproc-block": "memscope-bpf -- (in-process, block: exact)",
    "inproc-stacks": "memscope-bpf --stacks -- (in-process, walked by libunwind, block)",
    "untraced-sys": "untraced, system libc",
    "bystander": "untraced while memscope-bpf -p traces another",
    "memscope-pymalloc": "memscope-bpf --preset pymalloc --",
    "memscope-replay": "memscope-bpf --replay",
}
GROUP_TITLES = {
    "pairs/1": "malloc(64)+free pairs, 1 thread: ns per pair",
    "pairs/2": "malloc(64)+free pairs, 2 threads: ns per pair (per thread)",
    "mix/1": "mix of malloc/calloc/realloc/posix_memalign/free, 1 thread: ns per call",
    "bystander": "bystander on the system libc (pairs, 1 thread): ns per pair",
}
MS_CONDS = ("memscope", "memscope-noplace", "memscope-stacks", "memscope-stacks-fp",
            "memscope-stacks-sampled")
# The redis rows whose command starts the server it traces, a fresh one per run, and their
# baseline: the same server started the same way, untraced
REDIS_LAUNCHED = ("untraced-launched", "heaptrack", "inproc", "inproc-block", "inproc-writer")
REDIS_LABELS = {
    "untraced": "untraced",
    "floor-entry": "empty BPF at the function entries (perf-event uprobes)",
    "floor": "empty BPF at memscope-bpf's points, its links",
    "memscope": "memscope-bpf -p $(pidof redis-server)",
    "memscope-stacks": "memscope-bpf --stacks -p $(pidof redis-server)",
    "untraced-launched": "untraced, launched: a fresh redis-server per run",
    "heaptrack": "heaptrack -- redis-server (LD_PRELOAD, reference)",
    "inproc": "memscope-bpf --in-process=lossy -- redis-server",
    "inproc-block": "memscope-bpf -- redis-server (in-process, block: exact)",
    "inproc-writer": "in-process libraries, a reader with no statistics (bench/writer.c)",
}
# The sites object's figures of a --stacks run, summed over the traced processes of a run
STACK_FIELDS = ("stack_allocs", "truncated_allocs", "stacks", "truncated_stacks")
STACK_CONDS = {"memscope-stacks": "--stacks (auto)", "memscope-stacks-fp": "--stacks --stack-unwind fp",
               "memscope-stacks-sampled": "--stacks --sample-bytes 524288",
               "inproc-stacks": "--stacks -- (in-process)"}
# The micro tables' ratios use the workload threads' CPU time: on a shared machine wall time
# also counts the waits for a CPU. Both sets of ratios are in the JSON.
RK = "cpu"


def med(xs):
    return statistics.median(xs) if xs else None


def fmt_ns(x):
    if x is None:
        return "-"
    return "%.1f" % x if x < 100 else "{:,.0f}".format(x)


def fmt_spread(xs, f=fmt_ns):
    if not xs:
        return "-"
    return "%s [%s-%s]" % (f(med(xs)), f(min(xs)), f(max(xs)))


def fmt_ratio(x):
    if x is None:
        return "-"
    return "%.2f" % x if x < 100 else "%.0f" % x


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


def table(header, rows):
    """Columns as wide as their widest cell; first column left-aligned, the rest right."""
    w = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    out = []
    for r in [header] + rows:
        cells = [str(r[0]).ljust(w[0])] + [str(c).rjust(w[i + 1]) for i, c in enumerate(r[1:])]
        out.append("  ".join(cells).rstrip())
    return out


def read_meta(work):
    meta = {}
    d = os.path.join(work, "meta")
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name)) as f:
            text = f.read()
        if name == "info":
            for line in text.splitlines():
                k, _, v = line.partition("=")
                meta[k] = v
        elif name == "notes":
            meta["notes"] = [l for l in text.splitlines() if l]
        else:
            meta[name] = text.rstrip("\n")
    return meta


def proc_of(final, pid):
    for p in (final or {}).get("processes", []):
        if p.get("pid") == pid:
            return p
    return None


def stack_figures(runs, pick):
    """Per run, the stacks of the processes pick(run, process) accepts, and the share of their
    allocations whose stack reached the thread's start: 1 - truncated_allocs / stack_allocs.
    Only the traced program's processes count: a stack cut short elsewhere (a shell, a helper)
    says nothing about the program. Runs of a tracer without these figures give none."""
    per = []
    for r in runs:
        sites = [p["sites"] for p in (r.get("tracer_final") or {}).get("processes", [])
                 if pick(r, p) and "stack_allocs" in (p.get("sites") or {})]
        if not sites:
            continue
        f = {k: sum(x.get(k, 0) or 0 for x in sites) for k in STACK_FIELDS}
        f["share"] = 1 - f["truncated_allocs"] / f["stack_allocs"] if f["stack_allocs"] > 0 else None
        per.append(f)
    out = {k: [f[k] for f in per] for k in STACK_FIELDS}
    out["share"] = [f["share"] for f in per if f["share"] is not None]
    out["n"] = len(out["share"])
    out["share_median"] = med(out["share"])
    return out


def foreign_line(runs, lines):
    """Say which runs other tracers disturbed (not counted) or may have (counted)."""
    bad = [r for r in runs if r.get("ok") and r.get("contaminated")]
    if bad:
        lines.append("    not counted: %d runs disturbed by other tracers' probes on this libc (%s)"
                     % (len(bad), ", ".join("%s round %d" % (r["cond"], r["round"]) for r in bad)))
    hit = [r for r in runs if r.get("ok") and not r.get("contaminated")
           and (r.get("foreign_probes") or 0) > 0]
    if hit:
        lines.append("    other tracers had probes on this libc (maybe for other pids) during %d of "
                     "%d counted runs (%s): those may be slower" % (len(hit), sum(1 for r in runs if r.get("ok") and not r.get("contaminated")),
                                                  ", ".join(sorted({"%s round %d" % (r["cond"], r["round"])
                                                                    for r in hit}))))


def conds_of(runs):
    """The conditions of runs, in the order they first ran"""
    return list(dict.fromkeys(r["cond"] for r in runs))


def micro_group(group, runs, lines, summary, targets):
    conds = conds_of(runs)
    st = {}
    for c in conds:
        rs = [r for r in runs if r["cond"] == c]
        ok = [r for r in rs if r["ok"] and not r.get("contaminated")]
        errs = sorted({r["error"] for r in rs if not r["ok"] and r.get("error")})
        wall = [r["result"]["wall_ns_per_op"] for r in ok]
        cpu = [r["result"]["cpu_ns_per_op"] for r in ok]
        tcpu = [r["tracer_cpu_s"] * 1e9 / r["result"]["ops"] for r in ok
                if r.get("tracer_cpu_s") is not None and r["result"]["ops"]]
        st[c] = {"n": len(ok), "runs": len(rs), "wall": wall, "cpu": cpu, "tracer_cpu": tcpu,
                 "contaminated": sum(1 for r in rs if r.get("contaminated")),
                 "uprobes_mapped": sum(1 for r in ok if r["result"].get("uprobes_mapped") == 1),
                 "wall_median": med(wall), "cpu_median": med(cpu), "errors": errs}
        if c in STACK_CONDS:
            st[c]["stacks"] = stack_figures(ok, lambda r, p: p.get("pid") == r["result"]["pid"])
    base = "untraced-sys" if group == "bystander" else "untraced"
    u = st.get(base, {})
    for c, s in st.items():
        for k in ("wall", "cpu"):
            m = s[k + "_median"]
            s["x_untraced_" + k] = ratio(m, u.get(k + "_median"))
            fl = "floor-entry" if c == "memscope-noplace" and "floor-entry" in st else "floor"
            s["x_floor_" + k] = ratio(m, st.get(fl, {}).get(k + "_median"))
            s["added_" + k] = None if m is None or u.get(k + "_median") is None else m - u[k + "_median"]
    for c, s in st.items():
        for other in ("memleak", "bpftrace"):
            for k in ("wall", "cpu"):
                oa = st.get(other, {}).get("added_" + k)
                s["%s_added_over_this_%s" % (other, k)] = (
                    ratio(oa, s["added_" + k]) if c not in (base, other) else None)
    op = "call" if group.startswith("mix") else "pair"
    lines.append("")
    lines.append(GROUP_TITLES.get(group, group))
    header = ["condition", "n", "wall ns/%s median [min-max]" % op,
              "cpu ns/%s median [min-max]" % op, "x untraced", "x floor",
              "memleak added/this", "bpftrace added/this", "tracer cpu ns/%s" % op]
    rows = []
    for c in conds:
        s = st[c]
        label = LABELS.get(c, c)
        if not s["n"]:
            rows.append([label, "0", "unavailable", "", "", "", "", "", ""])
            continue
        rows.append([label, str(s["n"]), fmt_spread(s["wall"]), fmt_spread(s["cpu"]),
                     fmt_ratio(s["x_untraced_" + RK]) if c != base else "1.00",
                     fmt_ratio(s["x_floor_" + RK]) if not c.startswith(("untraced", "floor")) and c != "bystander" else "-",
                     fmt_ratio(s["memleak_added_over_this_" + RK]),
                     fmt_ratio(s["bpftrace_added_over_this_" + RK]),
                     fmt_ns(med(s["tracer_cpu"])) if s["tracer_cpu"] else "-"])
    lines.extend("  " + l for l in table(header, rows))
    # what the tracer counted against what the workload called
    for c in conds:
        if c not in MS_CONDS and c != "bystander":
            continue
        ok = [r for r in runs if r["cond"] == c and r["ok"] and not r.get("contaminated")]
        if not ok:
            continue
        deltas, lost, miss = {}, 0, 0
        for r in ok:
            fin = r.get("tracer_final") or {}
            lost += fin.get("events_lost", 0) or 0
            if c == "bystander":
                continue
            p = proc_of(fin, r["result"]["pid"])
            if not p:
                miss += 1
                continue
            for fn, n in r["result"].get("calls", {}).items():
                deltas.setdefault(fn, []).append(p.get("by_func", {}).get(fn, 0) - n)
        if c == "bystander":
            seen = sorted({p.get("pid") for r in ok for p in (r.get("tracer_final") or {}).get("processes", [])
                           if p.get("pid") == r["result"]["pid"]})
            lines.append("    %s: the bystander's pid in the tracer's output: %s; bystander hit by "
                         "uprobes in %d of %d runs; events lost %d"
                         % (c, "yes (!)" if seen else "no", st[c]["uprobes_mapped"], len(ok), lost))
            continue
        parts = ["%s %+d..%+d" % (fn, min(v), max(v)) for fn, v in deltas.items()]
        lines.append("    %s counted - workload called (per run, by_func): %s; events lost %d%s"
                     % (c, ", ".join(parts) or "-", lost,
                        "; workload pid missing from %d final records" % miss if miss else ""))
    for c in conds:
        for e in st[c]["errors"]:
            lines.append("    %s: %s" % (c, e))
    foreign_line(runs, lines)
    summary[group] = {c: {k: v for k, v in s.items()} for c, s in st.items()}
    if group == "pairs/1":
        ms = st.get("memscope", {})
        targets.append(("pairs/1: memscope-bpf per pair vs the floor at its points (%s)" % RK,
                        ms.get("x_floor_" + RK), "<= 1.30", lambda x: x <= 1.3))
        targets.append(("pairs/1: memleak-bpfcc added time / memscope-bpf's (%s)" % RK,
                        ms.get("memleak_added_over_this_" + RK), ">= 5", lambda x: x >= 5))
        targets.append(("pairs/1: bpftrace added time / memscope-bpf's (%s)" % RK,
                        ms.get("bpftrace_added_over_this_" + RK), ">= 4", lambda x: x >= 4))
    if group in ("pairs/1", "pairs/2") and "inproc-block" in st:
        # issue 20: the default for a COMMAND, exact, at most 40 ns added a pair
        ib = st["inproc-block"]
        targets.append(("%s: memscope-bpf -- (in-process, block: exact) ns added per pair (%s)"
                        % (group, RK), ib.get("added_" + RK), "<= 40", lambda x: x <= 40))
        if ib.get("added_" + RK) is not None and st.get("heaptrack", {}).get("added_" + RK):
            targets.append(("%s: the same / heaptrack's added ns (%s)" % (group, RK),
                            ratio(ib["added_" + RK], st["heaptrack"]["added_" + RK]), "< 1",
                            lambda x: x < 1))
    if group in ("pairs/1", "pairs/2", "mix/1") and "inproc-stacks" in st:
        # issue 20: --stacks for a COMMAND in the process, against the BPF walk and heaptrack
        ist = st["inproc-stacks"]
        for other, what in (("memscope-stacks", "the BPF programs' walk (-p --stacks)"),
                            ("heaptrack", "heaptrack's")):
            if ist.get("added_" + RK) is not None and st.get(other, {}).get("added_" + RK):
                targets.append(("%s: --stacks in-process added ns / %s (%s)" % (group, what, RK),
                                ratio(ist["added_" + RK], st[other]["added_" + RK]), "< 1",
                                lambda x: x < 1))
    if group == "bystander":
        b, u = st.get("bystander", {}), st.get("untraced-sys", {})
        overlap = bool(b.get(RK) and u.get(RK)) and \
            min(b[RK]) <= max(u[RK]) and min(u[RK]) <= max(b[RK])
        targets.append(("bystander: untraced process while another is traced, vs untraced (%s)" % RK,
                        b.get("x_untraced_" + RK), "1.00 within noise (ranges overlap: %s)"
                        % ("yes" if overlap else "no"), lambda x: overlap or abs(x - 1) <= 0.05))


def python_group(runs, lines, summary, targets):
    conds = conds_of(runs)
    st = {}
    for c in conds:
        ok = [r for r in runs if r["cond"] == c and r["ok"] and not r.get("contaminated")]
        s = {"n": len(ok),
             "script_s": [r["result"]["script"]["elapsed_s"] for r in ok],
             "script_cpu_s": [r["result"]["script"].get("cpu_s") for r in ok
                              if r["result"]["script"].get("cpu_s") is not None],
             "wall_s": [r["result"]["command_wall_s"] for r in ok],
             "errors": sorted({r["error"] for r in runs if r["cond"] == c and not r["ok"]})}
        fins = [r["tracer_final"] for r in ok if r.get("tracer_final")]
        s["allocs"] = [sum(p.get("allocs", 0) for p in f.get("processes", [])) for f in fins]
        s["frees"] = [sum(p.get("frees", 0) for p in f.get("processes", [])) for f in fins]
        s["events_lost"] = sum(f.get("events_lost", 0) or 0 for f in fins)
        if c in STACK_CONDS:
            # the tracer follows what python3 starts too: only python's own stacks count
            s["stacks"] = stack_figures(ok, lambda r, p: (p.get("comm") or "").startswith("python"))
        st[c] = s
    u = st.get("untraced", {})
    for c, s in st.items():
        s["x_untraced_script"] = ratio(med(s["script_s"]), med(u.get("script_s", [])))
        s["x_untraced_script_cpu"] = ratio(med(s["script_cpu_s"]), med(u.get("script_cpu_s", [])))
        s["x_untraced_wall"] = ratio(med(s["wall_s"]), med(u.get("wall_s", [])))
    lines.append("")
    lines.append("CPython running bench/py_alloc.py (libc's allocator; pymalloc above it)")
    f3 = lambda x: "%.3f" % x
    header = ["condition", "n", "script s median [min-max]", "script cpu s median [min-max]",
              "command s median [min-max]", "x untraced: script", "script cpu", "command",
              "allocs counted", "frees counted", "lost"]
    rows = []
    labels = dict(LABELS, **{"memscope": "memscope-bpf --bpf --", "memscope-stacks": "memscope-bpf --bpf --stacks --"})
    for c in conds:
        s = st[c]
        if not s["n"]:
            rows.append([labels.get(c, c), "0", "unavailable", "", "", "", "", "", "", "", ""])
            continue
        rows.append([labels.get(c, c), str(s["n"]),
                     fmt_spread(s["script_s"], f3), fmt_spread(s["script_cpu_s"], f3),
                     fmt_spread(s["wall_s"], f3),
                     fmt_ratio(s["x_untraced_script"]), fmt_ratio(s["x_untraced_script_cpu"]),
                     fmt_ratio(s["x_untraced_wall"]),
                     "{:,.0f}".format(med(s["allocs"])) if s["allocs"] else "-",
                     "{:,.0f}".format(med(s["frees"])) if s["frees"] else "-",
                     str(s["events_lost"]) if s["allocs"] else "-"])
    lines.extend("  " + l for l in table(header, rows))
    for c in conds:
        for e in st[c]["errors"]:
            lines.append("    %s: %s" % (c, e))
    foreign_line(runs, lines)
    summary["python"] = st
    ms = st.get("memscope", {})
    targets.append(("python: memscope-bpf --bpf -- python3 wall time vs untraced (whole command)",
                    ms.get("x_untraced_wall"), "<= 3.00", lambda x: x <= 3))
    targets.append(("python: the same, the script's own timer",
                    ms.get("x_untraced_script"), "<= 3.00", lambda x: x <= 3))
    targets.append(("python: the same, the script's CPU time",
                    ms.get("x_untraced_script_cpu"), "<= 3.00", lambda x: x <= 3))
    if "inproc-block" in st:
        targets.append(("python: memscope-bpf -- python3 (in-process, block: exact) script time "
                        "vs untraced", st["inproc-block"].get("x_untraced_script"), "<= 1.50",
                        lambda x: x <= 1.5))


def redis_groups(groups, lines, summary, targets):
    lines.append("")
    lines.append("redis-server (Debian, jemalloc) under redis-benchmark -t set,get,lpush,lpop -c 20: "
                 "requests/s of the four tests together")
    header = ["condition", "-P", "n", "requests/s median [min-max]", "x untraced",
              "tracer cpu s", "allocs", "frees", "live", "allocs-frees=live", "lost"]
    rows, errors, bases = [], [], set()
    for g, runs in groups:
        pl = g.split("-P")[1]
        st = {}
        conds = [c for c in ("untraced", "floor-entry", "floor", "memscope", "memscope-stacks")
                 + REDIS_LAUNCHED
                 if c == "untraced" or any(r["cond"] == c for r in runs)]
        for c in conds:
            ok = [r for r in runs if r["cond"] == c and r["ok"]]
            s = {"n": len(ok), "rps": [r["result"]["rps"] for r in ok],
                 "tracer_cpu_s": [r["tracer_cpu_s"] for r in ok if r.get("tracer_cpu_s") is not None]}
            fins = [r["tracer_final"] for r in ok if r.get("tracer_final")]
            procs = [p for f in fins for p in f.get("processes", [])]
            s["allocs"] = [p.get("allocs", 0) for p in procs]
            s["frees"] = [p.get("frees", 0) for p in procs]
            s["live_allocs"] = [p.get("live_allocs", 0) for p in procs]
            s["balanced"] = [p.get("allocs", 0) - p.get("frees", 0) == p.get("live_allocs", 0)
                             for p in procs]
            s["by_func"] = [p.get("by_func", {}) for p in procs]
            s["events_lost"] = sum(f.get("events_lost", 0) or 0 for f in fins)
            s["final_records"] = len(fins)
            if c in STACK_CONDS:
                s["stacks"] = stack_figures(ok, lambda r, p: p.get("pid") == r["result"].get("pid"))
            errors += ["    -P %s %s: %s" % (pl, c, e) for e in
                       sorted({r["error"] for r in runs if r["cond"] == c and not r["ok"]})]
            st[c] = s
        # a launched row against the launched baseline (the long-lived server when there is
        # none); the launched baseline against the long-lived server: is a fresh one as fast?
        launched_base = "untraced-launched" if st.get("untraced-launched", {}).get("n") else "untraced"
        bases.add(launched_base)
        for c in conds:
            base = launched_base if c in REDIS_LAUNCHED[1:] else "untraced"
            st[c]["baseline"] = base
            st[c]["x_untraced"] = ratio(med(st[c]["rps"]), med(st[base]["rps"]))
        for c in conds:
            s = st[c]
            label = REDIS_LABELS[c]
            if not s["n"]:
                rows.append([label, pl, "0", "unavailable", "", "", "", "", "", "", ""])
                continue
            rows.append([label, pl, str(s["n"]), fmt_spread(s["rps"], lambda x: "{:,.0f}".format(x)),
                         fmt_ratio(s.get("x_untraced")) if c != "untraced" else "1.00",
                         "%.2f" % med(s["tracer_cpu_s"]) if s["tracer_cpu_s"] else "-",
                         "%d" % med(s["allocs"]) if s["allocs"] else "-",
                         "%d" % med(s["frees"]) if s["frees"] else "-",
                         "%d" % med(s["live_allocs"]) if s["live_allocs"] else "-",
                         ("%d/%d runs" % (sum(s["balanced"]), len(s["balanced"])))
                         if s["balanced"] else "-",
                         str(s["events_lost"]) if c.startswith(("memscope", "inproc")) and s["final_records"]
                         else "-"])
        summary[g] = st
        if "memscope" in st:
            targets.append(("redis -P %s: throughput with memscope-bpf -p vs untraced" % pl,
                            st["memscope"].get("x_untraced"),
                            ">= %s" % ("0.60" if pl == "1" else "0.09"),
                            (lambda x: x >= 0.6) if pl == "1" else (lambda x: x >= 0.09)))
        if "inproc-block" in st:
            targets.append(("redis -P %s: memscope-bpf -- redis-server (in-process, block: exact) "
                            "vs untraced launched" % pl, st["inproc-block"].get("x_untraced"),
                            ">= 0.90", lambda x: x >= 0.9))
    lines.extend("  " + l for l in table(header, rows))
    if any(r["cond"] in REDIS_LAUNCHED for _, runs in groups for r in runs):
        lines.append("    launched rows: each run starts its own redis-server under the row's command and "
                     "shuts it down after (their counts include its start-up); their x untraced is "
                     "against %s%s"
                     % (" or ".join("'%s'" % REDIS_LABELS[b].split(":")[0] for b in sorted(bases)),
                        ", whose own is against the long-lived 'untraced'"
                        if "untraced-launched" in bases else ""))
    writer = [(g.split("-P")[1], r["result"]["writer"].get("records")) for g, runs in groups
              for r in runs if r["cond"] == "inproc-writer" and r["ok"] and r["result"].get("writer")]
    if writer:
        lines.append("    in-process libraries, a reader with no statistics: what memscope-bpf -- "
                     "redis-server preloads, its records read (copied out, named, timed) by "
                     "bench/writer.c and dropped: the in-process cost apart from the daemon's "
                     "statistics; records read a run: %s"
                     % ", ".join("-P %s %s" % (pl, "{:,}".format(int(med([n for p, n in writer if p == pl]))))
                                 for pl in sorted({p for p, _ in writer}, key=int)))
    lines.extend(errors)
    foreign_line([r for _, runs in groups for r in runs], lines)


def stacks_table(lines, summary):
    """The share of --stacks allocations whose stack reached the thread's start, by workload,
    beside what --stacks costs there: a cheap unwinder that stops early would look good on cost
    alone (the cost is each section's own ratio to untraced)"""
    cost = lambda s, k, what: "x%s %s" % (fmt_ratio(s[k]), what) if s.get(k) is not None else "-"
    rows, out = [], []
    for g in ("pairs/1", "pairs/2", "mix/1", "python", "redis-P1", "redis-P16"):
        for c, label in STACK_CONDS.items():
            s = summary.get(g, {}).get(c)
            if not s or "stacks" not in s:
                continue
            f = s["stacks"]
            if g == "python":
                where, x = "python3 py_alloc.py", cost(s, "x_untraced_wall", "command time")
            elif g.startswith("redis"):
                where, x = "redis-server -P " + g.split("-P")[1], cost(s, "x_untraced", "requests/s")
            else:
                where, x = g, cost(s, "x_untraced_" + RK, RK + " ns/op")
            out.append({"workload": g, "cond": c, "n": f["n"], "share_median": f["share_median"],
                        "stack_allocs_median": med(f["stack_allocs"]), "cost": x})
            if not f["n"]:
                rows.append([where, label, "0", "no stack figures in the tracer's output", "", "", "", "", x])
                continue
            rows.append([where, label, str(f["n"]),
                         fmt_spread(f["share"], lambda v: "%.2f%%" % (100 * v)),
                         "{:,.0f}".format(med(f["stack_allocs"])),
                         "{:,.0f}".format(med(f["truncated_allocs"])),
                         "{:,.0f}".format(med(f["stacks"])),
                         "{:,.0f}".format(med(f["truncated_stacks"])), x])
    summary["stacks_reaching_thread_start"] = out
    if not rows:
        return
    lines.append("")
    lines.append("stacks reaching the thread's start: 1 - truncated_allocs / stack_allocs of the "
                 "traced program's processes (sites in the final record), median [min-max] over "
                 "rounds; --sample-bytes allocs are estimates")
    lines.extend("  " + l for l in table(
        ["workload", "memscope-bpf", "n", "reaching thread start", "stack allocs",
         "truncated allocs", "stacks", "truncated stacks", "cost vs untraced"], rows))


def unwind_group(runs, lines, summary):
    """what a stack costs walked in the allocating process: ns per stack, frames found"""
    keys = list(dict.fromkeys((r["result"]["path"], r["result"]["depth"], r["result"]["way"])
                              for r in runs if r["ok"]))
    lines.append("")
    lines.append("stacks walked in the process itself (bench/unwind.c): ns per stack at one leaf")
    rows, summ = [], []
    for path, depth, way in keys:
        rs = [r["result"] for r in runs if r["ok"] and (r["result"]["path"], r["result"]["depth"],
                                                        r["result"]["way"]) == (path, depth, way)]
        ns = [x["ns_per_stack"] for x in rs]
        rows.append([path, str(depth), way, str(len(rs)), fmt_spread(ns, lambda x: "%.1f" % x),
                     str(rs[-1]["frames"]), "yes" if all(x["reaches_main"] for x in rs) else "no"])
        summ.append({"path": path, "depth": depth, "way": way, "ns_per_stack": ns,
                     "frames": rs[-1]["frames"], "reaches_main": rs[-1]["reaches_main"]})
    lines.extend("  " + l for l in table(["path", "depth", "way", "n", "ns median [min-max]",
                                          "frames", "reaches main"], rows))
    summary["unwind"] = summ


def daemon_group(runs, lines, summary):
    """the daemon's own work a record (bench/daemon.c): its statistics, and with the merge"""
    keys = list(dict.fromkeys((r["result"]["stream"], r["result"]["part"])
                              for r in runs if r["ok"]))
    lines.append("")
    lines.append("the daemon's own work, ns per record (bench/daemon.c); in-process block mode "
                 "cannot cost a malloc+free pair less than two records of it")
    rows, summ = [], []
    for stream, part in keys:
        ns = [r["result"]["ns_per_record"] for r in runs if r["ok"] and
              (r["result"]["stream"], r["result"]["part"]) == (stream, part)]
        rows.append([stream, part, str(len(ns)), fmt_spread(ns, lambda x: "%.1f" % x),
                     "%.1f" % (2 * statistics.median(ns))])
        summ.append({"stream": stream, "part": part, "ns_per_record": ns})
    lines.extend("  " + l for l in table(["stream", "part", "n", "ns median [min-max]",
                                          "2 records"], rows))
    summary["daemon"] = summ


def writer_group(runs, lines, summary):
    """the in-process writer apart from the daemon's statistics (bench/writer.c): pairs with
    a reader that only moves the tails (skip) or only reads (read); added over the micro
    section's untraced median of the same threads"""
    keys = list(dict.fromkeys((r["threads"], r["result"]["mode"]) for r in runs if r["ok"]))
    lines.append("")
    lines.append("the in-process writer's floor, pairs (bench/writer.c): the library writing "
                 "its records, read by nothing but the tails (skip) or read and dropped "
                 "(read); block mode cannot cost less, whatever the daemon does")
    rows, summ = [], []
    for t, mode in keys:
        rs = [r["result"] for r in runs if r["ok"] and (r["threads"], r["result"]["mode"]) == (t, mode)]
        cpu = [x["workload"]["cpu_ns_per_op"] for x in rs]
        tsc = [x["tsc_read_ns"] for x in rs]
        base = summary.get("pairs/%d" % t, {}).get("untraced", {}).get("cpu_median")
        added = None if base is None else med(cpu) - base
        rows.append([str(t), mode, str(len(rs)), fmt_spread(cpu, lambda x: "%.1f" % x),
                     "-" if added is None else "%.1f" % added, "%.1f" % med(tsc)])
        summ.append({"threads": t, "mode": mode, "cpu_ns_per_pair": cpu, "added": added,
                     "tsc_read_ns": tsc})
    lines.extend("  " + l for l in table(["threads", "reader", "n", "cpu ns/pair median [min-max]",
                                          "added over untraced", "ns a TSC read (2 a pair)"], rows))
    for e in sorted({r["error"] for r in runs if not r["ok"] and r.get("error")}):
        lines.append("    %s" % e)
    summary["writer"] = summ


def replay_group(runs, lines, summary, targets):
    ok = [r for r in runs if r["ok"]]
    rates = [r["tracer_final"]["events"] / r["result"]["wall_s"] for r in ok
             if r["result"]["wall_s"] > 0 and r.get("tracer_final")]
    lines.append("")
    lines.append("the daemon alone: memscope-bpf --replay of a recorded stream")
    rows = [[LABELS["memscope-replay"], str(len(rates)),
             fmt_spread(rates, lambda x: "{:,.0f}".format(x)) if rates else "unavailable"]]
    lines.extend("  " + l for l in table(["condition", "n", "records/s median [min-max]"], rows))
    for e in sorted({r["error"] for r in runs if not r["ok"]}):
        lines.append("    %s" % e)
    summary["replay"] = {"records_per_s": rates}
    targets.append(("daemon: --replay records per second", med(rates), ">= 5,000,000",
                    lambda x: x >= 5e6))


def main():
    work, out = sys.argv[1], sys.argv[2]
    meta = read_meta(work)
    runs = []
    with open(os.path.join(work, "runs.jsonl")) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))
    by_group = {}
    for r in runs:
        by_group.setdefault(r["group"], []).append(r)

    lines = ["memscope-bpf bench: %s rounds, %s s per micro run, interleaved; %s CPUs (%s); "
             "kernel %s; memscope-bpf %s"
             % (meta.get("rounds"), meta.get("duration_s"), meta.get("cpus"), meta.get("cpu_model"),
                meta.get("kernel"), meta.get("memscope_commit")),
             "load average at start: %s; at end: %s; run took %s s"
             % (" ".join(meta.get("loadavg_start", "").split()[:3]),
                " ".join(meta.get("loadavg_end", "").split()[:3]), meta.get("elapsed_s")),
             "1-minute load average after each round: %s (2 CPUs shared with other work: "
             "wall above cpu, and wide [min-max], are that noise)"
             % (", ".join(l.split(": ")[1].split()[0] for l in
                          meta.get("loadavg_rounds", "").splitlines() if ": " in l) or "-"),
             "micro ratios are of medians of the workload threads' CPU time (wall ratios: JSON); "
             "'added' = condition - untraced; "
             "'memleak added/this' = memleak's added time / this row's"]
    summary, targets = {}, []
    for g in ("pairs/1", "pairs/2", "mix/1", "bystander"):
        if g in by_group:
            micro_group(g, by_group[g], lines, summary, targets)
    if "python" in by_group:
        python_group(by_group["python"], lines, summary, targets)
    rg = [(g, by_group[g]) for g in ("redis-P1", "redis-P16") if g in by_group]
    if rg:
        redis_groups(rg, lines, summary, targets)
    stacks_table(lines, summary)
    if "replay" in by_group:
        replay_group(by_group["replay"], lines, summary, targets)
    if "unwind" in by_group:
        unwind_group(by_group["unwind"], lines, summary)
    if "daemon" in by_group:
        daemon_group(by_group["daemon"], lines, summary)
    if "writer" in by_group:
        writer_group(by_group["writer"], lines, summary)

    lines.append("")
    lines.append("targets (issues 3, 10 and 20)")
    trows = []
    tjson = []
    for name, val, want, ok in targets:
        met = None if val is None else bool(ok(val))
        trows.append([name, fmt_ratio(val) if val is not None and val < 1e5 else
                      ("{:,.0f}".format(val) if val is not None else "-"), want,
                      {None: "not measured", True: "met", False: "NOT met"}[met]])
        tjson.append({"target": name, "value": val, "want": want, "met": met})
    lines.extend("  " + l for l in table(["target", "measured", "wanted", ""], trows))
    notes = meta.get("notes", [])
    if notes:
        lines.append("")
        lines.append("notes")
        lines.extend("  - " + n for n in notes)
    text = "\n".join(lines)
    print(text)
    with open(out, "w") as f:
        json.dump({"meta": meta, "summary": summary, "targets": tjson, "runs": runs,
                   "table": text}, f, indent=1)
        f.write("\n")
    print("\n(all figures: %s)" % out)


main()
