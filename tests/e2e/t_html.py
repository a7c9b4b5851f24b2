# t_html.py: the --html page (issue 19), end to end; a test module imported by run.py.
#
# The page is built from the same JSON records --json prints, so the records (written with
# -o beside it) are the oracle for every figure on it, and the workloads' own counts (the
# demo's stderr line, a gated workload's ground truth, launched's ground truth per process)
# the oracle for the records. Each page must parse with every element closed in order, must
# load nothing from outside itself, and must embed the final record exactly as printed.
# Debian's chromium (make deps) loads the demo's page headless: no console error, the
# sections drawn, the page's script working (zoom, legend, icicle), one screenshot per
# section into build/html-shots/ (beside the tracer).

import hashlib
import json
import os
import re
import shutil
import signal
import struct
import time
import zlib
from html.parser import HTMLParser

from harness import EXIT_TIMEOUT, WINDOW_TIMEOUT, Check, Fail, Skip, run_cmd, test
from run import (check_records, compare_proc, ground_truth, stop_tracer, wait_attached,
                 world_executable)

SECTIONS = ("head", "processes", "timeline", "sizes", "pools", "numa", "sites", "leaks")
MS_HTML_TOP = 8  # html.h: processes drawn one by one on the timeline
MS_HTML_MARKS = 256  # html.h: exits and execs marked
MS_HTML_ENDED = 256  # html.h: ended processes kept for the tables
MAX_PAGE = 5 << 20  # bytes: a page for a few hundred processes stays well under this
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_TIMEOUT = 60  # s, each call
SHOT_W, SHOT_H = 1000, 1600

# the bundled demo (demo/demo.c), what it does by design
DEMO_OWN = re.compile(r"memscope-demo: own calls: allocs=(\d+) frees=(\d+) alloc_bytes=(\d+) "
                      r"freed_bytes=(\d+) live_allocs=(\d+) live_bytes=(\d+) peak_bytes=(\d+)")
DEMO_OWN_KEYS = ("allocs", "frees", "alloc_bytes", "freed_bytes", "live_allocs", "live_bytes",
                 "peak_bytes")
DEMO_BIG = 4000000  # phase 2: vec![0; 1_000_000] of ints, held for a second
# allocations by size class (from the class up): 1000 blocks of 40 bytes (phase 1), the
# calloc of 64 and its reallocs to 128..1024 (phase 4, 100 rounds), the 1000-byte leak, the
# pool's 4 chunks of 2056, the 4096-byte calloc leak, the 100000-byte leak, the 4 MB block
DEMO_CLASSES = [(32, 1000), (64, 100), (128, 100), (256, 100), (512, 101), (1024, 100),
                (2048, 4), (4096, 1), (65536, 1), (2097152, 1)]
# what is live at exit, by site (phase 5's three blocks, phase 3's pool chunks), most first:
# (function, caller, blocks, bytes)
DEMO_LIVE_SITES = [("d_malloc", "phase_leak", 1, 100000),
                   ("pool_alloc", "phase_object_pool", 4, 4 * 2056),
                   ("d_calloc", "phase_leak", 1, 256 * 16),
                   ("d_malloc", "phase_leak", 1, 1000)]
DEMO_POOL_EVIDENCE = {"chunk_size": 2056, "chunks": 4, "live_chunks": 4, "live_bytes": 8224}


# ---------------------------------------------------------------- the page's text, parsed

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr"}


class Node:
    """An element: tag, attributes, children (elements and text)"""

    def __init__(self, tag, attrs, parent, line=0):
        self.tag, self.attrs, self.parent, self.line = tag, dict(attrs), parent, line
        self.children = []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def iter(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        for n in self.iter():
            if tag and n.tag != tag:
                continue
            if cls and cls not in n.classes():
                continue
            if any(n.attrs.get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            yield n

    def find(self, tag=None, cls=None, **attrs):
        return next(self.find_all(tag, cls, **attrs), None)

    def kids(self, tag):
        return [c for c in self.children if isinstance(c, Node) and c.tag == tag]

    def inside(self, tag):
        n = self.parent
        while n is not None:
            if n.tag == tag:
                return True
            n = n.parent
        return False


class StrictParser(HTMLParser):
    """The page as a tree; errors: an end tag that does not close the element open last, an
    element left open, a self-closing tag outside SVG that is not a void element, a
    duplicate id"""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root
        self.errors = []
        self.ids = set()
        self.doctype = None

    def _add(self, tag, attrs):
        n = Node(tag, attrs, self.cur, self.getpos()[0])
        self.cur.children.append(n)
        i = n.attrs.get("id")
        if i is not None:
            if i in self.ids:
                self.errors.append("line %d: id %r used twice" % (n.line, i))
            self.ids.add(i)
        return n

    def handle_starttag(self, tag, attrs):
        n = self._add(tag, attrs)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        n = self._add(tag, attrs)
        if tag not in VOID and tag != "svg" and not n.inside("svg"):
            self.errors.append("line %d: <%s/> self-closed outside SVG" % (n.line, tag))

    def handle_endtag(self, tag):
        line = self.getpos()[0]
        if tag in VOID:
            self.errors.append("line %d: </%s> for a void element" % (line, tag))
            return
        if self.cur.tag == tag:
            self.cur = self.cur.parent
            return
        self.errors.append("line %d: </%s> while <%s> (line %d) is open" % (
            line, tag, self.cur.tag, self.cur.line))
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)

    def handle_decl(self, decl):
        self.doctype = decl

    def finish(self):
        self.close()
        n = self.cur
        while n is not self.root:
            self.errors.append("<%s> (line %d) never closed" % (n.tag, n.line))
            n = n.parent
        return self.root


def parse_page(text):
    """(tree, strictness errors)"""
    p = StrictParser()
    p.feed(text)
    root = p.finish()
    if p.doctype is None or p.doctype.lower() != "doctype html":
        p.errors.append("doctype (expected <!DOCTYPE html>, got %r)" % p.doctype)
    return root, p.errors


SVG_NS = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink")
URL_RE = re.compile(r"\b(?:https?|ftp|file|wss?)://[^\s\"'<>)]*", re.I)
FETCH_RE = re.compile(r"\b(?:fetch|XMLHttpRequest|WebSocket|EventSource|importScripts|"
                      r"sendBeacon|Worker)\b|\bimport\s*\(|\bimport\s+[\w{*]")
BANNED = {"link", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "audio",
          "video", "source", "track", "portal"}
RESOURCE_ATTRS = ("src", "srcset", "data", "poster", "background", "action", "formaction",
                  "ping", "longdesc", "codebase", "manifest")


def css_refs(where, css):
    bad = ["%s: url(%s)" % (where, u) for u in
           re.findall(r"url\(\s*['\"]?([^'\")]*)", css, re.I)
           if not u.strip().startswith(("data:", "#"))]
    if re.search(r"@import", css, re.I):
        bad.append("%s: @import" % where)
    return bad


def external_refs(root):
    """What in the page would load something from outside it"""
    bad = []
    for n in root.iter():
        where = "<%s> line %d" % (n.tag, n.line)
        if n.tag in BANNED:
            bad.append("%s: element %s" % (where, n.tag))
        if n.tag == "meta" and (n.attrs.get("http-equiv") or "").lower() == "refresh":
            bad.append("%s: meta refresh" % where)
        for k, v in n.attrs.items():
            v = (v or "").strip()
            if k in RESOURCE_ATTRS and not v.startswith("data:"):
                bad.append("%s: %s=%r" % (where, k, v[:80]))
            if k in ("href", "xlink:href") and not v.startswith("#"):
                bad.append("%s: %s=%r" % (where, k, v[:80]))
            if k == "style":
                bad += css_refs(where + " style", v)
        if n.tag == "style":
            bad += css_refs(where, n.text())
        if n.tag == "script" and n.attrs.get("type") != "application/json":
            m = FETCH_RE.search(n.text())
            if m:
                bad.append("%s: script uses %r" % (where, m.group(0)))
        if n.tag != "script" or n.attrs.get("type") != "application/json":
            texts = [c for c in n.children if isinstance(c, str)] + list(n.attrs.values())
            for t in texts:
                for u in URL_RE.findall(t or ""):
                    if u not in SVG_NS:
                        bad.append("%s: URL %r" % (where, u[:80]))
    return bad


def embedded(root, sid):
    """The JSON of <script type="application/json" id=sid>, parsed; None without it"""
    n = root.find("script", id=sid)
    if n is None:
        return None
    if n.attrs.get("type") != "application/json":
        raise Fail("<script id=%s> type (expected application/json, got %r)" % (
            sid, n.attrs.get("type")))
    try:
        return json.loads(n.text())
    except ValueError as e:
        raise Fail("<script id=%s> is not JSON: %s" % (sid, e))


def section(root, sid):
    n = root.find("section", id=sid)
    if n is None:
        raise Fail("the page has no <section id=%s>" % sid)
    return n


def cells(tr):
    return [c.text().strip() for c in tr.iter() if c.tag in ("td", "th") and
            c.parent is tr]


def table_rows(table):
    """(header cells, [{header: cell} per row]) of a table (with or without tbody)"""
    trs = [tr for tr in table.iter() if tr.tag == "tr" and tr.inside("table") and
           nearest_table(tr) is table]
    if not trs:
        return [], []
    head = cells(trs[0])
    rows = []
    for tr in trs[1:]:
        if tr.kids("th") and not tr.kids("td"):
            continue
        rows.append(dict(zip(head, cells(tr))))
    return head, rows


def nearest_table(n):
    n = n.parent
    while n is not None and n.tag != "table":
        n = n.parent
    return n


def tables_with(root, first):
    """The tables whose first header cell is first: [(table, header, rows)]"""
    out = []
    for t in root.find_all("table"):
        head, rows = table_rows(t)
        if head and head[0] == first:
            out.append((t, head, rows))
    return out


def check_page(c, label, text):
    """The page parses strictly and loads nothing from outside: its tree"""
    root, errors = parse_page(text)
    c.true(not errors, "%s: not well-formed HTML (%d problems): %s" % (
        label, len(errors), "; ".join(errors[:8])))
    bad = external_refs(root)
    c.true(not bad, "%s: references outside the page (%d): %s" % (
        label, len(bad), "; ".join(bad[:8])))
    c.true(text.endswith("</html>\n"), "%s: the page's end (expected '</html>\\n', got %r)"
           % (label, text[-20:]))
    return root


# ---------------------------------------------------------------- figures as the page says them

def human_bytes(v):
    """format.c's ms_human_bytes of html.c's bytes(): rounded to a whole byte"""
    v = int(v + 0.5) if v > 0 else 0
    d, u = float(v), 0
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    while d >= 1024 and u < 6:
        d /= 1024
        u += 1
    return "%d B" % v if u == 0 else "%.1f %s" % (d, units[u])


def human_count(v):
    """format.c's ms_human_count"""
    if v < 10000:
        return "%.0f" % v
    if v < 10e6:
        return "%.1fk" % (v / 1e3)
    if v < 10e9:
        return "%.1fM" % (v / 1e6)
    return "%.1fG" % (v / 1e9)


def count(v):
    """html.c's count(): a whole number as such"""
    return "%.0f" % v if v == int(v) and v < 1e15 else "%.3g" % v


def read_jsonl(path):
    """The records of a -o file, the contract's shape checked (leak reports have their own)"""
    recs = []
    with open(path) as f:
        for n, line in enumerate(f):
            if not line.strip():
                continue
            try:
                recs.append(json.loads(line))
            except ValueError as e:
                raise Fail("%s line %d is not JSON: %s" % (path, n + 1, e))
    check_records([r for r in recs if r.get("type") != "leaks"])
    return recs


def only_final(recs, what):
    finals = [r for r in recs if r.get("type") == "final"]
    if len(finals) != 1:
        raise Fail("%s: final records (expected 1, got %d)" % (what, len(finals)))
    return finals[0]


def points_of(recs):
    return [r for r in recs if r.get("type") in ("interval", "final")]


def proc_of(rec, pid):
    return next((p for p in rec.get("processes") or [] if p.get("pid") == pid), None)


def read_page(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def fn_of(frame):
    """A frame's function: 'd_malloc+0xe (demo.c:74)' -> d_malloc"""
    return re.match(r"[^+ (]*", frame or "").group(0)


# ---------------------------------------------------------------- the demo's page

def run_demo(ctx, tag, extra):
    """The demo launched under -i 1 --json -o J --html H plus extra: (tracer, J, H)"""
    demo = os.path.join(os.path.dirname(ctx.bin), "memscope-demo")
    if not os.access(demo, os.X_OK):
        raise Fail("no demo at %s (make builds it)" % demo)
    j = os.path.join(ctx.tmpdir(), tag + ".jsonl")
    h = os.path.join(ctx.tmpdir(), tag + ".html")
    tr = ctx.tracer(["-i", "1"] + list(extra) + ["--json", "-o", j, "--html", h, "--", demo])
    return tr, j, h


def demo_end(tr, what):
    """The tracer's exit and the demo's own counts from its stderr line"""
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("%s: tracer exit status (expected 0, got %s); stderr: %s" % (
            what, rc, tr.stderr_text()))
    own = [m for m in (DEMO_OWN.search(l) for l in tr.err()) if m]
    if len(own) != 1:
        raise Fail("%s: the demo's own counts line (expected 1, got %d): %s" % (
            what, len(own), tr.stderr_text()))
    return dict(zip(DEMO_OWN_KEYS, (int(x) for x in own[0].groups())))


def demo_proc(c, label, fin, own):
    """The demo's entry in the final record, checked against its own counts"""
    procs = [p for p in fin.get("processes") or [] if p.get("comm") == "memscope-demo"]
    if len(procs) != 1:
        raise Fail("%s: memscope-demo entries in the final record (expected 1, got %d)" % (
            label, len(procs)))
    p = procs[0]
    c.eq("%s: final record's demo figures (the demo's own count)" % label, own,
         {k: p.get(k) for k in DEMO_OWN_KEYS})
    return p


def check_timeline(c, label, root, recs, pid, comm):
    """timeline-live: one point per interval and final record in its line for pid, each
    tooltip the record's ts and live bytes; the exit records as exit marks"""
    fig = root.find("figure", id="timeline-live")
    if not c.true(fig is not None, "%s: no figure timeline-live" % label):
        return []
    plot = fig.find("svg", cls="plot")
    series = plot.find("g", cls="series", data_k="0") if plot is not None else None
    if not c.true(series is not None, "%s: timeline-live has no first series" % label):
        return []
    got = [t.text() for pt in series.find_all("path", cls="pt") for t in pt.kids("title")]
    want = []
    for r in points_of(recs):
        p = proc_of(r, pid)
        if p is not None:
            want.append("%s (%d) at %.3f s: %s" % (comm, pid, r["ts"],
                                                    human_bytes(p.get("live_bytes", 0))))
    c.eq("%s: timeline-live points (one per interval and final record)" % label,
         len(points_of(recs)), len(got))
    c.eq("%s: timeline-live tooltips (the records' ts and live bytes)" % label, want, got)
    legend = [li.text() for li in fig.find_all("li")]
    c.eq("%s: timeline-live legend" % label, ["%s (%d)" % (comm, pid)], legend)
    # the rates: a point per interval record (a final record's are since the start)
    for fid, key in (("timeline-allocs", "allocs_per_s"), ("timeline-frees", "frees_per_s")):
        f = root.find("figure", id=fid)
        g = f.find("g", cls="series", data_k="0") if f is not None else None
        got_r = [t.text() for pt in (g.find_all("path", cls="pt") if g else [])
                 for t in pt.kids("title")]
        want_r = ["%s (%d) at %.3f s: %s/s" % (comm, pid, r["ts"], human_count(
            proc_of(r, pid).get(key, 0))) for r in recs
            if r.get("type") == "interval" and proc_of(r, pid) is not None]
        c.eq("%s: %s tooltips (the interval records' %s)" % (label, fid, key), want_r, got_r)
    marks = [t.text() for m in plot.find_all("line", cls="mark") for t in m.kids("title")]
    want_marks = ["%s at %.3f s: %d %s" % (r["reason"], r["ts"], q["pid"], q["comm"])
                  for r in recs if r.get("type") == "exit" for q in r["processes"]]
    c.eq("%s: timeline-live marks (the exit records)" % label, want_marks, marks)
    return got


def check_head(c, label, root, recs, fin, page_path):
    head = section(root, "head")
    kv = head.find("table", cls="kv")
    if not c.true(kv is not None, "%s: head has no table.kv" % label):
        return {}
    rows = {}
    for tr in kv.kids("tr") + [tr for tb in kv.kids("tbody") for tr in tb.kids("tr")]:
        th, td = tr.kids("th"), tr.kids("td")
        if th and td:
            rows[th[0].text().strip()] = td[0].text().strip()
    c.eq("%s: head duration (the final record's ts)" % label, "%.3f s" % fin["ts"],
         rows.get("duration"))
    c.eq("%s: head events (the final record's)" % label, count(fin["events"]),
         rows.get("events"))
    n = len(points_of(recs))
    c.true((rows.get("records") or "").startswith(
        "%d interval and final records, %d points" % (n, n)),
           "%s: head records (expected %d interval and final records, %d points, got %r)"
           % (label, n, n, rows.get("records")))
    c.true(page_path in (rows.get("command line") or ""),
           "%s: head command line names the page %s: %r" % (label, page_path,
                                                             rows.get("command line")))
    return rows


def check_sizes(c, label, root, p):
    """The sizes table of the demo's process: the final record's size classes, and the
    classes the demo makes"""
    sec = section(root, "sizes")
    name = "%s (%d)" % (p["comm"], p["pid"])
    div = next((d for d in sec.find_all("div", cls="proc")
                if (d.find("h3") is not None and d.find("h3").text().strip() == name)), None)
    if not c.true(div is not None, "%s: sizes: no part for %s" % (label, name)):
        return
    t = tables_with(div, "class")
    if not c.eq("%s: sizes: tables of size classes for %s" % (label, name), 1, len(t)):
        return
    rows = t[0][2]
    classes = (p.get("patterns") or {}).get("size_classes") or []
    got = [(r.get("class"), r.get("allocs"), r.get("live blocks"), r.get("live bytes"))
           for r in rows]
    want = [(human_bytes(k["class"]), "%.0f" % k["allocs"], "%.0f" % k["live_allocs"],
             human_bytes(k["live_bytes"])) for k in classes]
    c.eq("%s: sizes table (class, allocs, live blocks, live bytes) (the final record's "
         "patterns.size_classes)" % label, want, got)
    c.eq("%s: final record's size classes (class, allocs) (the demo's own)" % label,
         DEMO_CLASSES, [(k.get("class"), k.get("allocs")) for k in classes])


def check_pools(c, label, root, p):
    sec = section(root, "pools")
    t = tables_with(sec, "process")
    if not c.eq("%s: pools: tables" % label, 1, len(t)):
        return
    rows = t[0][2]
    name = "%s (%d)" % (p["comm"], p["pid"])
    got = []
    for tr in t[0][0].iter():
        if tr.tag != "tr" or not tr.kids("td"):
            continue
        td = tr.kids("td")
        ev = td[3].find("ul") if len(td) > 3 else None
        got.append((td[0].text().strip(), td[1].text().strip(), td[2].text().strip(),
                    [li.text().strip() for li in ev.kids("li")] if ev is not None else None))
    want = [(name, q.get("name"), q.get("kind"),
             ["%s %s" % (k, count(v) if isinstance(v, (int, float)) else v)
              for k, v in (q.get("evidence") or {}).items()]) for q in p.get("pools") or []]
    c.eq("%s: pools table (process, name, kind, evidence) (the final record's pools)" % label,
         want, got)
    c.eq("%s: pools rows" % label, len(want), len(rows))
    c.eq("%s: final record's pools (name, kind, evidence) (the demo's pool)" % label,
         [("pool_alloc", "pool_candidate", DEMO_POOL_EVIDENCE)],
         [(q.get("name"), q.get("kind"), q.get("evidence")) for q in p.get("pools") or []])
    tips = [t.text() for t in sec.find_all("title")]
    tip = "pool_alloc in %s: %s" % (name, human_bytes(DEMO_POOL_EVIDENCE["live_bytes"]))
    c.true(any(t.startswith(tip) for t in tips),
           "%s: pools chart: a bar %r (got %r)" % (label, tip, tips))


def site_rows(table):
    """A sites or leaks table: [(innermost frame, its caller, {header: cell})]"""
    head, rows = table_rows(table)
    out, k = [], 0
    for tr in table.iter():
        if tr.tag != "tr" or not tr.kids("td") or nearest_table(tr) is not table:
            continue
        summary = tr.find("summary")
        codes = [x.text() for x in summary.find_all("code")] if summary is not None else []
        out.append(((codes + ["", ""])[0], (codes + ["", ""])[1], rows[k]))
        k += 1
    return out


def check_sites(c, label, root, p, own, stacks=True):
    """The sites table: the final record's sites.by_live_bytes, whose live ones are the
    demo's leaks and pool chunks (by stack, or by caller without --stacks); the icicles'
    totals: the process' live and allocated bytes"""
    sec = section(root, "sites")
    t = tables_with(sec, "stack")
    if not c.eq("%s: sites: tables" % label, 1, len(t)):
        return
    got = [(a, b, r.get("allocs"), r.get("bytes"), r.get("frees"), r.get("live blocks"),
            r.get("live bytes")) for a, b, r in site_rows(t[0][0])]
    sites = (p.get("sites") or {}).get("by_live_bytes") or []
    want = [(((s.get("stack") or []) + ["?"])[0], ((s.get("stack") or []) + ["", ""])[1],
             "%.0f" % s["allocs"], human_bytes(s["alloc_bytes"]), "%.0f" % s["frees"],
             "%.0f" % s["live_allocs"], human_bytes(s["live_bytes"])) for s in sites]
    c.eq("%s: sites table (frame, caller, allocs, bytes, frees, live blocks, live bytes) "
         "(the final record's sites.by_live_bytes)" % label, want, got)
    if stacks:
        live = [(fn_of(s["stack"][0]), fn_of((s["stack"] + [""])[1]), s["live_allocs"],
                 s["live_bytes"]) for s in sites if s.get("live_bytes")]
        expect = DEMO_LIVE_SITES
    else:
        live = [(fn_of(s["stack"][0]), s["live_allocs"], s["live_bytes"])
                for s in sites if s.get("live_bytes")]
        by_fn = {}
        for fn, _, blocks, size in DEMO_LIVE_SITES:
            a = by_fn.setdefault(fn, [fn, 0, 0])
            a[1] += blocks
            a[2] += size
        expect = sorted((tuple(v) for v in by_fn.values()), key=lambda v: -v[2])
    c.eq("%s: final record's live sites (the demo's leaks and pool chunks, %s)" % (
        label, "function, caller, blocks, bytes" if stacks else "by caller: function, "
        "blocks, bytes"), expect, live)
    c.eq("%s: live bytes of the sites (the demo's own live_bytes)" % label,
         own["live_bytes"], sum(x[-1] for x in live))
    c.eq("%s: live blocks of the sites (the demo's own live_allocs)" % label,
         own["live_allocs"], sum(x[-2] for x in live))
    # the icicles: the live and allocated bytes of every stack
    for fid, total in (("icicle-live", p["live_bytes"]), ("icicle-alloc", p["alloc_bytes"])):
        fig = root.find("figure", id=fid)
        roots = [t.text() for b in (fig.find_all("g", cls="box", data_d="0") if fig else [])
                 for r in b.kids("rect") for t in r.kids("title")]
        c.eq("%s: %s root" % (label, fid), ["all: %s (100.00%%)" % human_bytes(total)], roots)
    fig = root.find("figure", id="icicle-live")
    boxes = [t.text() for b in (fig.find_all("g", cls="box") if fig else [])
             for r in b.kids("rect") for t in r.kids("title")]
    for fn in ("phase_leak", "phase_object_pool") if stacks else ():
        want_b = human_bytes(sum(x[3] for x in DEMO_LIVE_SITES if x[1] == fn))
        c.true(any(b.startswith("%s: %s (" % (fn, want_b)) for b in boxes),
               "%s: icicle-live: a box '%s: %s' (got %r)" % (label, fn, want_b, boxes))


# the printed leak report and the page's are of one moment (ms_report_leaks reads the clock
# once for both): their ages are equal
LEAK_AGE_SLACK = 0


def strip_ages(rep):
    rep = json.loads(json.dumps(rep))
    for q in (rep or {}).get("processes") or []:
        for s in q.get("sites") or []:
            s.pop("oldest_age_s", None)
    return rep


def check_leaks(c, label, root, recs, pid):
    leaks = [r for r in recs if r.get("type") == "leaks"]
    if not c.eq("%s: leak reports" % label, 1, len(leaks)):
        return
    rep = leaks[0]
    emb = embedded(root, "memscope-leaks")
    ages = lambda r: [s.get("oldest_age_s") for q in (r or {}).get("processes") or []
                      for s in q.get("sites") or []]
    c.eq("%s: embedded memscope-leaks but the ages (the leaks record)" % label,
         strip_ages(rep), strip_ages(emb))
    a, b = ages(rep), ages(emb)
    c.true(len(a) == len(b) and all(abs(x - y) <= LEAK_AGE_SLACK for x, y in zip(a, b)),
           "%s: embedded memscope-leaks' oldest_age_s (expected the leaks record's %s within "
           "%g s, got %s)" % (label, a, LEAK_AGE_SLACK, b))
    p = proc_of(rep, pid) or {}
    sec = section(root, "leaks")
    t = tables_with(sec, "stack")
    got = [(a, r.get("blocks"), r.get("bytes")) for tb in t for a, b, r in site_rows(tb[0])]
    want = [(s["stack"][0], "%.0f" % s["blocks"], human_bytes(s["bytes"]))
            for s in p.get("sites") or []]
    c.eq("%s: leaks table (frame, blocks, bytes) (the leaks record's sites)" % label, want,
         got)
    c.eq("%s: leaks record's sites (function, caller, blocks, bytes) (the demo's live "
         "blocks, all older than --min-age)" % label, DEMO_LIVE_SITES,
         [(fn_of(s["stack"][0]), fn_of(s["stack"][1]), s.get("blocks"), s.get("bytes"))
          for s in p.get("sites") or []])


@test
def html_demo(ctx):
    """--html of the demo: strict HTML, self-contained, the final record embedded, its phases"""
    # two runs at once, with and without stacks (the demo sleeps most of its 5 s)
    ts, js, hs = run_demo(ctx, "stacks", ["--stacks", "--min-age", "0.5"])
    tn, jn, hn = run_demo(ctx, "nostacks", [])
    c = Check()
    for label, tr, j, h, stacks in (("--stacks", ts, js, hs, True),
                                    ("no --stacks", tn, jn, hn, False)):
        own = demo_end(tr, label)
        recs = read_jsonl(j)
        fin = only_final(recs, label)
        text = read_page(h)
        print("  html_demo %s: %s: %d bytes" % (label, h, len(text.encode())))
        root = check_page(c, label, text)
        c.eq("%s: embedded memscope-final (the final record of %s)" % (label, j), fin,
             embedded(root, "memscope-final"))
        c.eq("%s: sections" % label, list(SECTIONS),
             [s.attrs.get("id") for s in root.find_all("section")])
        p = demo_proc(c, label, fin, own)
        pid = p["pid"]
        check_head(c, label, root, recs, fin, h)
        # phases 1-5 on the timeline: the 4 MB block of phase 2 is its highest point, the
        # three leaks and the pool's chunks its last
        tips = check_timeline(c, label, root, recs, pid, "memscope-demo")
        lives = [proc_of(r, pid)["live_bytes"] for r in points_of(recs) if proc_of(r, pid)]
        c.eq("%s: the records' largest live bytes (phase 2's block, the demo's own "
             "peak_bytes)" % label, [DEMO_BIG, own["peak_bytes"]],
             [max(lives or [0])] * 2)
        figures = [t.rsplit(": ", 1)[-1] for t in tips]
        by_size = {human_bytes(v): v for v in lives}
        c.eq("%s: timeline-live's largest tooltip" % label, human_bytes(DEMO_BIG),
             max(figures, key=lambda f: by_size.get(f, -1)) if figures else None)
        c.eq("%s: timeline-live's last tooltip (the demo's own live_bytes)" % label,
             human_bytes(own["live_bytes"]), figures[-1] if figures else None)
        # the processes table
        t = tables_with(section(root, "processes"), "pid")
        if c.eq("%s: processes tables" % label, 1, len(t)):
            got = [{k: r.get(k) for k in ("pid", "comm", "allocs", "frees", "live blocks",
                                          "live bytes", "peak bytes")} for r in t[0][2]]
            c.eq("%s: processes table (the final record's)" % label, [{
                "pid": str(pid), "comm": "memscope-demo", "allocs": count(p["allocs"]),
                "frees": count(p["frees"]), "live blocks": "%.0f" % p["live_allocs"],
                "live bytes": human_bytes(p["live_bytes"]),
                "peak bytes": human_bytes(p["peak_bytes"])}], got)
        check_sizes(c, label, root, p)
        check_pools(c, label, root, p)
        if stacks:
            check_sites(c, label, root, p, own)
            check_leaks(c, label, root, recs, pid)
        else:
            check_sites(c, label, root, p, own, stacks=False)
            c.eq("%s: embedded memscope-leaks (no leak report without stacks)" % label,
                 None, embedded(root, "memscope-leaks"))
    c.done()


# ---------------------------------------------------------------- chromium

CONSOLE_RE = re.compile(r":CONSOLE\b|\bUncaught\b")

THROW_PAGE = """<!DOCTYPE html><html><body><p id="x">before</p>
<script>document.getElementById("x").textContent = "ran";</script>
<script>throw new Error("deliberate html_chromium probe");</script></body></html>
"""

# Appended to a copy of the page, after its script: what a user does (a drag across the live
# timeline, a click on the allocations chart's first legend entry, a click on phase_leak in
# the live icicle); at load, which sections the #only-sizes fragment leaves displayed
DRIVER = """<script>(function () {
  function fire(el, type, x, y) {
    el.dispatchEvent(new MouseEvent(type, {bubbles: true, cancelable: true, view: window,
                                           clientX: x, clientY: y}));
  }
  var svg = document.querySelector("#timeline-live svg.timeline");
  var plot = svg.querySelector("svg.plot"), r = plot.getBoundingClientRect();
  var y = r.top + r.height / 2;
  fire(svg, "mousedown", r.left + 100, y);
  fire(svg, "mousemove", r.left + 300, y);
  fire(svg, "mouseup", r.left + 500, y);
  var li = document.querySelector("#timeline-allocs ul.legend li");
  if (li)
    li.click();
  var boxes = document.querySelectorAll("#icicle-live g.box");
  for (var i = 0; i < boxes.length; i++)
    if (boxes[i].querySelector("title").textContent.indexOf("phase_leak:") === 0) {
      boxes[i].dispatchEvent(new MouseEvent("click", {bubbles: true}));
      break;
    }
  window.addEventListener("load", function () {
    document.body.setAttribute("data-displayed", Array.prototype.filter.call(
      document.querySelectorAll("section"), function (s) {
        return getComputedStyle(s).display !== "none";
      }).map(function (s) { return s.id; }).join(","));
  });
})();</script>
"""


def need_chromium():
    if not os.access(CHROMIUM, os.X_OK):
        raise Skip("no %s (apt-get install chromium: make deps)" % CHROMIUM)


def chromium(ctx, args, url, name="chromium"):
    """Chromium headless on url: (stdout, stderr lines); its own process group, a fresh
    profile, at most CHROMIUM_TIMEOUT s"""
    udd = os.path.join(ctx.tmpdir(), "chromium-profile-%d" % len(ctx.procs))
    os.makedirs(udd)
    p = chromium_start(ctx, args, url, udd, name)
    return chromium_end(p)


def chromium_start(ctx, args, url, udd, name="chromium"):
    return ctx.spawn([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                      "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
                      "--user-data-dir=" + udd] + list(args) + [url], name)


def chromium_end(p):
    rc = p.wait_exit(CHROMIUM_TIMEOUT, "end")
    if rc != 0:
        raise Fail("%s exit status (expected 0, got %s); stderr: %s" % (
            " ".join(p.argv[-2:]), rc, p.stderr_text()))
    return "\n".join(p.out()), p.err()


def console_lines(err):
    return [l for l in err if CONSOLE_RE.search(l)]


def png_size(path):
    """(width, height) of a PNG whose IHDR chunk is intact and that ends with IEND"""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Fail("%s is not a PNG (signature %r)" % (path, data[:8]))
    length, kind = struct.unpack(">I4s", data[8:16])
    if kind != b"IHDR" or length != 13:
        raise Fail("%s: first chunk (expected IHDR of 13 bytes, got %r of %d)" % (
            path, kind, length))
    crc = struct.unpack(">I", data[29:33])[0]
    if zlib.crc32(data[12:29]) != crc:
        raise Fail("%s: IHDR's CRC does not match" % path)
    if data[-12:-4] != b"\x00\x00\x00\x00IEND":
        raise Fail("%s: does not end with IEND (cut short?)" % path)
    return struct.unpack(">II", data[16:24])


@test
def html_chromium(ctx):
    """chromium loads the demo's page: no console error, every section drawn, zoom works"""
    need_chromium()
    tr, j, h = run_demo(ctx, "demo", ["--stacks", "--min-age", "0.5"])
    # meanwhile: what this chromium says of a console error and an uncaught exception
    probe = os.path.join(ctx.tmpdir(), "throw.html")
    with open(probe, "w") as f:
        f.write(THROW_PAGE)
    dom, err = chromium(ctx, ["--dump-dom"], "file://" + probe)
    if not any("Uncaught" in l and "deliberate html_chromium probe" in l
               for l in console_lines(err)):
        raise Fail("this chromium does not report an uncaught exception on stderr as "
                   "expected (a CONSOLE line with Uncaught): %s" % " | ".join(err[-5:]))
    if ">ran<" not in dom:
        raise Fail("chromium --dump-dom ran no script of the probe page: %r" % dom[:300])
    own = demo_end(tr, "demo")
    recs = read_jsonl(j)
    fin = only_final(recs, "demo")
    c = Check()
    p = demo_proc(c, "demo", fin, own)
    url = "file://" + h
    # the page as it is
    dom, err = chromium(ctx, ["--window-size=%d,%d" % (SHOT_W, SHOT_H), "--dump-dom"], url)
    c.eq("page: console errors and uncaught exceptions", [], console_lines(err))
    root, _ = parse_page(dom)
    secs = list(root.find_all("section"))
    c.eq("page: sections", list(SECTIONS), [s.attrs.get("id") for s in secs])
    for s in secs:
        sid = s.attrs.get("id")
        charts = [f for f in s.find_all("figure", cls="chart") if f.find("svg") is not None]
        if sid == "head":
            c.true(s.find("table", cls="kv") is not None, "page: head has no run table")
        else:
            c.true(charts, "page: section %s has no chart (figure.chart with an svg)" % sid)
    t = tables_with(section(root, "processes"), "pid")
    c.eq("page: processes table (pid, comm)", [(str(p["pid"]), "memscope-demo")],
         [(r.get("pid"), r.get("comm")) for _, _, rows in t for r in rows])
    c.eq("page: embedded memscope-final after load (the final record)", fin,
         embedded(root, "memscope-final"))
    ticks0 = [x.text() for x in root.find("figure", id="timeline-live").find(
        "g", cls="xticks").find_all("text")]
    # its script at work: a copy with the user's actions appended (nothing on the page
    # changes at load by itself)
    page = read_page(h)
    at = page.rfind("</body>")
    drv = os.path.join(ctx.tmpdir(), "driven.html")
    with open(drv, "w") as f:
        f.write(page[:at] + DRIVER + page[at:])
    dom, err = chromium(ctx, ["--window-size=%d,%d" % (SHOT_W, SHOT_H), "--dump-dom"],
                        "file://" + drv + "#only-sizes")
    c.eq("driven page: console errors and uncaught exceptions", [], console_lines(err))
    root, _ = parse_page(dom)
    body = root.find("body")
    c.eq("driven page: sections displayed at #only-sizes", "sizes",
         body.attrs.get("data-displayed") if body is not None else None)
    svg = root.find("figure", id="timeline-live").find("svg", cls="timeline")
    plot = svg.find("svg", cls="plot")
    pw, t1 = float(svg.attrs["data-pw"]), float(svg.attrs["data-t1"])
    vb = [float(x) for x in plot.attrs.get("viewbox", "").split()]
    if c.eq("driven page: timeline-live plot viewBox numbers", 4, len(vb)):
        # dragged from 100 to 500 of the plot's width: that range across it
        c.true(abs(vb[0] - 100) < 1.5 and abs(vb[2] - 400) < 1.5,
               "driven page: timeline-live zoomed (expected viewBox 100 0 400 ..., got %s)"
               % plot.attrs.get("viewbox"))
        ta, tb = vb[0] / pw * t1, (vb[0] + vb[2]) / pw * t1
        ticks = [x.text() for x in svg.find("g", cls="xticks").find_all("text")]
        vals = [float(x[:-2]) for x in ticks if x.endswith(" s")]
        c.true(len(vals) == len(ticks) and len(ticks) >= 3 and
               all(ta - 1e-6 <= v <= tb + 1e-6 for v in vals) and ticks != ticks0,
               "driven page: timeline-live's x ticks rebuilt for %.3f-%.3f s (before %s, "
               "got %s)" % (ta, tb, ticks0, ticks))
    li = root.find("figure", id="timeline-allocs").find("li", data_k="0")
    c.true(li is not None and "off" in li.classes(),
           "driven page: the clicked legend entry is off: %r" % (li and li.attrs))
    g = root.find("figure", id="timeline-allocs").find("g", cls="series", data_k="0")
    c.true(g is not None and "display: none" in (g.attrs.get("style") or ""),
           "driven page: the clicked legend's line is hidden: %r" % (g and g.attrs))
    boxes = {}
    for b in root.find("figure", id="icicle-live").find_all("g", cls="box"):
        title = b.find("title").text()
        boxes[title.split(":")[0]] = (b.attrs.get("style") or "", b.find("rect").attrs)
    c.true("phase_leak" in boxes and abs(float(boxes["phase_leak"][1].get("width", 0)) - 900)
           < 0.01, "driven page: the clicked icicle box across the width (got %r)"
           % (boxes.get("phase_leak"),))
    c.true("phase_object_pool" in boxes and "display: none" in boxes["phase_object_pool"][0],
           "driven page: the box beside the clicked one hidden (got %r)"
           % (boxes.get("phase_object_pool"),))
    # a screenshot of each section alone, two chromiums at a time
    shots = os.path.join(os.path.dirname(ctx.bin), "html-shots")
    os.makedirs(shots, exist_ok=True)
    shutil.copyfile(h, os.path.join(shots, "memscope-demo.html"))
    digests = {}
    for k in range(0, len(SECTIONS), 2):
        running = []
        for sid in SECTIONS[k:k + 2]:
            path = os.path.join(shots, sid + ".png")
            if os.path.exists(path):
                os.unlink(path)
            udd = os.path.join(ctx.tmpdir(), "chromium-shot-" + sid)
            os.makedirs(udd)
            running.append((sid, path, chromium_start(
                ctx, ["--screenshot=" + path, "--window-size=%d,%d" % (SHOT_W, SHOT_H)],
                "%s#only-%s" % (url, sid), udd)))
        for sid, path, pr in running:
            _, err = chromium_end(pr)
            c.eq("screenshot %s: console errors" % sid, [], console_lines(err))
            if not c.true(os.path.exists(path), "screenshot %s: no %s" % (sid, path)):
                continue
            c.eq("screenshot %s: PNG size" % sid, [SHOT_W, SHOT_H], list(png_size(path)))
            with open(path, "rb") as f:
                digests.setdefault(hashlib.sha256(f.read()).hexdigest(), []).append(sid)
    c.eq("screenshots: each section's differs from the others'", [],
         [v for v in digests.values() if len(v) > 1])
    print("  html_chromium: screenshots of %s in %s" % (", ".join(SECTIONS), shots))
    c.done()


# ---------------------------------------------------------------- replay

@test
def html_replay(ctx):
    """--replay --html, as nobody: the replay's final record embedded, the recording's host"""
    rec = os.path.join(ctx.tmpdir(), "demo.msr")
    tr, j1, _ = run_demo(ctx, "live", ["--stacks", "--record", rec])
    own = demo_end(tr, "recording")
    live = only_final(read_jsonl(j1), "recording")
    # no privileges needed: replayed as nobody into a directory nobody may write
    os.chmod(ctx.tmpdir(), 0o755)
    os.chmod(rec, 0o644)
    out = os.path.join(ctx.tmpdir(), "nobody")
    os.makedirs(out)
    os.chmod(out, 0o777)
    j2, h2 = os.path.join(out, "replay.jsonl"), os.path.join(out, "replay.html")
    bin_path = ctx.bin
    if not world_executable(bin_path):
        bin_path = os.path.join(ctx.tmpdir(), "memscope-bpf")
        shutil.copy2(ctx.bin, bin_path)
        os.chmod(bin_path, 0o755)
    argv = [bin_path, "--replay", rec, "--json", "-o", j2, "--html", h2]
    if shutil.which("setpriv"):
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + argv
    rc, _, err = run_cmd(argv, 60)
    if rc != 0:
        raise Fail("replay exit status (expected 0, got %s); stderr: %s" % (
            rc, " | ".join(err[-5:])))
    c = Check()
    recs = read_jsonl(j2)
    fin = only_final(recs, "replay")
    text = read_page(h2)
    print("  html_replay: %s: %d bytes" % (h2, len(text.encode())))
    root = check_page(c, "replay", text)
    c.eq("replay: embedded memscope-final (the replay's final record)", fin,
         embedded(root, "memscope-final"))
    p = demo_proc(c, "replay", fin, own)
    lp = next((q for q in live.get("processes") or [] if q.get("pid") == p["pid"]), {})
    c.eq("replay: the demo's figures (the live run's final record)",
         {k: lp.get(k) for k in DEMO_OWN_KEYS}, {k: p.get(k) for k in DEMO_OWN_KEYS})
    rows = check_head(c, "replay", root, recs, fin, h2)
    c.eq("replay: head's replay of", rec, rows.get("replay of"))
    u = os.uname()
    c.eq("replay: head's host (the recording's)", u.nodename, rows.get("host"))
    c.true((rows.get("kernel") or "").startswith(u.release),
           "replay: head's kernel (expected the recording's %s, got %r)" % (
               u.release, rows.get("kernel")))
    c.true("started" not in rows,
           "replay: head says when the replay started (%r), not known of the recording"
           % rows.get("started"))
    check_timeline(c, "replay", root, recs, p["pid"], "memscope-demo")
    check_sites(c, "replay", root, p, own)
    c.done()


# ---------------------------------------------------------------- SIGUSR1

def wait_jsonl(path, pred, what, timeout):
    """The first complete record of a growing -o file satisfying pred"""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                lines = f.read().split("\n")[:-1]
        except FileNotFoundError:
            lines = []
        for line in lines:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if pred(r):
                return r
        if time.monotonic() > deadline:
            raise Fail("no %s in %s within %d s" % (what, path, timeout))
        time.sleep(0.1)


def wait_page(path, what, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        text = read_page(path) if os.path.exists(path) else ""
        if text.endswith("</html>\n"):
            return text
        if time.monotonic() > deadline:
            raise Fail("%s: no complete page in %s within %d s (%d bytes, ending %r)" % (
                what, path, timeout, len(text), text[-40:]))
        time.sleep(0.1)


def proc_rows(root):
    t = tables_with(section(root, "processes"), "pid")
    return [r for _, _, rows in t for r in rows]


@test
def html_sigusr1(ctx):
    """-p with --html: SIGUSR1 writes the page so far, the end the page with the final record"""
    w = ctx.workload("gated")
    j = os.path.join(ctx.tmpdir(), "run.jsonl")
    h = os.path.join(ctx.tmpdir(), "run.html")
    tr = ctx.tracer(["-p", str(w.pid), "--json", "-o", j, "--html", h])
    wait_attached(tr)
    c = Check()
    c.eq("the page before any SIGUSR1 (created at the start, empty)", 0,
         os.path.getsize(h) if os.path.exists(h) else None)
    # at once, before any interval record: the page holds this moment's figures
    tr.signal(signal.SIGUSR1)
    text = wait_page(h, "after SIGUSR1")
    root = check_page(c, "SIGUSR1 page", text)
    c.eq("SIGUSR1 page: processes (pid, comm)", [(str(w.pid), "gated")],
         [(r.get("pid"), r.get("comm")) for r in proc_rows(root)])
    c.eq("SIGUSR1 page: embedded memscope-final (none before the end)", None,
         embedded(root, "memscope-final"))
    c.true("memscope-final" not in text, "SIGUSR1 page: mentions memscope-final")
    dur = [td.text() for tr_ in section(root, "head").find_all("tr")
           for th in tr_.kids("th") if th.text() == "duration" for td in tr_.kids("td")]
    c.true(len(dur) == 1 and dur[0].endswith(" s so far"),
           "SIGUSR1 page: duration (expected '... s so far', got %r)" % dur)
    # the workload's window, then the end
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    wait_jsonl(j, lambda r: r.get("type") == "interval" and
               (proc_of(r, w.pid) or {}).get("allocs") == gt["allocs"],
               "interval record with the window's %d allocations" % gt["allocs"], 20)
    stop_tracer(tr)
    recs = read_jsonl(j)
    fin = only_final(recs, "end")
    text = wait_page(h, "at the end", 5)
    root = check_page(c, "final page", text)
    emb = embedded(root, "memscope-final")
    c.eq("final page: embedded memscope-final (the final record)", fin, emb)
    p = proc_of(emb or {}, w.pid)
    if c.true(p is not None, "final page: embedded final record has no pid %d" % w.pid):
        compare_proc(c, "final page: embedded pid %d (the workload's ground truth)" % w.pid,
                     gt, p, "gated")
    c.eq("final page: processes (pid, comm)", [(str(w.pid), "gated")],
         [(r.get("pid"), r.get("comm")) for r in proc_rows(root)])
    w.signal(signal.SIGUSR2)
    c.eq("workload exit status", 0, w.wait_exit(10))
    c.done()


# ---------------------------------------------------------------- many processes

MANY = 150  # launched processes: more exits and execs than MS_HTML_MARKS


@test
def html_many_processes(ctx):
    """-f over 150 short processes: a bounded page listing every one, 8 lines + others"""
    launched = ctx.workload_path("launched")
    j = os.path.join(ctx.tmpdir(), "many.jsonl")
    h = os.path.join(ctx.tmpdir(), "many.html")
    tr = ctx.tracer(["-f", "-i", "1", "--json", "-o", j, "--html", h, "--", "sh", "-c",
                     "for i in $(seq %d); do %s 20 || exit 1; done" % (MANY, launched)])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (
            rc, tr.stderr_text()))
    gts = [json.loads(l) for l in tr.out() if l.startswith("{")]
    c = Check()
    c.eq("launched ground truths", MANY, len(gts))
    recs = read_jsonl(j)
    fin = only_final(recs, "many")
    exits = [r for r in recs if r.get("type") == "exit"]
    ended = {}
    for r in exits:
        if r.get("reason") == "exit":
            q = r["processes"][0]
            ended[q["pid"]] = q
    c.eq("exit records of launched processes (their ground truths' pids)",
         sorted(g["pid"] for g in gts),
         sorted(pid for pid, q in ended.items() if q.get("comm") == "launched"))
    size = os.path.getsize(h)
    text = read_page(h)
    print("  html_many_processes: %s: %d bytes, %d processes (%d exited), %d exit records" % (
        h, size, len(fin.get("processes") or []), len(ended), len(exits)))
    c.true(size < MAX_PAGE, "page size (expected under %d bytes, got %d)" % (MAX_PAGE, size))
    root = check_page(c, "many", text)
    c.eq("embedded memscope-final (the final record)", fin, embedded(root, "memscope-final"))
    rows = {r.get("pid"): r for r in proc_rows(root)}
    missing = sorted(pid for pid in ended if str(pid) not in rows)
    note = re.search(r"(\d+) more ended processes", section(root, "processes").text())
    c.eq("exited processes left out of the processes table (what its note says)",
         int(note.group(1)) if note else 0, len(missing))
    c.eq("exited processes in the processes table (pid, comm) (the exit records')",
         sorted((str(pid), q.get("comm")) for pid, q in ended.items() if pid not in missing),
         sorted((pid, rows[pid].get("comm")) for pid in (str(x) for x in ended)
                if pid in rows))
    states = {}
    for r in exits:
        q = r["processes"][0]
        states.setdefault(str(q["pid"]), []).append("%s at %.3f s" % (
            "exited" if r.get("reason") == "exit" else "exec", r["ts"]))
    c.eq("processes table's state of each process that exited or exec'd (its exit records)",
         {pid: ", ".join(v) for pid, v in states.items() if pid in rows},
         {pid: rows[pid].get("state") for pid in states if pid in rows})
    got = {}
    for g in gts:
        r = rows.get(str(g["pid"])) or {}
        got[g["pid"]] = (r.get("allocs"), r.get("peak bytes"))
    c.eq("launched processes' rows (allocs, peak bytes) (their ground truths)",
         {g["pid"]: (count(g["allocs"]), human_bytes(g["peak_bytes"])) for g in gts}, got)
    fig = root.find("figure", id="timeline-live")
    if c.true(fig is not None, "no figure timeline-live"):
        legend = [li.text() for li in fig.find_all("li")]
        c.eq("timeline-live legend: named lines, then the others summed",
             [MS_HTML_TOP, "others (summed)"],
             [len(legend) - 1, legend[-1] if legend else None])
        marks = [(m.classes()[1] if len(m.classes()) > 1 else None, m.find("title").text())
                 for m in fig.find_all("line", cls="mark")]
        want = [(r["reason"], "%s at %.3f s: %d %s" % (r["reason"], r["ts"],
                                                        r["processes"][0]["pid"],
                                                        r["processes"][0]["comm"]))
                for r in exits][:MS_HTML_MARKS]
        c.eq("timeline-live marks (kind, title) (the first %d exit records)" % MS_HTML_MARKS,
             want, marks)
        c.eq("timeline-live exit marks (line class=\"mark exit\")",
             sum(1 for k, _ in want if k == "exit"),
             len(list(fig.find_all("line", cls="exit"))))
        more = re.search(r"(\d+) more exits and execs not marked",
                         section(root, "timeline").text())
        c.eq("exits and execs not marked (the note)", max(0, len(exits) - MS_HTML_MARKS),
             int(more.group(1)) if more else 0)
    c.done()
