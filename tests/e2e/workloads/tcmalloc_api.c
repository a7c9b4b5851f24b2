// build: -ltcmalloc
/* tcmalloc_api.c: a program linked with gperftools' tcmalloc (-ltcmalloc) that calls its own
 * API beside the standard names: every tc_ function the uprobes trace (user/presets.c), with
 * malloc and free (apimix.h: gated, one window, the ground truth of allocator "tcmalloc")
 *
 * Not used: a tc_new that fails (it throws, which C cannot catch), tc_malloc of a huge size
 * (tcmalloc reports it with a stack trace, which allocates). The nothrow forms take a
 * std::nothrow_t reference: any address does.
 */
#include "apimix.h"

void *tc_malloc(size_t size);
void *tc_calloc(size_t nmemb, size_t size);
void *tc_realloc(void *ptr, size_t size);
void tc_free(void *ptr);
void tc_free_sized(void *ptr, size_t size);
int tc_posix_memalign(void **out, size_t align, size_t size);
void *tc_memalign(size_t align, size_t size);
void *tc_valloc(size_t size);
void *tc_pvalloc(size_t size);
void *tc_malloc_skip_new_handler(size_t size);
void *tc_new(size_t size);
void *tc_newarray(size_t size);
void *tc_new_nothrow(size_t size, const void *nt);
void *tc_newarray_nothrow(size_t size, const void *nt);
void tc_delete(void *p);
void tc_deletearray(void *p);
void tc_delete_nothrow(void *p, const void *nt);
void tc_deletearray_nothrow(void *p, const void *nt);
void tc_delete_sized(void *p, size_t size);
void tc_deletearray_sized(void *p, size_t size);

VFN(tc_malloc);
VFN(tc_calloc);
VFN(tc_realloc);
VFN(tc_free);
VFN(tc_free_sized);
VFN(tc_posix_memalign);
VFN(tc_memalign);
VFN(tc_valloc);
VFN(tc_pvalloc);
VFN(tc_malloc_skip_new_handler);
VFN(tc_new);
VFN(tc_newarray);
VFN(tc_new_nothrow);
VFN(tc_newarray_nothrow);
VFN(tc_delete);
VFN(tc_deletearray);
VFN(tc_delete_nothrow);
VFN(tc_deletearray_nothrow);
VFN(tc_delete_sized);
VFN(tc_deletearray_sized);

static struct agt tc = { .name = "tcmalloc", .kind = "tcmalloc" };
static const char nothrow; /* stands for std::nothrow */

/* An allocation of fn that must succeed (n bytes at p), counted */
static void *got(const char *fn, void *p, size_t n)
{
	if (!p)
		gt_die("a tcmalloc allocation failed");
	agt_alloc(&tc, fn, p, n);
	return p;
}

/* The C++ operators are aliases of the tc_ functions: named as the first alias (the
 * tracer's names are cut at 63 characters) */
static const char *const tc_cxx[CXX_NAMES] = {
	"tc_new",
	"tc_newarray",
	"tc_delete",
	"tc_deletearray",
	"tc_delete_sized",
	"tc_deletearray_sized",
	"tc_new_nothrow",
	"tc_newarray_nothrow",
	"tc_delete_nothrow",
	"tc_deletearray_nothrow",
};

#ifndef TC_CXX_NAMES
#define TC_CXX_NAMES tc_cxx
#endif

static void window(unsigned iters)
{
	struct blk a, b, c, x;
	unsigned i;
	void *p;
	int rc;

	for (i = 0; i < iters; i++) {
		a.n = gt_size(i, 1, 1, 600);
		a.p = got("tc_malloc", tc_malloc_fn(a.n), a.n);
		b.n = gt_size(i, 2, 1, 40) * 8;
		b.p = got("tc_calloc", tc_calloc_fn(b.n / 8, 8), b.n);
		/* tc_realloc: NULL (an allocation), grown (moves), shrunk */
		x.n = gt_size(i, 3, 16, 200);
		x.p = got("tc_realloc", tc_realloc_fn(NULL, x.n), x.n);
		p = tc_realloc_fn(x.p, gt_size(i, 4, 5000, 3000));
		apimix_re(&tc, "tc_realloc", &x, gt_size(i, 4, 5000, 3000), p);
		p = tc_realloc_fn(x.p, gt_size(i, 5, 8, 64));
		apimix_re(&tc, "tc_realloc", &x, gt_size(i, 5, 8, 64), p);
		tc_free_fn(x.p);
		agt_free(&tc, "tc_free", x.n);

		x.p = NULL;
		rc = tc_posix_memalign_fn(&x.p, 64, x.n = gt_size(i, 6, 1, 500));
		agt_alloc(&tc, "tc_posix_memalign", rc ? NULL : x.p, x.n);
		tc_free_sized_fn(x.p, x.n);
		agt_free(&tc, "tc_free_sized", x.n);
		x.n = gt_size(i, 7, 1, 300);
		x.p = got("tc_memalign", tc_memalign_fn(128, x.n), x.n);
		tc_free_fn(x.p);
		agt_free(&tc, "tc_free", x.n);
		x.n = gt_size(i, 8, 1, 5000);
		x.p = got("tc_valloc", tc_valloc_fn(x.n), x.n);
		gt_free_fn(x.p);
		agt_free(&tc, "free", x.n);
		x.n = gt_size(i, 9, 1, 5000);
		x.p = got("tc_pvalloc", tc_pvalloc_fn(x.n), x.n);
		tc_free_fn(x.p);
		agt_free(&tc, "tc_free", x.n);
		x.n = gt_size(i, 10, 1, 900);
		x.p = got("tc_malloc_skip_new_handler", tc_malloc_skip_new_handler_fn(x.n), x.n);
		tc_free_fn(x.p);
		agt_free(&tc, "tc_free", x.n);

		/* the C++ forms */
		c.n = gt_size(i, 11, 1, 400);
		c.p = got("tc_new", tc_new_fn(c.n), c.n);
		tc_delete_fn(c.p);
		agt_free(&tc, "tc_delete", c.n);
		c.n = gt_size(i, 12, 1, 400);
		c.p = got("tc_newarray", tc_newarray_fn(c.n), c.n);
		tc_deletearray_fn(c.p);
		agt_free(&tc, "tc_deletearray", c.n);
		c.n = gt_size(i, 13, 1, 400);
		c.p = got("tc_new_nothrow", tc_new_nothrow_fn(c.n, &nothrow), c.n);
		tc_delete_nothrow_fn(c.p, &nothrow);
		agt_free(&tc, "tc_delete_nothrow", c.n);
		c.n = gt_size(i, 14, 1, 400);
		c.p = got("tc_newarray_nothrow", tc_newarray_nothrow_fn(c.n, &nothrow), c.n);
		tc_deletearray_nothrow_fn(c.p, &nothrow);
		agt_free(&tc, "tc_deletearray_nothrow", c.n);
		c.n = gt_size(i, 15, 1, 400);
		c.p = got("tc_new", tc_new_fn(c.n), c.n);
		tc_delete_sized_fn(c.p, c.n);
		agt_free(&tc, "tc_delete_sized", c.n);
		c.n = gt_size(i, 16, 1, 400);
		c.p = got("tc_newarray", tc_newarray_fn(c.n), c.n);
		tc_deletearray_sized_fn(c.p, c.n);
		agt_free(&tc, "tc_deletearray_sized", c.n);

		/* failures change nothing but failed_allocs */
		p = tc_new_nothrow_fn(APIMIX_HUGE, &nothrow);
		agt_alloc(&tc, "tc_new_nothrow", p, APIMIX_HUGE);
		p = tc_calloc_fn(APIMIX_HUGE, 16); /* the product overflows */
		agt_alloc(&tc, "tc_calloc", p, 0);
		x.p = NULL;
		rc = tc_posix_memalign_fn(&x.p, 3, 64); /* not a power of two */
		agt_alloc(&tc, "tc_posix_memalign", rc ? NULL : x.p, 64);
		if (tc.user.failed_allocs != 3 * (i + 1))
			gt_die("a tcmalloc call that should fail succeeded");

		/* C++'s operators */
		apimix_cxx(&tc, i, TC_CXX_NAMES);

		/* every fourth a block stays live */
		if (i % 4) {
			tc_free_sized_fn(a.p, a.n);
			agt_free(&tc, "tc_free_sized", a.n);
		}
		gt_free_fn(b.p);
		agt_free(&tc, "free", b.n);
	}
	apimix_end(&tc);
}

int main(int argc, char **argv)
{
	return apimix_main(argc, argv, window);
}
