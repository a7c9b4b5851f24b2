/* jemalloc_mix.c: a known mix of jemalloc's standard and own calls, under LD_PRELOAD
 *
 * usage: LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 jemalloc_mix [ITERS]
 * Prints "ready <pid>", waits for SIGUSR1, runs the window, prints the ground truth (one
 * JSON line, agt.h: allocator "jemalloc", its backing not printed: jemalloc's own mmap
 * use is not known in advance), waits for SIGUSR2 and exits. Without jemalloc
 * preloaded it dies (mallocx is not found).
 *
 * mallocx, rallocx, sdallocx and dallocx are jemalloc's API, looked up with dlsym before
 * the window; malloc and friends resolve to jemalloc's through the preload. Not used:
 * pvalloc (jemalloc has none: glibc's would serve it), realloc(p, 0) (its meaning is a
 * jemalloc option), xallocx (resizes in place, never an allocation).
 */
#include <dlfcn.h>
#include "agt.h"

#define MALLOCX_ALIGN(a) ((int)(__builtin_ffsll(a) - 1))
#define MALLOCX_ZERO ((int)0x40)
#define HUGE ((size_t)1 << 62)

static void *(*volatile mallocx_fn)(size_t, int);
static void *(*volatile rallocx_fn)(void *, size_t, int);
static void (*volatile sdallocx_fn)(void *, size_t, int);
static void (*volatile dallocx_fn)(void *, int);

static struct agt je = { .name = "jemalloc", .kind = "jemalloc" };

static void *lookup(const char *name)
{
	void *f = dlsym(RTLD_DEFAULT, name);

	if (!f)
		gt_die("a jemalloc function is missing: run with LD_PRELOAD=libjemalloc.so.2");
	return f;
}

/* A realloc-kind call on b (window block) to n bytes */
static void re(const char *fn, struct blk *b, size_t n, void *r)
{
	agt_realloc(&je, fn, r, b->n, n);
	if (r) {
		b->p = r;
		b->n = n;
	}
}

static void window(unsigned iters)
{
	struct agt *all[1] = { &je };
	struct blk a, c, d, x;
	void *p;
	unsigned i;
	int rc;

	for (i = 0; i < iters; i++) {
		a.p = gt_malloc_fn(a.n = gt_size(i, 1, 1, 600));
		agt_alloc(&je, "malloc", a.p, a.n);
		c.n = gt_size(i, 2, 1, 40) * 8;
		c.p = gt_calloc_fn(c.n / 8, 8);
		agt_alloc(&je, "calloc", c.p, c.n);
		/* realloc(NULL, n) is an allocation */
		x.p = gt_realloc_fn(NULL, x.n = gt_size(i, 3, 16, 200));
		agt_alloc(&je, "realloc", x.p, x.n);
		re("realloc", &x, gt_size(i, 4, 1100, 3000),
		   gt_realloc_fn(x.p, gt_size(i, 4, 1100, 3000)));
		re("realloc", &x, gt_size(i, 5, 8, 64), gt_realloc_fn(x.p, gt_size(i, 5, 8, 64)));
		gt_free_fn(x.p);
		agt_free(&je, "free", x.n);

		d.p = mallocx_fn(d.n = gt_size(i, 6, 1, 2000), 0);
		agt_alloc(&je, "mallocx", d.p, d.n);
		re("rallocx", &d, gt_size(i, 7, 2000, 6000),
		   rallocx_fn(d.p, gt_size(i, 7, 2000, 6000), 0));
		re("rallocx", &d, gt_size(i, 8, 1, 100),
		   rallocx_fn(d.p, gt_size(i, 8, 1, 100), MALLOCX_ZERO));
		sdallocx_fn(d.p, d.n, 0);
		agt_free(&je, "sdallocx", d.n);

		x.p = mallocx_fn(x.n = gt_size(i, 9, 1, 300), MALLOCX_ALIGN(256) | MALLOCX_ZERO);
		agt_alloc(&je, "mallocx", x.p, x.n);
		if ((uintptr_t)x.p & 255)
			gt_die("mallocx alignment");
		dallocx_fn(x.p, 0);
		agt_free(&je, "dallocx", x.n);

		x.p = NULL;
		rc = gt_posix_memalign_fn(&x.p, 64, x.n = gt_size(i, 10, 1, 500));
		agt_alloc(&je, "posix_memalign", rc ? NULL : x.p, x.n);
		gt_free_fn(x.p);
		agt_free(&je, "free", x.n);
		x.p = gt_aligned_alloc_fn(64, x.n = 64 * gt_size(i, 11, 1, 8));
		agt_alloc(&je, "aligned_alloc", x.p, x.n);
		gt_free_fn(x.p);
		agt_free(&je, "free", x.n);
		x.p = gt_memalign_fn(128, x.n = gt_size(i, 12, 1, 300));
		agt_alloc(&je, "memalign", x.p, x.n);
		gt_free_fn(x.p);
		agt_free(&je, "free", x.n);
		x.p = gt_valloc_fn(x.n = gt_size(i, 13, 1, 5000));
		agt_alloc(&je, "valloc", x.p, x.n);
		gt_free_fn(x.p);
		agt_free(&je, "free", x.n);
		gt_free_fn(NULL); /* no call for the tracer */

		/* failures change nothing but failed_allocs */
		p = gt_malloc_fn(HUGE);
		agt_alloc(&je, "malloc", p, HUGE);
		p = gt_calloc_fn(HUGE, 16);
		agt_alloc(&je, "calloc", p, 0);
		p = mallocx_fn(HUGE, 0);
		agt_alloc(&je, "mallocx", p, HUGE);
		p = gt_realloc_fn(a.p, HUGE);
		re("realloc", &a, HUGE, p);
		p = rallocx_fn(a.p, HUGE, 0);
		re("rallocx", &a, HUGE, p);
		x.p = NULL;
		rc = gt_posix_memalign_fn(&x.p, 3, 64);
		agt_alloc(&je, "posix_memalign", rc ? NULL : x.p, 64);
		if (je.user.failed_allocs != 6 * (i + 1))
			gt_die("a jemalloc call that should fail succeeded");

		/* every fourth a block stays live */
		if (i % 4) {
			gt_free_fn(a.p);
			agt_free(&je, "free", a.n);
		}
		sdallocx_fn(c.p, c.n, 0);
		agt_free(&je, "sdallocx", c.n);
	}
	/* a summit above every transient, so that peak_bytes is exact */
	x.p = gt_malloc_fn(x.n = 200000);
	agt_alloc(&je, "malloc", x.p, x.n);
	gt_free_fn(x.p);
	agt_free(&je, "free", x.n);
	agt_print(all, 1);
}

int main(int argc, char **argv)
{
	unsigned long iters = gt_arg(argc, argv, 1, 50);
	sigset_t set;

	mallocx_fn = (void *(*)(size_t, int))lookup("mallocx");
	rallocx_fn = (void *(*)(void *, size_t, int))lookup("rallocx");
	sdallocx_fn = (void (*)(void *, size_t, int))lookup("sdallocx");
	dallocx_fn = (void (*)(void *, int))lookup("dallocx");
	gt_block_signals(&set);
	gt_ready();
	gt_wait_signal(SIGUSR1);
	window((unsigned)iters);
	gt_wait_signal(SIGUSR2);
	return 0;
}
