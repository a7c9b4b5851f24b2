# t_stacks.py: what a stack shows and whether it is whole (issue 17); a test module
# imported by run.py.
#
# fake_frame.c allocates through a made-up frame whose return address is an address in its
# own data: a frame-pointer walk from malloc goes caller -> that address. The stack must
# stop at the caller and say it was cut ("truncated": true, "..." in text and folded), the
# data address never shown as a frame; its other site's stack reaches the thread's start
# and is whole; the C library's stdio buffer, allocated in code without frame pointers, is
# cut short and says so. truncated_stacks counts the sites marked.

import json
import os

from harness import Check, Fail, test
from run import WINDOW_TIMEOUT, frame_fns

FAKE, PLAIN = 7, 5  # blocks through the made-up frame (48 B) and through plain_malloc (80 B)


def run_fake_frame(ctx, args):
    path = ctx.workload_path("fake_frame")
    tr = ctx.tracer(list(args) + ["--", path, str(FAKE), str(PLAIN)])
    rc = tr.wait_exit(WINDOW_TIMEOUT)
    if rc != 0:
        raise Fail("tracer exit status (expected 0, got %s); stderr: %s" % (rc, tr.stderr_text()))
    return tr


@test
def stack_truncated_at_data(ctx):
    """--stacks: a walk into data stops at the last code frame, marked truncated"""
    tr = run_fake_frame(ctx, ["--json", "--stacks"])
    lines = [json.loads(l) for l in tr.out() if l.startswith("{")]
    gt = next((l for l in lines if "data" in l), None)
    final = next((l for l in lines if l.get("type") == "final"), None)
    if gt is None or final is None:
        raise Fail("no ground truth line or no final record: %s" % tr.out())
    data = gt["data"]
    c = Check()
    p = next((p for p in final.get("processes", []) if p.get("comm") == "fake_frame"), None)
    if p is None:
        raise Fail("no fake_frame process in the final record")
    sites = p.get("sites") or {}
    listed = {}
    for s in sites.get("by_live_bytes") or []:
        fns = frame_fns(s.get("stack"))
        listed[fns[0] if fns else None] = s
        for f in s.get("stack") or []:
            c.true(f != "0x%x" % data, "the data address 0x%x shown as a frame in %s" % (
                data, s.get("stack")))
    fake = listed.get("fake_frame_malloc")
    plain = listed.get("plain_malloc")
    stdio = listed.get("_IO_file_doallocate")
    if not fake or not plain:
        raise Fail("sites by first frame: %s" % sorted(k or "" for k in listed))
    c.eq("made-up frame: stack", ["fake_frame_malloc"], frame_fns(fake.get("stack")))
    c.eq("made-up frame: truncated", True, fake.get("truncated"))
    c.eq("made-up frame: allocs, live bytes", [FAKE, 48 * FAKE],
         [fake.get("allocs"), fake.get("live_bytes")])
    c.eq("plain: stack", ["plain_malloc", "main", "__libc_start_call_main"],
         frame_fns(plain.get("stack")))
    c.eq("plain: truncated", False, plain.get("truncated"))
    c.eq("plain: allocs, live bytes", [PLAIN, 80 * PLAIN],
         [plain.get("allocs"), plain.get("live_bytes")])
    if stdio:  # stdout's buffer: libc has no frame pointers, its walk ends there
        c.eq("stdio buffer: truncated", True, stdio.get("truncated"))
    marked = sum(1 for s in sites.get("by_live_bytes") or [] if s.get("truncated"))
    c.eq("truncated_stacks", marked, sites.get("truncated_stacks"))
    c.done()


@test
def stack_truncated_text_and_folded(ctx):
    """--stacks: a truncated stack ends in '...' in the leak report and the folded file"""
    folded = os.path.join(ctx.tmpdir(), "folded.txt")
    tr = run_fake_frame(ctx, ["--stacks", "--min-age", "0", "--folded", folded])
    out = tr.out()
    c = Check()
    try:
        i = next(i for i, l in enumerate(out) if l.strip().startswith("fake_frame_malloc+"))
        c.eq("leak report: the line after fake_frame_malloc", "...", out[i + 1].strip())
        j = next(i for i, l in enumerate(out) if l.strip().startswith("plain_malloc+"))
        c.true(out[j + 2].strip().startswith("__libc_start_call_main+") and
               (j + 3 >= len(out) or out[j + 3].strip() != "..."),
               "leak report: plain_malloc's stack whole, no '...': %s" % out[j:j + 4])
    except (StopIteration, IndexError):
        raise Fail("no leak report lines for the two sites: %s" % out)
    with open(folded) as f:
        lines = [l.split() for l in f.read().splitlines()]
    by_leaf = {parts[0].split(";")[-1].split("+")[0]: parts for parts in lines if parts}
    fake, plain = by_leaf.get("fake_frame_malloc"), by_leaf.get("plain_malloc")
    if not fake or not plain:
        raise Fail("folded lines by leaf: %s" % sorted(by_leaf))
    c.eq("folded: made-up frame", ["fake_frame", "...", "fake_frame_malloc"],
         [f.split("+")[0] for f in fake[0].split(";")])
    c.eq("folded: made-up frame weight", str(48 * FAKE), fake[1])
    c.eq("folded: plain root", "fake_frame;__libc_start_call_main",
         ";".join(plain[0].split(";")[:2]).split("+")[0])
    c.done()
