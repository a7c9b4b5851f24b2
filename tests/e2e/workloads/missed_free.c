/* missed_free.c: a ring allocator whose blocks go back without a call the tracer sees
 *
 * usage: missed_free [N [K]]  (default 1000 and 16)
 * Traced as a launched command with only its allocation function named:
 *   --alloc 'ring=ring_get(_, size)'
 * ring_get(ring, size) hands out K slots of RING_SLOT bytes in turn, so the slot handed
 * out by call i comes back at call i + K: its earlier block was released without any
 * traced free (the program just stops using it). N calls therefore leave K blocks live
 * (the last K) and make N - K missed frees: addresses allocated again while the tracer
 * still held them live. No libc call is made (a plain glibc program makes none of its
 * own at start-up or exit, see launched.c).
 *
 * Prints one JSON line: {"pid", "allocs", "missed_frees", "live_allocs", "live_bytes",
 * "alloc_bytes", "missed_freed_bytes", "slots"}; missed_freed_bytes are the requested
 * bytes of the blocks whose free was missed.
 */
#include "gt.h"

#define RING_SLOT 256
#define RING_MAX 1024

struct ring {
	unsigned next, k;
	_Alignas(64) char mem[RING_MAX][RING_SLOT];
};

__attribute__((noipa)) void *ring_get(struct ring *r, size_t size)
{
	void *p;

	if (size > RING_SLOT)
		return NULL;
	p = r->mem[r->next];
	r->next = (r->next + 1) % r->k;
	return p;
}

static void *(*volatile ring_get_fn)(struct ring *, size_t) = ring_get;

int main(int argc, char **argv)
{
	static struct ring r;
	static size_t size_of[RING_MAX];
	static struct gt_buf b;
	unsigned long n = gt_arg(argc, argv, 1, 1000), k = gt_arg(argc, argv, 2, 16), i;
	uint64_t alloc_bytes = 0, missed = 0, missed_bytes = 0, live = 0, live_bytes = 0;

	if (k < 1 || k > RING_MAX || n < k)
		gt_die("usage: missed_free [N [K(1-1024, at most N)]]");
	r.k = (unsigned)k;
	for (i = 0; i < n; i++) {
		size_t sz = 1 + (i * 37) % RING_SLOT;
		unsigned slot = (unsigned)(i % k);
		void *p = ring_get_fn(&r, sz);

		if (p != r.mem[slot])
			gt_die("ring_get gave an unexpected slot");
		gt_touch(p, sz);
		if (i >= k) { /* the slot's earlier block: its free is never seen */
			missed++;
			missed_bytes += size_of[slot];
		} else {
			live++;
		}
		live_bytes += sz;
		live_bytes -= i >= k ? size_of[slot] : 0;
		size_of[slot] = sz;
		alloc_bytes += sz;
	}
	b.len = 0;
	gt_puts(&b, "{\"pid\": ");
	gt_putu(&b, (uint64_t)getpid());
	gt_field(&b, "allocs", n);
	gt_field(&b, "missed_frees", missed);
	gt_field(&b, "live_allocs", live);
	gt_field(&b, "live_bytes", live_bytes);
	gt_field(&b, "alloc_bytes", alloc_bytes);
	gt_field(&b, "missed_freed_bytes", missed_bytes);
	gt_field(&b, "slots", k);
	gt_puts(&b, "}\n");
	gt_write(1, b.s, b.len);
	return 0;
}
