/* agt.h: ground truth per allocator, for the workloads of allocators other than libc
 *
 * An allocator's figures have two sides, as memscope-bpf reports them: its user calls
 * (allocs, frees, ... by_func, size_hist) and its backing (the calls of another traced
 * allocator made inside its calls: a pool's chunks from malloc). The process' own
 * figures are the sum of its allocators' user sides, with the process' peak.
 * agt_print writes one JSON line: the process' figures with the tracer's field names,
 * and "allocators", one object per allocator (name, kind, its figures, by_func,
 * size_hist and, when known exactly, the backing_* figures).
 * Valid C and C++ (the C++ workloads include it too); single-threaded windows only.
 */
#ifndef MS_E2E_AGT_H
#define MS_E2E_AGT_H

#include "gt.h"

#define AGT_MAX_FN 48

/* One side's figures; bytes are requested bytes */
struct agt_counts {
	uint64_t allocs, frees, unmatched_frees, dead_frees, alloc_bytes, freed_bytes;
	uint64_t live_allocs, live_bytes, peak_bytes, failed_allocs;
	/* the peak if a moving realloc's new block were counted before its old one was
	 * released: a workload keeps it equal to peak_bytes so that either order is right */
	uint64_t peak_alt;
	uint64_t hist[GT_HIST];
};

struct agt {
	const char *name; /* the allocator's name in the report */
	const char *kind; /* custom, jemalloc, ... */
	int with_backing; /* the backing figures are known exactly (else not printed) */
	struct agt_counts user, backing;
	unsigned nfn;
	const char *fn[AGT_MAX_FN]; /* by_func keys, user calls only */
	uint64_t calls[AGT_MAX_FN];
};

/* The process: the sum of every allocator's user side */
static struct agt_counts agt_process;

static inline void agt_peak(struct agt_counts *c, uint64_t alt)
{
	if (c->live_bytes > c->peak_bytes)
		c->peak_bytes = c->live_bytes;
	if (alt > c->peak_alt)
		c->peak_alt = alt;
	if (c->live_bytes > c->peak_alt)
		c->peak_alt = c->live_bytes;
}

static inline void agt_counts_add(struct agt_counts *c, size_t n)
{
	c->allocs++;
	c->alloc_bytes += n;
	c->live_allocs++;
	c->live_bytes += n;
	c->hist[gt_bucket(n)]++;
	agt_peak(c, c->live_bytes);
}

static inline void agt_counts_rel(struct agt_counts *c, size_t n)
{
	c->frees++;
	c->freed_bytes += n;
	c->live_allocs--;
	c->live_bytes -= n;
}

/* A user call of function fn (counted in by_func whatever it did) */
static inline void agt_call(struct agt *a, const char *fn)
{
	unsigned i;

	for (i = 0; i < a->nfn; i++)
		if (!strcmp(a->fn[i], fn))
			break;
	if (i == a->nfn) {
		if (a->nfn == AGT_MAX_FN)
			gt_die("agt: too many functions");
		a->fn[a->nfn++] = fn;
	}
	a->calls[i]++;
}

/* A user allocation call of fn returned p (NULL: failed) for n bytes */
static inline void agt_alloc(struct agt *a, const char *fn, void *p, size_t n)
{
	agt_call(a, fn);
	if (!p) {
		a->user.failed_allocs++;
		agt_process.failed_allocs++;
		return;
	}
	gt_touch(p, n);
	agt_counts_add(&a->user, n);
	agt_counts_add(&agt_process, n);
}

/* A user free call of fn released a block of n bytes allocated in the window */
static inline void agt_free(struct agt *a, const char *fn, size_t n)
{
	agt_call(a, fn);
	agt_counts_rel(&a->user, n);
	agt_counts_rel(&agt_process, n);
}

/* A user free call of fn of an address the allocator never returned in the window */
static inline void agt_free_unmatched(struct agt *a, const char *fn)
{
	agt_call(a, fn);
	a->user.unmatched_frees++;
	agt_process.unmatched_frees++;
}

static inline void agt_realloc_counts(struct agt_counts *c, size_t old, size_t n)
{
	uint64_t alt = c->live_bytes + n;

	agt_counts_rel(c, old);
	agt_counts_add(c, n);
	agt_peak(c, alt);
}

/* A user realloc-kind call of fn moved or resized a window block of old bytes to n bytes
 * (p: the result, NULL when it failed and the old block stays) */
static inline void agt_realloc(struct agt *a, const char *fn, void *p, size_t old, size_t n)
{
	agt_call(a, fn);
	if (!p) {
		a->user.failed_allocs++;
		agt_process.failed_allocs++;
		return;
	}
	gt_touch(p, n);
	agt_realloc_counts(&a->user, old, n);
	agt_realloc_counts(&agt_process, old, n);
}

/* Inside a's call: its backing allocator gave p (NULL: failed) for n bytes */
static inline void agt_backing_alloc(struct agt *a, void *p, size_t n)
{
	if (!p) {
		a->backing.failed_allocs++;
		return;
	}
	agt_counts_add(&a->backing, n);
}

/* Inside a's call: a backing block of n bytes was released */
static inline void agt_backing_free(struct agt *a, size_t n)
{
	agt_counts_rel(&a->backing, n);
}

static inline void agt_counts_json(struct gt_buf *b, const char *prefix, const struct agt_counts *c)
{
	static const char *const names[] = {
		"allocs",      "frees",	      "unmatched_frees", "dead_frees", "alloc_bytes",
		"freed_bytes", "live_allocs", "live_bytes",	 "peak_bytes", "failed_allocs",
	};
	const uint64_t v[] = {
		c->allocs,	c->frees,	c->unmatched_frees, c->dead_frees, c->alloc_bytes,
		c->freed_bytes, c->live_allocs, c->live_bytes,	    c->peak_bytes, c->failed_allocs,
	};
	char key[48];
	unsigned i;

	if (c->peak_alt != c->peak_bytes)
		gt_die("peak_bytes depends on the order of a realloc's release and allocation");
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(prefix);

		memcpy(key, prefix, n);
		/* the backing's allocated bytes are "backing_bytes" */
		strcpy(key + n, n && i == 4 ? "bytes" : names[i]);
		gt_field(b, key, v[i]);
	}
}

static inline void agt_hist_json(struct gt_buf *b, const uint64_t *hist)
{
	unsigned i;
	int first;

	gt_puts(b, ", \"size_hist\": {");
	for (i = 0, first = 1; i < GT_HIST; i++) {
		if (!hist[i])
			continue;
		gt_puts(b, first ? "\"" : ", \"");
		gt_putu(b, i ? 1ULL << (i - 1) : 0);
		gt_puts(b, "\": ");
		gt_putu(b, hist[i]);
		first = 0;
	}
	gt_puts(b, "}");
}

static inline void agt_by_func_json(struct gt_buf *b, const struct agt *a, int *first)
{
	unsigned i;

	for (i = 0; i < a->nfn; i++) {
		if (!a->calls[i])
			continue;
		gt_puts(b, *first ? "\"" : ", \"");
		gt_puts(b, a->fn[i]);
		gt_puts(b, "\": ");
		gt_putu(b, a->calls[i]);
		*first = 0;
	}
}

/* Prints the ground truth of the n allocators in a as one JSON line on stdout */
static inline void agt_print(struct agt *const *a, unsigned n)
{
	static struct gt_buf b;
	unsigned i;
	int first;

	b.len = 0;
	gt_puts(&b, "{\"pid\": ");
	gt_putu(&b, (uint64_t)getpid());
	agt_counts_json(&b, "", &agt_process);
	gt_puts(&b, ", \"by_func\": {");
	for (i = 0, first = 1; i < n; i++)
		agt_by_func_json(&b, a[i], &first);
	gt_puts(&b, "}");
	agt_hist_json(&b, agt_process.hist);
	gt_puts(&b, ", \"allocators\": [");
	for (i = 0; i < n; i++) {
		gt_puts(&b, i ? ", {\"name\": \"" : "{\"name\": \"");
		gt_puts(&b, a[i]->name);
		gt_puts(&b, "\", \"kind\": \"");
		gt_puts(&b, a[i]->kind);
		gt_puts(&b, "\"");
		agt_counts_json(&b, "", &a[i]->user);
		gt_puts(&b, ", \"by_func\": {");
		first = 1;
		agt_by_func_json(&b, a[i], &first);
		gt_puts(&b, "}");
		agt_hist_json(&b, a[i]->user.hist);
		if (a[i]->with_backing)
			agt_counts_json(&b, "backing_", &a[i]->backing);
		gt_puts(&b, "}");
	}
	gt_puts(&b, "]}\n");
	if (b.len >= sizeof(b.s) - 1)
		gt_die("agt: ground truth too long");
	gt_write(1, b.s, b.len);
}

#endif
