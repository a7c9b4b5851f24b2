/* seed_pat.h: ground truth of the allocation patterns of the seed_* workloads
 *
 * The guide's scenarios (../shared/seed/custom-allocator-integration.zh.md) as C programs
 * count, from the addresses their calls return, what memscope-bpf's `patterns` object must
 * say about one allocator's user calls, with its definitions:
 *   size class: 0, then [2^k, 2^(k+1)) of the requested size; peak per class;
 *   temporary: a block freed while it is one of the last two user allocations;
 *   small: <= 256 bytes, large: >= 128 KiB;
 *   reuse: an allocation at an address freed earlier, for the same size or another, after
 *   how many allocations (distance buckets: 0, then [2^k, 2^(k+1)) keyed by 2^k).
 * Lifetimes are times, not known in advance: a test asserts them only where the workload
 * makes them certain (sleeps). sp_print writes one JSON line {"patterns": {...}} with the
 * tracer's field names. Nothing here allocates (gt.h's static buffer and write(2)).
 */
#ifndef MS_E2E_SEED_PAT_H
#define MS_E2E_SEED_PAT_H

#include <time.h>
#include "gt.h"

#define SP_CLASSES 65
#define SP_REUSE 33
#define SP_MAX_ADDRS 4096

struct sp_class {
	uint64_t allocs, alloc_bytes, frees, live_allocs, live_bytes, peak_bytes, temporary;
	uint64_t reused_same, reused_other;
};

/* Every address the allocator returned: live, or freed after `freed_at` allocations */
struct sp_addr {
	uintptr_t addr;
	uint64_t size, freed_at;
	int live;
};

struct sp {
	struct sp_class cls[SP_CLASSES];
	uint64_t allocs, small, large, temporary;
	uint64_t reuse[SP_REUSE];
	uintptr_t recent[2]; /* the last two allocations */
	struct sp_addr tab[SP_MAX_ADDRS];
	unsigned n;
};

static inline unsigned sp_reuse_bucket(uint64_t d)
{
	unsigned b = d ? 64 - __builtin_clzll(d) : 0;

	return b < SP_REUSE ? b : SP_REUSE - 1;
}

static inline struct sp_addr *sp_find(struct sp *s, const void *p)
{
	unsigned i;

	for (i = s->n; i-- > 0;)
		if (s->tab[i].addr == (uintptr_t)p)
			return &s->tab[i];
	return NULL;
}

/* An allocation call returned p for n bytes (p not NULL) */
static inline void sp_alloc(struct sp *s, const void *p, uint64_t n)
{
	struct sp_addr *a = sp_find(s, p);
	struct sp_class *k = &s->cls[gt_bucket(n)];

	if (a && a->live)
		gt_die("an address returned twice without a free");
	if (a) {
		s->reuse[sp_reuse_bucket(s->allocs - a->freed_at)]++;
		if (a->size == n)
			k->reused_same++;
		else
			k->reused_other++;
	} else {
		if (s->n == SP_MAX_ADDRS)
			gt_die("seed_pat.h: too many addresses");
		a = &s->tab[s->n++];
		a->addr = (uintptr_t)p;
	}
	a->live = 1;
	a->size = n;
	s->allocs++;
	s->small += n <= 256;
	s->large += n >= 128 * 1024;
	k->allocs++;
	k->alloc_bytes += n;
	k->live_allocs++;
	k->live_bytes += n;
	if (k->live_bytes > k->peak_bytes)
		k->peak_bytes = k->live_bytes;
	s->recent[1] = s->recent[0];
	s->recent[0] = (uintptr_t)p;
}

/* p (allocated and live) was freed */
static inline void sp_free(struct sp *s, const void *p)
{
	struct sp_addr *a = sp_find(s, p);
	struct sp_class *k;

	if (!a || !a->live)
		gt_die("seed_pat.h: free of a block that is not live");
	k = &s->cls[gt_bucket(a->size)];
	k->frees++;
	k->live_allocs--;
	k->live_bytes -= a->size;
	if ((uintptr_t)p == s->recent[0] || (uintptr_t)p == s->recent[1]) {
		k->temporary++;
		s->temporary++;
	}
	a->live = 0;
	a->freed_at = s->allocs;
}

/* Writes {"<key>": {...}} as one line: the patterns with the tracer's field names */
static inline void sp_print(const struct sp *s, const char *key)
{
	static struct gt_buf b;
	uint64_t same = 0, other = 0;
	unsigned k, first;

	b.len = 0;
	for (k = 0; k < SP_CLASSES; k++) {
		same += s->cls[k].reused_same;
		other += s->cls[k].reused_other;
	}
	gt_puts(&b, "{\"");
	gt_puts(&b, key);
	gt_puts(&b, "\": {\"pid\": ");
	gt_putu(&b, (uint64_t)getpid());
	gt_field(&b, "allocs", s->allocs);
	gt_field(&b, "small_allocs", s->small);
	gt_field(&b, "large_allocs", s->large);
	gt_field(&b, "temporary", s->temporary);
	gt_puts(&b, ", \"size_classes\": [");
	for (k = 0, first = 1; k < SP_CLASSES; k++) {
		const struct sp_class *c = &s->cls[k];

		if (!c->allocs)
			continue;
		gt_puts(&b, first ? "{\"class\": " : ", {\"class\": ");
		gt_putu(&b, k ? 1ULL << (k - 1) : 0);
		gt_field(&b, "allocs", c->allocs);
		gt_field(&b, "alloc_bytes", c->alloc_bytes);
		gt_field(&b, "frees", c->frees);
		gt_field(&b, "live_allocs", c->live_allocs);
		gt_field(&b, "live_bytes", c->live_bytes);
		gt_field(&b, "peak_bytes", c->peak_bytes);
		gt_field(&b, "temporary", c->temporary);
		gt_field(&b, "reused_same_size", c->reused_same);
		gt_field(&b, "reused_other_size", c->reused_other);
		gt_puts(&b, "}");
		first = 0;
	}
	gt_puts(&b, "], \"reuse\": {\"reused\": ");
	gt_putu(&b, same + other);
	gt_field(&b, "same_size", same);
	gt_field(&b, "other_size", other);
	gt_puts(&b, ", \"distance_hist\": {");
	for (k = 0, first = 1; k < SP_REUSE; k++) {
		if (!s->reuse[k])
			continue;
		gt_puts(&b, first ? "\"" : ", \"");
		gt_putu(&b, k ? 1ULL << (k - 1) : 0);
		gt_puts(&b, "\": ");
		gt_putu(&b, s->reuse[k]);
		first = 0;
	}
	gt_puts(&b, "}}}}\n");
	gt_write(1, b.s, b.len);
}

/* Sleeps ms milliseconds (nanosleep: no allocation), so that lifetimes are known */
static inline void sp_sleep_ms(unsigned ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

#endif
