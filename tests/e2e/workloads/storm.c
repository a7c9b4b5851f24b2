/* storm.c: many threads allocating at once, more than the CPUs: threads are preempted
 * inside the tracer's BPF programs, and blocks freed on one CPU come back on another
 *
 * usage: storm THREADS ROUNDS
 * Prints "ready <pid>", waits for SIGUSR1, then THREADS threads each run ROUNDS rounds
 * of malloc, a hand-over of the block to the next thread, which frees it, and a
 * malloc+free of its own; prints the ground truth (one JSON line, no peak_bytes: it
 * depends on the interleaving), waits for SIGUSR2 and exits. The threads park after
 * the window and never exit: a thread's exit makes glibc free its tcache's blocks.
 */
#include <pthread.h>
#include "gt.h"

#define MAX_THREADS 256
#define SLOTS 64 /* blocks in flight between a thread and the next */

/* A lock-protected FIFO of blocks from thread t to thread t + 1 */
struct handoff {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct blk item[SLOTS];
	unsigned head, tail;
};

static unsigned nthreads, rounds;
static struct handoff hand[MAX_THREADS];
static struct gt thread_gt[MAX_THREADS];
static pthread_barrier_t go, done;

static void put(struct handoff *h, struct blk b)
{
	pthread_mutex_lock(&h->mu);
	while (h->tail - h->head == SLOTS)
		pthread_cond_wait(&h->cv, &h->mu);
	h->item[h->tail++ % SLOTS] = b;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static struct blk take(struct handoff *h)
{
	struct blk b;

	pthread_mutex_lock(&h->mu);
	while (h->head == h->tail)
		pthread_cond_wait(&h->cv, &h->mu);
	b = h->item[h->head++ % SLOTS];
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return b;
}

static void *worker(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg, prev = (t + nthreads - 1) % nthreads, i;
	struct gt *g = &thread_gt[t];
	struct blk b, o;

	pthread_barrier_wait(&go);
	for (i = 0; i < rounds; i++) {
		b.n = 16 + (t * 31 + i * 7) % 1000;
		b.p = gt_malloc(g, b.n);
		put(&hand[t], b);      /* the next thread frees it */
		o = take(&hand[prev]); /* and this one frees the previous thread's */
		gt_free(g, o.p, o.n);
		o.n = 8 + (i * 13 + t) % 200;
		o.p = gt_malloc(g, o.n);
		gt_free(g, o.p, o.n);
	}
	pthread_barrier_wait(&done);
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	static struct gt total;
	pthread_t tid;
	sigset_t set;
	unsigned t;

	nthreads = gt_arg(argc, argv, 1, 64);
	rounds = gt_arg(argc, argv, 2, 2000);
	if (nthreads < 2 || nthreads > MAX_THREADS)
		gt_die("usage: storm THREADS(2-256) ROUNDS");
	gt_block_signals(&set);
	for (t = 0; t < nthreads; t++) {
		pthread_mutex_init(&hand[t].mu, NULL);
		pthread_cond_init(&hand[t].cv, NULL);
	}
	pthread_barrier_init(&go, NULL, nthreads + 1);
	pthread_barrier_init(&done, NULL, nthreads + 1);
	for (t = 0; t < nthreads; t++)
		if (pthread_create(&tid, NULL, worker, (void *)(uintptr_t)t))
			gt_die("cannot create a thread");
	gt_ready();
	gt_wait_signal(SIGUSR1);
	pthread_barrier_wait(&go);
	pthread_barrier_wait(&done);
	for (t = 0; t < nthreads; t++)
		gt_merge(&total, &thread_gt[t]);
	gt_print(&total, 0);
	gt_wait_signal(SIGUSR2);
	return 0;
}
