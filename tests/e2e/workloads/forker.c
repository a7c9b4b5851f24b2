/* forker.c: children made by fork alone (no exec) allocate and exit
 *
 * usage: forker [N [M [PROGRAM [ARGS...]]]]  (default 3 children, 40 blocks each)
 * Runs 5 iterations of the mix (mix.h), some of its blocks left live, then forks N
 * children one after the other. Child k (k = 0..N-1) allocates M + k blocks with malloc
 * (sizes 1 to 4000), frees all of them but the last, prints its ground truth (one JSON
 * line, exact peak_bytes, its own pid) and ends with _exit(0): no exit handler, no
 * tcache release. It never frees a block it inherited. With PROGRAM, the last child
 * execs PROGRAM ARGS instead of _exit (execv: no allocator call), so its figures end
 * with an exec. The parent waits for each child, checks that it exited 0, prints its
 * own ground truth and exits 0. The children's comm is the parent's, "forker", up to
 * an exec.
 */
#include <sys/wait.h>
#include "mix.h"

#define MAX_CHILDREN 64
#define MAX_BLOCKS 1000
#define PARENT_ITERS 5

static struct blk keep[PARENT_ITERS / 4 + 1];

static void child(unsigned k, unsigned long m, char **program)
{
	static struct gt c;
	static struct blk b[MAX_BLOCKS + MAX_CHILDREN];
	unsigned long i, n = m + k;

	for (i = 0; i < n; i++)
		b[i].p = gt_malloc(&c, b[i].n = gt_size((unsigned)i, k + 20, 1, 4000));
	for (i = 0; i + 1 < n; i++)
		gt_free(&c, b[i].p, b[i].n);
	gt_print(&c, 1);
	if (program) {
		execv(program[0], program);
		gt_die("cannot exec PROGRAM");
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	static struct gt g;
	unsigned long n = gt_arg(argc, argv, 1, 3), m = gt_arg(argc, argv, 2, 40), k;

	if (n > MAX_CHILDREN || m < 1 || m > MAX_BLOCKS)
		gt_die("usage: forker [N(0-64) [M(1-1000) [PROGRAM [ARGS...]]]]");
	mix_run(&g, PARENT_ITERS, keep);
	for (k = 0; k < n; k++) {
		int status;
		pid_t pid = fork();

		if (pid < 0)
			gt_die("fork failed");
		if (pid == 0)
			child((unsigned)k, m, argc > 3 && k + 1 == n ? argv + 3 : NULL);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			gt_die("a child failed");
	}
	gt_print(&g, 1);
	return 0;
}
