/* late.c: started after a tracer of every process; runs a known mix and exits
 *
 * usage: late [ITERS]  (default 40)
 * Runs the mix (mix.h), prints the ground truth (one JSON line, exact peak_bytes) and
 * exits 0; the tracer's "exit" record for this pid must carry the same figures.
 */
#include "mix.h"

#define MAX_ITERS 10000

static struct blk keep[MAX_ITERS / 4 + 1];

int main(int argc, char **argv)
{
	static struct gt g;
	unsigned long iters = gt_arg(argc, argv, 1, 40);

	if (iters > MAX_ITERS)
		gt_die("usage: late [ITERS(0-10000)]");
	mix_run(&g, (unsigned)iters, keep);
	gt_print(&g, 1);
	return 0;
}
