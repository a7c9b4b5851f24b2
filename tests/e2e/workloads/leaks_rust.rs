// leaks_rust.rs: a Rust function leaking Boxes in a loop, for demangled allocation sites
//
// usage: leaks_rust
// Built by run.py: rustc -g -C force-frame-pointers=yes (no -O: std's generic code is
// instantiated here, with frame pointers; the precompiled std is not). Run from its first
// instruction under the tracer (launched). make_leak() boxes one Entry (200 bytes) and
// leaks it (Box::leak) onto a chain; main calls it 50 times, 20 ms apart, waits 0.5 s and
// exits: the site holds 50 blocks and 10000 bytes at the exit, all older than 0.25 s. The
// Box::new line carries a "SITE:make_leak" marker that run.py reads for file:line.
//
// Prints one JSON line before exiting: {"pid", "blocks", "bytes"}, formatted into a stack
// buffer and written with write(2) (no stdout buffer, nothing allocates but make_leak).
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

struct Entry {
    next: Option<&'static Entry>,
    data: [u8; 192],
}

extern "C" {
    fn write(fd: i32, buf: *const u8, n: usize) -> isize;
    fn getpid() -> i32;
}

struct Buf {
    b: [u8; 256],
    n: usize,
}

impl std::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.n + s.len();
        if end > self.b.len() {
            return Err(std::fmt::Error);
        }
        self.b[self.n..end].copy_from_slice(s.as_bytes());
        self.n = end;
        Ok(())
    }
}

#[inline(never)]
fn make_leak(prev: Option<&'static Entry>, i: u8) -> &'static Entry {
    let e = Box::new(Entry { next: prev, data: [i; 192] }); // SITE:make_leak
    Box::leak(e)
}

fn main() {
    assert_eq!(std::mem::size_of::<Entry>(), 200);
    let mut head: Option<&'static Entry> = None;
    let (mut blocks, mut bytes) = (0u64, 0u64);
    for i in 0..50u8 {
        head = Some(make_leak(black_box(head), i)); // CALL:make_leak
        blocks += 1;
        bytes += std::mem::size_of::<Entry>() as u64;
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    // the entries are read: none could be dropped
    let mut sum = 0u64;
    let mut p = head;
    while let Some(e) = p {
        sum += e.data[0] as u64;
        p = e.next;
    }
    black_box(sum);
    let mut out = Buf { b: [0; 256], n: 0 };
    let pid = unsafe { getpid() };
    writeln!(out, "{{\"pid\": {}, \"blocks\": {}, \"bytes\": {}}}", pid, blocks, bytes).unwrap();
    unsafe {
        write(1, out.b.as_ptr(), out.n);
    }
}
