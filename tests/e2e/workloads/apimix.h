/* apimix.h: the frame of the allocator-API workloads (jemalloc_api, tcmalloc_api,
 * mimalloc_api): one allocator's ground truth (agt.h), a gated window, sizes that vary per
 * iteration, a summit for an exact peak
 *
 * usage: NAME [ITERS]
 * Prints "ready <pid>", waits for SIGUSR1, runs the window, prints the ground truth (one
 * JSON line: the calls of the window only, the allocator's backing not printed), waits for
 * SIGUSR2 and exits. What the program did before the window (its loader, the allocator's
 * own start-up) is not in it: a tracer's figures of the window are the difference between
 * a record before and one after. */
#ifndef MS_E2E_APIMIX_H
#define MS_E2E_APIMIX_H

#include "agt.h"

#define APIMIX_HUGE ((size_t)1 << 62) /* no allocator can give this */
#define APIMIX_SUMMIT 200000	      /* bytes: above every transient of the window */

/* A realloc-kind call of fn on window block b to n bytes returned r (NULL: failed, b
 * stays) */
static void apimix_re(struct agt *a, const char *fn, struct blk *b, size_t n, void *r)
{
	agt_realloc(a, fn, r, b->n, n);
	if (r) {
		b->p = r;
		b->n = n;
	}
}

/* The window's end: a block above every transient, freed at once (malloc and free, the
 * standard names), then the ground truth */
static void apimix_end(struct agt *a)
{
	struct agt *all[1] = { a };
	void *p = gt_malloc_fn(APIMIX_SUMMIT);

	agt_alloc(a, "malloc", p, APIMIX_SUMMIT);
	gt_free_fn(p);
	agt_free(a, "free", APIMIX_SUMMIT);
	agt_print(all, 1);
}

/* The gated run of window(iters), ITERS from argv[1] (default 50) */
static int apimix_main(int argc, char **argv, void (*window)(unsigned))
{
	unsigned long iters = gt_arg(argc, argv, 1, 50);
	sigset_t set;

	gt_block_signals(&set);
	gt_ready();
	gt_wait_signal(SIGUSR1);
	window((unsigned)iters);
	gt_wait_signal(SIGUSR2);
	return 0;
}

#endif
