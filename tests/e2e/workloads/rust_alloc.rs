// rust_alloc.rs: a Rust program with its own #[global_allocator] (a counting wrapper of
// System), traced with --preset rust
//
// usage: rust_alloc [ITERS]
// Built from two crates with rustc -O (see run.py): rust_mix/lib.rs, a library with the
// window's allocations (in a directory of its own: it is no program), and this program,
// which defines the global allocator:
//   rustc -O --crate-type=rlib --crate-name rust_mix rust_mix/lib.rs -o DIR/librust_mix.rlib
//   rustc -O --extern rust_mix=DIR/librust_mix.rlib rust_alloc.rs -o DIR/rust_alloc
// Why two: rustc (1.95) generates __rust_alloc and the other entry points in the crate
// that defines the #[global_allocator] and inlines them into that crate's own code, so
// its own Box and Vec calls never reach a __rust_* symbol (they show as libc calls made
// by the program). Code of every other crate (dependencies, std's compiled code) calls
// the symbols; the mix lives in such a crate.
//
// Prints "ready <pid>", waits for SIGUSR1, runs the window (rust_mix::window), prints the
// ground truth (one JSON line, the fields of tests/e2e/workloads/agt.h), waits for
// SIGUSR2 and exits.
//
// The ground truth is counted by the global allocator itself, in the window only: every
// call of it is one call of __rust_alloc, __rust_alloc_zeroed, __rust_realloc or
// __rust_dealloc. System serves each with exactly one libc call (malloc, calloc, realloc,
// free: every alignment here is at most 16 and at most the size), so the rust
// allocator's backing figures are its user figures again. Nothing in the window
// allocates but the mix: no formatting into a String, no stdio (write(2) from a stack
// buffer), signals through libc.
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

extern "C" {
    fn getpid() -> i32;
    fn write(fd: i32, buf: *const u8, n: usize) -> isize;
    fn sigemptyset(set: *mut SigSet) -> i32;
    fn sigaddset(set: *mut SigSet, sig: i32) -> i32;
    fn pthread_sigmask(how: i32, set: *const SigSet, old: *mut SigSet) -> i32;
    fn sigwait(set: *const SigSet, sig: *mut i32) -> i32;
    fn _exit(status: i32) -> !;
}

#[repr(C)]
struct SigSet([u64; 16]);

const SIGUSR1: i32 = 10;
const SIGUSR2: i32 = 12;
const SIG_BLOCK: i32 = 0;

const HIST: usize = 65;
const ALLOC: usize = 0;
const ZEROED: usize = 1;
const REALLOC: usize = 2;
const DEALLOC: usize = 3;
const FN_NAMES: [&str; 4] = [
    "__rust_alloc",
    "__rust_alloc_zeroed",
    "__rust_realloc",
    "__rust_dealloc",
];

struct Counts {
    allocs: AtomicU64,
    frees: AtomicU64,
    alloc_bytes: AtomicU64,
    freed_bytes: AtomicU64,
    live_allocs: AtomicU64,
    live_bytes: AtomicU64,
    peak_bytes: AtomicU64,
    peak_alt: AtomicU64,
    failed_allocs: AtomicU64,
    by_func: [AtomicU64; 4],
    hist: [AtomicU64; HIST],
}

#[allow(clippy::declare_interior_mutable_const)]
const Z: AtomicU64 = AtomicU64::new(0);

static G: Counts = Counts {
    allocs: Z,
    frees: Z,
    alloc_bytes: Z,
    freed_bytes: Z,
    live_allocs: Z,
    live_bytes: Z,
    peak_bytes: Z,
    peak_alt: Z,
    failed_allocs: Z,
    by_func: [Z; 4],
    hist: [Z; HIST],
};
static ON: AtomicBool = AtomicBool::new(false);

fn bucket(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        64 - (n as u64).leading_zeros() as usize
    }
}

fn peak(alt: u64) {
    let live = G.live_bytes.load(Relaxed);
    if live > G.peak_bytes.load(Relaxed) {
        G.peak_bytes.store(live, Relaxed);
    }
    let alt = alt.max(live);
    if alt > G.peak_alt.load(Relaxed) {
        G.peak_alt.store(alt, Relaxed);
    }
}

fn add(n: usize) {
    G.allocs.fetch_add(1, Relaxed);
    G.alloc_bytes.fetch_add(n as u64, Relaxed);
    G.live_allocs.fetch_add(1, Relaxed);
    G.live_bytes.fetch_add(n as u64, Relaxed);
    G.hist[bucket(n)].fetch_add(1, Relaxed);
}

fn rel(n: usize) {
    G.frees.fetch_add(1, Relaxed);
    G.freed_bytes.fetch_add(n as u64, Relaxed);
    G.live_allocs.fetch_sub(1, Relaxed);
    G.live_bytes.fetch_sub(n as u64, Relaxed);
}

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if ON.load(Relaxed) {
            G.by_func[ALLOC].fetch_add(1, Relaxed);
            if p.is_null() {
                G.failed_allocs.fetch_add(1, Relaxed);
            } else {
                add(l.size());
                peak(0);
            }
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if ON.load(Relaxed) {
            G.by_func[ZEROED].fetch_add(1, Relaxed);
            if p.is_null() {
                G.failed_allocs.fetch_add(1, Relaxed);
            } else {
                add(l.size());
                peak(0);
            }
        }
        p
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let r = System.realloc(p, l, n);
        if ON.load(Relaxed) {
            G.by_func[REALLOC].fetch_add(1, Relaxed);
            if r.is_null() {
                G.failed_allocs.fetch_add(1, Relaxed);
            } else {
                let alt = G.live_bytes.load(Relaxed) + n as u64;
                rel(l.size());
                add(n);
                peak(alt);
            }
        }
        r
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        if ON.load(Relaxed) {
            G.by_func[DEALLOC].fetch_add(1, Relaxed);
            rel(l.size());
        }
    }
}

#[global_allocator]
static A: Counting = Counting;

// ---- output without allocating

struct Buf {
    b: [u8; 8192],
    n: usize,
}

impl std::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let s = s.as_bytes();
        if self.n + s.len() > self.b.len() {
            return Err(std::fmt::Error);
        }
        self.b[self.n..self.n + s.len()].copy_from_slice(s);
        self.n += s.len();
        Ok(())
    }
}

fn die(what: &str) -> ! {
    unsafe {
        write(2, "workload: ".as_ptr(), 10);
        write(2, what.as_ptr(), what.len());
        write(2, "\n".as_ptr(), 1);
        _exit(4)
    }
}

fn out(b: &Buf) {
    let mut s = &b.b[..b.n];
    while !s.is_empty() {
        let w = unsafe { write(1, s.as_ptr(), s.len()) };
        if w <= 0 {
            die("write failed");
        }
        s = &s[w as usize..];
    }
}

fn counts(b: &mut Buf, prefix: &str) -> std::fmt::Result {
    let v = [
        ("allocs", G.allocs.load(Relaxed)),
        ("frees", G.frees.load(Relaxed)),
        ("unmatched_frees", 0),
        ("dead_frees", 0),
        (
            if prefix.is_empty() {
                "alloc_bytes"
            } else {
                "bytes"
            },
            G.alloc_bytes.load(Relaxed),
        ),
        ("freed_bytes", G.freed_bytes.load(Relaxed)),
        ("live_allocs", G.live_allocs.load(Relaxed)),
        ("live_bytes", G.live_bytes.load(Relaxed)),
        ("peak_bytes", G.peak_bytes.load(Relaxed)),
        ("failed_allocs", G.failed_allocs.load(Relaxed)),
    ];
    for (k, x) in v {
        write!(b, ", \"{}{}\": {}", prefix, k, x)?;
    }
    Ok(())
}

fn user(b: &mut Buf) -> std::fmt::Result {
    counts(b, "")?;
    b.write_str(", \"by_func\": {")?;
    let mut first = true;
    for (i, name) in FN_NAMES.iter().enumerate() {
        let x = G.by_func[i].load(Relaxed);
        if x != 0 {
            write!(b, "{}\"{}\": {}", if first { "" } else { ", " }, name, x)?;
            first = false;
        }
    }
    b.write_str("}, \"size_hist\": {")?;
    first = true;
    for i in 0..HIST {
        let x = G.hist[i].load(Relaxed);
        if x != 0 {
            let floor: u64 = if i == 0 { 0 } else { 1u64 << (i - 1) };
            write!(b, "{}\"{}\": {}", if first { "" } else { ", " }, floor, x)?;
            first = false;
        }
    }
    b.write_str("}")
}

fn ground_truth(b: &mut Buf) -> std::fmt::Result {
    write!(b, "{{\"pid\": {}", unsafe { getpid() })?;
    user(b)?;
    b.write_str(", \"allocators\": [{\"name\": \"rust\", \"kind\": \"rust\"")?;
    user(b)?;
    // System: one libc call per call (see the top); a failed __rust_alloc is a failed
    // malloc inside it
    counts(b, "backing_")?;
    b.write_str("}]}\n")
}

fn block_signals() -> SigSet {
    let mut set = SigSet([0; 16]);
    unsafe {
        sigemptyset(&mut set);
        sigaddset(&mut set, SIGUSR1);
        sigaddset(&mut set, SIGUSR2);
        if pthread_sigmask(SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            die("cannot block signals");
        }
    }
    set
}

fn wait_signal(sig: i32) {
    let mut set = SigSet([0; 16]);
    let mut got = 0;
    unsafe {
        sigemptyset(&mut set);
        sigaddset(&mut set, sig);
        loop {
            if sigwait(&set, &mut got) != 0 {
                die("sigwait failed");
            }
            if got == sig {
                break;
            }
        }
    }
}

fn main() {
    let iters: usize = match std::env::args().nth(1) {
        None => 100,
        Some(a) => a
            .parse()
            .unwrap_or_else(|_| die("usage: rust_alloc [ITERS]")),
    };
    let _set = block_signals();
    let mut keep: Vec<Box<rust_mix::Node>> = Vec::with_capacity(iters / 5 + 1);
    let mut keep_v: Vec<Vec<u8>> = Vec::with_capacity(iters / 7 + 1);
    let mut b = Buf { b: [0; 8192], n: 0 };
    if write!(b, "ready {}\n", unsafe { getpid() }).is_err() {
        die("ready line");
    }
    out(&b);
    wait_signal(SIGUSR1);

    ON.store(true, Relaxed);
    let r = rust_mix::window(iters, &mut keep, &mut keep_v);
    ON.store(false, Relaxed);
    if let Err(e) = r {
        die(e);
    }

    if G.peak_alt.load(Relaxed) != G.peak_bytes.load(Relaxed) {
        die("peak_bytes depends on the order of a realloc's release and allocation");
    }
    b.n = 0;
    if ground_truth(&mut b).is_err() {
        die("ground truth too long");
    }
    out(&b);
    wait_signal(SIGUSR2);
    black_box((&keep, &keep_v));
}
