/* peak.c: a single thread climbs a staircase of live bytes to a known exact peak
 *
 * usage: peak
 * Prints "ready <pid>", waits for SIGUSR1, runs the window, prints the ground truth (one
 * JSON line with an exact peak_bytes), waits for SIGUSR2 and exits. Every realloc happens
 * well below the peak, so the peak does not depend on whether a tracer counts a moving
 * realloc's release before or after its new block (gt_print checks it).
 */
#include "gt.h"

#define STEPS 10

int main(void)
{
	static struct gt g;
	struct blk step[STEPS], old, a, b, c, big, top;
	sigset_t set;
	unsigned i;

	gt_block_signals(&set);
	old.n = 300; /* allocated before the window, freed in it: an unmatched free */
	old.p = gt_malloc_fn(old.n);
	gt_touch(old.p, old.n);
	gt_ready();
	gt_wait_signal(SIGUSR1);

	/* ---- the window ---- */
	/* up: 1000 + 2000 + ... + 10000 = 55000 live */
	for (i = 0; i < STEPS; i++)
		step[i].p = gt_malloc(&g, step[i].n = 1000 * (i + 1));
	/* down: free the even sizes, 30000: 25000 live */
	for (i = 1; i < STEPS; i += 2)
		gt_free(&g, step[i].p, step[i].n);
	gt_free_old(&g, old.p);
	/* a moving realloc far below the peak: 1000 -> 3000, 27000 live */
	gt_realloc(&g, &step[0], 3000, 1);
	if (gt_malloc(&g, (size_t)1 << 62)) /* a failed call changes nothing */
		gt_die("malloc of a huge size succeeded");
	/* climb: 10000 (calloc) + 40000 + 200000 (mmap'd) + 2048 (posix_memalign) */
	a.n = 100 * 100;
	a.p = gt_calloc(&g, 100, 100);
	b.p = gt_malloc(&g, b.n = 40000);
	big.p = gt_malloc(&g, big.n = 200000);
	top.p = gt_posix_memalign(&g, 4096, top.n = 2048);
	/* the peak: 27000 + 10000 + 40000 + 200000 + 2048 = 279048 */
	gt_free(&g, big.p, big.n);
	/* a second climb that stays below the peak: 79048 + 150000 = 229048 */
	c.p = gt_malloc(&g, c.n = 150000);
	gt_free(&g, c.p, c.n);
	/* free all but a known remainder: step[0] (3000) and b (40000) */
	for (i = 2; i < STEPS; i += 2)
		gt_free(&g, step[i].p, step[i].n);
	gt_free(&g, a.p, a.n);
	gt_free(&g, top.p, top.n);
	/* ---- end of the window ---- */

	if (g.peak_bytes != 279048 || g.live_bytes != 43000 || g.live_allocs != 2)
		gt_die("the staircase did not reach its designed figures");
	gt_print(&g, 1);
	gt_wait_signal(SIGUSR2);
	return 0;
}
