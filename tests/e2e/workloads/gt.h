/* gt.h: ground truth for the e2e workloads: every allocator call made through here is
 * counted exactly as a correct memscope-bpf must count it, and printed as one JSON line */
#ifndef MS_E2E_GT_H
#define MS_E2E_GT_H

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Every call goes through a volatile function pointer: GCC cannot drop a malloc+free pair,
 * a free(NULL), or turn realloc(NULL, n) into malloc(n) when it cannot see which function
 * it calls. Nothing here allocates: the JSON is built in a static buffer and written with
 * write(2), never with stdio.
 */
static void *(*volatile gt_malloc_fn)(size_t) = malloc;
static void *(*volatile gt_calloc_fn)(size_t, size_t) = calloc;
static void *(*volatile gt_realloc_fn)(void *, size_t) = realloc;
static void *(*volatile gt_reallocarray_fn)(void *, size_t, size_t) = reallocarray;
static int (*volatile gt_posix_memalign_fn)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile gt_aligned_alloc_fn)(size_t, size_t) = aligned_alloc;
static void *(*volatile gt_memalign_fn)(size_t, size_t) = memalign;
static void *(*volatile gt_valloc_fn)(size_t) = valloc;
static void *(*volatile gt_pvalloc_fn)(size_t) = pvalloc;
static void (*volatile gt_free_fn)(void *) = free;

/* by_func keys; in glibc 2.36 aligned_alloc and memalign are one address, so one key */
enum gt_fn {
	GT_MALLOC,
	GT_CALLOC,
	GT_REALLOC,
	GT_REALLOCARRAY,
	GT_POSIX_MEMALIGN,
	GT_MEMALIGN,
	GT_VALLOC,
	GT_PVALLOC,
	GT_FREE,
	GT_NFN,
};

static const char *const gt_fn_name[GT_NFN] = {
	"malloc", "calloc",  "realloc", "reallocarray", "posix_memalign", "aligned_alloc/memalign",
	"valloc", "pvalloc", "free",
};

#define GT_HIST 65 /* size 0, then [2^k, 2^(k+1)) for k = 0..63 */

/* Figures with the output's field names; bytes are requested bytes */
struct gt {
	uint64_t allocs, frees, unmatched_frees, dead_frees, alloc_bytes, freed_bytes;
	uint64_t live_allocs, live_bytes, peak_bytes, failed_allocs;
	/* peak if a moving realloc's new block were counted before its old one is
	 * released: the workloads keep it equal to peak_bytes so either order is right */
	uint64_t peak_alt;
	uint64_t by_func[GT_NFN];
	uint64_t hist[GT_HIST];
};

/* A block the workload owns: address and requested size */
struct blk {
	void *p;
	size_t n;
};

static inline unsigned gt_bucket(uint64_t n)
{
	return n ? 64 - __builtin_clzll(n) : 0;
}

/* Writes to the block so that it is used (and its first page is touched) */
static inline void gt_touch(void *p, size_t n)
{
	if (p && n)
		*(volatile char *)p = (char)n;
	__asm__ volatile("" ::"r"(p) : "memory");
}

static inline void gt_peak(struct gt *g, uint64_t alt)
{
	if (g->live_bytes > g->peak_bytes)
		g->peak_bytes = g->live_bytes;
	if (alt > g->peak_alt)
		g->peak_alt = alt;
	if (g->live_bytes > g->peak_alt)
		g->peak_alt = g->live_bytes;
}

static inline void gt_add(struct gt *g, size_t n)
{
	g->allocs++;
	g->alloc_bytes += n;
	g->live_allocs++;
	g->live_bytes += n;
	g->hist[gt_bucket(n)]++;
}

static inline void gt_rel(struct gt *g, size_t n)
{
	g->frees++;
	g->freed_bytes += n;
	g->live_allocs--;
	g->live_bytes -= n;
}

/* An allocation call returned p (NULL: failed) */
static inline void gt_alloc_done(struct gt *g, enum gt_fn f, void *p, size_t n)
{
	g->by_func[f]++;
	if (!p) {
		g->failed_allocs++;
		return;
	}
	gt_touch(p, n);
	gt_add(g, n);
	gt_peak(g, g->live_bytes);
}

static inline void *gt_malloc(struct gt *g, size_t n)
{
	void *p = gt_malloc_fn(n);

	gt_alloc_done(g, GT_MALLOC, p, n);
	return p;
}

static inline void *gt_calloc(struct gt *g, size_t m, size_t n)
{
	void *p = gt_calloc_fn(m, n);

	gt_alloc_done(g, GT_CALLOC, p, m * n);
	return p;
}

static inline void *gt_aligned_alloc(struct gt *g, size_t a, size_t n)
{
	void *p = gt_aligned_alloc_fn(a, n);

	gt_alloc_done(g, GT_MEMALIGN, p, n);
	return p;
}

static inline void *gt_memalign(struct gt *g, size_t a, size_t n)
{
	void *p = gt_memalign_fn(a, n);

	gt_alloc_done(g, GT_MEMALIGN, p, n);
	return p;
}

static inline void *gt_valloc(struct gt *g, size_t n)
{
	void *p = gt_valloc_fn(n);

	gt_alloc_done(g, GT_VALLOC, p, n);
	return p;
}

static inline void *gt_pvalloc(struct gt *g, size_t n)
{
	void *p = gt_pvalloc_fn(n);

	gt_alloc_done(g, GT_PVALLOC, p, n);
	return p;
}

/* posix_memalign: a non-zero status is a failed call */
static inline void *gt_posix_memalign(struct gt *g, size_t a, size_t n)
{
	void *p = NULL;
	int rc = gt_posix_memalign_fn(&p, a, n);

	gt_alloc_done(g, GT_POSIX_MEMALIGN, rc ? NULL : p, n);
	return rc ? NULL : p;
}

/* free of a block allocated in the window (p may be NULL: not counted at all) */
static inline void gt_free(struct gt *g, void *p, size_t n)
{
	gt_free_fn(p);
	if (!p)
		return;
	g->by_func[GT_FREE]++;
	gt_rel(g, n);
}

/* free of a block allocated before the window: an unmatched free */
static inline void gt_free_old(struct gt *g, void *p)
{
	gt_free_fn(p);
	g->by_func[GT_FREE]++;
	g->unmatched_frees++;
}

/*
 * realloc-kind call on b (b->p NULL: an allocation) for n bytes (overflow: the size
 * nmemb * size did not fit in size_t, n is meaningless). old_known: b was allocated in the
 * window (else its release is an unmatched free). Updates b; returns the call's result.
 */
static inline void *gt_realloc_common(struct gt *g, enum gt_fn f, struct blk *b, size_t n,
				      int overflow, void *r, int old_known)
{
	size_t old = b->n;

	g->by_func[f]++;
	if (!b->p) { /* realloc(NULL, n): an allocation */
		if (!r) {
			g->failed_allocs++;
			return r;
		}
		gt_touch(r, n);
		gt_add(g, n);
		gt_peak(g, g->live_bytes);
		b->p = r;
		b->n = n;
		return r;
	}
	if (!r && n == 0 && !overflow) { /* realloc(p, 0) frees in glibc 2.36 (reallocarray too) */
		if (old_known)
			gt_rel(g, old);
		else
			g->unmatched_frees++;
		b->p = NULL;
		b->n = 0;
		return r;
	}
	if (!r) { /* failed: the block stays live */
		g->failed_allocs++;
		return r;
	}
	/* the old block is released and the new one allocated */
	if (old_known) {
		uint64_t alt = g->live_bytes + n;

		gt_rel(g, old);
		gt_add(g, n);
		gt_peak(g, alt);
	} else {
		g->unmatched_frees++;
		gt_add(g, n);
		gt_peak(g, g->live_bytes);
	}
	gt_touch(r, n);
	b->p = r;
	b->n = n;
	return r;
}

static inline void *gt_realloc(struct gt *g, struct blk *b, size_t n, int old_known)
{
	void *r = gt_realloc_fn(b->p, n);

	return gt_realloc_common(g, GT_REALLOC, b, n, 0, r, old_known);
}

static inline void *gt_reallocarray(struct gt *g, struct blk *b, size_t m, size_t n)
{
	size_t total;
	int overflow = __builtin_mul_overflow(m, n, &total);
	void *r = gt_reallocarray_fn(b->p, m, n);

	return gt_realloc_common(g, GT_REALLOCARRAY, b, total, overflow, r, 1);
}

/* Adds the figures of o to g (peak_bytes is left to the caller) */
static inline void gt_merge(struct gt *g, const struct gt *o)
{
	unsigned i;

	g->allocs += o->allocs;
	g->frees += o->frees;
	g->unmatched_frees += o->unmatched_frees;
	g->dead_frees += o->dead_frees;
	g->alloc_bytes += o->alloc_bytes;
	g->freed_bytes += o->freed_bytes;
	g->live_allocs += o->live_allocs;
	g->live_bytes += o->live_bytes;
	g->failed_allocs += o->failed_allocs;
	for (i = 0; i < GT_NFN; i++)
		g->by_func[i] += o->by_func[i];
	for (i = 0; i < GT_HIST; i++)
		g->hist[i] += o->hist[i];
}

/* ---- output without allocating ---- */

struct gt_buf {
	char s[8192];
	size_t len;
};

static inline void gt_puts(struct gt_buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n < sizeof(b->s)) {
		memcpy(b->s + b->len, s, n);
		b->len += n;
	}
}

static inline void gt_putu(struct gt_buf *b, uint64_t v)
{
	char d[24];
	int i = sizeof(d) - 1;

	d[i] = '\0';
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	gt_puts(b, d + i);
}

static inline void gt_field(struct gt_buf *b, const char *name, uint64_t v)
{
	gt_puts(b, ", \"");
	gt_puts(b, name);
	gt_puts(b, "\": ");
	gt_putu(b, v);
}

/* Writes all of s to fd; exits on an error */
static inline void gt_write(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(3);
		s += w;
		n -= (size_t)w;
	}
}

/* Dies with a message when the workload did not behave as designed */
static inline void gt_die(const char *what)
{
	gt_write(2, "workload: ", 10);
	gt_write(2, what, strlen(what));
	gt_write(2, "\n", 1);
	_exit(4);
}

/*
 * Prints the ground truth as one JSON line on stdout, with the tracer's field names.
 * with_peak: peak_bytes is exact (single-threaded); a workload whose peak depends on
 * the interleaving of its threads leaves it out.
 */
static inline void gt_print(const struct gt *g, int with_peak)
{
	static struct gt_buf b;
	unsigned i;
	int first;

	if (with_peak && g->peak_alt != g->peak_bytes)
		gt_die("peak_bytes depends on the order of a realloc's release and allocation");
	b.len = 0;
	gt_puts(&b, "{\"pid\": ");
	gt_putu(&b, (uint64_t)getpid());
	gt_field(&b, "allocs", g->allocs);
	gt_field(&b, "frees", g->frees);
	gt_field(&b, "unmatched_frees", g->unmatched_frees);
	gt_field(&b, "dead_frees", g->dead_frees);
	gt_field(&b, "alloc_bytes", g->alloc_bytes);
	gt_field(&b, "freed_bytes", g->freed_bytes);
	gt_field(&b, "live_allocs", g->live_allocs);
	gt_field(&b, "live_bytes", g->live_bytes);
	if (with_peak)
		gt_field(&b, "peak_bytes", g->peak_bytes);
	gt_field(&b, "failed_allocs", g->failed_allocs);
	gt_puts(&b, ", \"by_func\": {");
	for (i = 0, first = 1; i < GT_NFN; i++) {
		if (!g->by_func[i])
			continue;
		gt_puts(&b, first ? "\"" : ", \"");
		gt_puts(&b, gt_fn_name[i]);
		gt_puts(&b, "\": ");
		gt_putu(&b, g->by_func[i]);
		first = 0;
	}
	gt_puts(&b, "}, \"size_hist\": {");
	for (i = 0, first = 1; i < GT_HIST; i++) {
		if (!g->hist[i])
			continue;
		gt_puts(&b, first ? "\"" : ", \"");
		gt_putu(&b, i ? 1ULL << (i - 1) : 0);
		gt_puts(&b, "\": ");
		gt_putu(&b, g->hist[i]);
		first = 0;
	}
	gt_puts(&b, "}}\n");
	gt_write(1, b.s, b.len);
}

/* Prints "ready <pid>" on stdout: the workload is set up and waits for its signal */
static inline void gt_ready(void)
{
	struct gt_buf b;

	b.len = 0;
	gt_puts(&b, "ready ");
	gt_putu(&b, (uint64_t)getpid());
	gt_puts(&b, "\n");
	gt_write(1, b.s, b.len);
}

/* Blocks SIGUSR1 and SIGUSR2 (before any thread is created, so all inherit it) */
static inline void gt_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	if (pthread_sigmask(SIG_BLOCK, set, NULL))
		gt_die("cannot block signals");
}

/* Waits for sig (blocked in every thread) */
static inline void gt_wait_signal(int sig)
{
	sigset_t set;
	int got;

	sigemptyset(&set);
	sigaddset(&set, sig);
	do {
		if (sigwait(&set, &got))
			gt_die("sigwait failed");
	} while (got != sig);
}

/* A decimal argument, or dflt when absent */
static inline unsigned long gt_arg(int argc, char **argv, int i, unsigned long dflt)
{
	char *end;
	unsigned long v;

	if (argc <= i)
		return dflt;
	v = strtoul(argv[i], &end, 10);
	if (*end || end == argv[i])
		gt_die("bad numeric argument");
	return v;
}

/* A deterministic size in [lo, lo + span) for iteration i, use k: the workloads' mixes */
static inline size_t gt_size(unsigned i, unsigned k, size_t lo, size_t span)
{
	uint64_t x = (uint64_t)i * 7919u + (uint64_t)k * 104729u + 12345u;

	x ^= x >> 13;
	x *= 0x9E3779B97F4A7C15ull;
	x ^= x >> 29;
	return lo + (size_t)(x % span);
}

#endif
