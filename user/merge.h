/* merge.h: the per-CPU ring buffers' records, merged into one stream by timestamp */
#ifndef MS_MERGE_H
#define MS_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include "memscope.h"

/*
 * Each CPU's ring holds its records in the order they were reserved. A record is
 * committed a moment after its timestamp is taken, so when a consumer reads the rings
 * one after another, a record of one ring can show up after a later record of another.
 * Records wait here until they are older than a watermark (now minus a delay longer
 * than any record takes to commit), then come out in timestamp order: a free that
 * started on one CPU before another CPU's malloc got the same address back comes first.
 */
struct ms_merge_queue {
	struct ms_event *v;
	size_t head, n, cap; /* records v[head..n) wait */
};

struct ms_merge {
	struct ms_merge_queue *q;
	int nq;
	int *heap; /* queues with records, by the timestamp of their first */
	int nheap;
	uint64_t last_ts; /* the last record's timestamp given out */
	uint64_t late;	  /* records given out after a later one (came past the delay) */
};

int ms_merge_init(struct ms_merge *m, int nqueues);
void ms_merge_free(struct ms_merge *m);

/* Queues a copy of e, read from ring q. Returns 0 or -ENOMEM. */
int ms_merge_push(struct ms_merge *m, int q, const struct ms_event *e);

/*
 * Gives out, in timestamp order, every queued record whose timestamp is at most upto
 * (UINT64_MAX: all of them), calling fn for each. Returns how many.
 */
size_t ms_merge_drain(struct ms_merge *m, uint64_t upto,
		      void (*fn)(void *ctx, const struct ms_event *e), void *ctx);

#endif
