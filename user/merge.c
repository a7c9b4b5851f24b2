/* merge.c: a k-way merge of the rings' record queues by timestamp (a binary heap) */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "merge.h"
#include "vec.h"

int ms_merge_init(struct ms_merge *m, int nqueues)
{
	memset(m, 0, sizeof(*m));
	if (nqueues <= 0)
		return -EINVAL;
	m->q = calloc(nqueues, sizeof(*m->q));
	m->heap = calloc(nqueues, sizeof(*m->heap));
	if (!m->q || !m->heap) {
		ms_merge_free(m);
		return -ENOMEM;
	}
	m->nq = nqueues;
	return 0;
}

void ms_merge_free(struct ms_merge *m)
{
	int i;

	for (i = 0; m->q && i < m->nq; i++)
		free(m->q[i].v);
	free(m->q);
	free(m->heap);
	memset(m, 0, sizeof(*m));
}

static uint64_t head_ts(const struct ms_merge *m, int q)
{
	return m->q[q].v[m->q[q].head].ts_ns;
}

static void sift_up(struct ms_merge *m, int i)
{
	while (i > 0) {
		int parent = (i - 1) / 2, tmp;

		if (head_ts(m, m->heap[parent]) <= head_ts(m, m->heap[i]))
			break;
		tmp = m->heap[parent];
		m->heap[parent] = m->heap[i];
		m->heap[i] = tmp;
		i = parent;
	}
}

static void sift_down(struct ms_merge *m, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, min = i, tmp;

		if (l < m->nheap && head_ts(m, m->heap[l]) < head_ts(m, m->heap[min]))
			min = l;
		if (r < m->nheap && head_ts(m, m->heap[r]) < head_ts(m, m->heap[min]))
			min = r;
		if (min == i)
			return;
		tmp = m->heap[min];
		m->heap[min] = m->heap[i];
		m->heap[i] = tmp;
		i = min;
	}
}

/* Queue q's first record became older: it moves up in the heap */
static void head_moved_up(struct ms_merge *m, int q)
{
	int i;

	for (i = 0; i < m->nheap; i++)
		if (m->heap[i] == q) {
			sift_up(m, i);
			return;
		}
}

/* Room for k more records at the end of queue mq */
static int make_room(struct ms_merge_queue *mq, size_t k)
{
	if (mq->n + k <= mq->cap)
		return 0;
	if (mq->head > 0) {
		/* reuse the room of the records given out */
		memmove(mq->v, mq->v + mq->head, (mq->n - mq->head) * sizeof(*mq->v));
		mq->n -= mq->head;
		mq->head = 0;
	}
	return MS_VEC_RESERVE(mq->v, mq->cap, mq->n + k) ? -ENOMEM : 0;
}

int ms_merge_push(struct ms_merge *m, int q, const struct ms_event *e)
{
	struct ms_merge_queue *mq;
	size_t at;

	if (q < 0 || q >= m->nq)
		return -EINVAL;
	mq = &m->q[q];
	if (make_room(mq, 1))
		return -ENOMEM;
	/* in timestamp order: almost always at the end */
	for (at = mq->n; at > mq->head && mq->v[at - 1].ts_ns > e->ts_ns; at--)
		;
	if (at < mq->n)
		memmove(mq->v + at + 1, mq->v + at, (mq->n - at) * sizeof(*mq->v));
	mq->v[at] = *e;
	mq->n++;
	m->queued++;
	if (mq->n - mq->head == 1) {
		/* the queue had nothing waiting: it joins the heap */
		m->heap[m->nheap++] = q;
		sift_up(m, m->nheap - 1);
	} else if (at == mq->head) {
		head_moved_up(m, q);
	}
	return 0;
}

int ms_merge_push_run(struct ms_merge *m, int q, const struct ms_event *v, size_t n)
{
	struct ms_merge_queue *mq;
	bool waited;
	size_t i;

	if (q < 0 || q >= m->nq)
		return -EINVAL;
	if (!n)
		return 0;
	mq = &m->q[q];
	waited = mq->n > mq->head;
	for (i = 1; i < n && v[i - 1].ts_ns <= v[i].ts_ns; i++)
		;
	if (i < n || (waited && mq->v[mq->n - 1].ts_ns > v[0].ts_ns)) {
		/* out of order somewhere: one by one, each to its place */
		if (make_room(mq, n))
			return -ENOMEM;
		for (i = 0; i < n; i++)
			ms_merge_push(m, q, &v[i]); /* cannot fail: there is room */
		return 0;
	}
	if (make_room(mq, n))
		return -ENOMEM;
	memcpy(mq->v + mq->n, v, n * sizeof(*v));
	mq->n += n;
	m->queued += n;
	if (!waited) {
		/* the queue had nothing waiting: it joins the heap */
		m->heap[m->nheap++] = q;
		sift_up(m, m->nheap - 1);
	}
	return 0;
}

void ms_merge_quiet(struct ms_merge *m, int q, uint64_t ts)
{
	if (q >= 0 && q < m->nq && ts > m->q[q].quiet_ts)
		m->q[q].quiet_ts = ts;
}

size_t ms_merge_drain_ready(struct ms_merge *m, uint64_t force_upto,
			    void (*fn)(void *ctx, const struct ms_event *e), void *ctx)
{
	uint64_t upto = UINT64_MAX;
	int i;

	for (i = 0; i < m->nq; i++)
		if (m->q[i].quiet_ts < upto)
			upto = m->q[i].quiet_ts;
	return ms_merge_drain(m, upto > force_upto ? upto : force_upto, fn, ctx);
}

/* e goes out: after a newer one, it is late */
static inline void give_out(struct ms_merge *m, const struct ms_event *e,
			    void (*fn)(void *ctx, const struct ms_event *e), void *ctx)
{
	if (e->ts_ns < m->last_ts)
		m->late++;
	else
		m->last_ts = e->ts_ns;
	fn(ctx, e);
}

/* Only one queue waits (one busy ring, the common case): its records in order, no heap
 * to keep */
static size_t drain_one(struct ms_merge *m, uint64_t upto,
			void (*fn)(void *ctx, const struct ms_event *e), void *ctx)
{
	struct ms_merge_queue *mq = &m->q[m->heap[0]];
	size_t out = 0;

	while (mq->head < mq->n && mq->v[mq->head].ts_ns <= upto) {
		give_out(m, &mq->v[mq->head++], fn, ctx);
		out++;
	}
	m->queued -= out;
	if (mq->head == mq->n) {
		mq->head = mq->n = 0;
		m->nheap = 0;
	}
	return out;
}

size_t ms_merge_drain(struct ms_merge *m, uint64_t upto,
		      void (*fn)(void *ctx, const struct ms_event *e), void *ctx)
{
	size_t out = 0;

	while (m->nheap > 1) {
		int q = m->heap[0];
		struct ms_merge_queue *mq = &m->q[q];

		if (mq->v[mq->head].ts_ns > upto)
			return out;
		give_out(m, &mq->v[mq->head], fn, ctx);
		out++;
		m->queued--;
		if (++mq->head == mq->n) {
			mq->head = mq->n = 0;
			m->heap[0] = m->heap[--m->nheap];
		}
		sift_down(m, 0);
	}
	if (m->nheap == 1)
		out += drain_one(m, upto, fn, ctx);
	return out;
}
