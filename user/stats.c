/* stats.c: per-process statistics from alloc/free records */
#include <stdlib.h>
#include <string.h>
#include "funcs.h"
#include "stats.h"

void ms_stats_init(struct ms_stats *s, ms_end_fn on_end, void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->on_end = on_end;
	s->ctx = ctx;
}

/* Back to no figures at all, keeping who the process is and how it is shown */
static void proc_reset(struct ms_proc *p)
{
	ms_livetab_free(&p->live);
	free(p->by_func);
	free(p->pending);
	p->by_func = NULL;
	p->nby_func = 0;
	p->pending = NULL;
	p->npending = p->cap_pending = 0;
	memset(&p->c, 0, sizeof(p->c));
	memset(&p->last, 0, sizeof(p->last));
	memset(p->size_hist, 0, sizeof(p->size_hist));
	p->active = false;
}

static void proc_free(struct ms_proc *p)
{
	proc_reset(p);
	free(p);
}

void ms_stats_free(struct ms_stats *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (s->procs[i])
			proc_free(s->procs[i]);
	free(s->procs);
	memset(s, 0, sizeof(*s));
}

static inline size_t pid_slot(size_t cap, pid_t pid)
{
	return ((uint32_t)pid * 0x9E3779B1u) & (cap - 1);
}

static int procs_grow(struct ms_stats *s)
{
	size_t cap = s->cap ? s->cap * 2 : 64, i, j;
	struct ms_proc **procs = calloc(cap, sizeof(*procs));

	if (!procs)
		return -1;
	for (i = 0; i < s->cap; i++) {
		if (!s->procs[i])
			continue;
		for (j = pid_slot(cap, s->procs[i]->pid); procs[j]; j = (j + 1) & (cap - 1))
			;
		procs[j] = s->procs[i];
	}
	free(s->procs);
	s->procs = procs;
	s->cap = cap;
	return 0;
}

struct ms_proc *ms_stats_proc(struct ms_stats *s, pid_t pid, bool create)
{
	struct ms_proc *p;
	size_t i;

	if (s->last && s->last->pid == pid)
		return s->last;
	if (s->cap) {
		for (i = pid_slot(s->cap, pid); s->procs[i]; i = (i + 1) & (s->cap - 1))
			if (s->procs[i]->pid == pid)
				return s->last = s->procs[i];
	}
	if (!create)
		return NULL;
	if ((s->nprocs + 1) * 2 > s->cap && procs_grow(s))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	for (i = pid_slot(s->cap, pid); s->procs[i]; i = (i + 1) & (s->cap - 1))
		;
	s->procs[i] = p;
	s->nprocs++;
	return s->last = p;
}

void ms_stats_forget(struct ms_stats *s, pid_t pid)
{
	size_t i, j, home, mask = s->cap - 1;

	if (!s->cap)
		return;
	for (i = pid_slot(s->cap, pid); s->procs[i]; i = (i + 1) & mask)
		if (s->procs[i]->pid == pid)
			break;
	if (!s->procs[i])
		return;
	if (s->last == s->procs[i])
		s->last = NULL;
	proc_free(s->procs[i]);
	s->nprocs--;
	/* backward shift */
	for (j = i;;) {
		j = (j + 1) & mask;
		if (!s->procs[j])
			break;
		home = pid_slot(s->cap, s->procs[j]->pid);
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			s->procs[i] = s->procs[j];
			i = j;
		}
	}
	s->procs[i] = NULL;
}

unsigned ms_size_bucket(uint64_t size)
{
	return size ? 64 - __builtin_clzll(size) : 0;
}

uint64_t ms_bucket_floor(unsigned b)
{
	return b ? 1ULL << (b - 1) : 0;
}

static void count_call(struct ms_stats *s, struct ms_proc *p, unsigned func)
{
	if (func >= p->nby_func) {
		unsigned n = p->nby_func ? p->nby_func : 16;
		uint64_t *v;

		while (n <= func)
			n *= 2;
		v = realloc(p->by_func, n * sizeof(*v));
		if (!v) {
			s->oom++;
			return;
		}
		memset(v + p->nby_func, 0, (n - p->nby_func) * sizeof(*v));
		p->by_func = v;
		p->nby_func = n;
	}
	p->by_func[func]++;
}

static void add_block(struct ms_stats *s, struct ms_proc *p, uint64_t addr, uint64_t size,
		      unsigned func, uint64_t ts)
{
	struct ms_block *b;
	unsigned i;

	/* a realloc in flight in another thread released this address already */
	for (i = 0; i < p->npending; i++) {
		struct ms_pending *q = &p->pending[i];

		if (q->tracked && !q->released && q->old.addr == addr) {
			q->released = true;
			p->c.frees++;
			p->c.freed_bytes += ms_block_size(&q->old);
			p->c.live_allocs--;
			p->c.live_bytes -= ms_block_size(&q->old);
		}
	}
	p->c.allocs++;
	p->c.alloc_bytes += size;
	p->size_hist[ms_size_bucket(size)]++;
	b = ms_livetab_insert(&p->live, addr);
	if (!b) {
		s->oom++;
		return;
	}
	if (!ms_block_dead(b) && b->meta) {
		/* allocated twice without a free in between: a lost free record */
		p->c.live_allocs--;
		p->c.live_bytes -= ms_block_size(b);
	}
	ms_livetab_store(&p->live, b, ms_block_meta(size, func), ts);
	p->c.live_allocs++;
	p->c.live_bytes += size;
	if (p->c.live_bytes > p->c.peak_bytes)
		p->c.peak_bytes = p->c.live_bytes;
}

/* Counts the release of a live block b (still in the table) and marks it dead */
static void release_block(struct ms_proc *p, struct ms_block *b)
{
	p->c.frees++;
	p->c.freed_bytes += ms_block_size(b);
	p->c.live_allocs--;
	p->c.live_bytes -= ms_block_size(b);
	ms_livetab_kill(&p->live, b);
}

/* A free call of addr; returns whether it counts as an outermost call */
static bool free_block(struct ms_proc *p, uint64_t addr)
{
	struct ms_block *b = ms_livetab_find(&p->live, addr);

	if (!b) {
		p->c.unmatched_frees++;
		return true;
	}
	if (ms_block_dead(b)) {
		p->c.dead_frees++;
		return false;
	}
	release_block(p, b);
	return true;
}

static struct ms_pending *pending_get(struct ms_stats *s, struct ms_proc *p, uint32_t tid,
				      bool create)
{
	unsigned i;

	for (i = 0; i < p->npending; i++)
		if (p->pending[i].tid == tid)
			return &p->pending[i];
	if (!create)
		return NULL;
	if (p->npending == p->cap_pending) {
		unsigned n = p->cap_pending ? p->cap_pending * 2 : 4;
		struct ms_pending *v = realloc(p->pending, n * sizeof(*v));

		if (!v) {
			s->oom++;
			return NULL;
		}
		p->pending = v;
		p->cap_pending = n;
	}
	memset(&p->pending[p->npending], 0, sizeof(p->pending[0]));
	p->pending[p->npending].tid = tid;
	return &p->pending[p->npending++];
}

static void pending_drop(struct ms_proc *p, struct ms_pending *q)
{
	*q = p->pending[--p->npending];
}

/* A realloc-kind call entered with a block: take the block out of the table so that
 * another thread's malloc returning the same address meanwhile finds it free */
static void realloc_enter(struct ms_stats *s, struct ms_proc *p, const struct ms_event *e)
{
	struct ms_pending *q = pending_get(s, p, e->tid, true);
	struct ms_block *b;

	if (!q)
		return;
	if (q->tracked && !q->released) {
		/* the return of this thread's previous realloc was lost: keep its block */
		b = ms_livetab_insert(&p->live, q->old.addr);
		if (b)
			ms_livetab_store(&p->live, b, q->old.meta, q->old.ts_ns);
	}
	memset(&q->old, 0, sizeof(q->old));
	q->old.addr = e->a.ptr;
	q->tracked = false;
	q->released = false;
	b = ms_livetab_find(&p->live, e->a.ptr);
	if (b && !ms_block_dead(b)) {
		q->old = *b;
		q->tracked = true;
		ms_livetab_remove(&p->live, b);
	}
}

static void realloc_return(struct ms_stats *s, struct ms_proc *p, const struct ms_event *e)
{
	struct ms_pending *q = e->a.ptr ? pending_get(s, p, e->tid, false) : NULL;
	uint64_t old = e->a.ptr, new = e->a.ret;
	bool freed = new != 0 || e->a.size == 0; /* realloc(p, 0) frees and returns NULL */

	count_call(s, p, e->func);
	if (old && !q) {
		/* the entry record is missing (attached mid-call): do it now */
		realloc_enter(s, p, e);
		q = pending_get(s, p, e->tid, false);
	}
	if (!old) {
		if (new)
			add_block(s, p, new, e->a.size, e->func, e->ts_ns);
		else
			p->c.failed_allocs++;
		return;
	}
	if (!freed) {
		/* failed: the old block stays */
		p->c.failed_allocs++;
		if (q && q->tracked && !q->released) {
			struct ms_block *b = ms_livetab_insert(&p->live, q->old.addr);

			if (b)
				ms_livetab_store(&p->live, b, q->old.meta, q->old.ts_ns);
			else
				s->oom++;
		}
	} else if (q && q->tracked) {
		if (!q->released) {
			p->c.frees++;
			p->c.freed_bytes += ms_block_size(&q->old);
			p->c.live_allocs--;
			p->c.live_bytes -= ms_block_size(&q->old);
			if (old != new) {
				/* remember the old address as freed */
				struct ms_block *b = ms_livetab_insert(&p->live, old);

				if (b && (!b->meta || ms_block_dead(b))) {
					ms_livetab_store(&p->live, b, q->old.meta, q->old.ts_ns);
					ms_livetab_kill(&p->live, b);
				}
			}
		}
	} else {
		p->c.unmatched_frees++;
	}
	if (q)
		pending_drop(p, q);
	if (new)
		add_block(s, p, new, e->a.size, e->func, e->ts_ns);
}

void ms_stats_apply(struct ms_stats *s, const struct ms_event *e)
{
	struct ms_proc *p;

	s->events++;
	switch (e->type) {
	case MS_EV_ALLOC:
	case MS_EV_FREE:
	case MS_EV_REALLOC_ENTER:
	case MS_EV_REALLOC:
		p = ms_stats_proc(s, e->tgid, true);
		if (!p) {
			s->oom++;
			return;
		}
		p->active = true;
		break;
	case MS_EV_EXEC:
		p = ms_stats_proc(s, e->tgid, true);
		if (p && p->active) {
			/* the old image's heap is gone: its figures end here */
			if (s->on_end)
				s->on_end(p, MS_END_EXEC, s->ctx);
			proc_reset(p);
		}
		if (p) {
			memcpy(p->comm, e->comm, MS_COMM_LEN);
			p->comm[MS_COMM_LEN] = '\0';
		}
		return;
	case MS_EV_EXIT:
		p = ms_stats_proc(s, e->tgid, false);
		if (!p)
			return;
		memcpy(p->comm, e->comm, MS_COMM_LEN);
		p->comm[MS_COMM_LEN] = '\0';
		if (p->active && s->on_end && !p->exited)
			s->on_end(p, MS_END_EXIT, s->ctx);
		if (p->pinned)
			p->exited = true;
		else
			ms_stats_forget(s, e->tgid);
		return;
	default:
		return;
	}

	switch (e->type) {
	case MS_EV_ALLOC:
		count_call(s, p, e->func);
		if (e->a.ptr)
			add_block(s, p, e->a.ptr, e->a.size, e->func, e->ts_ns);
		else
			p->c.failed_allocs++;
		break;
	case MS_EV_FREE:
		if (free_block(p, e->a.ptr))
			count_call(s, p, e->func);
		break;
	case MS_EV_REALLOC_ENTER:
		realloc_enter(s, p, e);
		break;
	case MS_EV_REALLOC:
		realloc_return(s, p, e);
		break;
	}
}

void ms_stats_for_each(struct ms_stats *s, void (*fn)(struct ms_proc *p, void *ctx), void *ctx)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (s->procs[i])
			fn(s->procs[i], ctx);
}
