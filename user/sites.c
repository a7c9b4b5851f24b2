/* sites.c: allocation sites by stack, with their blocks, peak makeup and trend */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sample.h"
#include "sites.h"
#include "vec.h"

/* The slot of (stack_id, caller) in ss->recent: Fibonacci hashing's top bits */
static inline unsigned site_recent(int32_t stack_id, uint64_t caller)
{
	return ((caller ^ (uint32_t)stack_id) * 0x9E3779B97F4A7C15ULL) >>
	       (64 - MS_SITE_RECENT_BITS);
}

/* The site of (stack_id, caller), created when new; NULL past MS_MAX_STACK_SITES or out of
 * memory. Its index grows with the sites (3 MiB at MS_MAX_STACK_SITES) */
static struct ms_stack_site *site_get(struct ms_stack_sites *ss, int32_t stack_id, uint64_t caller)
{
	uint32_t *recent = &ss->recent[site_recent(stack_id, caller)];
	struct ms_stack_site *t = *recent ? &ss->v[*recent - 1] : NULL;
	bool room;
	long i;

	/* a loop allocates from a few sites many times over: no look-up for those */
	if (t && t->caller == caller && t->stack_id == stack_id)
		return t;
	room = ss->n < MS_MAX_STACK_SITES && !MS_VEC_RESERVE(ss->v, ss->cap, ss->n + 1);
	i = ms_keyidx_get(&ss->index, caller, (uint64_t)(int64_t)stack_id, room);
	if (i < 0)
		return NULL;
	if ((size_t)i == ss->n)
		ss->v[ss->n++] = (struct ms_stack_site){ .stack_id = stack_id,
							 .caller = caller,
							 .epoch = ss->peak_epoch };
	*recent = i + 1;
	return &ss->v[i];
}

/* A sampled block's weight (--sample-bytes), and its bytes weighed in *bytes. Out of
 * line: its call of expm1 made the exact path (every block weighs 1) save registers */
static __attribute__((noinline)) double sampled(uint64_t size, uint64_t mean, double *bytes)
{
	double w = ms_sample_weight(size, mean);

	*bytes = w * size;
	return w;
}

/* The weight of a block of size bytes in ss' figures (sample.h), and in *bytes its bytes
 * weighed: without --sample-bytes 1 and size (the same values: size times 1.0 is size) */
static inline double weigh(const struct ms_stack_sites *ss, uint64_t size, double *bytes)
{
	if (ss->sample_bytes)
		return sampled(size, ss->sample_bytes, bytes);
	*bytes = size;
	return 1;
}

/* Before t changes: if the process peaked since t last changed, t's figures then were
 * its live bytes now */
static void before_change(struct ms_stack_sites *ss, struct ms_stack_site *t)
{
	if (t->epoch != ss->peak_epoch) {
		t->live_at_peak = t->live_bytes;
		t->epoch = ss->peak_epoch;
	}
}

void ms_sites_alloc(struct ms_stack_sites *ss, uint64_t size, unsigned allocator, int32_t stack_id,
		    uint64_t caller, uint32_t *site)
{
	struct ms_stack_site *t = site_get(ss, stack_id, caller);
	double w, bytes;

	*site = 0;
	if (!t) {
		ss->untracked++;
		return;
	}
	if (!t->allocs && !t->frees) {
		t->size = size;
		t->allocator = allocator;
	}
	t->sizes_vary |= t->size != size;
	t->allocators_vary |= t->allocator != allocator;
	before_change(ss, t);
	w = weigh(ss, size, &bytes);
	t->allocs += w;
	t->alloc_bytes += bytes;
	t->live_allocs += w;
	t->live_bytes += bytes;
	*site = t - ss->v + 1;
}

void ms_sites_free(struct ms_stack_sites *ss, uint32_t site, uint64_t size)
{
	struct ms_stack_site *t;
	double w, bytes;

	if (!site || site > ss->n)
		return;
	t = &ss->v[site - 1];
	before_change(ss, t);
	w = weigh(ss, size, &bytes);
	t->frees += w;
	t->freed_bytes += bytes;
	t->live_allocs -= w;
	t->live_bytes -= bytes;
}

double ms_site_peak_contribution(const struct ms_stack_sites *ss, const struct ms_stack_site *t)
{
	return t->epoch == ss->peak_epoch ? t->live_at_peak : t->live_bytes;
}

void ms_sites_sample(struct ms_stack_sites *ss)
{
	unsigned i;

	for (i = 0; i < ss->n; i++) {
		struct ms_stack_site *t = &ss->v[i];

		t->history[t->nhistory % MS_SITE_HISTORY] = t->live_bytes;
		t->nhistory++;
	}
}

double ms_site_history(const struct ms_stack_site *t, unsigned i)
{
	if (i >= t->nhistory || i >= MS_SITE_HISTORY)
		return 0;
	return t->history[(t->nhistory - 1 - i) % MS_SITE_HISTORY];
}

enum ms_trend ms_site_trend(const struct ms_stack_site *t)
{
	unsigned kept = t->nhistory < MS_SITE_HISTORY ? t->nhistory : MS_SITE_HISTORY;
	double a, b, c, d, first;

	if (kept < 4)
		return MS_TREND_UNKNOWN;
	a = ms_site_history(t, 3);
	b = ms_site_history(t, 2);
	c = ms_site_history(t, 1);
	d = ms_site_history(t, 0);
	first = ms_site_history(t, kept - 1);
	if (a < b && b < c && c < d && d > first)
		return MS_TREND_GROWING;
	if (b == c && c == d)
		return MS_TREND_LEVELED;
	if (a > b && b > c && c > d)
		return MS_TREND_SHRINKING;
	return d > first ? MS_TREND_GROWING : MS_TREND_LEVELED;
}

const char *ms_trend_name(enum ms_trend t)
{
	static const char *const names[] = { "unknown", "growing", "leveled", "shrinking" };

	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

static int by_bytes(const void *x, const void *y)
{
	const struct ms_leak *a = x, *b = y;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return a->site < b->site ? -1 : a->site > b->site;
}

struct leak_pass {
	const struct ms_stack_sites *ss;
	struct ms_leak *all;
	uint64_t before;
};

static void leak_block(const struct ms_block *b, void *arg)
{
	struct leak_pass *lp = arg;
	uint64_t size = ms_block_size(b);
	struct ms_leak *l;
	double w;

	if (b->site > lp->ss->n || b->ts_ns >= lp->before)
		return;
	l = &lp->all[b->site - 1];
	if (!l->blocks || b->ts_ns < l->oldest_ts)
		l->oldest_ts = b->ts_ns;
	w = ms_sample_weight(size, lp->ss->sample_bytes);
	l->blocks += w;
	l->bytes += w * size;
}

unsigned ms_sites_leaks(const struct ms_stack_sites *ss, ms_blocks_fn blocks, void *ctx,
			uint64_t before, struct ms_leak *leaks, unsigned max)
{
	struct leak_pass lp = { ss, NULL, before };
	struct ms_leak *all;
	unsigned n = 0, i;

	if (!ss->n)
		return 0;
	all = lp.all = calloc(ss->n, sizeof(*all));
	if (!all)
		return 0;
	blocks(ctx, leak_block, &lp);
	for (i = 0; i < ss->n; i++) {
		if (!all[i].blocks)
			continue;
		all[i].site = i;
		all[n++] = all[i];
	}
	qsort(all, n, sizeof(*all), by_bytes);
	memcpy(leaks, all, (n < max ? n : max) * sizeof(*all));
	free(all);
	return n;
}

void ms_sites_check(struct ms_stack_sites *ss, const struct ms_frame_ops *ops, void *ctx)
{
	uint64_t ips[UINT8_MAX];
	unsigned n, k;

	for (; ss->checked < ss->n; ss->checked++) {
		struct ms_stack_site *t = &ss->v[ss->checked];
		int c = 1;

		n = ops->frames(t, ips, UINT8_MAX, ctx);
		for (k = 0; k < n && (c = ops->code(ips[k], ctx)) != 0; k++)
			if (c < 0) {
				k = n; /* cannot be told: shown as they are */
				break;
			}
		t->checked = true;
		t->kept = k;
		t->truncated = k < n || (c > 0 && n && ops->start(ips[n - 1], ctx) == 0);
		ss->truncated_stacks += t->truncated;
	}
}

struct ms_stack_site *ms_sites_find(struct ms_stack_sites *ss, int32_t stack_id, uint64_t caller)
{
	long i = ms_keyidx_get(&ss->index, caller, (uint64_t)(int64_t)stack_id, false);

	return i < 0 ? NULL : &ss->v[i];
}

void ms_sites_set_checked(struct ms_stack_sites *ss, struct ms_stack_site *t, bool truncated)
{
	if (t->checked)
		ss->truncated_stacks -= t->truncated;
	t->checked = true;
	t->truncated = truncated;
	t->kept = UINT8_MAX;
	ss->truncated_stacks += truncated;
}

void ms_sites_tally(const struct ms_stack_sites *ss, double *allocs, double *truncated)
{
	size_t i;

	*allocs = *truncated = 0;
	for (i = 0; ss && i < ss->n; i++) {
		*allocs += ss->v[i].allocs;
		if (ss->v[i].truncated)
			*truncated += ss->v[i].allocs;
	}
}

void ms_sites_free_all(struct ms_stack_sites *ss)
{
	free(ss->v);
	ms_keyidx_free(&ss->index);
	memset(ss, 0, sizeof(*ss));
}
