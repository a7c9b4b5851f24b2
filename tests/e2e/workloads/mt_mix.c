/* mt_mix.c: THREADS threads run a deterministic mix of every glibc allocator call,
 * with cross-thread frees and address reuse, between SIGUSR1 and the ground truth line
 *
 * usage: mt_mix THREADS ITERS
 * Prints "ready <pid>", waits for SIGUSR1, runs the window, prints the ground truth (one
 * JSON line, the tracer's field names, no peak_bytes: it depends on the interleaving),
 * waits for SIGUSR2 and exits. The threads park after the window and never exit: a
 * thread's exit makes glibc free the blocks in its tcache, which a tracer sees.
 */
#include <pthread.h>
#include "gt.h"

#define MAX_THREADS 32
#define MAX_ITERS 4000
#define QCAP 128	       /* a thread is at most THREADS iterations ahead of the next */
#define HUGE ((size_t)1 << 62) /* no allocator can give this */
#define PRE 3		       /* blocks per thread allocated before the window */

/* A lock-protected FIFO of blocks (or of bare sizes, p == NULL) between two threads */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct blk item[QCAP];
	unsigned head, tail;
};

static unsigned nthreads, iters;
static struct queue blockq[MAX_THREADS]; /* blocks to free, from the previous thread */
static struct queue sizeq[MAX_THREADS];	 /* sizes to malloc at once, from the previous thread */
static struct gt thread_gt[MAX_THREADS];
static struct blk keep[MAX_THREADS][MAX_ITERS / 4 + 8]; /* blocks live at the end */
static pthread_barrier_t setup_done, go, window_done;

static void q_push(struct queue *q, struct blk b)
{
	pthread_mutex_lock(&q->mu);
	if (q->tail - q->head == QCAP)
		gt_die("queue full");
	q->item[q->tail++ % QCAP] = b;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static struct blk q_pop(struct queue *q)
{
	struct blk b;

	pthread_mutex_lock(&q->mu);
	while (q->head == q->tail)
		pthread_cond_wait(&q->cv, &q->mu);
	b = q->item[q->head++ % QCAP];
	pthread_mutex_unlock(&q->mu);
	return b;
}

/* A deterministic size in [lo, lo + span) for thread t, iteration i, use k */
static size_t sz(unsigned t, unsigned i, unsigned k, size_t lo, size_t span)
{
	uint64_t x = (uint64_t)t * 1000003u + (uint64_t)i * 7919u + (uint64_t)k * 104729u;

	x ^= x >> 13;
	x *= 0x9E3779B97F4A7C15ull;
	x ^= x >> 29;
	return lo + (size_t)(x % span);
}

static void *worker(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg, next = (t + 1) % nthreads, i, nkeep = 0;
	struct gt *g = &thread_gt[t];
	struct blk pre[PRE], a, b, c, d, x;
	void *p;

	/* before the window: blocks the window frees (unmatched frees), arena and tcache set up */
	for (i = 0; i < PRE; i++) {
		pre[i].n = 100 + 50 * i;
		pre[i].p = gt_malloc_fn(pre[i].n);
		gt_touch(pre[i].p, pre[i].n);
	}
	pthread_barrier_wait(&setup_done);
	pthread_barrier_wait(&go);

	/* ---- the window ---- */
	gt_free_old(g, pre[0].p);
	gt_free_old(g, pre[1].p);
	gt_realloc(g, &pre[2], 700, 0); /* release of an old block + a new allocation */
	gt_free(g, pre[2].p, pre[2].n);

	for (i = 0; i < iters; i++) {
		/* plain calls */
		a.p = gt_malloc(g, a.n = sz(t, i, 1, 1, 600));
		b.n = sz(t, i, 2, 1, 40) * 8;
		b.p = gt_calloc(g, b.n / 8, 8);
		c.p = NULL;
		c.n = 0;
		gt_realloc(g, &c, sz(t, i, 3, 16, 200), 1);    /* realloc(NULL, n) */
		gt_realloc(g, &c, sz(t, i, 4, 1100, 3000), 1); /* grow */
		gt_realloc(g, &c, sz(t, i, 5, 8, 64), 1);      /* shrink */
		gt_realloc(g, &c, 0, 1);		       /* realloc(p, 0): a free */
		if (c.p)
			gt_die("realloc(p, 0) did not free");
		d.p = NULL;
		d.n = 0;
		gt_reallocarray(g, &d, sz(t, i, 6, 1, 20), 16); /* reallocarray(NULL, ...) */
		gt_reallocarray(g, &d, sz(t, i, 7, 30, 90), 16);
		x.p = gt_posix_memalign(g, 64, x.n = sz(t, i, 8, 1, 500));
		gt_free(g, x.p, x.n);
		x.p = gt_aligned_alloc(g, 64, x.n = 64 * sz(t, i, 9, 1, 8));
		gt_free(g, x.p, x.n);
		x.p = gt_memalign(g, 128, x.n = sz(t, i, 10, 1, 300));
		gt_free(g, x.p, x.n);
		x.p = gt_valloc(g, x.n = sz(t, i, 11, 1, 5000));
		gt_free(g, x.p, x.n);
		x.p = gt_pvalloc(g, x.n = sz(t, i, 12, 1, 5000));
		gt_free(g, x.p, x.n);
		x.p = gt_malloc(g, x.n = 0); /* malloc(0) gives a block */
		gt_free(g, x.p, x.n);
		gt_free(g, NULL, 0); /* free(NULL): not counted */

		/* failing calls */
		if (gt_malloc(g, HUGE))
			gt_die("malloc of a huge size succeeded");
		if (gt_calloc(g, HUGE, 16)) /* nmemb * size overflows */
			gt_die("calloc overflow succeeded");
		if (gt_realloc(g, &a, HUGE, 1) || !a.p) /* fails; a stays live */
			gt_die("realloc of a huge size succeeded");
		if (gt_reallocarray(g, &d, HUGE, 16) || !d.p)
			gt_die("reallocarray overflow succeeded");
		if (gt_posix_memalign(g, 3, 64)) /* EINVAL: not a power of two */
			gt_die("posix_memalign with a bad alignment succeeded");
		if (gt_aligned_alloc(g, 64, HUGE))
			gt_die("aligned_alloc of a huge size succeeded");

		/* cross-thread: this block is freed by the next thread, which at once tells
		 * the thread after it to malloc the same size: the address comes back there */
		p = gt_malloc(g, x.n = sz(t, i, 13, 1100, 900));
		x.p = p;
		q_push(&blockq[next], x);
		x = q_pop(&blockq[t]);
		gt_free(g, x.p, x.n);
		x.p = NULL;
		q_push(&sizeq[next], x);
		x = q_pop(&sizeq[t]);
		x.p = gt_malloc(g, x.n);

		/* realloc racing with the other threads' mallocs of the same sizes: the old
		 * block is large enough to go back to the shared arena, not the tcache */
		gt_realloc(g, &x, sz(t, i, 14, 2100, 900), 1);

		/* what stays live at the end */
		if (i % 4 == 0) {
			keep[t][nkeep++] = x;
		} else {
			gt_free(g, x.p, x.n);
		}
		gt_free(g, a.p, a.n);
		gt_free(g, b.p, b.n);
		gt_free(g, d.p, d.n);
	}
	/* ---- end of the window for this thread ---- */

	pthread_barrier_wait(&window_done);
	for (;;) /* park: do not exit (tcache release) */
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tid;
	sigset_t set;
	struct gt total;
	unsigned t;

	nthreads = (unsigned)gt_arg(argc, argv, 1, 4);
	iters = (unsigned)gt_arg(argc, argv, 2, 200);
	if (nthreads < 1 || nthreads > MAX_THREADS || iters > MAX_ITERS)
		gt_die("usage: mt_mix THREADS(1-32) ITERS(0-4000)");
	/* one arena: freed addresses are handed out to every thread */
	mallopt(M_ARENA_MAX, 1);
	gt_block_signals(&set);
	for (t = 0; t < nthreads; t++) {
		pthread_mutex_init(&blockq[t].mu, NULL);
		pthread_cond_init(&blockq[t].cv, NULL);
		pthread_mutex_init(&sizeq[t].mu, NULL);
		pthread_cond_init(&sizeq[t].cv, NULL);
	}
	pthread_barrier_init(&setup_done, NULL, nthreads + 1);
	pthread_barrier_init(&go, NULL, nthreads + 1);
	pthread_barrier_init(&window_done, NULL, nthreads + 1);
	for (t = 0; t < nthreads; t++)
		if (pthread_create(&tid, NULL, worker, (void *)(uintptr_t)t))
			gt_die("cannot create a thread");
	pthread_barrier_wait(&setup_done);
	gt_ready();

	gt_wait_signal(SIGUSR1);
	pthread_barrier_wait(&go);
	pthread_barrier_wait(&window_done);

	memset(&total, 0, sizeof(total));
	for (t = 0; t < nthreads; t++)
		gt_merge(&total, &thread_gt[t]);
	gt_print(&total, 0);

	gt_wait_signal(SIGUSR2);
	return 0;
}
