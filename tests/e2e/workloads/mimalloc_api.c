// build: -lmimalloc
/* mimalloc_api.c: a program linked with mimalloc (-lmimalloc) that calls its own API beside
 * the standard names: every mi_ function the uprobes trace (user/presets.c), with malloc and
 * free (apimix.h: gated, one window, the ground truth of allocator "mimalloc")
 *
 * The heap functions get the default heap (mi_heap_get_default: no allocation). Not used: a
 * failing mi_new (it aborts without a new handler), a failing mi_reallocf (it frees the old
 * block: the tracer cannot tell that from realloc's failure), mi_free_size on an aligned
 * block.
 */
#include "apimix.h"

void *mi_malloc(size_t size);
void *mi_zalloc(size_t size);
void *mi_malloc_small(size_t size);
void *mi_calloc(size_t count, size_t size);
void *mi_mallocn(size_t count, size_t size);
void *mi_realloc(void *p, size_t newsize);
void *mi_reallocf(void *p, size_t newsize);
void *mi_reallocn(void *p, size_t count, size_t size);
void mi_free(void *p);
void mi_free_size(void *p, size_t size);
void mi_free_aligned(void *p, size_t alignment);
void *mi_malloc_aligned(size_t size, size_t alignment);
void *mi_zalloc_aligned(size_t size, size_t alignment);
void *mi_calloc_aligned(size_t count, size_t size, size_t alignment);
void *mi_realloc_aligned(void *p, size_t newsize, size_t alignment);
int mi_posix_memalign(void **p, size_t alignment, size_t size);
void *mi_aligned_alloc(size_t alignment, size_t size);
void *mi_memalign(size_t alignment, size_t size);
void *mi_valloc(size_t size);
void *mi_pvalloc(size_t size);
void *mi_new(size_t size);
void *mi_new_nothrow(size_t size);
void *mi_heap_get_default(void);
void *mi_heap_malloc(void *heap, size_t size);
void *mi_heap_zalloc(void *heap, size_t size);
void *mi_heap_calloc(void *heap, size_t count, size_t size);
void *mi_heap_realloc(void *heap, void *p, size_t newsize);

VFN(mi_malloc);
VFN(mi_zalloc);
VFN(mi_malloc_small);
VFN(mi_calloc);
VFN(mi_mallocn);
VFN(mi_realloc);
VFN(mi_reallocf);
VFN(mi_reallocn);
VFN(mi_free);
VFN(mi_free_size);
VFN(mi_free_aligned);
VFN(mi_malloc_aligned);
VFN(mi_zalloc_aligned);
VFN(mi_calloc_aligned);
VFN(mi_realloc_aligned);
VFN(mi_posix_memalign);
VFN(mi_aligned_alloc);
VFN(mi_memalign);
VFN(mi_valloc);
VFN(mi_pvalloc);
VFN(mi_new);
VFN(mi_new_nothrow);
VFN(mi_heap_malloc);
VFN(mi_heap_zalloc);
VFN(mi_heap_calloc);
VFN(mi_heap_realloc);

static struct agt mi = { .name = "mimalloc", .kind = "mimalloc" };

/* An allocation of fn that must succeed (n bytes at p), counted */
static void *got(const char *fn, void *p, size_t n)
{
	if (!p)
		gt_die("a mimalloc allocation failed");
	agt_alloc(&mi, fn, p, n);
	return p;
}

/* Block b released by mi_free */
static void release(struct blk *b)
{
	mi_free_fn(b->p);
	agt_free(&mi, "mi_free", b->n);
}

/* The C++ operators are aliases of mi_new, mi_free and mi_free_size: named as those (the
 * tracer's names are cut at 63 characters) */
static const char *const mi_cxx[CXX_NAMES] = {
	"mi_new", "mi_new", "mi_free", "mi_free", "mi_free_size", "mi_free_size",
};

static void window(unsigned iters)
{
	void *heap = mi_heap_get_default();
	struct blk a, b, x;
	unsigned i;
	void *p;
	int rc;

	for (i = 0; i < iters; i++) {
		a.n = gt_size(i, 1, 1, 600);
		a.p = got("mi_malloc", mi_malloc_fn(a.n), a.n);
		b.n = gt_size(i, 2, 1, 40) * 8;
		b.p = got("mi_calloc", mi_calloc_fn(b.n / 8, 8), b.n);
		x.n = gt_size(i, 3, 1, 900);
		x.p = got("mi_zalloc", mi_zalloc_fn(x.n), x.n);
		release(&x);
		x.n = gt_size(i, 4, 1, 1024);
		x.p = got("mi_malloc_small", mi_malloc_small_fn(x.n), x.n);
		mi_free_size_fn(x.p, x.n);
		agt_free(&mi, "mi_free_size", x.n);
		x.n = gt_size(i, 5, 1, 30) * 16;
		x.p = got("mi_mallocn", mi_mallocn_fn(x.n / 16, 16), x.n);

		/* the realloc kinds: grown (moves), shrunk, by count */
		p = mi_realloc_fn(x.p, gt_size(i, 6, 5000, 3000));
		apimix_re(&mi, "mi_realloc", &x, gt_size(i, 6, 5000, 3000), p);
		p = mi_reallocf_fn(x.p, gt_size(i, 7, 8, 64));
		apimix_re(&mi, "mi_reallocf", &x, gt_size(i, 7, 8, 64), p);
		p = mi_reallocn_fn(x.p, gt_size(i, 8, 1, 200), 24);
		apimix_re(&mi, "mi_reallocn", &x, gt_size(i, 8, 1, 200) * 24, p);
		p = mi_realloc_fn(NULL, 40); /* an allocation */
		release(&x);
		x.p = got("mi_realloc", p, x.n = 40);
		p = mi_heap_realloc_fn(heap, x.p, gt_size(i, 9, 100, 4000));
		apimix_re(&mi, "mi_heap_realloc", &x, gt_size(i, 9, 100, 4000), p);
		gt_free_fn(x.p);
		agt_free(&mi, "free", x.n);

		/* aligned */
		x.n = gt_size(i, 10, 1, 700);
		x.p = got("mi_malloc_aligned", mi_malloc_aligned_fn(x.n, 64), x.n);
		p = mi_realloc_aligned_fn(x.p, gt_size(i, 11, 800, 2000), 64);
		apimix_re(&mi, "mi_realloc_aligned", &x, gt_size(i, 11, 800, 2000), p);
		mi_free_aligned_fn(x.p, 64);
		agt_free(&mi, "mi_free_aligned", x.n);
		x.n = gt_size(i, 12, 1, 700);
		x.p = got("mi_zalloc_aligned", mi_zalloc_aligned_fn(x.n, 128), x.n);
		mi_free_aligned_fn(x.p, 128);
		agt_free(&mi, "mi_free_aligned", x.n);
		x.n = gt_size(i, 13, 1, 40) * 4;
		x.p = got("mi_calloc_aligned", mi_calloc_aligned_fn(x.n / 4, 4, 32), x.n);
		release(&x);
		x.p = NULL;
		x.n = gt_size(i, 14, 1, 500);
		rc = mi_posix_memalign_fn(&x.p, 64, x.n);
		agt_alloc(&mi, "mi_posix_memalign", rc ? NULL : x.p, x.n);
		release(&x);
		x.n = 64 * gt_size(i, 15, 1, 8);
		x.p = got("mi_aligned_alloc", mi_aligned_alloc_fn(64, x.n), x.n);
		release(&x);
		x.n = gt_size(i, 16, 1, 300);
		x.p = got("mi_memalign", mi_memalign_fn(256, x.n), x.n);
		release(&x);
		x.n = gt_size(i, 17, 1, 5000);
		x.p = got("mi_valloc", mi_valloc_fn(x.n), x.n);
		release(&x);
		x.n = gt_size(i, 18, 1, 5000);
		x.p = got("mi_pvalloc", mi_pvalloc_fn(x.n), x.n);
		release(&x);

		/* C++'s, and the heap's */
		x.n = gt_size(i, 19, 1, 400);
		x.p = got("mi_new", mi_new_fn(x.n), x.n);
		release(&x);
		x.n = gt_size(i, 20, 1, 400);
		x.p = got("mi_new_nothrow", mi_new_nothrow_fn(x.n), x.n);
		release(&x);
		x.n = gt_size(i, 21, 1, 400);
		x.p = got("mi_heap_malloc", mi_heap_malloc_fn(heap, x.n), x.n);
		release(&x);
		x.n = gt_size(i, 22, 1, 400);
		x.p = got("mi_heap_zalloc", mi_heap_zalloc_fn(heap, x.n), x.n);
		release(&x);
		x.n = gt_size(i, 23, 1, 50) * 8;
		x.p = got("mi_heap_calloc", mi_heap_calloc_fn(heap, x.n / 8, 8), x.n);
		mi_free_size_fn(x.p, x.n);
		agt_free(&mi, "mi_free_size", x.n);

		/* failures change nothing but failed_allocs */
		p = mi_malloc_fn(APIMIX_HUGE);
		agt_alloc(&mi, "mi_malloc", p, APIMIX_HUGE);
		p = mi_calloc_fn(APIMIX_HUGE, 16); /* the product overflows */
		agt_alloc(&mi, "mi_calloc", p, 0);
		p = mi_new_nothrow_fn(APIMIX_HUGE);
		agt_alloc(&mi, "mi_new_nothrow", p, APIMIX_HUGE);
		p = mi_heap_realloc_fn(heap, a.p, APIMIX_HUGE);
		apimix_re(&mi, "mi_heap_realloc", &a, APIMIX_HUGE, p);
		if (mi.user.failed_allocs != 4 * (i + 1))
			gt_die("a mimalloc call that should fail succeeded");

		/* C++'s operators */
		apimix_cxx(&mi, i, mi_cxx);

		/* every fourth a block stays live */
		if (i % 4)
			release(&a);
		gt_free_fn(b.p);
		agt_free(&mi, "free", b.n);
	}
	apimix_end(&mi);
}

int main(int argc, char **argv)
{
	return apimix_main(argc, argv, window);
}
