/* findings.c: pools, pool candidates and slab candidates from a process' figures */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "elfsym.h"
#include "findings.h"
#include "format.h"
#include "presets.h"
#include "probes.h"

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

/*
 * An allocator with backing: how well its chunks are used. Only a pool of the program's own
 * (named by the user, or Rust's global allocator) gets advice on its chunks: libc's,
 * jemalloc's, tcmalloc's, mimalloc's and pymalloc's chunk policies are theirs, and the knobs
 * they have (jemalloc's MALLOC_CONF decay times, ...) act on returning pages (madvise), which
 * is not traced. Attached to a running process, the backing obtained before is unknown:
 * objects allocated since may live in it, but a chunk obtained since holds only objects
 * allocated since, so live object bytes over the live backing obtained since bound that
 * backing's use from above (and 1 does too).
 */
static void pool_finding(struct ms_astats *a, const struct ms_allocator *al, bool from_start,
			 struct ms_finding *f)
{
	const struct ms_counts *u = &a->user.c, *b = &a->backing.c;
	double per_chunk = ms_ratio(u->allocs, b->allocs),
	       chunk = ms_ratio(b->alloc_bytes, b->allocs);
	double util = ms_ratio(u->live_bytes, b->live_bytes);
	double hit = u->allocs ? 1.0 - ms_ratio(b->allocs, u->allocs) : 0;
	double growth = (double)b->live_bytes - (double)a->last_backing_live;
	bool own = al->kind == MS_AK_CUSTOM || al->kind == MS_AK_RUST; /* #[global_allocator] */
	char cs[16], bl[16];

	if (!from_start && util > 1)
		util = 1;
	memset(f, 0, sizeof(*f));
	f->kind = MS_FIND_POOL;
	snprintf(f->name, sizeof(f->name), "%s", al->name);
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
	ms_human_bytes((uint64_t)chunk, cs, sizeof(cs));
	ms_human_bytes(b->live_bytes, bl, sizeof(bl));
	snprintf(f->advice, sizeof(f->advice),
		 "%s served %.1f objects per %s chunk; %s%.0f%% of %s %s of live backing%s holds "
		 "live objects; %.0f%% of its allocations needed no new chunk%s%s",
		 al->name, per_chunk, cs, from_start ? "" : "at most ", util * 100,
		 from_start ? "its" : "the", bl, from_start ? "" : " it obtained since attaching",
		 hit < 0 ? 0 : hit * 100,
		 own && util < 0.5 && b->live_bytes ? ": most of its memory is idle, consider "
						      "returning empty chunks or smaller chunks" :
						      "",
		 from_start ? "" : "; backing obtained before attaching is unknown");
}

#define MAX_MARKERS 32

/* The functions that mark a known allocator's object (mallocx, je_mallocx, PyObject_Malloc,
 * ...), from the presets, with the prefixes each may be built with; not Rust's: its
 * allocator shim is compiled into every Rust program. Built on the first call. */
static size_t allocator_markers(const struct ms_elf_query **out)
{
	static char names[MAX_MARKERS][64];
	static struct ms_elf_query q[MAX_MARKERS];
	static size_t n;
	static bool built;
	const char *const *pre;
	size_t k;

	for (k = 0; !built && k < ms_npresets; k++) {
		const struct ms_preset *ps = &ms_presets[k];

		if (!ps->marker || ps->kind == MS_AK_RUST)
			continue;
		for (pre = ps->prefixes; *pre && n < MAX_MARKERS; pre++) {
			snprintf(names[n], sizeof(names[n]), "%s%s", *pre, ps->marker);
			q[n].name = names[n];
			q[n++].flags = 0;
		}
	}
	built = true;
	*out = q;
	return n;
}

bool ms_runtime_object(const char *path)
{
	static struct {
		dev_t dev;
		ino_t ino;
		off_t size;
		time_t mtime;
		bool runtime;
	} seen[64];
	static unsigned nseen, next;
	struct ms_elf_func found[MAX_MARKERS];
	const struct ms_elf_query *q;
	size_t nq = allocator_markers(&q);
	struct stat st;
	unsigned i;
	bool runtime;

	if (ms_is_loader_path(path) || ms_is_libc_path(path))
		return true;
	if (stat(path, &st))
		return false;
	for (i = 0; i < nseen; i++)
		if (seen[i].dev == st.st_dev && seen[i].ino == st.st_ino &&
		    seen[i].size == st.st_size && seen[i].mtime == st.st_mtime)
			return seen[i].runtime;
	runtime = ms_elf_lookup_query(path, q, nq, found) > 0;
	/* the last 64 objects looked at are kept */
	i = nseen < sizeof(seen) / sizeof(seen[0]) ? nseen++ : next++ % nseen;
	seen[i].dev = st.st_dev;
	seen[i].ino = st.st_ino;
	seen[i].size = st.st_size;
	seen[i].mtime = st.st_mtime;
	seen[i].runtime = runtime;
	return runtime;
}

/* A merged pool candidate's evidence and advice, from its call sites' sums */
static void candidate_render(struct ms_finding *f, bool named)
{
	char lo[16], hi[16], sizes[48], at[24] = "";

	f->nev = 0;
	evidence(f, "chunk_size",
		 f->size_lo == f->size_hi ? (double)f->size_lo : ms_ratio(f->bytes, f->chunks));
	evidence(f, "chunks", f->chunks);
	evidence(f, "live_chunks", f->live);
	evidence(f, "live_bytes", f->live_bytes);
	if (f->call_sites > 1)
		evidence(f, "call_sites", f->call_sites);
	ms_human_bytes(f->size_lo, lo, sizeof(lo));
	ms_human_bytes(f->size_hi, hi, sizeof(hi));
	if (f->size_lo == f->size_hi)
		snprintf(sizes, sizeof(sizes), "%s chunks", lo);
	else
		snprintf(sizes, sizeof(sizes), "chunks of %s to %s", lo, hi);
	if (f->call_sites > 1)
		snprintf(at, sizeof(at), " at %u call sites", f->call_sites);
	if (!named) {
		/* no symbol covers the call site: say where it is, propose no flag */
		snprintf(f->advice, sizeof(f->advice),
			 "code without a symbol at %s obtains %s from %s%s and keeps %llu of %llu: "
			 "it may be a pool; with the object's symbols memscope-bpf names the "
			 "function to trace",
			 f->where, sizes, f->from, at, (unsigned long long)f->live,
			 (unsigned long long)f->chunks);
		return;
	}
	snprintf(f->advice, sizeof(f->advice),
		 "%s obtains %s from %s%s and keeps %llu of %llu: if it carves objects out of "
		 "them, trace it with --alloc '%s(ROLES)', naming its size parameter (e.g. "
		 "--alloc '%s(_, size)')",
		 f->name, sizes, f->from, at, (unsigned long long)f->live,
		 (unsigned long long)f->chunks, f->name, f->name);
}

/*
 * A call site that keeps most of the same-size chunks it obtains: a new finding in out[n],
 * or merged into the one of out[0..n) for the same function (or the same unnamed place).
 * Returns the number of findings now, n + 1 or n (merged, or the runtime's code).
 */
static unsigned site_finding(pid_t pid, const struct ms_size_site *t, const char *allocator,
			     ms_symbolize_fn sym, ms_object_fn obj, void *ctx,
			     struct ms_finding *out, unsigned n)
{
	uint64_t live = t->allocs - t->frees;
	char fn[96] = "", name[96], where[96], path[4096];
	struct ms_finding *f;
	unsigned i, k;
	int named;

	/* the dynamic loader's, a C library's, an allocator's own: nothing the program can do */
	if (obj && !obj(pid, t->caller, path, sizeof(path), ctx) && ms_runtime_object(path))
		return n;
	named = sym ? sym(pid, t->caller, fn, sizeof(fn), ctx) : -1;
	if (named == 0) {
		/* "function+0x1c (file.c:42)" is inside the function that owns the chunks */
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(fn, "+ "), fn);
		snprintf(where, sizeof(where), "%s", fn);
	} else if (named == 1) {
		/* "object+0x1234": the address and the object */
		snprintf(name, sizeof(name), "%s", fn);
		snprintf(where, sizeof(where), "0x%llx (%s)", (unsigned long long)t->caller, fn);
	} else {
		snprintf(name, sizeof(name), "0x%llx", (unsigned long long)t->caller);
		snprintf(where, sizeof(where), "%s", name);
	}
	for (k = 0; k < n; k++)
		if (out[k].kind == MS_FIND_POOL_CANDIDATE && !strcmp(out[k].name, name))
			break;
	f = &out[k];
	if (k == n) {
		memset(f, 0, sizeof(*f));
		f->kind = MS_FIND_POOL_CANDIDATE;
		snprintf(f->name, sizeof(f->name), "%s", name);
		snprintf(f->where, sizeof(f->where), "%s", where);
		snprintf(f->from, sizeof(f->from), "%s", allocator);
		f->size_lo = f->size_hi = t->size;
	} else if (!strstr(f->from, allocator)) {
		size_t len = strlen(f->from);

		snprintf(f->from + len, sizeof(f->from) - len, ", %s", allocator);
	}
	for (i = 0; i < f->call_sites && i < 8 && f->callers[i] != t->caller; i++)
		;
	if (i == f->call_sites || i == 8) {
		if (i < 8)
			f->callers[i] = t->caller;
		f->call_sites++;
	}
	f->size_lo = t->size < f->size_lo ? t->size : f->size_lo;
	f->size_hi = t->size > f->size_hi ? t->size : f->size_hi;
	f->chunks += t->allocs;
	f->live += live;
	f->bytes += t->allocs * t->size;
	f->live_bytes += live * t->size;
	candidate_render(f, named == 0);
	return k == n ? n + 1 : n;
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

unsigned ms_find(const struct ms_catalog *cat, struct ms_proc *p, const struct ms_pool_opts *o,
		 ms_symbolize_fn sym, ms_object_fn obj, void *ctx, struct ms_finding *out,
		 unsigned max)
{
	unsigned id, i, n = 0;
	uint64_t total = p->c.allocs;

	for (id = 1; id < p->nalloc && n < max; id++) {
		struct ms_astats *a = ms_proc_allocator(p, id);
		const struct ms_allocator *al = ms_catalog_allocator(cat, id);

		if (!a || !al)
			continue;
		if (a->backing.c.allocs && a->user.c.allocs)
			pool_finding(a, al, p->from_start, &out[n++]);
		/* chunks obtained from this allocator by code nobody named */
		for (i = 0; a->user.size_sites && i < a->user.size_sites->n && n < max; i++) {
			const struct ms_size_site *t = &a->user.size_sites->v[i];

			if (t->allocs >= o->min_chunks &&
			    (t->allocs - t->frees) * 4 >= t->allocs * 3)
				n = site_finding(p->pid, t, al->name, sym, obj, ctx, out, n);
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
