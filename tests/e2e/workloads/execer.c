/* execer.c: runs a known mix, then replaces itself with another program (exec)
 *
 * usage: execer [ITERS [PROGRAM [ARGS...]]]  (default 10, no program: exits)
 * Runs the mix (mix.h), prints the ground truth (one JSON line, exact peak_bytes) and
 * execs PROGRAM with ARGS in the same process: a tracer ends this image's figures with
 * an "exit" record of reason "exec" and counts PROGRAM's afresh. execv itself makes no
 * allocator call (a path with a slash is not searched for).
 */
#include "mix.h"

#define MAX_ITERS 10000

static struct blk keep[MAX_ITERS / 4 + 1];

int main(int argc, char **argv)
{
	static struct gt g;
	unsigned long iters = gt_arg(argc, argv, 1, 10);

	if (iters > MAX_ITERS)
		gt_die("usage: execer [ITERS(0-10000) [PROGRAM [ARGS...]]]");
	mix_run(&g, (unsigned)iters, keep);
	gt_print(&g, 1);
	if (argc > 2) {
		execv(argv[2], argv + 2);
		gt_die("cannot exec the program");
	}
	return 0;
}
