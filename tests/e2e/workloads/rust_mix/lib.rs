// rust_mix/lib.rs: the allocations of rust_alloc's window, in a crate of their own (see
// rust_alloc.rs: calls from this crate go through the __rust_* entry points)
//
// A deterministic mix: Box, Vec growth (a __rust_realloc per doubling), shrink_to_fit,
// vec![0; n] (__rust_alloc_zeroed), a growing String, some blocks kept live, one
// allocation that fails (2^62 bytes: null, nothing aborts), then a summit above every
// transient so that peak_bytes is exact.
use std::alloc::Layout;
use std::hint::black_box;

fn sz(i: usize, k: usize, lo: usize, span: usize) -> usize {
    let mut x = (i as u64)
        .wrapping_mul(7919)
        .wrapping_add((k as u64).wrapping_mul(104729))
        + 12345;
    x ^= x >> 13;
    x = x.wrapping_mul(0x9E3779B97F4A7C15);
    x ^= x >> 29;
    lo + (x % span as u64) as usize
}

#[derive(Clone, Copy)]
#[allow(dead_code)]
pub struct Node {
    a: u64,
    b: u64,
    c: [u32; 5],
}

#[inline(never)]
pub fn window(
    iters: usize,
    keep: &mut Vec<Box<Node>>,
    keep_v: &mut Vec<Vec<u8>>,
) -> Result<(), &'static str> {
    for i in 0..iters {
        // Box: __rust_alloc, __rust_dealloc
        let n = Box::new(Node {
            a: i as u64,
            b: 2,
            c: [i as u32; 5],
        });
        let n = black_box(n);
        if i % 5 == 0 {
            keep.push(n); // keep has capacity: no growth
        } else {
            drop(n);
        }
        // Vec growth: __rust_alloc, then __rust_realloc per doubling, then a shrink
        let mut v: Vec<u64> = Vec::with_capacity(2);
        for k in 0..sz(i, 1, 3, 60) {
            v.push(k as u64);
        }
        v.shrink_to_fit();
        black_box(&v);
        drop(v);
        // zeroed: __rust_alloc_zeroed
        let z = vec![0u8; sz(i, 2, 1, 3000)];
        let z = black_box(z);
        if i % 7 == 0 {
            keep_v.push(z);
        } else {
            drop(z);
        }
        // a string that grows
        let mut s = String::with_capacity(8);
        for _ in 0..sz(i, 3, 1, 10) {
            s.push_str("abcdefghij");
        }
        black_box(&s);
    }
    // a failed __rust_alloc: the allocator returns null, nothing aborts
    let p = unsafe { std::alloc::alloc(Layout::from_size_align(1 << 62, 8).unwrap()) };
    if !black_box(p).is_null() {
        return Err("an allocation of 2^62 bytes succeeded");
    }
    // a summit above every transient, so that peak_bytes is exact
    let big = black_box(vec![1u8; 200000]);
    drop(big);
    Ok(())
}
