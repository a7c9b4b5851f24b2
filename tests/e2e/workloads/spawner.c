/* spawner.c: a process that allocates and starts two children, one by fork and exec,
 * one by fork alone
 *
 * usage: spawner [gated] LAUNCHED ITERS [M]  (M default 30)
 * Runs 10 iterations of the mix (mix.h, blocks left live), then forks:
 *  - child 1 execs LAUNCHED ITERS at once (execv: no allocator call before the exec);
 *    the launched workload prints its own ground truth;
 *  - child 2 never execs: it allocates M blocks with malloc and calloc, frees all but
 *    two, prints its ground truth (its own pid, exact peak_bytes) and ends with _exit(0).
 *    It never frees a block inherited from the parent.
 * Then runs 10 more iterations of the mix, waits for both children (each must exit 0),
 * and prints its own ground truth. Every line is one JSON object with a "pid".
 * gated: first prints "ready <pid>" and waits for SIGUSR1; at the end waits for SIGUSR2
 * before it exits (for -p).
 */
#include <sys/wait.h>
#include "mix.h"

#define ITERS 10
#define MAX_M 1000

static struct blk keep1[ITERS / 4 + 1], keep2[ITERS / 4 + 1];

static void fork_only_child(unsigned long m)
{
	static struct gt c;
	static struct blk b[MAX_M];
	unsigned long i;

	for (i = 0; i < m; i++) {
		b[i].n = gt_size((unsigned)i, 30, 1, 3000);
		if (i % 3 == 0)
			b[i].p = gt_calloc(&c, 1, b[i].n);
		else
			b[i].p = gt_malloc(&c, b[i].n);
	}
	for (i = 0; i + 2 < m; i++)
		gt_free(&c, b[i].p, b[i].n);
	gt_print(&c, 1);
	_exit(0);
}

int main(int argc, char **argv)
{
	static struct gt g;
	unsigned long m;
	int gated = argc > 1 && !strcmp(argv[1], "gated"), status, i;
	char *child_argv[3];
	pid_t pid[2];
	sigset_t set;

	argv += gated;
	argc -= gated;
	if (argc < 3)
		gt_die("usage: spawner [gated] LAUNCHED ITERS [M]");
	gt_arg(argc, argv, 2, 0); /* ITERS is a number */
	m = gt_arg(argc, argv, 3, 30);
	if (m < 2 || m > MAX_M)
		gt_die("M: 2 to 1000");
	child_argv[0] = argv[1];
	child_argv[1] = argv[2];
	child_argv[2] = NULL;
	if (gated) {
		gt_block_signals(&set);
		gt_ready();
		gt_wait_signal(SIGUSR1);
	}
	mix_run(&g, ITERS, keep1);
	pid[0] = fork();
	if (pid[0] < 0)
		gt_die("fork failed");
	if (pid[0] == 0) {
		execv(child_argv[0], child_argv);
		gt_die("cannot exec LAUNCHED");
	}
	pid[1] = fork();
	if (pid[1] < 0)
		gt_die("fork failed");
	if (pid[1] == 0)
		fork_only_child(m);
	mix_run(&g, ITERS, keep2);
	for (i = 0; i < 2; i++)
		if (waitpid(pid[i], &status, 0) != pid[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			gt_die("a child failed");
	gt_print(&g, 1);
	if (gated)
		gt_wait_signal(SIGUSR2);
	return 0;
}
