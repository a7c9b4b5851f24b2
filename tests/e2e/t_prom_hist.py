# t_prom_hist.py: memscope_allocation_size_bytes, the size histogram in Prometheus (issue 14,
# item 11); a test module imported by run.py.
#
# Two workloads with known sizes, one with series of its own and one summed under
# pid="other" (--prometheus-max-processes 1), scraped by a real Prometheus: every bucket,
# _sum, _count and histogram_quantile() must be what the ground truth's size_hist says.

import signal
import time

from harness import Check, Fail, test
from run import (COMM_LEN, final_record, free_port, ground_truth, http_get, need, prom_query,
                 promtool_check, start_prometheus, stop_tracer, tracer_url, wait_attached,
                 wait_intervals, wait_scraped_after)

HIST = "memscope_allocation_size_bytes"
QUANTILES = (0.25, 0.5, 0.9, 0.99)


def class_counts(size_hist):
    """A ground truth's size_hist ({"class floor": count}) as a count per class index:
    class 0 is size 0, class k >= 1 is [2^(k-1), 2^k)"""
    counts = [0] * 65
    for floor, n in size_hist.items():
        counts[int(floor).bit_length()] += n
    return counts


def top_class(counts):
    return max([k for k, n in enumerate(counts) if n] or [0])


def expected_buckets(counts, top):
    """{le: cumulative count}: le 2^k - 1 (a class' largest size) for classes 0..top, +Inf"""
    out, cum = {}, 0
    for k in range(top + 1):
        cum += counts[k]
        out[float((1 << k) - 1)] = cum
    out[float("inf")] = sum(counts)
    return out


def bucket_quantile(q, buckets):
    """Prometheus' histogram_quantile over {le: cumulative count} (promql/quantile.go,
    bucketQuantile): linear interpolation inside the bucket that holds the rank"""
    b = sorted(buckets.items())
    total = b[-1][1]
    if len(b) < 2 or total == 0:
        return float("nan")
    rank = q * total
    i = next(i for i in range(len(b)) if i == len(b) - 1 or b[i][1] >= rank)
    if i == len(b) - 1:
        return b[-2][0]
    if i == 0 and b[0][0] <= 0:
        return b[0][0]
    start, end, count = 0.0, b[i][0], b[i][1]
    if i > 0:
        start = b[i - 1][0]
        count -= b[i - 1][1]
        rank -= b[i - 1][1]
    return start + (end - start) * (rank / count)


def class_of_rank(counts, rank):
    """The class holding the rank-th smallest size"""
    cum = 0
    for k, n in enumerate(counts):
        cum += n
        if cum >= rank:
            return k
    return len(counts) - 1


def le_value(labels):
    le = labels.get("le")
    return float("inf") if le == "+Inf" else float(le)


def close(a, b):
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


@test
def prometheus_size_histogram(ctx):
    """--prometheus: memscope_allocation_size_bytes buckets, _sum, _count, quantiles exact"""
    need("prometheus", "promtool")
    w1, w2 = ctx.workload("peak"), ctx.workload("mt_mix", 4, 500)
    port = free_port()
    tr = ctx.tracer(["--json", "-i", "1", "--prometheus", ":%d" % port,
                     "--prometheus-max-processes", "1", "-p", "%d,%d" % (w1.pid, w2.pid)])
    url = tracer_url(tr)
    wait_attached(tr)
    base = start_prometheus(ctx, "127.0.0.1:%d" % port)
    w1.signal(signal.SIGUSR1)
    w2.signal(signal.SIGUSR1)
    gts = ((w1.pid, "peak", ground_truth(w1)), (w2.pid, "mt_mix", ground_truth(w2)))
    # as prometheus_scrape: the update after the second interval record past the windows
    # has every call; it is served once the third is out
    wait_intervals(tr, 3)
    wait_scraped_after(base, time.time())
    c = Check()
    c.eq("prometheus memscope_exported_processes", [1], [
        int(v) for _, v in prom_query(base, 'memscope_exported_processes{job="memscope"}')])
    own = {l.get("pid") for l, _ in prom_query(base, HIST + '_count{job="memscope"}')}
    c.eq("%s_count series: one pid of its own and pid=\"other\"" % HIST, 2, len(own))
    c.eq("%s_count series: pid=\"other\"" % HIST, True, "other" in own)
    # one bucket layout for every series: up to the largest class of either workload
    counts = {pid: class_counts(gt["size_hist"]) for pid, _, gt in gts}
    top = max(top_class(k) for k in counts.values())
    for pid, name, gt in gts:
        c.eq("%s: allocations in size_hist" % name, gt["allocs"], sum(counts[pid]))
        sel = ('pid="%d"' % pid if str(pid) in own else
               'pid="other",comm="%s"' % name[:COMM_LEN])
        what = "%s (%s)" % (name, sel)
        want = expected_buckets(counts[pid], top)
        res = prom_query(base, '%s_bucket{job="memscope",%s}' % (HIST, sel))
        c.true(all(l.get("allocator") == "libc" and l.get("comm") == name[:COMM_LEN]
                   for l, _ in res), "%s: bucket labels %s" % (what, [l for l, _ in res]))
        got = {le_value(l): v for l, v in res}
        c.eq("%s: bucket bounds (le)" % what, sorted(want), sorted(got))
        for le in sorted(want):
            c.eq("%s: %s_bucket{le=\"%s\"}" % (what, HIST, "+Inf" if le == float("inf")
                                                else int(le)), want[le], got.get(le))
        for suffix, field in (("_count", "allocs"), ("_sum", "alloc_bytes")):
            v = [v for _, v in prom_query(base, '%s%s{job="memscope",%s}' % (HIST, suffix,
                                                                            sel))]
            c.eq("%s: %s%s" % (what, HIST, suffix), [gt[field]], v)
        alloc_total = [v for _, v in prom_query(
            base, 'memscope_allocations_total{job="memscope",%s}' % sel)]
        c.eq("%s: %s_count is memscope_allocations_total" % (what, HIST), [gt["allocs"]],
             alloc_total)
        for q in QUANTILES:
            expr = 'histogram_quantile(%g, %s_bucket{job="memscope",%s})' % (q, HIST, sel)
            v = [v for _, v in prom_query(base, expr)]
            exp = bucket_quantile(q, want)
            c.true(len(v) == 1 and close(v[0], exp), "%s: %s (expected %r, got %s)" % (
                what, expr, exp, v))
            # and the answer lies in the class of the ground truth's q-th size (between
            # the bound below it and its own)
            k = class_of_rank(counts[pid], q * gt["allocs"])
            if v:
                c.true((1 << k) // 2 - 1 <= v[0] <= (1 << k) - 1 if k else v[0] == 0,
                       "%s: %s = %s is outside the class of the %g quantile, [%d, %d]" % (
                           what, expr, v[0], q, (1 << k) // 2 - 1, (1 << k) - 1))
    # the fixed layout lets series be added bucket by bucket: the quantile of both together
    both = [a + b for a, b in zip(*counts.values())]
    expr = 'histogram_quantile(0.5, sum by (le) (%s_bucket{job="memscope"}))' % HIST
    v = [v for _, v in prom_query(base, expr)]
    exp = bucket_quantile(0.5, expected_buckets(both, top))
    c.true(len(v) == 1 and close(v[0], exp), "%s (expected %r, got %s)" % (expr, exp, v))
    st, hdr, body = http_get(url)
    c.eq("GET /metrics status", 200, st)
    promtool_check(c, "GET /metrics", body)
    c.done()
    final_record(stop_tracer(tr))
    for w in (w1, w2):
        w.signal(signal.SIGUSR2)
        rc = w.wait_exit(10)
        if rc != 0:
            raise Fail("%s exit status (expected 0, got %s)" % (w.name, rc))
