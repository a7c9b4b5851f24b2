/* findings.c: pools, pool candidates and slab candidates from a process' figures */
#include <stdio.h>
#include <string.h>
#include "allocators.h"
#include "findings.h"
#include "output.h"

#pragma GCC diagnostic ignored "-Wformat-truncation" /* advice lines may be cut */

const char *ms_finding_kind_name(enum ms_finding_kind k)
{
	return k == MS_FIND_POOL	   ? "pool" :
	       k == MS_FIND_POOL_CANDIDATE ? "pool_candidate" :
					     "slab_candidate";
}

static void evidence(struct ms_finding *f, const char *key, double v)
{
	if (f->nev < MS_MAX_EVIDENCE) {
		f->ev[f->nev].key = key;
		f->ev[f->nev].value = v;
		f->nev++;
	}
}

/* An allocator with backing: how well its chunks are used */
static void pool_finding(struct ms_astats *a, const char *name, struct ms_finding *f)
{
	const struct ms_counts *u = &a->user.c, *b = &a->backing.c;
	double per_chunk = ms_ratio(u->allocs, b->allocs),
	       chunk = ms_ratio(b->alloc_bytes, b->allocs);
	double util = ms_ratio(u->live_bytes, b->live_bytes);
	double hit = u->allocs ? 1.0 - ms_ratio(b->allocs, u->allocs) : 0;
	double growth = (double)b->live_bytes - (double)a->last_backing_live;
	char cs[16], bl[16];

	memset(f, 0, sizeof(*f));
	f->kind = MS_FIND_POOL;
	snprintf(f->name, sizeof(f->name), "%s", name);
	evidence(f, "objects", u->allocs);
	evidence(f, "live_objects", u->live_allocs);
	evidence(f, "live_object_bytes", u->live_bytes);
	evidence(f, "chunks", b->allocs);
	evidence(f, "live_chunks", b->live_allocs);
	evidence(f, "backing_bytes", b->alloc_bytes);
	evidence(f, "backing_live_bytes", b->live_bytes);
	evidence(f, "chunk_size", chunk);
	evidence(f, "objects_per_chunk", per_chunk);
	evidence(f, "utilization", util);
	evidence(f, "hit_ratio", hit < 0 ? 0 : hit);
	evidence(f, "backing_growth_bytes", growth);
	snprintf(f->advice, sizeof(f->advice),
		 "%s served %.1f objects per %s chunk; %.0f%% of its %s of live backing holds live "
		 "objects; %.0f%% of its allocations needed no new chunk%s",
		 name, per_chunk, ms_human_bytes((uint64_t)chunk, cs, sizeof(cs)), util * 100,
		 ms_human_bytes(b->live_bytes, bl, sizeof(bl)), hit < 0 ? 0 : hit * 100,
		 util < 0.5 && b->live_bytes ? ": most of its memory is idle, consider returning "
					       "empty chunks or smaller chunks" :
					       "");
}

/* A call site that keeps most of the same-size chunks it obtains */
static bool site_finding(pid_t pid, const struct ms_site *t, const char *allocator,
			 ms_symbolize_fn sym, void *ctx, struct ms_finding *f)
{
	uint64_t live = t->allocs - t->frees;
	char fn[96] = "", sz[16];
	int named = sym ? sym(pid, t->caller, fn, sizeof(fn), ctx) : -1;

	memset(f, 0, sizeof(*f));
	f->kind = MS_FIND_POOL_CANDIDATE;
	if (named < 0)
		snprintf(fn, sizeof(fn), "0x%llx", (unsigned long long)t->caller);
	snprintf(f->where, sizeof(f->where), "%s", fn);
	evidence(f, "chunk_size", t->size);
	evidence(f, "chunks", t->allocs);
	evidence(f, "live_chunks", live);
	evidence(f, "live_bytes", (double)live * t->size);
	if (named != 0) {
		/* no symbol covers the call site: say where it is, propose no flag */
		snprintf(f->name, sizeof(f->name), "%s", fn);
		snprintf(f->advice, sizeof(f->advice),
			 "code at %s (no symbol) obtains %s chunks from %s and keeps %llu of %llu: "
			 "it may be a pool; with the object's symbols memscope-bpf names the "
			 "function to trace",
			 fn, ms_human_bytes(t->size, sz, sizeof(sz)), allocator,
			 (unsigned long long)live, (unsigned long long)t->allocs);
		return true;
	}
	/* "function+0x1c (file.c:42)" is inside the function that owns the chunks */
	snprintf(f->name, sizeof(f->name), "%.*s", (int)strcspn(fn, "+ "), fn);
	snprintf(f->advice, sizeof(f->advice),
		 "%s obtains %s chunks from %s and keeps %llu of %llu: if it carves objects out of "
		 "them, trace it with --alloc '%s(ROLES)', naming its size parameter (e.g. "
		 "--alloc '%s(_, size)')",
		 f->name, ms_human_bytes(t->size, sz, sizeof(sz)), allocator,
		 (unsigned long long)live, (unsigned long long)t->allocs, f->name, f->name);
	return true;
}

/* A size class that takes most allocations, each living briefly */
static void slab_finding(const struct ms_class *k, unsigned cls, uint64_t total, int median,
			 struct ms_finding *f)
{
	uint64_t lo = ms_bucket_floor(cls), hi = cls ? lo * 2 - 1 : 0;
	double share = ms_ratio(k->allocs, total);
	char l[16], h[16];

	memset(f, 0, sizeof(*f));
	f->kind = MS_FIND_SLAB_CANDIDATE;
	snprintf(f->name, sizeof(f->name), "%s-%s", ms_human_bytes(lo, l, sizeof(l)),
		 ms_human_bytes(hi, h, sizeof(h)));
	evidence(f, "class", lo);
	evidence(f, "allocs", k->allocs);
	evidence(f, "share", share);
	evidence(f, "frees", k->frees);
	evidence(f, "median_lifetime_lt_ns", ms_life_bucket_limit(median));
	evidence(f, "temporary", k->temporary);
	evidence(f, "peak_bytes", k->peak_bytes);
	evidence(f, "recycling_ratio", ms_ratio(k->alloc_bytes, k->peak_bytes));
	snprintf(f->advice, sizeof(f->advice),
		 "%.0f%% of allocations (%llu) are %s and the median one lives %s; a free list or "
		 "slab of %s objects would serve them without the allocator (recycling ratio %.0f)",
		 share * 100, (unsigned long long)k->allocs, f->name, ms_life_bucket_name(median),
		 h, ms_ratio(k->alloc_bytes, k->peak_bytes));
}

unsigned ms_find(struct ms_proc *p, const struct ms_pool_opts *o, ms_symbolize_fn sym, void *ctx,
		 struct ms_finding *out, unsigned max)
{
	unsigned id, i, n = 0;
	uint64_t total = p->c.allocs;

	for (id = 1; id < p->nalloc && n < max; id++) {
		struct ms_astats *a = ms_proc_allocator(p, id);
		const struct ms_allocator *al = ms_allocators_get(id);

		if (!a || !al)
			continue;
		if (a->backing.c.allocs && a->user.c.allocs)
			pool_finding(a, al->name, &out[n++]);
		/* chunks obtained from this allocator by code nobody named */
		for (i = 0; a->user.sites && i < a->user.sites->n && n < max; i++) {
			const struct ms_site *t = &a->user.sites->v[i];

			if (t->allocs >= o->min_chunks &&
			    (t->allocs - t->frees) * 4 >= t->allocs * 3)
				site_finding(p->pid, t, al->name, sym, ctx, &out[n++]);
		}
		/* a hot size class of short-lived blocks */
		for (i = 0; a->user.pat && i < MS_CLASSES && n < max; i++) {
			const struct ms_class *k = &a->user.pat->cls[i];
			int median = ms_class_median_bucket(k);

			/* a share given in decimal (0.8) must not miss by a rounding error */
			if (total < o->min_allocs ||
			    (double)k->allocs < o->min_share * total * (1 - 1e-12) || median < 0 ||
			    ms_life_bucket_limit(median) > o->max_lifetime_ns)
				continue;
			slab_finding(k, i, total, median, &out[n++]);
		}
	}
	return n;
}
