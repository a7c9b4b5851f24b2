# t_faults_http.py: hostile HTTP clients against --prometheus (issue 15, item 7); a test
# module imported by run.py.
#
# What must hold: scrapes are answered quickly while slow, idle or numerous connections are
# open; a request head has an absolute deadline that trickling bytes cannot extend; one
# client address cannot take every connection; a kept-alive connection serves one request
# after another and has its own idle bound.

import re
import select
import signal
import socket
import threading
import time

from harness import Check, Fail, test
from run import (final_record, ground_truth, need, prom_query, promtool_check, sample,
                 start_prometheus, stop_tracer, tracer_url, wait_attached, wait_intervals,
                 wait_scraped_after)

HTTP_ANSWER_S = 2.0  # s: the bound a scrape under attack must be answered in
HTTP_REQUEST_S = 5  # httpd.h's bounds: a request head complete this long after the accept,
HTTP_IDLE_S = 30  # the next one on a kept-alive connection this long after a response,
HTTP_PER_CLIENT = 8  # connections at once from one client address,
HTTP_CONNECTIONS = 32  # and in all
SCRAPE = b"GET /metrics HTTP/1.1\r\nHost: memscope\r\nConnection: close\r\n\r\n"
KEEP = b"GET /metrics HTTP/1.1\r\nHost: memscope\r\n\r\n"


def parse_response(raw):
    """(status or None, head text, body bytes) of one HTTP response"""
    head, _, body = raw.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
    return (int(m.group(1)) if m else None), head.decode("latin-1"), body


def scrape_from(port, src="127.0.0.1", bound=HTTP_ANSWER_S):
    """GET /metrics on a fresh connection from address src, the whole exchange within bound
    seconds: (status or None, seconds taken, body, what went wrong or None)"""
    t0 = time.monotonic()
    got = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=bound,
                                      source_address=(src, 0)) as s:
            s.sendall(SCRAPE)
            while True:
                left = bound - (time.monotonic() - t0)
                if left <= 0:
                    raise socket.timeout("timed out")
                s.settimeout(left)
                b = s.recv(65536)
                if not b:
                    break
                got += b
    except OSError as e:
        st = parse_response(got)[0]
        return st, time.monotonic() - t0, b"", "%s after %d bytes" % (
            str(e) or type(e).__name__, len(got))
    st, head, body = parse_response(got)
    m = re.search(r"\r\nContent-Length: (\d+)", head, re.I)
    if st == 200 and (not m or int(m.group(1)) != len(body)):
        return st, time.monotonic() - t0, body, "a body of %d bytes, Content-Length %s" % (
            len(body), m.group(1) if m else "missing")
    return st, time.monotonic() - t0, body, None


def check_scrape(c, what, res, bodies=None):
    """A scrape_from result: 200 within the bound, no error"""
    st, took, body, err = res
    ok = c.true(st == 200 and err is None and took <= HTTP_ANSWER_S,
                "%s: expected 200 within %.1f s, got status %s after %.2f s (%s)" % (
                    what, HTTP_ANSWER_S, st, took, err or "complete"))
    if ok and bodies is not None:
        bodies.append(body)
    return ok


def closed_by_server(s):
    """True when the server has closed s (EOF or reset); reads and drops what it sent"""
    try:
        while True:
            r, _, _ = select.select([s], [], [], 0)
            if not r:
                return False
            if not s.recv(65536):
                return True
    except OSError:
        return True


def connect_from(port, src, n):
    """n connections from address src that send nothing"""
    return [socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src, 0))
            for _ in range(n)]


def still_open(socks, settle=0.5):
    """How many of socks the server has not closed, after settle seconds"""
    time.sleep(settle)
    return sum(1 for s in socks if not closed_by_server(s))


class Slowloris:
    """n connections from address src, each sending the start of a request and then one
    header line every period seconds, never the blank line that ends the head. Like the
    slowloris tool, it opens a connection the server closed again at that connection's
    next turn. Records how long each connection lived until the server closed it."""

    HEAD = b"GET /metrics HTTP/1.1\r\nHost: memscope\r\n"

    def __init__(self, port, n, period, src="127.0.0.1"):
        self.port, self.n, self.period, self.src = port, n, period, src
        self.socks = [None] * n
        self.born = [0.0] * n
        self.due = [0.0] * n
        self.lifetimes = []  # s from connect to the server's close, per closed connection
        self.opened = 0
        self.errors = []  # connects that failed
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        now = time.monotonic()
        for i in range(self.n):
            self._open(i, now)
        for i in range(self.n):  # staggered turns, as a slow client's would be
            self.due[i] = now + self.period * (i + 1) / self.n
        self.thread.start()
        return self

    def _open(self, i, now):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=2,
                                         source_address=(self.src, 0))
            s.sendall(self.HEAD)
            s.setblocking(False)
        except OSError as e:
            self.errors.append(str(e))
            return
        with self.lock:
            self.socks[i], self.born[i] = s, time.monotonic()
            self.opened += 1

    def _closed(self, i, now):
        with self.lock:
            self.lifetimes.append(now - self.born[i])
            self.socks[i].close()
            self.socks[i] = None

    def _run(self):
        k = 0
        while not self.stopping.is_set():
            live = [s for s in self.socks if s]
            r = select.select(live, [], [], 0.05)[0] if live else time.sleep(0.05) or []
            now = time.monotonic()
            for i, s in enumerate(self.socks):
                if s and s in r and closed_by_server(s):
                    self._closed(i, now)
            for i in range(self.n):
                if now < self.due[i]:
                    continue
                self.due[i] = now + self.period
                if not self.socks[i]:
                    self._open(i, now)
                    continue
                k += 1
                try:
                    self.socks[i].send(b"X-Slow-%d: %d\r\n" % (i, k))
                except OSError:
                    self._closed(i, now)

    def open_now(self):
        with self.lock:
            return sum(1 for s in self.socks if s)

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        for s in self.socks:
            if s:
                s.close()
        self.socks = [None] * self.n


def prom_tracer(ctx):
    """A gated workload whose window has run, traced by -p with --prometheus on a free
    loopback port, its figures served: (w, tr, gt, port)"""
    w = ctx.workload("peak")
    tr = ctx.tracer(["--json", "-i", "1", "--prometheus", "127.0.0.1:0", "-p", str(w.pid)])
    url = tracer_url(tr)
    port = int(re.match(r"http://127\.0\.0\.1:(\d+)/metrics$", url).group(1))
    wait_attached(tr)
    w.signal(signal.SIGUSR1)
    gt = ground_truth(w)
    wait_intervals(tr, 3)  # the update after the second interval record has every call
    return w, tr, gt, port


def end_prom_tracer(c, w, tr):
    c.true(tr.running(), "the tracer ended during the attack; stderr: %s" % tr.stderr_text())
    final_record(stop_tracer(tr))
    w.signal(signal.SIGUSR2)
    c.eq("peak exit status", 0, w.wait_exit(10))


@test
def fault_prom_slowloris(ctx):
    """slowloris: 24 connections trickling headers, scrapes still answered within 2 s"""
    need("prometheus", "promtool")
    w, tr, gt, port = prom_tracer(ctx)
    c = Check()
    base = start_prometheus(ctx, "127.0.0.1:%d" % port)
    wait_scraped_after(base, time.time())
    # from the scrapers' own address: the limit per client cannot tell them apart
    attack = Slowloris(port, 24, 3).start()
    t0 = time.monotonic()
    time.sleep(0.5)
    c.true(attack.opened >= 24 and not attack.errors,
           "slowloris: %d of 24 connections opened; connect errors: %s" % (
               attack.opened, attack.errors[:3]))
    # longer than the old 10 s timeout that every trickled byte renewed
    attack_s = 2 * HTTP_REQUEST_S + 6
    bodies, n = [], 0
    while time.monotonic() - t0 < attack_s:
        res = scrape_from(port)
        if check_scrape(c, "scrape %d, %.1f s into the attack" % (n, time.monotonic() - t0),
                        res, bodies):
            c.eq("scrape %d: memscope_allocations_total{pid=\"%d\"}" % (n, w.pid),
                 gt["allocs"], sample(res[2], "memscope_allocations_total", w.pid))
        n += 1
        time.sleep(0.5)
    # Prometheus scraped every second during the attack, its scrape timeout 1 s
    window = "%ds" % (attack_s - 3)
    ups = prom_query(base, 'count_over_time(up{job="memscope"}[%s])' % window)
    good = prom_query(base, 'sum_over_time(up{job="memscope"}[%s])' % window)
    c.true(ups and good and ups[0][1] >= attack_s - 6 and good[0][1] == ups[0][1],
           "prometheus during the attack: %d of %d scrapes succeeded (up)" % (
               good[0][1] if good else 0, ups[0][1] if ups else 0))
    attack.stop()
    life = sorted(attack.lifetimes)
    c.true(len(life) >= 24,
           "the server closed %d slowloris connections in %d s (%d opened): they hold slots" % (
               len(life), attack_s, attack.opened))
    c.true(not life or life[-1] <= HTTP_REQUEST_S + 1.5,
           "a slowloris connection lived %.1f s before the server closed it (bound %d s)" % (
               life[-1] if life else 0, HTTP_REQUEST_S))
    c.true(n >= 2 * attack_s / 3, "only %d scrapes in %d s" % (n, attack_s))
    for i in sorted({0, len(bodies) // 2, len(bodies) - 1}):
        if bodies:
            promtool_check(c, "scrape %d of %d during the attack" % (i, len(bodies)), bodies[i])
    check_scrape(c, "a scrape after the attack", scrape_from(port))
    end_prom_tracer(c, w, tr)
    c.done()


@test
def fault_prom_slowloris_spread(ctx):
    """slowloris from 3 other addresses, 7 connections each: each closed 5 s after its accept"""
    w, tr, gt, port = prom_tracer(ctx)
    c = Check()
    # below both limits: no connection is closed for room, the request deadline does it
    n = HTTP_PER_CLIENT - 1
    attacks = [Slowloris(port, n, 1, "127.0.0.%d" % (2 + i)).start() for i in range(3)]
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < 2 * HTTP_REQUEST_S + 3:
        check_scrape(c, "scrape %d, %.1f s into the attack" % (k, time.monotonic() - t0),
                     scrape_from(port))
        k += 1
        time.sleep(0.5)
    for a in attacks:
        a.stop()
    life = sorted(x for a in attacks for x in a.lifetimes)
    c.true(len(life) >= 3 * n,
           "the server closed %d of %d slowloris connections in %.0f s" % (
               len(life), sum(a.opened for a in attacks), time.monotonic() - t0))
    c.true(not life or (life[0] >= HTTP_REQUEST_S - 0.5 and life[-1] <= HTTP_REQUEST_S + 1.5),
           "slowloris connections lived %.1f to %.1f s (the request bound: %d s)" % (
               life[0] if life else 0, life[-1] if life else 0, HTTP_REQUEST_S))
    end_prom_tracer(c, w, tr)
    c.done()


@test
def fault_prom_one_client(ctx):
    """40 connections from one address keep at most 8; from five, at most 32; scrapes answered"""
    w, tr, gt, port = prom_tracer(ctx)
    c = Check()
    hog = connect_from(port, "127.0.0.2", 40)
    n = still_open(hog)
    c.true(n <= HTTP_PER_CLIENT,
           "40 idle connections from 127.0.0.2: %d still open (at most %d from one address)" % (
               n, HTTP_PER_CLIENT))
    for src in ("127.0.0.3", "127.0.0.2", "127.0.0.1"):
        check_scrape(c, "a scrape from %s while 127.0.0.2 holds its connections" % src,
                     scrape_from(port, src))
    for s in hog:
        s.close()
    time.sleep(0.3)
    many_from = time.monotonic()
    many = {"127.0.0.%d" % (10 + i): connect_from(port, "127.0.0.%d" % (10 + i), HTTP_PER_CLIENT)
            for i in range(5)}
    time.sleep(0.5)
    per = {a: sum(1 for s in v if not closed_by_server(s)) for a, v in many.items()}
    c.true(sum(per.values()) <= HTTP_CONNECTIONS,
           "8 idle connections from each of 5 addresses: %d still open (at most %d): %s" % (
               sum(per.values()), HTTP_CONNECTIONS, per))
    check_scrape(c, "a scrape from 127.0.0.20 while 5 addresses hold 40 connections",
                 scrape_from(port, "127.0.0.20"))
    # the request deadline closes what is left, whatever the pressure
    time.sleep(HTTP_REQUEST_S + 1)
    left = sum(1 for v in many.values() for s in v if not closed_by_server(s))
    c.eq("idle connections still open %.1f s after they were opened (bound %d s)" % (
        time.monotonic() - many_from, HTTP_REQUEST_S), 0, left)
    for v in many.values():
        for s in v:
            s.close()
    end_prom_tracer(c, w, tr)
    c.done()


def read_one(s, what, deadline, head_only=False):
    """One response read from a kept-alive connection (Content-Length; a HEAD's has no
    body): (status, head, body); raises Fail when it does not come by deadline"""
    got = b""
    while b"\r\n\r\n" not in got or (
            not head_only and len(got.partition(b"\r\n\r\n")[2]) < need_len(got)):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail("%s: no complete response within %.1f s (got %r)" % (
                what, HTTP_ANSWER_S, got[:200]))
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except OSError as e:
            raise Fail("%s: %s after %d bytes" % (what, e, len(got)))
        if not b:
            raise Fail("%s: the server closed the connection after %d bytes: %r" % (
                what, len(got), got[:200]))
        got += b
    return parse_response(got)


def need_len(got):
    m = re.search(rb"\r\nContent-Length: (\d+)\r\n", got.partition(b"\r\n\r\n")[0], re.I)
    return int(m.group(1)) if m else 0


@test
def fault_prom_keep_alive(ctx):
    """keep-alive serves request after request; request heads and idle connections are bounded"""
    need("promtool")
    w, tr, gt, port = prom_tracer(ctx)
    c = Check()
    ka = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        for i, (req, what) in enumerate(((KEEP, "GET"), (KEEP, "GET"),
                                         (KEEP.replace(b"GET", b"HEAD", 1), "HEAD"))):
            ka.sendall(req)
            st, head, body = read_one(ka, "keep-alive request %d (%s)" % (i + 1, what),
                                      time.monotonic() + HTTP_ANSWER_S, what == "HEAD")
            c.eq("keep-alive request %d (%s): status" % (i + 1, what), 200, st)
            c.true("connection: close" not in head.lower(),
                   "keep-alive request %d: the server closes the connection: %r" % (
                       i + 1, head.split("\r\n")))
            if what == "GET":
                c.eq("keep-alive request %d: memscope_allocations_total{pid=\"%d\"}" % (
                    i + 1, w.pid), gt["allocs"], sample(body, "memscope_allocations_total", w.pid))
                if i == 0:
                    promtool_check(c, "keep-alive request 1", body)
    except (Fail, OSError) as e:
        c.fail(str(e))
    idle_from = time.monotonic()
    # a fresh connection that trickles its head, one header line a second
    slow = socket.create_connection(("127.0.0.1", port), timeout=5)
    slow.sendall(Slowloris.HEAD)
    slow_from = time.monotonic()
    # a kept-alive connection that trickles its second request
    ka2 = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        ka2.sendall(KEEP)
        st, _, _ = read_one(ka2, "second kept-alive connection",
                            time.monotonic() + HTTP_ANSWER_S)
        c.eq("second kept-alive connection: status", 200, st)
        ka2.sendall(Slowloris.HEAD)
    except (Fail, OSError) as e:
        c.fail(str(e))
    ka2_from = time.monotonic()
    ended = {}
    k, next_line = 0, time.monotonic() + 1
    while len(ended) < 3 and time.monotonic() - idle_from < HTTP_IDLE_S + 5:
        time.sleep(0.05)
        now = time.monotonic()
        for name, s in (("idle", ka), ("trickle", slow), ("kept trickle", ka2)):
            if name not in ended and closed_by_server(s):
                ended[name] = now
        if now >= next_line:
            k += 1
            next_line += 1
            for name, s in (("trickle", slow), ("kept trickle", ka2)):
                if name not in ended:
                    try:
                        s.send(b"X-Slow: %d\r\n" % k)
                    except OSError:
                        ended[name] = now
    for name, start, bound, what in (
            ("trickle", slow_from, HTTP_REQUEST_S, "its accept"),
            ("idle", idle_from, HTTP_IDLE_S, "its last response"),
            ("kept trickle", ka2_from, HTTP_IDLE_S, "its last response")):
        if name not in ended:
            c.fail("%s connection: still open %.0f s after %s (bound %d s)" % (
                name, time.monotonic() - start, what, bound))
            continue
        took = ended[name] - start
        c.true(bound - 1 <= took <= bound + 1.5,
               "%s connection: closed %.1f s after %s (expected %d s)" % (name, took, what,
                                                                         bound))
    for s in (ka, slow, ka2):
        s.close()
    end_prom_tracer(c, w, tr)
    c.done()
