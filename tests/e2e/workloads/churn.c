/* churn.c: THREADS threads malloc and free as fast as they can until told to stop, so that
 * a tracer is busy while it is asked for its figures (a Prometheus scrape)
 *
 * usage: churn THREADS
 * Prints "ready <pid>", waits for SIGUSR1, churns until a second SIGUSR1, prints the ground
 * truth (one JSON line, no peak_bytes: it depends on the interleaving), waits for SIGUSR2
 * and exits. Each thread keeps a ring of RING live blocks: every iteration frees the
 * oldest and mallocs a new one of a deterministic size, so live bytes stay bounded and the
 * ring is what is live at the end. The threads park after the window and never exit.
 */
#include <pthread.h>
#include <stdatomic.h>
#include "gt.h"

#define MAX_THREADS 16
#define RING 64

static unsigned nthreads;
static atomic_int stop;
static struct gt thread_gt[MAX_THREADS];
static pthread_barrier_t go, window_done;

static size_t size_of(unsigned t, uint64_t i)
{
	uint64_t x = (uint64_t)t * 1000003u + i * 7919u;

	x ^= x >> 13;
	x *= 0x9E3779B97F4A7C15ull;
	x ^= x >> 29;
	return 1 + (size_t)(x % 2000);
}

static void *worker(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	struct gt *g = &thread_gt[t];
	struct blk ring[RING];
	uint64_t i;

	memset(ring, 0, sizeof(ring));
	pthread_barrier_wait(&go);

	/* ---- the window ---- */
	for (i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
		struct blk *b = &ring[i % RING];

		if (b->p)
			gt_free(g, b->p, b->n);
		b->p = gt_malloc(g, b->n = size_of(t, i));
	}
	/* ---- end of the window for this thread ---- */

	pthread_barrier_wait(&window_done);
	for (;;) /* park: do not exit (tcache release) */
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	static struct gt total;
	pthread_t tid;
	sigset_t set;
	unsigned t;

	nthreads = (unsigned)gt_arg(argc, argv, 1, 2);
	if (nthreads < 1 || nthreads > MAX_THREADS)
		gt_die("usage: churn THREADS(1-16)");
	gt_block_signals(&set);
	pthread_barrier_init(&go, NULL, nthreads + 1);
	pthread_barrier_init(&window_done, NULL, nthreads + 1);
	for (t = 0; t < nthreads; t++)
		if (pthread_create(&tid, NULL, worker, (void *)(uintptr_t)t))
			gt_die("cannot create a thread");
	gt_ready();

	gt_wait_signal(SIGUSR1);
	pthread_barrier_wait(&go);
	gt_wait_signal(SIGUSR1);
	atomic_store(&stop, 1);
	pthread_barrier_wait(&window_done);

	for (t = 0; t < nthreads; t++)
		gt_merge(&total, &thread_gt[t]);
	gt_print(&total, 0);
	gt_wait_signal(SIGUSR2);
	return 0;
}
