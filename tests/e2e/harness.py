"""harness.py: what every e2e test module uses: processes with collected output, the test
context, failures and skips, the difference collector and the @test registry.

run.py discovers the t_*.py modules beside it, imports them (their @test functions register
here, in import order) and runs what TESTS holds. Python standard library only.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time


TRACER = "memscope-bpf"
ATTACH_TIMEOUT = 60  # s: attaching to every process can take a while
WINDOW_TIMEOUT = 120  # s: a traced workload's window, every call trapped
EXIT_TIMEOUT = 30  # s: a tracer's detach and final record after SIGINT


class Fail(Exception):
    """A test failed; the message says what differed"""


class Skip(Exception):
    """A test cannot run here; the message says why"""


# ---------------------------------------------------------------- processes

class Proc:
    """A started process whose stdout and stderr lines are collected by reader threads.

    Each process gets its own session, so that killing its group also kills what it
    started (a tracer's COMMAND)."""

    def __init__(self, argv, name=None, **kw):
        self.name = name or os.path.basename(argv[0])
        self.argv = argv
        self.lines = {"out": [], "err": []}
        self.eof = {"out": False, "err": False}
        self.cv = threading.Condition()
        self.started = time.monotonic()
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True, **kw)
        self.pid = self.p.pid
        self.readers = [threading.Thread(target=self._read, args=(s, f), daemon=True)
                        for s, f in (("out", self.p.stdout), ("err", self.p.stderr))]
        for t in self.readers:
            t.start()

    def _read(self, stream, f):
        for raw in iter(f.readline, b""):
            with self.cv:
                self.lines[stream].append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.eof[stream] = True
            self.cv.notify_all()

    def out(self):
        with self.cv:
            return list(self.lines["out"])

    def err(self):
        with self.cv:
            return list(self.lines["err"])

    def stderr_text(self):
        err = self.err()
        return " | ".join(err[-5:]) if err else "(nothing)"

    def wait_line(self, stream, pred, timeout, what, start=0):
        """The first line (from index start) of stream satisfying pred, and its index"""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                lines = self.lines[stream]
                for i in range(start, len(lines)):
                    if pred(lines[i]):
                        return lines[i], i
                start = len(lines)
                if self.eof[stream]:
                    self.p.poll()
                    raise Fail("%s ended (status %s) before %s; stderr: %s" % (
                        self.name, self.p.returncode, what, " | ".join(
                            self.lines["err"][-5:]) or "(nothing)"))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Fail("%s: no %s within %d s; stderr: %s" % (
                        self.name, what, timeout, " | ".join(self.lines["err"][-5:])
                        or "(nothing)"))
                self.cv.wait(min(left, 0.5))

    def wait_exit(self, timeout, what="exit"):
        """The exit status, once both streams are read to the end"""
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Fail("%s did not %s within %d s; stderr: %s; its session: %s" % (
                self.name, what, timeout, self.stderr_text(), self.session_state()))
        for t in self.readers:
            t.join(5)
        return rc

    def running(self):
        return self.p.poll() is None

    def session_state(self):
        """What the processes of its session (it and what it started) are doing, for a
        hang's diagnosis: pid, state (T: stopped), what the kernel waits on, command"""
        try:
            r = subprocess.run(["ps", "-s", str(self.pid), "-o", "pid=,stat=,wchan:24=,args="],
                               capture_output=True, timeout=10)
            lines = [" ".join(l.split()[:3] + [" ".join(l.split()[3:])[:60]])
                     for l in r.stdout.decode("utf-8", "replace").splitlines()]
            return " | ".join(lines[:12]) or "(none)"
        except (OSError, subprocess.TimeoutExpired) as e:
            return "(ps: %s)" % e

    def signal(self, sig):
        if self.running():
            os.kill(self.pid, sig)

    def kill(self):
        """Kills the process and its group (what it started), then reaps it"""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.running():
            try:
                self.p.kill()
            except ProcessLookupError:
                pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for t in self.readers:
            t.join(2)


def run_cmd(argv, timeout, **kw):
    """Runs argv to its end: (status, stdout lines, stderr lines); a hang is a failure"""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, start_new_session=True, **kw)
    except subprocess.TimeoutExpired:
        raise Fail("%s did not end within %d s" % (" ".join(argv), timeout))
    out = r.stdout.decode("utf-8", "replace").splitlines()
    err = r.stderr.decode("utf-8", "replace").splitlines()
    return r.returncode, out, err


# ---------------------------------------------------------------- the test context

class Ctx:
    """One test's processes (all killed at its end) and the paths it uses"""

    def __init__(self, args):
        self.bin = args.bin
        self.wl_dir = args.workloads
        self.procs = []
        self.tmp = None

    def workload_path(self, name):
        path = os.path.join(self.wl_dir, name)
        if not os.access(path, os.X_OK):
            raise Fail("no workload %s (make builds it from tests/e2e/workloads/%s.c)"
                       % (path, name))
        return path

    def spawn(self, argv, name=None, **kw):
        p = Proc(argv, name, **kw)
        self.procs.append(p)
        return p

    def workload(self, name, *args):
        """Starts a gated workload and waits for its "ready <pid>" line"""
        w = self.spawn([self.workload_path(name)] + [str(a) for a in args])
        line, _ = w.wait_line("out", lambda l: l.startswith("ready "), 30, "its ready line")
        if line != "ready %d" % w.pid:
            raise Fail("%s said %r, expected 'ready %d'" % (name, line, w.pid))
        return w

    def tracer(self, args, wrap=(), **kw):
        if not os.access(self.bin, os.X_OK):
            raise Fail("no tracer binary at %s (make)" % self.bin)
        return self.spawn(list(wrap) + [self.bin] + list(args), TRACER, **kw)

    def tmpdir(self):
        if not self.tmp:
            self.tmp = tempfile.mkdtemp(prefix="memscope-e2e-")
        return self.tmp

    def cleanup(self):
        for p in self.procs:
            p.kill()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- comparisons

class Check:
    """Collects every difference, so one run names all of them"""

    def __init__(self):
        self.diffs = []

    def fail(self, msg):
        self.diffs.append(msg)

    def true(self, cond, msg):
        if not cond:
            self.diffs.append(msg)
        return cond

    def eq(self, field, expected, got):
        return self.true(expected == got, "%s (expected %s, got %s)" % (
            field, json.dumps(expected, sort_keys=True), json.dumps(got, sort_keys=True)))

    def done(self):
        if self.diffs:
            raise Fail("; ".join(self.diffs))


# ---------------------------------------------------------------- the test registry

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn
