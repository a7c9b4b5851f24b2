/* gated.c: a known single-threaded mix behind a gate, with nothing allocated before it
 *
 * usage: gated [ITERS]  (default 40)
 * Prints "ready <pid>", waits for SIGUSR1, runs the mix (mix.h), prints the ground truth
 * (one JSON line, exact peak_bytes), waits for SIGUSR2 and exits. Since it allocates
 * nothing outside the window, a tracer that saw the process from any moment before the
 * gate reports exactly the ground truth (every-process mode on a libc it attaches late).
 */
#include "mix.h"

#define MAX_ITERS 10000

static struct blk keep[MAX_ITERS / 4 + 1];

int main(int argc, char **argv)
{
	static struct gt g;
	unsigned long iters = gt_arg(argc, argv, 1, 40);
	sigset_t set;

	if (iters > MAX_ITERS)
		gt_die("usage: gated [ITERS(0-10000)]");
	gt_block_signals(&set);
	gt_ready();
	gt_wait_signal(SIGUSR1);
	mix_run(&g, (unsigned)iters, keep);
	gt_print(&g, 1);
	gt_wait_signal(SIGUSR2);
	return 0;
}
