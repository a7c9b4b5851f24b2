/* stats.c: per-process statistics from alloc/free records */
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include "numa.h"
#include "stats.h"
#include "vec.h"

void ms_stats_init(struct ms_stats *s, const struct ms_catalog *cat, ms_end_fn on_end, void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->cat = cat;
	s->on_end = on_end;
	s->ctx = ctx;
}

static void pendings_free(struct ms_pendings *pp)
{
	if (!pp)
		return;
	free(pp->v);
	ms_livetab_free(&pp->by_tid);
	ms_livetab_free(&pp->by_addr);
	free(pp);
}

static void side_free(struct ms_side *d)
{
	free(d->numa.node);
	ms_livetab_free(&d->live);
	pendings_free(d->pending);
	free(d->pat);
	if (d->size_sites) {
		free(d->size_sites->v);
		ms_keyidx_free(&d->size_sites->index);
		ms_livetab_free(&d->size_sites->owner);
		free(d->size_sites);
	}
}

/* The site of (caller, size), created when new; NULL past MS_MAX_SIZE_SITES or out of
 * memory. Its index grows with the sites (192 KiB at MS_MAX_SIZE_SITES) */
static struct ms_size_site *site_get(struct ms_size_sites *ss, uint64_t caller, uint64_t size)
{
	bool room = ss->n < MS_MAX_SIZE_SITES && !MS_VEC_RESERVE(ss->v, ss->cap, ss->n + 1);
	long i = ms_keyidx_get(&ss->index, caller, size, room);

	if (i < 0)
		return NULL;
	if ((size_t)i == ss->n)
		ss->v[ss->n++] = (struct ms_size_site){ .caller = caller, .size = size };
	return &ss->v[i];
}

/* A block of MS_SIZE_SITE_MIN bytes or more allocated at addr from caller */
static void site_alloc(struct ms_stats *s, struct ms_side *d, uint64_t addr, uint64_t size,
		       uint64_t caller)
{
	struct ms_size_site *t;
	struct ms_block *b;

	if (!d->size_sites && !(d->size_sites = calloc(1, sizeof(*d->size_sites)))) {
		s->oom++;
		return;
	}
	t = site_get(d->size_sites, caller, size);
	if (!t) {
		d->size_sites->untracked++;
		return;
	}
	t->allocs++;
	b = ms_livetab_insert(&d->size_sites->owner, addr);
	if (!b) {
		s->oom++;
		return;
	}
	ms_livetab_store(&d->size_sites->owner, b, t - d->size_sites->v + 1, 0);
}

static void site_free(struct ms_side *d, uint64_t addr)
{
	struct ms_block *b;

	if (!d->size_sites || !(b = ms_livetab_find(&d->size_sites->owner, addr)))
		return;
	d->size_sites->v[b->meta - 1].frees++;
	ms_livetab_remove(&d->size_sites->owner, b);
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
static void proc_reset(struct ms_stats *s, struct ms_proc *p)
{
	unsigned i;

	s->figures -= p->figures - 1;
	p->figures = 1;
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
	if (p->stack_sites) {
		ms_sites_free_all(p->stack_sites);
		free(p->stack_sites);
		p->stack_sites = NULL;
	}
	p->active = false;
}

static void proc_free(struct ms_stats *s, struct ms_proc *p)
{
	proc_reset(s, p);
	s->figures--;
	free(p);
}

void ms_stats_free(struct ms_stats *s)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (s->procs[i])
			proc_free(s, s->procs[i]);
	for (i = 0; i < s->nretired; i++)
		proc_free(s, s->retired[i]);
	free(s->retired);
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
	p->figures = 1;
	s->figures++;
	for (i = pid_slot(s->cap, pid); s->procs[i]; i = (i + 1) & (s->cap - 1))
		;
	s->procs[i] = p;
	s->nprocs++;
	return s->last = p;
}

/* The process with pid, created when new: ms_stats_proc with its first test (the process
 * of the previous record, nearly always) made where the record is applied */
static inline struct ms_proc *proc_of(struct ms_stats *s, pid_t pid)
{
	if (s->last && s->last->pid == pid)
		return s->last;
	return ms_stats_proc(s, pid, true);
}

/* Takes the process with pid out of the table and returns it (NULL: none) */
static struct ms_proc *unlink_proc(struct ms_stats *s, pid_t pid)
{
	size_t i, j, home, mask = s->cap - 1;
	struct ms_proc *p;

	if (!s->cap)
		return NULL;
	for (i = pid_slot(s->cap, pid); s->procs[i]; i = (i + 1) & mask)
		if (s->procs[i]->pid == pid)
			break;
	if (!s->procs[i])
		return NULL;
	p = s->procs[i];
	if (s->last == p)
		s->last = NULL;
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
	return p;
}

void ms_stats_forget(struct ms_stats *s, pid_t pid)
{
	struct ms_proc *p = unlink_proc(s, pid);

	if (p) {
		s->blocks -= proc_blocks(p);
		proc_free(s, p);
	}
}

/*
 * A pinned process that exited is kept for the final record, but its pid is free: when
 * the pid comes back (a new process' fork, exec or calls), the old entry moves out of the
 * table to the retired list, with its figures, and the pid gets a new one. Returns the
 * new entry, or NULL when memory or --max-processes runs out.
 */
static struct ms_proc *renew(struct ms_stats *s, struct ms_proc *p)
{
	pid_t pid = p->pid;

	if (MS_VEC_RESERVE(s->retired, s->cap_retired, s->nretired + 1))
		return NULL;
	s->retired[s->nretired++] = unlink_proc(s, pid);
	return ms_stats_proc(s, pid, true);
}

unsigned ms_size_bucket(uint64_t size)
{
	return size ? 64 - __builtin_clzll(size) : 0;
}

uint64_t ms_bucket_floor(unsigned b)
{
	return b ? 1ULL << (b - 1) : 0;
}

/* Something new a record of p shows: an allocator, a function, a size class or a NUMA
 * node (ms_stats_worth_report) */
static inline void add_figure(struct ms_stats *s, struct ms_proc *p)
{
	p->figures++;
	s->figures++;
}

/* An outermost call of function func: by_func grows only to the functions the table has
 * (an id past it, a corrupt record's, would make it as large as the id says). Inline: most
 * records count one, and a call of its own cost more than its work */
static inline void count_call(struct ms_stats *s, struct ms_proc *p, unsigned func)
{
	if (!ms_catalog_func(s->cat, func))
		return;
	if (MS_VEC_RESERVE(p->by_func, p->nby_func, func + 1)) {
		s->oom++;
		return;
	}
	if (!p->by_func[func]++)
		add_figure(s, p);
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
		f = ms_catalog_func(s->cat, e->outer_func);
	if (!f) {
		nested = false;
		f = ms_catalog_func(s->cat, e->func);
	}
	id = f ? f->allocator : 0;
	if (MS_VEC_RESERVE(p->alloc, p->nalloc, id + 1)) {
		s->oom++;
		return NULL;
	}
	if (!p->alloc[id].used) {
		p->alloc[id].used = true;
		add_figure(s, p);
	}
	*user = !nested;
	return nested ? &p->alloc[id].backing : &p->alloc[id].user;
}

/* The node counters of node, grown to hold it; NULL when memory runs out or for a node
 * past MS_MAX_NODES (a corrupt record's) */
_Static_assert(MS_MAX_NODES >= 8 && (MS_MAX_NODES & (MS_MAX_NODES - 1)) == 0,
	       "node_of: the array, grown by doubling from 8, stops at MS_MAX_NODES");
static inline struct ms_node_counts *node_of(struct ms_numa_counts *nc, unsigned node)
{
	/* most records: a node the array holds already (it never grows past MS_MAX_NODES) */
	if (node < nc->nnodes)
		return &nc->node[node];
	if (node >= MS_MAX_NODES || MS_VEC_RESERVE(nc->node, nc->nnodes, node + 1))
		return NULL;
	return &nc->node[node];
}

/* A block of size bytes allocated on node, in the node counters nc of p or of its side */
static inline void node_alloc(struct ms_stats *s, struct ms_proc *p, struct ms_numa_counts *nc,
			      unsigned node, uint64_t size)
{
	struct ms_node_counts *n = node_of(nc, node);

	if (!n)
		return;
	if (!n->allocs && !n->frees)
		add_figure(s, p);
	n->allocs++;
	n->alloc_bytes += size;
	n->live_allocs++;
	n->live_bytes += size;
	if (n->live_bytes > n->peak_bytes)
		n->peak_bytes = n->live_bytes;
}

/* A block allocated on node: the node counters of side d, and of p for users */
static void numa_alloc(struct ms_stats *s, struct ms_proc *p, struct ms_side *d, bool user,
		       unsigned node, uint64_t size)
{
	node_alloc(s, p, &d->numa, node, size);
	if (user)
		node_alloc(s, p, &p->numa, node, size);
}

/* A block of size bytes allocated on alloc_node freed on free_node, in nc. The counters
 * are found from free_node, which the record gives, and taken for alloc_node when they
 * are the same (nearly always): alloc_node comes from the block's table entry, at the end
 * of the record's longest chain of loads, and the CPU need not wait for it to start */
static inline void node_release(struct ms_numa_counts *nc, unsigned alloc_node, unsigned free_node,
				uint64_t size)
{
	struct ms_node_counts *f = node_of(nc, free_node), *n;

	if (f) {
		f->frees++;
		f->freed_bytes += size;
	}
	n = alloc_node == free_node ? f : node_of(nc, alloc_node);
	if (n) {
		n->live_allocs--;
		n->live_bytes -= size;
	}
	if (alloc_node != free_node) {
		nc->remote_frees++;
		nc->remote_free_bytes += size;
	}
}

/* Its release on free_node: the same counters */
static void numa_release(struct ms_proc *p, struct ms_side *d, bool user, unsigned alloc_node,
			 unsigned free_node, uint64_t size)
{
	node_release(&d->numa, alloc_node, free_node, size);
	if (user)
		node_release(&p->numa, alloc_node, free_node, size);
}

/* The counters a change on side d touches: the side's, and the process' for users */
#define FOR_COUNTS(p, d, user, c)                                                                  \
	for (struct ms_counts * c##_v[2] = { &(d)->c, (user) ? &(p)->c : NULL }, **c##_i = c##_v;  \
	     c##_i < c##_v + 2 && (c = *c##_i); c##_i++)

/* A block of size bytes allocated, in counters c (a side's, or its process'): each
 * counter once, in the order they are laid out (so also counts_release) */
static inline void counts_alloc(struct ms_counts *c, uint64_t size)
{
	c->allocs++;
	c->alloc_bytes += size;
	c->live_allocs++;
	c->live_bytes += size;
	if (c->live_bytes > c->peak_bytes)
		c->peak_bytes = c->live_bytes;
}

/* A block of size bytes released, in counters c */
static inline void counts_release(struct ms_counts *c, uint64_t size)
{
	c->frees++;
	c->freed_bytes += size;
	c->live_allocs--;
	c->live_bytes -= size;
}

/*
 * Counts the release of block b at time now: the counters, its size class, its
 * lifetime, whether it was temporary. The caller removes or kills b.
 */
static void count_release(struct ms_proc *p, struct ms_side *d, bool user, const struct ms_block *b,
			  uint64_t now, unsigned node)
{
	uint64_t size = ms_block_size(b);

	numa_release(p, d, user, ms_block_node(b), node, size);
	counts_release(&d->c, size);
	if (user)
		counts_release(&p->c, size);
	if (d->pat) {
		struct ms_class *k = &d->pat->cls[ms_size_bucket(size)];

		k->frees++;
		k->live_allocs--;
		k->live_bytes -= size;
		k->lifetime[ms_life_bucket(now > b->ts_ns ? now - b->ts_ns : 0)]++;
		if (user && (b->addr == p->recent[0] || b->addr == p->recent[1]))
			k->temporary++;
	}
	if (size >= MS_SIZE_SITE_MIN)
		site_free(d, b->addr);
	if (user && p->stack_sites)
		ms_sites_free(p->stack_sites, b->site, size);
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
	b->site = 0;
}

/* The side of p's allocator id: its user side, or its backing side */
static struct ms_side *side_at(struct ms_proc *p, unsigned id, bool user)
{
	return user ? &p->alloc[id].user : &p->alloc[id].backing;
}

/* The allocator id of side d of p */
static unsigned side_id(const struct ms_proc *p, const struct ms_side *d)
{
	return ((const char *)d - (const char *)p->alloc) / sizeof(*p->alloc);
}

/*
 * The live block at addr in a side of p other than d (user sides first), its allocator
 * id and side in *id and *user; NULL when there is none. A block allocated through one
 * allocator's function may be released through another's: CPython's inlined
 * PyObject_Free calls free on what the PyObject_Malloc symbol returned, and the
 * PyObject_Free symbol passes libc's blocks on to free. O(allocators) lookups, made only
 * for a release its own side does not know.
 */
static struct ms_block *find_elsewhere(struct ms_proc *p, const struct ms_side *d, uint64_t addr,
				       unsigned *id, bool *user)
{
	struct ms_block *b;
	unsigned i, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < p->nalloc; i++) {
			struct ms_side *x = side_at(p, i, !pass);

			if (!p->alloc[i].used || x == d || !x->live.used)
				continue;
			b = ms_livetab_find(&x->live, addr);
			if (b && !ms_block_dead(b)) {
				*id = i;
				*user = !pass;
				return b;
			}
		}
	}
	return NULL;
}

/* A call of thread tid took the block at addr from another side: the same release
 * seen again inside that call (its nested free or realloc) is an echo */
static void note_echo(struct ms_proc *p, uint32_t tid, uint64_t addr)
{
	p->echo_tid = tid;
	p->echo_addr = addr;
}

static bool take_echo(struct ms_proc *p, bool user, const struct ms_event *e)
{
	if (user || p->echo_tid != e->tid || p->echo_addr != e->a.ptr)
		return false;
	p->echo_addr = 0;
	return true;
}

/* Releases every live block at e's address that sides of p other than d hold; returns
 * how many there were */
static unsigned release_elsewhere(struct ms_proc *p, struct ms_side *d, const struct ms_event *e)
{
	struct ms_block *b;
	unsigned id, n = 0;
	bool user;

	while ((b = find_elsewhere(p, d, e->a.ptr, &id, &user))) {
		struct ms_side *x = side_at(p, id, user);

		count_release(p, x, user, b, e->ts_ns, e->node);
		kill_block(x, b);
		n++;
	}
	if (n)
		note_echo(p, e->tid, e->a.ptr);
	return n;
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

	/* a realloc in flight in another thread released this address already */
	if (d->pending && (b = ms_livetab_find(&d->pending->by_addr, addr))) {
		struct ms_pending *q = &d->pending->v[b->meta - 1];

		ms_livetab_remove(&d->pending->by_addr, b);
		q->indexed = false;
		q->released = true;
		count_release(p, side_at(p, q->from_alloc, q->from_user), q->from_user, &q->old, ts,
			      q->node);
	}
	if (!d->pat && !(d->pat = calloc(1, sizeof(*d->pat)))) {
		s->oom++;
		return;
	}
	if (s->max_blocks && s->blocks >= s->max_blocks && !ms_livetab_find(&d->live, addr)) {
		/* at --max-live: the call is counted, its block is not tracked */
		FOR_COUNTS(p, d, user, c) {
			c->allocs++;
			c->alloc_bytes += size;
		}
		if (!d->pat->cls[ms_size_bucket(size)].allocs++)
			add_figure(s, p);
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
		/* allocated twice without a free in between: its free was missed. Released
		 * here, so that allocs - frees = live holds, and counted as a loss */
		count_release(p, d, user, b, ts, ms_block_node(b));
		FOR_COUNTS(p, d, user, c)
			c->missed_frees++;
		s->missed_frees++;
	}
	ms_livetab_store(&d->live, b, ms_block_meta(size, func, e->node), ts);
	peak = p->c.peak_bytes;
	counts_alloc(&d->c, size);
	if (user)
		counts_alloc(&p->c, size);
	if (user && s->sites) {
		if (!p->stack_sites && !(p->stack_sites = calloc(1, sizeof(*p->stack_sites)))) {
			s->oom++;
		} else {
			p->stack_sites->sample_bytes = s->sample_bytes;
			/* --sample-bytes: a block not in the sample has no site (b is still
			 * the block's entry: nothing was inserted since) */
			if (!(e->flags & MS_EVF_UNSAMPLED))
				ms_sites_alloc(p->stack_sites, size, side_id(p, d), e->stack_id,
					       e->caller, &b->site);
			if (p->c.peak_bytes > peak)
				ms_sites_peak(p->stack_sites);
		}
	}
	numa_alloc(s, p, d, user, e->node, size);
	if (!k->allocs++)
		add_figure(s, p);
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
	if (size >= MS_SIZE_SITE_MIN)
		site_alloc(s, d, addr, size, e->caller);
}

/* A free call (e->a.ptr); returns whether it counts as an outermost call */
static bool free_block(const struct ms_stats *s, struct ms_proc *p, struct ms_side *d, bool user,
		       const struct ms_event *e)
{
	struct ms_block *b = ms_livetab_find(&d->live, e->a.ptr);
	const struct ms_func *f;
	struct ms_counts *c;

	if (b && !ms_block_dead(b)) {
		count_release(p, d, user, b, e->ts_ns, e->node);
		kill_block(d, b);
		return true;
	}
	/* an munmap of a region this backing never held is not its backing: the libc
	 * free between the allocator and it has no frame (glibc unmapping its own) */
	if (!b && !user && (f = ms_catalog_func(s->cat, e->func)) && f->backing_only)
		return false;
	/* a block of another allocator (or of the other side) released through this one */
	if (release_elsewhere(p, d, e))
		return true;
	/* the block its outer call already released, passed on */
	if (take_echo(p, user, e))
		return false;
	if (!b) {
		FOR_COUNTS(p, d, user, c)
			c->unmatched_frees++;
		return true;
	}
	FOR_COUNTS(p, d, user, c)
		c->dead_frees++;
	return false;
}

/* Puts the block a realloc took out of its side's table back */
static void restore(struct ms_stats *s, struct ms_proc *p, const struct ms_pending *q)
{
	struct ms_side *x = side_at(p, q->from_alloc, q->from_user);
	struct ms_block *b = track_insert(s, x, q->old.addr);

	if (b) {
		ms_livetab_store(&x->live, b, q->old.meta, q->old.ts_ns);
		b->site = q->old.site;
	} else {
		s->oom++;
	}
}

/* Makes q (tracked, not released) found by its block's address, unless another entry
 * already is (two threads' reallocs of one block: a double free) */
static void pending_index(struct ms_stats *s, struct ms_pendings *pp, struct ms_pending *q)
{
	struct ms_block *b;

	q->indexed = false;
	if (!q->tracked || q->released)
		return;
	b = ms_livetab_insert(&pp->by_addr, q->old.addr);
	if (!b) {
		s->oom++;
		return;
	}
	if (b->meta)
		return;
	ms_livetab_store(&pp->by_addr, b, q - pp->v + 1, 0);
	q->indexed = true;
}

static void pending_unindex(struct ms_pendings *pp, struct ms_pending *q)
{
	struct ms_block *b;

	if (q->indexed && (b = ms_livetab_find(&pp->by_addr, q->old.addr)))
		ms_livetab_remove(&pp->by_addr, b);
	q->indexed = false;
}

/* Forgets q; the last entry takes its place */
static void pending_drop(struct ms_side *d, struct ms_pending *q)
{
	struct ms_pendings *pp = d->pending;
	struct ms_pending *last = &pp->v[pp->n - 1];
	struct ms_block *b;

	pending_unindex(pp, q);
	if ((b = ms_livetab_find(&pp->by_tid, (uint64_t)q->tid + 1)))
		ms_livetab_remove(&pp->by_tid, b);
	if (q != last) {
		*q = *last;
		if ((b = ms_livetab_find(&pp->by_tid, (uint64_t)q->tid + 1)))
			b->meta = q - pp->v + 1;
		if (q->indexed && (b = ms_livetab_find(&pp->by_addr, q->old.addr)))
			b->meta = q - pp->v + 1;
	}
	pp->n--;
}

/* Drops a realloc in flight whose return will not come: its block, still live, goes
 * back to its table */
static void pending_abandon(struct ms_stats *s, struct ms_proc *p, struct ms_side *d,
			    struct ms_pending *q)
{
	if (q->tracked && !q->released)
		restore(s, p, q);
	pending_drop(d, q);
}

/* The realloc in flight of thread tid on side d; with create, a new one when there is
 * none (at MS_MAX_PENDING, another is dropped first). NULL when there is none, or out
 * of memory. O(1) expected. */
static struct ms_pending *pending_get(struct ms_stats *s, struct ms_proc *p, struct ms_side *d,
				      uint32_t tid, bool create)
{
	struct ms_pendings *pp = d->pending;
	struct ms_pending *q;
	struct ms_block *b;

	if (pp && (b = ms_livetab_find(&pp->by_tid, (uint64_t)tid + 1)))
		return &pp->v[b->meta - 1];
	if (!create)
		return NULL;
	if (!pp && !(pp = d->pending = calloc(1, sizeof(*pp)))) {
		s->oom++;
		return NULL;
	}
	if (pp->n >= MS_MAX_PENDING) {
		/* threads that died inside realloc, or lost their return records, left their
		 * entries: one goes (round robin: each in turn, whatever the order) */
		pending_abandon(s, p, d, &pp->v[pp->victim++ % pp->n]);
		s->stale_reallocs++;
		s->oom++;
	}
	if (MS_VEC_RESERVE(pp->v, pp->cap, pp->n + 1)) {
		s->oom++;
		return NULL;
	}
	b = ms_livetab_insert(&pp->by_tid, (uint64_t)tid + 1);
	if (!b) {
		s->oom++;
		return NULL;
	}
	ms_livetab_store(&pp->by_tid, b, pp->n + 1, 0);
	q = &pp->v[pp->n++];
	memset(q, 0, sizeof(*q));
	q->tid = tid;
	return q;
}

/* Drops every realloc in flight of p: its process has ended, no thread returns */
static void proc_drop_pending(struct ms_stats *s, struct ms_proc *p)
{
	unsigned i, user;

	for (i = 0; i < p->nalloc; i++) {
		for (user = 0; user < 2; user++) {
			struct ms_side *d = side_at(p, i, user);

			while (d->pending && d->pending->n)
				pending_abandon(s, p, d, &d->pending->v[d->pending->n - 1]);
			pendings_free(d->pending);
			d->pending = NULL;
		}
	}
}

/* A realloc-kind call entered with a block: take the block out of the table that holds
 * it (its own side's, or another's: see find_elsewhere) so that another thread's malloc
 * returning the same address meanwhile finds it free */
static void realloc_enter(struct ms_stats *s, struct ms_proc *p, struct ms_side *d, bool user,
			  const struct ms_event *e)
{
	struct ms_pending *q = pending_get(s, p, d, e->tid, true);
	struct ms_side *x = d;
	struct ms_block *b;
	unsigned id = side_id(p, d);
	bool xuser = user;

	if (!q)
		return;
	if (q->tracked && !q->released)
		restore(s, p, q); /* the return of this thread's last realloc was lost */
	pending_unindex(d->pending, q);
	memset(&q->old, 0, sizeof(q->old));
	q->old.addr = e->a.ptr;
	q->node = e->node;
	q->tracked = false;
	q->released = false;
	q->echo = false;
	b = ms_livetab_find(&d->live, e->a.ptr);
	if (!b || ms_block_dead(b)) {
		b = find_elsewhere(p, d, e->a.ptr, &id, &xuser);
		x = b ? side_at(p, id, xuser) : d;
	}
	if (b && !ms_block_dead(b)) {
		q->old = *b;
		q->tracked = true;
		q->from_alloc = id;
		q->from_user = xuser;
		track_remove(s, x, b);
		if (x != d) {
			/* other copies (a pool's chunk at its first object's address) go too */
			release_elsewhere(p, d, e);
			note_echo(p, e->tid, e->a.ptr);
		}
	} else {
		q->echo = take_echo(p, user, e);
	}
	pending_index(s, d->pending, q);
}

static void realloc_return(struct ms_stats *s, struct ms_proc *p, struct ms_side *d, bool user,
			   const struct ms_event *e)
{
	struct ms_pending *q = e->a.ptr ? pending_get(s, p, d, e->tid, false) : NULL;
	uint64_t old = e->a.ptr, new = e->a.ret;
	bool freed = new != 0 || e->a.size == 0; /* realloc(p, 0) frees and returns NULL */
	struct ms_counts *c;

	if (old && !q) {
		/* the entry record is missing (attached mid-call): do it now */
		realloc_enter(s, p, d, user, e);
		q = pending_get(s, p, d, e->tid, false);
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
			restore(s, p, q);
	} else if (q && q->tracked) {
		if (!q->released) {
			struct ms_side *x = side_at(p, q->from_alloc, q->from_user);

			count_release(p, x, q->from_user, &q->old, e->ts_ns, q->node);
			if (old != new) {
				/* remember the old address as freed */
				struct ms_block *b = track_insert(s, x, old);

				if (b && (!b->meta || ms_block_dead(b))) {
					ms_livetab_store(&x->live, b, q->old.meta, q->old.ts_ns);
					kill_block(x, b);
				}
			}
		}
	} else if (q && q->echo) {
		/* its outer call released the block */
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
static inline uint64_t alloc_size(const struct ms_stats *s, const struct ms_event *e)
{
	const struct ms_func *f = ms_catalog_func(s->cat, e->func);

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
		p = proc_of(s, e->tgid);
		if (p && p->exited)
			p = renew(s, p); /* a new process with the pid of one that exited */
		if (!p) {
			s->oom++;
			return;
		}
		p->active = true;
		break;
	case MS_EV_EXEC:
		p = ms_stats_proc(s, e->tgid, true);
		if (p && p->exited)
			p = renew(s, p);
		if (p && p->active) {
			/* the old image's heap is gone: its figures end here */
			if (s->on_end)
				s->on_end(p, MS_END_EXEC, s->ctx);
			s->blocks -= proc_blocks(p);
			proc_reset(s, p);
		}
		if (p) {
			memcpy(p->comm, e->comm, MS_COMM_LEN);
			p->comm[MS_COMM_LEN] = '\0';
			p->from_start = true;
		}
		return;
	case MS_EV_FORK:
		p = ms_stats_proc(s, e->tgid, false);
		if (p && p->exited)
			p = renew(s, p); /* the pid of a process kept for the final record */
		if (p && p->active && !p->pinned) {
			/* an entry left by a process whose exit record was lost */
			ms_stats_forget(s, e->tgid);
			p = NULL;
		}
		if (!p)
			p = ms_stats_proc(s, e->tgid, true);
		if (p) {
			memcpy(p->comm, e->comm, MS_COMM_LEN);
			p->comm[MS_COMM_LEN] = '\0';
			p->ppid = e->ppid;
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
		if (p->pinned) {
			p->exited = true;
			proc_drop_pending(s, p); /* no thread of it returns from realloc */
		} else {
			ms_stats_forget(s, e->tgid);
		}
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
			add_block(s, p, d, user, e->a.ptr, alloc_size(s, e), e);
		else
			FOR_COUNTS(p, d, user, c)
				c->failed_allocs++;
		break;
	case MS_EV_FREE:
		if (free_block(s, p, d, user, e) && user)
			count_call(s, p, e->func);
		break;
	case MS_EV_REALLOC_ENTER:
		realloc_enter(s, p, d, user, e);
		break;
	case MS_EV_REALLOC:
		if (user)
			count_call(s, p, e->func);
		realloc_return(s, p, d, user, e);
		break;
	}
}

void ms_side_size_hist(const struct ms_side *d, uint64_t hist[MS_CLASSES])
{
	unsigned k;

	memset(hist, 0, MS_CLASSES * sizeof(hist[0]));
	for (k = 0; d->pat && k < MS_CLASSES; k++)
		hist[k] = d->pat->cls[k].allocs;
}

void ms_proc_size_hist(const struct ms_proc *p, uint64_t hist[MS_CLASSES])
{
	unsigned i, k;

	memset(hist, 0, MS_CLASSES * sizeof(hist[0]));
	for (i = 0; i < p->nalloc; i++)
		for (k = 0; p->alloc[i].user.pat && k < MS_CLASSES; k++)
			hist[k] += p->alloc[i].user.pat->cls[k].allocs;
}

void ms_proc_blocks(void *ctx, ms_block_visit visit, void *arg)
{
	const struct ms_proc *p = ctx;
	const struct ms_block *b;
	uint64_t pos;
	size_t i;

	for (i = 0; i < p->nalloc; i++)
		for (pos = 0; (b = ms_livetab_iter(&p->alloc[i].user.live, &pos));)
			if (b->site && !ms_block_dead(b))
				visit(b, arg);
}

void ms_stats_for_each(struct ms_stats *s, void (*fn)(struct ms_proc *p, void *ctx), void *ctx)
{
	size_t i;

	for (i = 0; i < s->cap; i++)
		if (s->procs[i])
			fn(s->procs[i], ctx);
	for (i = 0; i < s->nretired; i++)
		fn(s->retired[i], ctx);
}

void ms_stats_mark(struct ms_proc *p)
{
	unsigned i;

	p->last = p->c;
	if (p->stack_sites) {
		ms_sites_sample(p->stack_sites);
		for (i = 0; i < p->stack_sites->n; i++)
			p->stack_sites->v[i].last_allocs = p->stack_sites->v[i].allocs;
	}
	for (i = 0; i < p->nalloc; i++) {
		struct ms_astats *a = &p->alloc[i];

		a->last = a->user.c;
		a->last_backing_live = a->backing.c.live_bytes;
		if (a->user.pat) {
			uint64_t allocs = 0, temporary = 0;
			unsigned k;

			for (k = 0; k < MS_CLASSES; k++) {
				allocs += a->user.pat->cls[k].allocs;
				temporary += a->user.pat->cls[k].temporary;
			}
			a->user.pat->last_allocs = allocs;
			a->user.pat->last_temporary = temporary;
		}
	}
}
