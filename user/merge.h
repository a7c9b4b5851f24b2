/* merge.h: the per-CPU ring buffers' records, merged into one stream by timestamp */
#ifndef MS_MERGE_H
#define MS_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include "memscope.h"

/*
 * Each CPU's ring holds its records in the order they were reserved; a record's
 * timestamp is taken after its reservation, and a thread can be preempted between the
 * two or before its commit, so a ring's records are not quite in timestamp order, and
 * a record of one ring can show up long after later records of another. Records wait
 * here, each queue in timestamp order, until every ring has been seen empty since
 * their time (a ring seen empty at time T can only get records newer than T: the
 * watermark), then come out in timestamp order: a free that started on one CPU before
 * another CPU's malloc got the same address back comes first, however late it is read.
 */
struct ms_merge_queue {
	struct ms_event *v;
	size_t head, n, cap; /* records v[head..n) wait, in timestamp order */
	uint64_t quiet_ts;   /* its ring was seen empty then: later records are newer */
};

struct ms_merge {
	struct ms_merge_queue *q;
	int nq;
	int *heap; /* queues with records, by the timestamp of their first */
	int nheap;
	size_t queued;	  /* records waiting, all queues */
	uint64_t last_ts; /* the last record's timestamp given out */
	uint64_t late;	  /* records given out after a newer one (a wait was cut short) */
};

int ms_merge_init(struct ms_merge *m, int nqueues);
void ms_merge_free(struct ms_merge *m);

/* Queues a copy of e, read from ring q. Returns 0 or -ENOMEM. */
int ms_merge_push(struct ms_merge *m, int q, const struct ms_event *e);

/* Queues copies of the n records at v, read from ring q in that order: one copy when they
 * are in timestamp order after the queue's last (a thread's ring, the common case), else
 * each as ms_merge_push. Returns 0 or -ENOMEM (then none was queued). */
int ms_merge_push_run(struct ms_merge *m, int q, const struct ms_event *v, size_t n);

/*
 * Gives out, in timestamp order, every queued record whose timestamp is at most upto
 * (UINT64_MAX: all of them), calling fn for each. Returns how many.
 */
size_t ms_merge_drain(struct ms_merge *m, uint64_t upto,
		      void (*fn)(void *ctx, const struct ms_event *e), void *ctx);

/* Ring q was seen empty at time ts (taken before looking): its later records are newer */
void ms_merge_quiet(struct ms_merge *m, int q, uint64_t ts);

/*
 * Gives out the records no ring can still precede: those at most the watermark (the
 * earliest time a ring was last seen empty), or at most force_upto when that is later
 * (a bound on waiting: a record that then comes older than one given out is counted in
 * late). Returns how many.
 */
size_t ms_merge_drain_ready(struct ms_merge *m, uint64_t force_upto,
			    void (*fn)(void *ctx, const struct ms_event *e), void *ctx);

#endif
