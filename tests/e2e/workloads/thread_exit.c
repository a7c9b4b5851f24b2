/* thread_exit.c: a thread fills its tcache and exits in the window: glibc's tcache
 * release frees blocks that are already free (dead frees)
 *
 * usage: thread_exit
 * Prints "ready <pid>", waits for SIGUSR1, runs the window, prints the ground truth (one
 * JSON line, exact peak_bytes), waits for SIGUSR2 and exits.
 *
 * At thread exit glibc 2.36 (tcache_thread_shutdown) calls free on every block in the
 * thread's tcache, then on the tcache itself. The thread's first malloc, before the
 * window, made the tcache (through _int_malloc, not malloc) and left it empty; in the
 * window the thread frees TCACHED small blocks, fewer than 7 per size class, so all of
 * them go to the tcache. Its exit therefore makes TCACHED frees of blocks already freed
 * (dead_frees: in neither frees, unmatched_frees nor by_func) and one free of a block
 * never seen allocated (the tcache: an unmatched free, counted in by_func as a free).
 */
#include <pthread.h>
#include "gt.h"

#define TCACHED 5

static struct gt g;
static pthread_barrier_t setup_done, go;

static void *worker(void *arg)
{
	struct blk b[TCACHED + 1], keep;
	void *first;
	unsigned i;

	/* before the window: the tcache and the arena are made; the block stays live */
	first = gt_malloc_fn(40);
	gt_touch(first, 40);
	pthread_barrier_wait(&setup_done);
	pthread_barrier_wait(&go);

	/* ---- the window (in this thread) ---- */
	for (i = 0; i < TCACHED; i++) /* 24, 24, 24, 100, 100: two tcache size classes */
		b[i].p = gt_malloc(&g, b[i].n = i < 3 ? 24 : 100);
	b[TCACHED].p = gt_malloc(&g, b[TCACHED].n = 2000); /* too large for the tcache */
	keep.p = gt_calloc(&g, 10, 10);
	for (i = 0; i <= TCACHED; i++)
		gt_free(&g, b[i].p, b[i].n);
	/* the exit: TCACHED dead frees and the tcache's own free (unmatched) */
	g.dead_frees += TCACHED;
	g.unmatched_frees++;
	g.by_func[GT_FREE]++;
	return keep.p;
}

int main(void)
{
	pthread_t tid;
	sigset_t set;
	void *kept;

	gt_block_signals(&set);
	pthread_barrier_init(&setup_done, NULL, 2);
	pthread_barrier_init(&go, NULL, 2);
	if (pthread_create(&tid, NULL, worker, NULL))
		gt_die("cannot create a thread");
	pthread_barrier_wait(&setup_done);
	gt_ready();
	gt_wait_signal(SIGUSR1);
	pthread_barrier_wait(&go);
	if (pthread_join(tid, &kept) || !kept)
		gt_die("cannot join the thread");
	/* ---- end of the window ---- */

	gt_print(&g, 1);
	gt_wait_signal(SIGUSR2);
	return 0;
}
