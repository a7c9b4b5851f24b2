// build: -ljemalloc
/* jemalloc_api.c: a program linked with jemalloc (-ljemalloc) that calls jemalloc's own API
 * beside the standard names: a known mix of mallocx, rallocx, sdallocx, dallocx and xallocx,
 * malloc, calloc, realloc and free (apimix.h: gated, one window, the ground truth of
 * allocator "jemalloc")
 *
 * xallocx resizes a block in place and never allocates: the tracer does not count it (no
 * call, the block keeps the size it was allocated with). Not used: sdallocx on an aligned
 * block (its flags must repeat the alignment; dallocx frees those), realloc(p, 0).
 */
#include "apimix.h"

#define MALLOCX_ALIGN(a) ((int)(__builtin_ffsll(a) - 1))
#define MALLOCX_ZERO ((int)0x40)

void *mallocx(size_t size, int flags);
void *rallocx(void *ptr, size_t size, int flags);
size_t xallocx(void *ptr, size_t size, size_t extra, int flags);
void sdallocx(void *ptr, size_t size, int flags);
void dallocx(void *ptr, int flags);

static void *(*volatile mallocx_fn)(size_t, int) = mallocx;
static void *(*volatile rallocx_fn)(void *, size_t, int) = rallocx;
static size_t (*volatile xallocx_fn)(void *, size_t, size_t, int) = xallocx;
static void (*volatile sdallocx_fn)(void *, size_t, int) = sdallocx;
static void (*volatile dallocx_fn)(void *, int) = dallocx;

static struct agt je = { .name = "jemalloc", .kind = "jemalloc" };

static void window(unsigned iters)
{
	struct blk a, c, d, x;
	unsigned i;
	void *p;

	for (i = 0; i < iters; i++) {
		a.p = gt_malloc_fn(a.n = gt_size(i, 1, 1, 600));
		agt_alloc(&je, "malloc", a.p, a.n);
		c.n = gt_size(i, 2, 1, 40) * 8;
		c.p = gt_calloc_fn(c.n / 8, 8);
		agt_alloc(&je, "calloc", c.p, c.n);

		d.p = mallocx_fn(d.n = gt_size(i, 3, 1, 2000), 0);
		agt_alloc(&je, "mallocx", d.p, d.n);
		p = rallocx_fn(d.p, gt_size(i, 4, 2000, 6000), 0);
		apimix_re(&je, "rallocx", &d, gt_size(i, 4, 2000, 6000), p);
		p = rallocx_fn(d.p, gt_size(i, 5, 1, 100), MALLOCX_ZERO);
		apimix_re(&je, "rallocx", &d, gt_size(i, 5, 1, 100), p);
		sdallocx_fn(d.p, d.n, 0);
		agt_free(&je, "sdallocx", d.n);

		/* aligned and zeroed; grown in place by xallocx as far as its size class goes
		 * (not a call for the tracer), freed by dallocx at the size it was allocated */
		x.p = mallocx_fn(x.n = gt_size(i, 6, 1, 300), MALLOCX_ALIGN(256) | MALLOCX_ZERO);
		agt_alloc(&je, "mallocx", x.p, x.n);
		if ((uintptr_t)x.p & 255)
			gt_die("mallocx alignment");
		if (xallocx_fn(x.p, x.n, 256, MALLOCX_ALIGN(256)) < x.n)
			gt_die("xallocx shrank a block");
		dallocx_fn(x.p, MALLOCX_ALIGN(256));
		agt_free(&je, "dallocx", x.n);

		/* realloc(NULL, n) is an allocation; realloc then moves it */
		x.p = gt_realloc_fn(NULL, x.n = gt_size(i, 7, 16, 200));
		agt_alloc(&je, "realloc", x.p, x.n);
		p = gt_realloc_fn(x.p, gt_size(i, 8, 1100, 3000));
		apimix_re(&je, "realloc", &x, gt_size(i, 8, 1100, 3000), p);
		dallocx_fn(x.p, 0);
		agt_free(&je, "dallocx", x.n);

		/* failures change nothing but failed_allocs */
		p = mallocx_fn(APIMIX_HUGE, 0);
		agt_alloc(&je, "mallocx", p, APIMIX_HUGE);
		p = rallocx_fn(a.p, APIMIX_HUGE, 0);
		apimix_re(&je, "rallocx", &a, APIMIX_HUGE, p);
		if (je.user.failed_allocs != 2 * (i + 1))
			gt_die("a jemalloc call that should fail succeeded");

		/* C++'s operators */
		apimix_cxx(&je, i, apimix_cxx_demangled);

		/* every fourth a block stays live */
		if (i % 4) {
			gt_free_fn(a.p);
			agt_free(&je, "free", a.n);
		}
		sdallocx_fn(c.p, c.n, 0);
		agt_free(&je, "sdallocx", c.n);
	}
	apimix_end(&je);
}

int main(int argc, char **argv)
{
	return apimix_main(argc, argv, window);
}
