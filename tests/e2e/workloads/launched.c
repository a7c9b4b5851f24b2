/* launched.c: a single-threaded mix run from its first instruction under the tracer
 *
 * usage: launched ITERS
 * Runs the mix (mix.h), prints the ground truth (one JSON line, exact peak_bytes) and
 * exits 0. A plain glibc 2.36 program makes no libc allocator call of its own at start-up
 * or exit (checked with bpftrace on malloc, calloc, realloc, free, memalign and
 * posix_memalign), and this one uses no stdio, so the ground truth is the whole process'.
 */
#include "mix.h"

#define MAX_ITERS 100000

static struct blk keep[MAX_ITERS / 4 + 1];

int main(int argc, char **argv)
{
	static struct gt g;
	unsigned long iters = gt_arg(argc, argv, 1, 100);

	if (iters > MAX_ITERS)
		gt_die("usage: launched ITERS(0-100000)");
	mix_run(&g, (unsigned)iters, keep);
	gt_print(&g, 1);
	return 0;
}
