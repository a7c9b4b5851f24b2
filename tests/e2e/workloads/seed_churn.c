/* seed_churn.c: a program that churns one size class: the case for a free list or slab
 *
 * usage: seed_churn [ITERS]
 * ITERS (default 20000) times malloc(48), a write, free: nothing else, so the class
 * [32, 64) takes every allocation, each block is freed right after its allocation
 * (temporary) and glibc's tcache hands the same address back every time (the workload
 * counts the reuse from the addresses it gets, seed_pat.h). Prints the process' ground
 * truth (gt.h, exact peak) and its patterns, one JSON line each, and exits 0.
 */
#include "seed_pat.h"

#define SIZE 48

int main(int argc, char **argv)
{
	static struct gt g;
	static struct sp s;
	unsigned long iters = gt_arg(argc, argv, 1, 20000), i;

	for (i = 0; i < iters; i++) {
		void *p = gt_malloc(&g, SIZE);

		if (!p)
			gt_die("malloc failed");
		sp_alloc(&s, p, SIZE);
		gt_free(&g, p, SIZE);
		sp_free(&s, p);
	}
	gt_print(&g, 1);
	sp_print(&s, "patterns");
	return 0;
}
