/* mix.h: one thread's deterministic mix of every glibc allocator call, for launched and late */
#ifndef MS_E2E_MIX_H
#define MS_E2E_MIX_H

#include "gt.h"

#define MIX_HUGE ((size_t)1 << 62) /* no allocator can give this */
#define MIX_SUMMIT 100000	   /* bytes: above every transient of an iteration */

/*
 * Runs iters iterations; every fourth leaves one block live. Ends with a summit block
 * above any transient, freed at once, so that peak_bytes is exact and does not depend
 * on how a tracer orders a moving realloc's release and allocation. Returns the number
 * of blocks left live (in keep, which holds iters / 4 + 1).
 */
static unsigned mix_run(struct gt *g, unsigned iters, struct blk *keep)
{
	struct blk a, b, c, d, x;
	unsigned i, nkeep = 0;

	for (i = 0; i < iters; i++) {
		a.p = gt_malloc(g, a.n = gt_size(i, 1, 1, 600));
		b.n = gt_size(i, 2, 1, 40) * 8;
		b.p = gt_calloc(g, b.n / 8, 8);
		c.p = NULL;
		c.n = 0;
		gt_realloc(g, &c, gt_size(i, 3, 16, 200), 1);	 /* realloc(NULL, n) */
		gt_realloc(g, &c, gt_size(i, 4, 1100, 3000), 1); /* grow */
		gt_realloc(g, &c, gt_size(i, 5, 8, 64), 1);	 /* shrink */
		gt_realloc(g, &c, 0, 1);			 /* realloc(p, 0): a free */
		if (c.p)
			gt_die("realloc(p, 0) did not free");
		d.p = NULL;
		d.n = 0;
		gt_reallocarray(g, &d, gt_size(i, 6, 1, 20), 16);
		gt_reallocarray(g, &d, gt_size(i, 7, 30, 90), 16);
		x.p = gt_posix_memalign(g, 64, x.n = gt_size(i, 8, 1, 500));
		gt_free(g, x.p, x.n);
		x.p = gt_aligned_alloc(g, 64, x.n = 64 * gt_size(i, 9, 1, 8));
		gt_free(g, x.p, x.n);
		x.p = gt_memalign(g, 128, x.n = gt_size(i, 10, 1, 300));
		gt_free(g, x.p, x.n);
		x.p = gt_valloc(g, x.n = gt_size(i, 11, 1, 5000));
		gt_free(g, x.p, x.n);
		x.p = gt_pvalloc(g, x.n = gt_size(i, 12, 1, 5000));
		gt_free(g, x.p, x.n);
		x.p = gt_malloc(g, x.n = 0);
		gt_free(g, x.p, x.n);
		gt_free(g, NULL, 0); /* free(NULL): not counted */

		if (gt_malloc(g, MIX_HUGE))
			gt_die("malloc of a huge size succeeded");
		if (gt_calloc(g, MIX_HUGE, 16))
			gt_die("calloc overflow succeeded");
		if (gt_realloc(g, &a, MIX_HUGE, 1) || !a.p)
			gt_die("realloc of a huge size succeeded");
		if (gt_reallocarray(g, &d, MIX_HUGE, 16) || !d.p)
			gt_die("reallocarray overflow succeeded");
		if (gt_posix_memalign(g, 3, 64))
			gt_die("posix_memalign with a bad alignment succeeded");

		x.p = gt_malloc(g, x.n = gt_size(i, 13, 1100, 900));
		gt_realloc(g, &x, gt_size(i, 14, 2100, 900), 1);
		if (i % 4 == 0)
			keep[nkeep++] = x;
		else
			gt_free(g, x.p, x.n);
		gt_free(g, a.p, a.n);
		gt_free(g, b.p, b.n);
		gt_free(g, d.p, d.n);
	}
	x.p = gt_malloc(g, x.n = MIX_SUMMIT);
	gt_free(g, x.p, x.n);
	return nkeep;
}

#endif
