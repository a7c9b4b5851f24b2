/* stats.c: per-process statistics from alloc/free records */
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include "funcs.h"
#include "stats.h"

void ms_stats_init(struct ms_stats *s, ms_end_fn on_end, void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->on_end = on_end;
	s->ctx = ctx;
}

static void side_free(struct ms_side *d)
{
	free(d->numa.node);
	ms_livetab_free(&d->live);
	free(d->pending);
	free(d->pat);
	if (d->sites) {
		free(d->sites->v);
		free(d->sites->index);
		ms_livetab_free(&d->sites->owner);
		free(d->sites);
	}
}

static inline unsigned site_hash(uint64_t caller, uint64_t size, unsigned cap)
{
	return ((caller ^ (size * 0x9E3779B97F4A7C15ULL)) * 0xff51afd7ed558ccdULL >> 32) &
	       (cap - 1);
}

/* The site of (caller, size), created when new; NULL past MS_MAX_SITES or out of memory */
static struct ms_site *site_get(struct ms_sites *ss, uint64_t caller, uint64_t size)
{
	unsigned i;

	if (!ss->index_cap) {
		ss->index = calloc(2 * MS_MAX_SITES, sizeof(*ss->index));
		if (!ss->index)
			return NULL;
		ss->index_cap = 2 * MS_MAX_SITES;
	}
	for (i = site_hash(caller, size, ss->index_cap); ss->index[i];
	     i = (i + 1) & (ss->index_cap - 1)) {
		struct ms_site *t = &ss->v[ss->index[i] - 1];

		if (t->caller == caller && t->size == size)
			return t;
	}
	if (ss->n == MS_MAX_SITES)
		return NULL;
	if (ss->n == ss->cap) {
		unsigned cap = ss->cap ? ss->cap * 2 : 16;
		struct ms_site *v = realloc(ss->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		ss->v = v;
		ss->cap = cap;
	}
	memset(&ss->v[ss->n], 0, sizeof(ss->v[0]));
	ss->v[ss->n].caller = caller;
	ss->v[ss->n].size = size;
	ss->index[i] = ++ss->n;
	return &ss->v[ss->n - 1];
}

/* A block of MS_SITE_MIN bytes or more allocated at addr from caller */
static void site_alloc(struct ms_stats *s, struct ms_side *d, uint64_t addr, uint64_t size,
		       uint64_t caller)
{
	struct ms_site *t;
	struct ms_block *b;

	if (!d->sites && !(d->sites = calloc(1, sizeof(*d->sites)))) {
		s->oom++;
		return;
	}
	t = site_get(d->sites, caller, size);
	if (!t) {
		d->sites->untracked++;
		return;
	}
	t->allocs++;
	b = ms_livetab_insert(&d->sites->owner, addr);
	if (!b) {
		s->oom++;
		return;
	}
	ms_livetab_store(&d->sites->owner, b, t - d->sites->v + 1, 0);
}

static void site_free(struct ms_side *d, uint64_t addr)
{
	struct ms_block *b;

	if (!d->sites || !(b = ms_livetab_find(&d->sites->owner, addr)))
		return;
	d->sites->v[b->meta - 1].frees++;
	ms_livetab_remove(&d->sites->owner, b);
}

/* Entries in p's live tables */
static size_t proc_blocks(const struct ms_proc *p)
{
	size_t n = 0;
	unsigned i;

	for (i = 0; i < p->nalloc; i++)
		n += p->alloc[i].user.live.used + p->alloc[i].backing.live.used;
	return n;
}

/* Back to no figures at all, keeping who the process is and how it is shown */
static void proc_reset(struct ms_proc *p)
{
	unsigned i;

	for (i = 0; i < p->nalloc; i++) {
		side_free(&p->alloc[i].user);
		side_free(&p->alloc[i].backing);
	}
	free(p->alloc);
	free(p->by_func);
	p->alloc = NULL;
	p->nalloc = 0;
	p->by_func = NULL;
	p->nby_func = 0;
	memset(&p->c, 0, sizeof(p->c));
	memset(&p->last, 0, sizeof(p->last));
	memset(p->recent, 0, sizeof(p->recent));
	free(p->numa.node);
	memset(&p->numa, 0, sizeof(p->numa));
	if (p->sites) {
		ms_sites_free_all(p->sites);
		free(p->sites);
		p->sites = NULL;
	}
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
	if (s->max_procs && s->nprocs >= s->max_procs) {
		s->capped = true;
		return NULL;
	}
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
	s->blocks -= proc_blocks(s->procs[i]);
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

/* Grows an array of n elements of size sz to hold index i; 0 or -1 */
static int grow(void **v, unsigned *n, unsigned i, size_t sz)
{
	unsigned m = *n ? *n : 8;
	void *w;

	if (i < *n)
		return 0;
	while (m <= i)
		m *= 2;
	w = realloc(*v, m * sz);
	if (!w)
		return -1;
	memset((char *)w + *n * sz, 0, (m - *n) * sz);
	*v = w;
	*n = m;
	return 0;
}

static void count_call(struct ms_stats *s, struct ms_proc *p, unsigned func)
{
	if (grow((void **)&p->by_func, &p->nby_func, func, sizeof(*p->by_func))) {
		s->oom++;
		return;
	}
	p->by_func[func]++;
}

/* Where an event's block lives: the user side of its function's allocator, or, for a
 * call made inside another allocator's call, the backing side of that allocator */
static struct ms_side *side_of(struct ms_stats *s, struct ms_proc *p, const struct ms_event *e,
			       bool *user)
{
	const struct ms_func *f = NULL;
	bool nested = e->flags & MS_EVF_NESTED;
	unsigned id;

	if (nested)
		f = ms_funcs_get(e->outer_func);
	if (!f) {
		nested = false;
		f = ms_funcs_get(e->func);
	}
	id = f ? f->allocator : 0;
	if (grow((void **)&p->alloc, &p->nalloc, id, sizeof(*p->alloc))) {
		s->oom++;
		return NULL;
	}
	p->alloc[id].used = true;
	*user = !nested;
	return nested ? &p->alloc[id].backing : &p->alloc[id].user;
}

/* The node counters of node, grown to hold it; NULL when memory runs out */
static struct ms_node_counts *node_of(struct ms_numa_counts *nc, unsigned node)
{
	if (grow((void **)&nc->node, &nc->nnodes, node, sizeof(*nc->node)))
		return NULL;
	return &nc->node[node];
}

/* The node counters a change on side d touches, as FOR_COUNTS */
#define FOR_NUMA(p, d, user, nc)                                                                   \
	for (struct ms_numa_counts * nc##_v[2] = { &(d)->numa, (user) ? &(p)->numa : NULL },       \
				     **nc##_i = nc##_v;                                            \
	     nc##_i < nc##_v + 2 && (nc = *nc##_i); nc##_i++)

static void numa_alloc(struct ms_proc *p, struct ms_side *d, bool user, unsigned node,
		       uint64_t size)
{
	struct ms_numa_counts *nc;
	struct ms_node_counts *n;

	FOR_NUMA(p, d, user, nc)
	{
		if (!(n = node_of(nc, node)))
			continue;
		n->allocs++;
		n->alloc_bytes += size;
		n->live_allocs++;
		n->live_bytes += size;
		if (n->live_bytes > n->peak_bytes)
			n->peak_bytes = n->live_bytes;
	}
}

static void numa_release(struct ms_proc *p, struct ms_side *d, bool user, unsigned alloc_node,
			 unsigned free_node, uint64_t size)
{
	struct ms_numa_counts *nc;
	struct ms_node_counts *n;

	FOR_NUMA(p, d, user, nc)
	{
		if ((n = node_of(nc, alloc_node))) {
			n->live_allocs--;
			n->live_bytes -= size;
		}
		if ((n = node_of(nc, free_node))) {
			n->frees++;
			n->freed_bytes += size;
		}
		if (alloc_node != free_node) {
			nc->remote_frees++;
			nc->remote_free_bytes += size;
		}
	}
}

/* The counters a change on side d touches: the side's, and the process' for users */
#define FOR_COUNTS(p, d, user, c)                                                                  \
	for (struct ms_counts * c##_v[2] = { &(d)->c, (user) ? &(p)->c : NULL }, **c##_i = c##_v;  \
	     c##_i < c##_v + 2 && (c = *c##_i); c##_i++)

static void add_live(struct ms_proc *p, struct ms_side *d, bool user, uint64_t size)
{
	struct ms_counts *c;

	FOR_COUNTS(p, d, user, c)
	{
		c->live_allocs++;
		c->live_bytes += size;
		if (c->live_bytes > c->peak_bytes)
			c->peak_bytes = c->live_bytes;
	}
}

/*
 * Counts the release of block b at time now: the counters, its size class, its
 * lifetime, whether it was temporary. The caller removes or kills b.
 */
static void count_release(struct ms_proc *p, struct ms_side *d, bool user, const struct ms_block *b,
			  uint64_t now, unsigned node)
{
	uint64_t size = ms_block_size(b);
	struct ms_counts *c;

	numa_release(p, d, user, ms_block_node(b), node, size);
	FOR_COUNTS(p, d, user, c)
	{
		c->frees++;
		c->freed_bytes += size;
		c->live_allocs--;
		c->live_bytes -= size;
	}
	if (d->pat) {
		struct ms_class *k = &d->pat->cls[ms_size_bucket(size)];

		k->frees++;
		k->live_allocs--;
		k->live_bytes -= size;
		k->lifetime[ms_life_bucket(now > b->ts_ns ? now - b->ts_ns : 0)]++;
		if (user && (b->addr == p->recent[0] || b->addr == p->recent[1]))
			k->temporary++;
	}
	if (size >= MS_SITE_MIN)
		site_free(d, b->addr);
	if (user && p->sites)
		ms_sites_free(p->sites, b->addr, size);
}

/* Inserts addr into d's table, keeping the tracer-wide count of entries */
static struct ms_block *track_insert(struct ms_stats *s, struct ms_side *d, uint64_t addr)
{
	size_t before = d->live.used;
	struct ms_block *b = ms_livetab_insert(&d->live, addr);

	s->blocks += d->live.used - before; /* growth may drop dead entries: wraps back */
	if (s->blocks > s->blocks_peak)
		s->blocks_peak = s->blocks;
	return b;
}

static void track_remove(struct ms_stats *s, struct ms_side *d, struct ms_block *b)
{
	ms_livetab_remove(&d->live, b);
	s->blocks--;
}

/* Marks b freed, remembering when (in allocations of its side) for reuse distances */
static void kill_block(struct ms_side *d, struct ms_block *b)
{
	ms_livetab_kill(&d->live, b);
	b->ts_ns = d->c.allocs;
}

static void add_block(struct ms_stats *s, struct ms_proc *p, struct ms_side *d, bool user,
		      uint64_t addr, uint64_t size, const struct ms_event *e)
{
	unsigned func = e->func;
	uint64_t ts = e->ts_ns, peak;

	/* a block's size is kept in 40 bits: past 1 TiB every figure uses the same cap */
	if (size > MS_BLOCK_SIZE_MASK)
		size = MS_BLOCK_SIZE_MASK;
	struct ms_counts *c;
	struct ms_class *k;
	struct ms_block *b;
	unsigned i;

	/* a realloc in flight in another thread released this address already */
	for (i = 0; i < d->npending; i++) {
		struct ms_pending *q = &d->pending[i];

		if (q->tracked && !q->released && q->old.addr == addr) {
			q->released = true;
			count_release(p, d, user, &q->old, ts, q->node);
		}
	}
	if (!d->pat && !(d->pat = calloc(1, sizeof(*d->pat)))) {
		s->oom++;
		return;
	}
	if (s->max_blocks && s->blocks >= s->max_blocks && !ms_livetab_find(&d->live, addr)) {
		/* at --max-live: the call is counted, its block is not tracked */
		FOR_COUNTS(p, d, user, c)
		{
			c->allocs++;
			c->alloc_bytes += size;
		}
		d->pat->cls[ms_size_bucket(size)].allocs++;
		d->pat->cls[ms_size_bucket(size)].alloc_bytes += size;
		s->capped = true;
		s->oom++;
		return;
	}
	b = track_insert(s, d, addr);
	if (!b) {
		s->oom++;
		return;
	}
	k = &d->pat->cls[ms_size_bucket(size)];
	if (ms_block_dead(b)) {
		/* the address comes back: after how many other allocations, for what size */
		d->pat->reuse_distance[ms_reuse_bucket(d->c.allocs - b->ts_ns)]++;
		if (ms_block_size(b) == size)
			k->reused_same++;
		else
			k->reused_other++;
	} else if (b->meta) {
		/* allocated twice without a free in between: a lost free record */
		FOR_COUNTS(p, d, user, c)
		{
			c->live_allocs--;
			c->live_bytes -= ms_block_size(b);
		}
		numa_release(p, d, user, ms_block_node(b), ms_block_node(b), ms_block_size(b));
		d->pat->cls[ms_size_bucket(ms_block_size(b))].live_allocs--;
		d->pat->cls[ms_size_bucket(ms_block_size(b))].live_bytes -= ms_block_size(b);
	}
	FOR_COUNTS(p, d, user, c)
	{
		c->allocs++;
		c->alloc_bytes += size;
	}
	ms_livetab_store(&d->live, b, ms_block_meta(size, func, e->node), ts);
	peak = p->c.peak_bytes;
	add_live(p, d, user, size);
	if (user && s->stacks) {
		if (!p->sites && !(p->sites = calloc(1, sizeof(*p->sites))))
			s->oom++;
		else if (ms_sites_alloc(p->sites, addr, size, e->stack_id, e->caller, ts))
			s->oom++;
		else if (p->c.peak_bytes > peak)
			ms_sites_peak(p->sites);
	}
	numa_alloc(p, d, user, e->node, size);
	k->allocs++;
	k->alloc_bytes += size;
	d->pat->small += size <= MS_SMALL_MAX;
	d->pat->large += size >= MS_LARGE_MIN;
	k->live_allocs++;
	k->live_bytes += size;
	if (k->live_bytes > k->peak_bytes)
		k->peak_bytes = k->live_bytes;
	if (user) {
		p->recent[1] = p->recent[0];
		p->recent[0] = addr;
	}
	if (size >= MS_SITE_MIN)
		site_alloc(s, d, addr, size, e->caller);
}

/* A free call (e->a.ptr); returns whether it counts as an outermost call */
static bool free_block(struct ms_proc *p, struct ms_side *d, bool user, const struct ms_event *e)
{
	struct ms_block *b = ms_livetab_find(&d->live, e->a.ptr);
	const struct ms_func *f;
	struct ms_counts *c;

	if (!b) {
		/* an munmap of a region this backing never held is not its backing: the libc
		 * free between the allocator and it has no frame (glibc unmapping its own) */
		if (!user && (f = ms_funcs_get(e->func)) && f->backing_only)
			return false;
		FOR_COUNTS(p, d, user, c)
		c->unmatched_frees++;
		return true;
	}
	if (ms_block_dead(b)) {
		FOR_COUNTS(p, d, user, c)
		c->dead_frees++;
		return false;
	}
	count_release(p, d, user, b, e->ts_ns, e->node);
	kill_block(d, b);
	return true;
}

static struct ms_pending *pending_get(struct ms_stats *s, struct ms_side *d, uint32_t tid,
				      bool create)
{
	unsigned i;

	for (i = 0; i < d->npending; i++)
		if (d->pending[i].tid == tid)
			return &d->pending[i];
	if (!create)
		return NULL;
	if (d->npending == d->cap_pending) {
		unsigned n = d->cap_pending ? d->cap_pending * 2 : 4;
		struct ms_pending *v = realloc(d->pending, n * sizeof(*v));

		if (!v) {
			s->oom++;
			return NULL;
		}
		d->pending = v;
		d->cap_pending = n;
	}
	memset(&d->pending[d->npending], 0, sizeof(d->pending[0]));
	d->pending[d->npending].tid = tid;
	return &d->pending[d->npending++];
}

static void pending_drop(struct ms_side *d, struct ms_pending *q)
{
	*q = d->pending[--d->npending];
}

/* Puts a block taken out by realloc_enter back */
static void restore(struct ms_stats *s, struct ms_side *d, const struct ms_block *old)
{
	struct ms_block *b = track_insert(s, d, old->addr);

	if (b)
		ms_livetab_store(&d->live, b, old->meta, old->ts_ns);
	else
		s->oom++;
}

/* A realloc-kind call entered with a block: take the block out of the table so that
 * another thread's malloc returning the same address meanwhile finds it free */
static void realloc_enter(struct ms_stats *s, struct ms_side *d, const struct ms_event *e)
{
	struct ms_pending *q = pending_get(s, d, e->tid, true);
	struct ms_block *b;

	if (!q)
		return;
	if (q->tracked && !q->released)
		restore(s, d, &q->old); /* the return of this thread's last realloc was lost */
	memset(&q->old, 0, sizeof(q->old));
	q->old.addr = e->a.ptr;
	q->node = e->node;
	q->tracked = false;
	q->released = false;
	b = ms_livetab_find(&d->live, e->a.ptr);
	if (b && !ms_block_dead(b)) {
		q->old = *b;
		q->tracked = true;
		track_remove(s, d, b);
	}
}

static void realloc_return(struct ms_stats *s, struct ms_proc *p, struct ms_side *d, bool user,
			   const struct ms_event *e)
{
	struct ms_pending *q = e->a.ptr ? pending_get(s, d, e->tid, false) : NULL;
	uint64_t old = e->a.ptr, new = e->a.ret;
	bool freed = new != 0 || e->a.size == 0; /* realloc(p, 0) frees and returns NULL */
	struct ms_counts *c;

	if (old && !q) {
		/* the entry record is missing (attached mid-call): do it now */
		realloc_enter(s, d, e);
		q = pending_get(s, d, e->tid, false);
	}
	if (!old) {
		if (new)
			add_block(s, p, d, user, new, e->a.size, e);
		else
			FOR_COUNTS(p, d, user, c)
		c->failed_allocs++;
		return;
	}
	if (!freed) {
		/* failed: the old block stays */
		FOR_COUNTS(p, d, user, c)
		c->failed_allocs++;
		if (q && q->tracked && !q->released)
			restore(s, d, &q->old);
	} else if (q && q->tracked) {
		if (!q->released) {
			count_release(p, d, user, &q->old, e->ts_ns, q->node);
			if (old != new) {
				/* remember the old address as freed */
				struct ms_block *b = track_insert(s, d, old);

				if (b && (!b->meta || ms_block_dead(b))) {
					ms_livetab_store(&d->live, b, q->old.meta, q->old.ts_ns);
					kill_block(d, b);
				}
			}
		}
	} else {
		FOR_COUNTS(p, d, user, c)
		c->unmatched_frees++;
	}
	if (q)
		pending_drop(d, q);
	if (new)
		add_block(s, p, d, user, new, e->a.size, e);
}

/* Requested bytes: the size argument, or the function's fixed size (slab_get(_)=64) */
static inline uint64_t alloc_size(const struct ms_event *e)
{
	const struct ms_func *f = ms_funcs_get(e->func);

	return f && f->fixed_size ? f->fixed_size : e->a.size;
}

void ms_stats_apply(struct ms_stats *s, const struct ms_event *e)
{
	struct ms_counts *c;
	struct ms_side *d;
	struct ms_proc *p;
	bool user;

	s->events++;
	switch (e->type) {
	case MS_EV_FREE:
	case MS_EV_REALLOC_ENTER:
		/* the programs never send a free of NULL; 0 is no address (a corrupt
		 * recording): it would name an empty slot */
		if (!e->a.ptr)
			return;
		/* fall through */
	case MS_EV_ALLOC:
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
			s->blocks -= proc_blocks(p);
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

	d = side_of(s, p, e, &user);
	if (!d)
		return;
	switch (e->type) {
	case MS_EV_ALLOC:
		if (user)
			count_call(s, p, e->func);
		if (e->a.ptr)
			add_block(s, p, d, user, e->a.ptr, alloc_size(e), e);
		else
			FOR_COUNTS(p, d, user, c)
		c->failed_allocs++;
		break;
	case MS_EV_FREE:
		if (free_block(p, d, user, e) && user)
			count_call(s, p, e->func);
		break;
	case MS_EV_REALLOC_ENTER:
		realloc_enter(s, d, e);
		break;
	case MS_EV_REALLOC:
		if (user)
			count_call(s, p, e->func);
		realloc_return(s, p, d, user, e);
		break;
	}
}

void ms_side_size_hist(const struct ms_side *d, uint64_t hist[MS_HIST_BUCKETS])
{
	unsigned k;

	memset(hist, 0, MS_HIST_BUCKETS * sizeof(hist[0]));
	for (k = 0; d->pat && k < MS_HIST_BUCKETS; k++)
		hist[k] = d->pat->cls[k].allocs;
}

void ms_proc_size_hist(const struct ms_proc *p, uint64_t hist[MS_HIST_BUCKETS])
{
	unsigned i, k;

	memset(hist, 0, MS_HIST_BUCKETS * sizeof(hist[0]));
	for (i = 0; i < p->nalloc; i++)
		for (k = 0; p->alloc[i].user.pat && k < MS_HIST_BUCKETS; k++)
			hist[k] += p->alloc[i].user.pat->cls[k].allocs;
}

void ms_stats_for_each(struct ms_stats *s, void (*fn)(struct ms_proc *p, void *ctx), void *ctx)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (s->procs[i])
			fn(s->procs[i], ctx);
}
