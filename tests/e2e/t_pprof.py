# t_pprof.py: heap profiles in pprof's format (issue 18), read back by Debian's
# `go tool pprof` (golang-go) as the oracle; a test module imported by run.py.
#
# leaks_nofp.c leaks 40-byte blocks through ingest_orders and 56-byte ones through
# cache_sessions, and allocates and frees 24-byte ones through serve_requests: go tool pprof
# must find, per function, the inuse and alloc figures the workload knows it made, for the
# one process -tagfocus pid=N selects out of two traced; the profile served at
# /debug/pprof/heap equals the --pprof file written at the end; bad requests get their
# status and tracing goes on; --pprof-dir writes one profile per process per record.

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import time

from harness import Check, Fail, Skip, test
from harness import EXIT_TIMEOUT
from run import WINDOW_TIMEOUT, WL_SRC, ground_truth, http_get, tracer_url, wait_attached

INGEST, CACHE, SERVED = 300, 120, 50  # blocks of 40, 56 (kept) and 24 bytes (freed)
TYPES = ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")


def go_pprof(args, env=None, timeout=120):
    """go tool pprof ARGS: its stdout; Skip without go, Fail when it fails"""
    go = shutil.which("go")
    if not go:
        raise Skip("no go tool (apt-get install golang-go: make deps)")
    r = subprocess.run([go, "tool", "pprof", "-symbolize=none"] + args, capture_output=True,
                       text=True, timeout=timeout, env=env)
    if r.returncode != 0:
        raise Fail("go tool pprof %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                      r.stderr[-500:]))
    return r.stdout


def upstream_pprof(ctx):
    """pprof itself, built (offline, GOPATH mode) from the source Debian's
    golang-github-google-pprof-dev ships: go tool pprof's copy disassembles only
    non-PIE Go binaries (its ObjAddr does not translate addresses), this one any ELF"""
    src = "/usr/share/gocode/src/github.com/google/pprof"
    if not os.path.isdir(src) or not shutil.which("go"):
        raise Skip("no pprof source or go (make deps: golang-github-google-pprof-dev)")
    out = os.path.join(ctx.tmpdir(), "pprof")
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOFLAGS="",
               GOCACHE=os.path.join(ctx.tmpdir(), "gocache"))
    r = subprocess.run(["go", "build", "-o", out, "github.com/google/pprof"], env=env,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise Fail("go build github.com/google/pprof: %s" % r.stderr[-500:])
    return out


def parse_raw(text):
    """go tool pprof -raw's output: (types, default type, period, samples), each sample
    (values, [[function, ...] per location, innermost first], {label: value})"""
    types, dflt, period, samples, locs = [], None, None, [], {}
    section, cur, last_loc = None, None, None
    for line in text.splitlines():
        if line.startswith("Period: "):
            period = int(line.split()[1])
        if line in ("Samples:", "Locations", "Mappings"):
            section = line
            continue
        if section == "Samples:":
            if not types:
                for t in line.split():
                    name = t.split("/")[0].replace("[dflt]", "")
                    types.append(name)
                    if t.endswith("[dflt]"):
                        dflt = name
                continue
            m = re.match(r"^\s+([-\d ]+):((?: \d+)*)\s*$", line)
            if m:
                cur = ([int(v) for v in m.group(1).split()], [int(i) for i in
                                                              m.group(2).split()], {})
                samples.append(cur)
                continue
            for k, v in re.findall(r"(\w+):\[([^\]]*)\]", line):
                cur[2][k] = v
        elif section == "Locations":
            m = re.match(r"^\s+(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(.*)$", line)
            if m:
                last_loc = int(m.group(1))
                locs[last_loc] = [fn_of(m.group(2))]
            elif line.strip() and last_loc is not None:
                locs[last_loc].append(fn_of(line.strip()))
    return types, dflt, period, [(v, [locs.get(i, ["?"]) for i in ids], labels)
                                 for v, ids, labels in samples]


def fn_of(entry):
    """A location line's function: 'fn file.c:12 s=0' or 'fn s=0'"""
    entry = re.sub(r" s=\d+$", "", entry)
    return re.sub(r" \S+:\d+$", "", entry)


def by_function(samples, pid=None):
    """Each function's cumulative values (once per sample however often it is in it)"""
    out = {}
    for values, stack, labels in samples:
        if pid is not None and labels.get("pid") != str(pid):
            continue
        for fn in {f for loc in stack for f in loc}:
            acc = out.setdefault(fn, [0, 0, 0, 0])
            for k in range(4):
                acc[k] += values[k]
    return out


WANT = {  # function -> alloc_objects, alloc_space, inuse_objects, inuse_space
    "ingest_orders": [INGEST, 40 * INGEST, INGEST, 40 * INGEST],
    "cache_sessions": [CACHE, 56 * CACHE, CACHE, 56 * CACHE],
    "serve_requests": [SERVED, 24 * SERVED, 0, 0],
}


def start_nofp(ctx, ingest=INGEST, cache=CACHE):
    return ctx.workload("leaks_nofp", ingest, cache)


def finish(w, tr):
    """Stops the tracer (0 expected), lets the workload go: the tracer's records"""
    tr.signal(signal.SIGINT)
    rc = tr.wait_exit(EXIT_TIMEOUT)
    w.signal(signal.SIGUSR2)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s): %s" % (rc, tr.stderr_text()))
    return [json.loads(l) for l in tr.out() if l.startswith("{")]


@test
def pprof_file_by_go_tool_pprof(ctx):
    """--pprof: go tool pprof reads each function's inuse and alloc figures equal to what
    leaks_nofp did, for the process -tagfocus pid=N selects out of two, as the JSON says"""
    prof = os.path.join(ctx.tmpdir(), "heap.pb.gz")
    w1, w2 = start_nofp(ctx), start_nofp(ctx, 10, 20)
    tr = ctx.tracer(["--json", "--stacks", "--pprof", prof, "-p", "%d,%d" % (w1.pid, w2.pid)])
    wait_attached(tr)
    for w in (w1, w2):
        w.signal(signal.SIGUSR1)
        ground_truth(w)
    tr.signal(signal.SIGINT)
    rc = tr.wait_exit(EXIT_TIMEOUT)
    for w in (w1, w2):
        w.signal(signal.SIGUSR2)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s): %s" % (rc, tr.stderr_text()))
    final = next(json.loads(l) for l in tr.out() if '"type":"final"' in l)
    c = Check()
    types, dflt, period, samples = parse_raw(go_pprof(["-raw", prof]))
    c.eq("sample types", list(TYPES), types)
    c.eq("default sample type, period", ["inuse_space", 1], [dflt, period])
    got = by_function(samples, w1.pid)
    for fn, want in WANT.items():
        c.eq("pid %d: %s: %s" % (w1.pid, fn, "/".join(TYPES)), want, got.get(fn))
    other = by_function(samples, w2.pid)
    c.eq("pid %d: ingest_orders" % w2.pid, [10, 400, 10, 400], other.get("ingest_orders"))
    for values, stack, labels in samples:
        c.true(labels.get("comm") == "leaks_nofp" and labels.get("allocator") == "libc",
               "labels comm and allocator: %r" % labels)
    # the totals per process equal the JSON's sites
    for w in (w1, w2):
        p = next(q for q in final["processes"] if q["pid"] == w.pid)
        tot = [sum(v[k] for v, _, lb in samples if lb.get("pid") == str(w.pid))
               for k in range(4)]
        c.eq("pid %d: profile totals = the JSON's allocs, alloc_bytes, live_allocs, live_bytes"
             % w.pid, [p["allocs"], p["alloc_bytes"], p["live_allocs"], p["live_bytes"]], tot)
    # pprof's own views: -tagfocus picks the process, -top its functions' inuse bytes
    top = go_pprof(["-top", "-unit=B", "-nodefraction=0", "-sample_index=inuse_space",
                    "-tagfocus", "pid=%d" % w1.pid, prof])
    for fn in ("ingest_orders", "cache_sessions"):
        m = re.search(r"^\s*\S+\s+\S+\s+\S+\s+(\d+)B\s+\S+\s+%s$" % fn, top, re.M)
        c.eq("-top -tagfocus pid=%d: %s cum" % (w1.pid, fn), WANT[fn][3],
             int(m.group(1)) if m else top)
    c.true("serve_requests" not in top, "-top inuse_space: serve_requests holds nothing")
    # -traces: the process' stacks, the inlined malloc first, down to _start
    traces = go_pprof(["-traces", "-tagfocus", "pid=%d" % w1.pid, prof])
    c.true(re.search(r"alloc_node \(inline\)\n\s+wrap_alloc\n\s+make_node\n\s+grow_table\n"
                     r"\s+ingest_orders\n\s+main\n", traces),
           "-traces: ingest_orders' stack: %s" % traces[:800])
    # -list (the source, found by the whole path the lines carry) and -disasm (the binary,
    # found through the mapping)
    focus = ["-unit=B", "-tagfocus", "pid=%d" % w1.pid]
    listing = go_pprof(["-list", "^ingest_orders$"] + focus + [prof])
    c.true(os.path.join(WL_SRC, "leaks_nofp.c") in listing,
           "-list: the source by its whole path: %s" % listing[:300])
    c.true(re.search(r"^\s+\.\s+%dB\s+\d+:\s+grow_table\(n, 40, 0x1000\);" % (40 * INGEST),
                     listing, re.M),
           "-list ingest_orders: its call of grow_table holds %d B: %s" % (40 * INGEST,
                                                                         listing[:600]))
    # (this pprof takes a binary's load address from the first address it is asked to
    # translate, even one of another mapping: the C library's frames are hidden)
    r = subprocess.run([upstream_pprof(ctx), "-disasm", "wrap_alloc", "-hide", "__libc_start"] +
                       focus + [prof],
                       capture_output=True, text=True, timeout=120)
    live = 40 * INGEST + 56 * CACHE
    c.true("ROUTINE ======================== wrap_alloc" in r.stdout and
           re.search(r"call\w*\s+0x[0-9a-f]+ <malloc@plt>", r.stdout) and
           re.search(r"^\s+%dB\s+%dB\s+[0-9a-f]+: " % (live, live), r.stdout, re.M),
           "pprof -disasm wrap_alloc: the instruction after its malloc call holds the live "
           "bytes: %s %s" % (r.stdout[:800], r.stderr[-300:]))
    c.true(re.search(r"Showing nodes accounting for %dB, " % (40 * INGEST + 56 * CACHE), top),
           "-tagfocus pid=%d: the process' inuse bytes: %s" % (w1.pid, top[:500]))
    c.done()


def raw_view(text, pid):
    """The samples of pid in go tool pprof -raw's output, comparable across profiles"""
    _, dflt, period, samples = parse_raw(text)
    return dflt, period, sorted((v, s, sorted(lb.items())) for v, s, lb in samples
                                if lb.get("pid") == str(pid))


@test
def pprof_endpoints(ctx):
    """/debug/pprof/heap and /allocs on --prometheus' server: go tool pprof reads them over
    HTTP, ?pid= and ?comm= select, the profile equals the --pprof file of the same moment;
    bad requests get 400, 404, 405, HEAD 200 without a body, and tracing goes on"""
    prof = os.path.join(ctx.tmpdir(), "end.pb.gz")
    w = start_nofp(ctx)
    tr = ctx.tracer(["--json", "-i", "0.2", "--stacks", "--pprof", prof, "--prometheus",
                     "127.0.0.1:0", "-p", str(w.pid)])
    base = tracer_url(tr).rsplit("/metrics", 1)[0]
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    ground_truth(w)
    n = INGEST + CACHE + SERVED
    # a record with every call, then the next: the profile served is of that moment
    _, at = tr.wait_line("out", lambda l: '"allocs":%d,' % n in l, WINDOW_TIMEOUT,
                         "a record with all of leaks_nofp's calls")
    tr.wait_line("out", lambda l: l.startswith('{"type":"interval"'), WINDOW_TIMEOUT,
                 "the record after it", at + 1)
    c = Check()
    env = dict(os.environ, PPROF_TMPDIR=ctx.tmpdir(), HOME=ctx.tmpdir())
    heap = go_pprof(["-raw", base + "/debug/pprof/heap"], env)
    one = go_pprof(["-raw", base + "/debug/pprof/heap?pid=%d" % w.pid], env)
    allocs = go_pprof(["-raw", base + "/debug/pprof/allocs?comm=leaks_nofp"], env)
    c.eq("/debug/pprof/heap: default inuse_space", "inuse_space", parse_raw(heap)[1])
    c.eq("/debug/pprof/allocs: default alloc_space", "alloc_space", parse_raw(allocs)[1])
    got = by_function(parse_raw(one)[3])
    for fn, want in WANT.items():
        c.eq("heap?pid=%d: %s" % (w.pid, fn), want, got.get(fn))
    # bad requests, and what they must not do
    for what, url, method, status in (
            ("a pid that is no number", "/debug/pprof/heap?pid=abc", "GET", 400),
            ("a pid not traced", "/debug/pprof/heap?pid=999999", "GET", 404),
            ("a comm not traced", "/debug/pprof/allocs?comm=nosuch", "GET", 404),
            ("debug=1 (text)", "/debug/pprof/heap?debug=1", "GET", 400),
            ("seconds (a delta)", "/debug/pprof/allocs?seconds=5", "GET", 400),
            ("POST", "/debug/pprof/heap", "POST", 405),
            ("another path", "/debug/pprof/goroutine", "GET", 404)):
        st, _, body = http_get(base + url, method)
        c.eq("%s: status" % what, status, st)
    st, headers, body = http_get(base + "/debug/pprof/heap", "HEAD")
    c.eq("HEAD: status, body length", [200, 0], [st, len(body)])
    c.eq("content type", "application/octet-stream",
         http_get(base + "/debug/pprof/heap")[1].get("Content-Type"))
    live = go_pprof(["-raw", base + "/debug/pprof/heap?pid=%d" % w.pid], env)
    recs = finish(w, tr)
    final = next(r for r in recs if r.get("type") == "final")
    p = next(q for q in final["processes"] if q["pid"] == w.pid)
    c.eq("tracing went on: the final record's allocs", n, p.get("allocs"))
    c.eq("the endpoint's profile = the --pprof file's (nothing changed in between)",
         raw_view(go_pprof(["-raw", prof]), w.pid), raw_view(live, w.pid))
    c.done()


@test
def pprof_dir_per_record(ctx):
    """--pprof-dir: a profile per process per record, PID-COMM-TIME.pb.gz, each one
    go tool pprof reads, one file a record even when two come in the same millisecond; the
    last holds the final figures"""
    d = os.path.join(ctx.tmpdir(), "profiles")
    os.mkdir(d)
    w = start_nofp(ctx)
    tr = ctx.tracer(["--json", "-i", "0.3", "--stacks", "--pprof-dir", d, "-p", str(w.pid)])
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    ground_truth(w)
    _, at = tr.wait_line("out", lambda l: '"allocs":%d,' % (INGEST + CACHE + SERVED) in l,
                         WINDOW_TIMEOUT, "a record with all of leaks_nofp's calls")
    recs = finish(w, tr)
    files = sorted(glob.glob(os.path.join(d, "*.pb.gz")))
    c = Check()
    c.true(len(files) >= 2, "profiles written: %r" % files)
    # one a record that has the process' stacks, the final one too: two records a
    # millisecond apart (the final right after an interval record) name two files
    with_stacks = [r for r in recs if r.get("type") in ("interval", "final") and any(
        p.get("pid") == w.pid and (p.get("sites") or {}).get("stacks")
        for p in r.get("processes", []))]
    c.eq("profiles written, one a record with the process' stacks", len(with_stacks),
         len(files))
    c.true(all(re.match(r"^%d-leaks_nofp-\d{8}T\d{6}\.\d{3}Z\.pb\.gz$" % w.pid,
                        os.path.basename(f)) for f in files), "names: %r" % files[:3])
    for f in files[:1] + files[-1:]:
        go_pprof(["-raw", f])
    got = by_function(parse_raw(go_pprof(["-raw", files[-1]]))[3])
    for fn, want in WANT.items():
        c.eq("the last profile: %s" % fn, want, got.get(fn))
    c.done()


@test
def pprof_prometheus_inproc(ctx):
    """A launched leaks_nofp with --stacks, its stacks walked in the process: the --pprof
    file and /debug/pprof/heap give each function's figures as leaks_nofp made them,
    /metrics has its series and no stack lost"""
    prof = os.path.join(ctx.tmpdir(), "inproc.pb.gz")
    tr = ctx.tracer(["--json", "-i", "0.2", "--stacks", "--pprof", prof, "--prometheus",
                     "127.0.0.1:0", "--", ctx.workload_path("leaks_nofp"), str(INGEST),
                     str(CACHE)])
    url = tracer_url(tr)
    base = url.rsplit("/metrics", 1)[0]
    line, _ = tr.wait_line("out", lambda l: l.startswith("ready "), 30, "the ready line")
    pid = int(line.split()[1])
    os.kill(pid, signal.SIGUSR1)
    tr.wait_line("out", lambda l: l.startswith('{"ingest"'), WINDOW_TIMEOUT, "ground truth")
    n = INGEST + CACHE + SERVED
    _, at = tr.wait_line("out", lambda l: '"allocs":%d,' % n in l, WINDOW_TIMEOUT,
                         "a record with all of leaks_nofp's calls")
    tr.wait_line("out", lambda l: l.startswith('{"type":"interval"'), WINDOW_TIMEOUT,
                 "the record after it", at + 1)
    c = Check()
    c.true(any("attached in-process" in l for l in tr.err()),
           "no 'attached in-process' line: %s" % tr.stderr_text())
    env = dict(os.environ, PPROF_TMPDIR=ctx.tmpdir(), HOME=ctx.tmpdir())
    got = by_function(parse_raw(go_pprof(["-raw", base + "/debug/pprof/heap?pid=%d" % pid],
                                         env))[3])
    for fn, want in WANT.items():
        c.eq("/debug/pprof/heap?pid=%d: %s" % (pid, fn), want, got.get(fn))
    st, _, body = http_get(url)
    text = body.decode() if isinstance(body, bytes) else body
    c.eq("/metrics: status", 200, st)
    c.true(re.search(r'^memscope_allocations_total\{[^}]*comm="leaks_nofp"[^}]*\} %d$' % n,
                     text, re.M), "/metrics: leaks_nofp's allocations %d: %s" % (
                         n, [l for l in text.splitlines() if "allocations_total" in l][:5]))
    c.true(re.search(r'^memscope_lost_events_total\{cause="stack_map_full"\} 0$', text, re.M),
           "/metrics: no stack lost")
    os.kill(pid, signal.SIGUSR2)
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s): %s" % (rc, tr.stderr_text()))
    got = by_function(parse_raw(go_pprof(["-raw", prof]))[3], pid)
    for fn, want in WANT.items():
        c.eq("--pprof file: %s" % fn, want, got.get(fn))
    c.done()
