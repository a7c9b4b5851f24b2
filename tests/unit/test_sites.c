/* test_sites.c: allocation sites by stack (sites.c): grouping, peak makeup, trend, leak
 * report, and their renderings (the folded stacks, the leaks record, the sites object) */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "catalog.h"
#include "output.h"
#include "sites.h"
#include "stackmap.h"
#include "stats.h"
#include "unit.h"

/* ---------------------------------------------------------------- helpers */

/* The index of site (stack_id, caller), or -1 */
static int site_index(const struct ms_stack_sites *ss, int32_t stack_id, uint64_t caller)
{
	unsigned i;
	int found = -1;

	for (i = 0; i < ss->n; i++) {
		if (ss->v[i].stack_id == stack_id && ss->v[i].caller == caller) {
			ck_assert_msg(found < 0, "site (%d, 0x%llx) listed twice", stack_id,
				      (unsigned long long)caller);
			found = (int)i;
		}
	}
	return found;
}

static const struct ms_stack_site *site(const struct ms_stack_sites *ss, int32_t stack_id,
					uint64_t caller)
{
	int i = site_index(ss, stack_id, caller);

	ck_assert_msg(i >= 0, "no site (%d, 0x%llx)", stack_id, (unsigned long long)caller);
	return &ss->v[i];
}

#define CK_SITE(ss, id, caller, allocs_, bytes_, frees_, live_allocs_, live_bytes_)                \
	do {                                                                                       \
		const struct ms_stack_site *t_ = site(ss, id, caller);                             \
		ck_assert_uint_eq(t_->allocs, allocs_);                                            \
		ck_assert_uint_eq(t_->alloc_bytes, bytes_);                                        \
		ck_assert_uint_eq(t_->frees, frees_);                                              \
		ck_assert_uint_eq(t_->live_allocs, live_allocs_);                                  \
		ck_assert_uint_eq(t_->live_bytes, live_bytes_);                                    \
	} while (0)

/* The blocks, as stats.c keeps them: each live block's entry holds its site */
static struct ms_livetab blocks;

static void blk_alloc(struct ms_stack_sites *ss, uint64_t addr, uint64_t size, int32_t stack_id,
		      uint64_t caller, uint64_t ts)
{
	struct ms_block *b = ms_livetab_insert(&blocks, addr);

	ck_assert_ptr_nonnull(b);
	if (b->meta && !ms_block_dead(b)) /* allocated again: its free was lost */
		ms_sites_free(ss, b->site, ms_block_size(b));
	ms_livetab_store(&blocks, b, ms_block_meta(size, 0, 0), ts);
	ms_sites_alloc(ss, size, 0, stack_id, caller, &b->site);
}

static void blk_free(struct ms_stack_sites *ss, uint64_t addr, uint64_t size)
{
	struct ms_block *b = ms_livetab_find(&blocks, addr);

	if (!b)
		return;
	ms_sites_free(ss, b->site, size);
	ms_livetab_remove(&blocks, b);
}

static void blk_each(void *ctx, ms_block_visit visit, void *arg)
{
	const struct ms_block *b;
	uint64_t pos;

	for (pos = 0; (b = ms_livetab_iter(&blocks, &pos));)
		if (b->site) /* live with a site: what ms_proc_blocks gives */
			visit(b, arg);
}

static void blk_done(struct ms_stack_sites *ss)
{
	ms_sites_free_all(ss);
	ms_livetab_free(&blocks);
}

/* ---------------------------------------------------------------- grouping */

START_TEST(grouping_by_stack_and_caller)
{
	struct ms_stack_sites ss;

	memset(&ss, 0, sizeof(ss));
	/* one site per (stack id, caller): a stack id alone or a caller alone is not a site */
	blk_alloc(&ss, 0x1000, 10, 5, 0x400100, 1);
	blk_alloc(&ss, 0x1100, 20, 5, 0x400100, 2);
	blk_alloc(&ss, 0x1200, 30, 5, 0x400200, 3);
	blk_alloc(&ss, 0x1300, 40, 6, 0x400100, 4);
	/* no stack (a collision, a full map): the caller alone, one site per caller */
	blk_alloc(&ss, 0x1400, 50, -1, 0x400100, 5);
	blk_alloc(&ss, 0x1500, 60, -1, 0x400100, 6);
	blk_alloc(&ss, 0x1600, 70, -1, 0x400300, 7);
	/* neither: still one site */
	blk_alloc(&ss, 0x1700, 80, -1, 0, 8);
	ck_assert_uint_eq(ss.n, 6);
	ck_assert_uint_eq(ss.untracked, 0);
	CK_SITE(&ss, 5, 0x400100, 2, 30, 0, 2, 30);
	CK_SITE(&ss, 5, 0x400200, 1, 30, 0, 1, 30);
	CK_SITE(&ss, 6, 0x400100, 1, 40, 0, 1, 40);
	CK_SITE(&ss, -1, 0x400100, 2, 110, 0, 2, 110);
	CK_SITE(&ss, -1, 0x400300, 1, 70, 0, 1, 70);
	CK_SITE(&ss, -1, 0, 1, 80, 0, 1, 80);
	/* sites are listed in the order they first allocated */
	ck_assert_int_eq(site_index(&ss, 5, 0x400100), 0);
	ck_assert_int_eq(site_index(&ss, -1, 0), 5);

	/* a free goes to the site that allocated the block, whatever frees it */
	blk_free(&ss, 0x1100, 20);
	blk_free(&ss, 0x1500, 60);
	CK_SITE(&ss, 5, 0x400100, 2, 30, 1, 1, 10);
	CK_SITE(&ss, -1, 0x400100, 2, 110, 1, 1, 50);
	ck_assert_uint_eq(site(&ss, 5, 0x400100)->freed_bytes, 20);
	/* a free of a block it never saw (older than the trace, freed twice) changes nothing */
	blk_free(&ss, 0x1100, 20);
	blk_free(&ss, 0x9999, 5);
	CK_SITE(&ss, 5, 0x400100, 2, 30, 1, 1, 10);
	ck_assert_uint_eq(ss.n, 6);

	/* an address allocated again without its free (a lost record): the old block is
	 * released from its site, counted as freed as the process counts it (stats.c), the new
	 * site owns the address */
	blk_alloc(&ss, 0x1000, 15, 6, 0x400100, 9);
	CK_SITE(&ss, 5, 0x400100, 2, 30, 2, 0, 0);
	CK_SITE(&ss, 6, 0x400100, 2, 55, 0, 2, 55);
	blk_free(&ss, 0x1000, 15);
	CK_SITE(&ss, 6, 0x400100, 2, 55, 1, 1, 40);
	CK_SITE(&ss, 5, 0x400100, 2, 30, 2, 0, 0);
	blk_done(&ss);
	ck_assert_uint_eq(ss.n, 0);
	ck_assert_ptr_null(ss.v);
}
END_TEST

/* Frames of the check: site (stack_id) has stack_id frames at 0x1000, 0x2000, ...;
 * addresses from 0x3000 on are not code, 0x5000 cannot be told */
static unsigned fake_frames(const struct ms_stack_site *t, uint64_t *ips, unsigned max, void *ctx)
{
	unsigned i, n = (unsigned)t->stack_id;

	for (i = 0; i < n && i < max; i++)
		ips[i] = 0x1000 * (i + 1) + (t->stack_id == 9 ? 0x4000 : 0);
	(*(unsigned *)ctx)++;
	return i;
}

static int fake_code(uint64_t addr, void *ctx)
{
	if (addr >= 0x5000 && addr < 0x6000)
		return -ENOENT;
	return addr < 0x3000 || addr >= 0x7000;
}

/* 0x2000 is where threads start; 0x8000 cannot be told */
static int fake_start(uint64_t addr, void *ctx)
{
	return addr == 0x8000 ? -ENODATA : addr == 0x2000;
}

static const struct ms_frame_ops fake_ops = { fake_frames, fake_code, fake_start };

/* A stack is kept up to its first frame that is not code and marked truncated; a frame
 * that cannot be told keeps the stack whole; a stack of code that does not end where a
 * thread starts is whole and truncated; each site is checked once */
START_TEST(check_truncates_at_non_code)
{
	struct ms_stack_sites ss = { 0 };
	double allocs, truncated;
	unsigned looks = 0;

	blk_alloc(&ss, 0x10, 8, 2, 0x1000, 1); /* code, code */
	blk_alloc(&ss, 0x20, 8, 4, 0x1000, 1); /* 2 code, 2 not */
	blk_alloc(&ss, 0x30, 8, 9, 0x1000, 1); /* unknown first */
	blk_alloc(&ss, 0x60, 8, 1, 0x1000, 1); /* ends in code */
	ms_sites_check(&ss, &fake_ops, &looks);
	ck_assert_uint_eq(looks, 4);
	ck_assert(ss.v[0].checked && !ss.v[0].truncated && ss.v[0].kept == 2);
	ck_assert(ss.v[1].checked && ss.v[1].truncated && ss.v[1].kept == 2);
	ck_assert(ss.v[2].checked && !ss.v[2].truncated && ss.v[2].kept == 9);
	ck_assert(ss.v[3].checked && ss.v[3].truncated && ss.v[3].kept == 1);
	ck_assert_uint_eq(ss.truncated_stacks, 2);
	/* a new site only is looked at */
	blk_alloc(&ss, 0x40, 8, 3, 0x1000, 1);
	blk_alloc(&ss, 0x50, 8, 2, 0x1000, 1); /* an old site */
	ms_sites_check(&ss, &fake_ops, &looks);
	ck_assert_uint_eq(looks, 5);
	ck_assert(ss.v[4].truncated && ss.v[4].kept == 2);
	ck_assert_uint_eq(ss.truncated_stacks, 3);
	/* by allocation: 6 allocations, 3 of them with a truncated stack (sites 1, 3, 4) */
	ms_sites_tally(&ss, &allocs, &truncated);
	ck_assert(allocs == 6 && truncated == 3);
	blk_done(&ss);
	ms_sites_tally(NULL, &allocs, &truncated);
	ck_assert(allocs == 0 && truncated == 0);
}
END_TEST

START_TEST(grouping_cap)
{
	struct ms_stack_sites ss;
	unsigned i;

	memset(&ss, 0, sizeof(ss));
	for (i = 0; i < MS_MAX_STACK_SITES; i++)
		blk_alloc(&ss, 0x10000 + 16 * (uint64_t)i, 8, (int32_t)i, 0x400000 + i, i);
	ck_assert_uint_eq(ss.n, MS_MAX_STACK_SITES);
	/* past the cap: counted untracked, not a site, its free ignored */
	blk_alloc(&ss, 0x8000000, 8, 7, 0x123, 1);
	ck_assert_uint_eq(ss.n, MS_MAX_STACK_SITES);
	ck_assert_uint_eq(ss.untracked, 1);
	ck_assert_int_eq(site_index(&ss, 7, 0x123), -1);
	blk_free(&ss, 0x8000000, 8);
	/* an existing site still takes blocks */
	blk_alloc(&ss, 0x9000000, 8, 3, 0x400003, 2);
	CK_SITE(&ss, 3, 0x400003, 2, 16, 0, 2, 16);
	ck_assert_uint_eq(ss.untracked, 1);
	/* every site is found again through the index */
	for (i = 0; i < MS_MAX_STACK_SITES; i += 997)
		ck_assert_int_eq(site_index(&ss, (int32_t)i, 0x400000 + i), (int)i);
	blk_done(&ss);
}
END_TEST

/* ---------------------------------------------------------------- peak contribution */

/*
 * A process' blocks through the sites, as stats.c drives them: after an allocation that
 * raises the process' live bytes above its peak, ms_sites_peak. A model keeps what each
 * site held at the last peak.
 */
#define NMODEL 5

struct model {
	struct ms_stack_sites ss;
	uint64_t live, peak;
	uint64_t site_live[NMODEL], at_peak[NMODEL];
	uint64_t addr_site[4096], addr_size[4096]; /* by address index; size 0: free */
};

static uint64_t caller_of(unsigned k)
{
	return 0x401000 + 0x10 * k;
}

static void model_alloc(struct model *m, unsigned a, unsigned k, uint64_t size)
{
	ck_assert_uint_eq(m->addr_size[a], 0);
	blk_alloc(&m->ss, 0x100000 + 16 * (uint64_t)a, size, (int32_t)k, caller_of(k), a);
	m->addr_site[a] = k;
	m->addr_size[a] = size;
	m->site_live[k] += size;
	m->live += size;
	if (m->live > m->peak) {
		m->peak = m->live;
		memcpy(m->at_peak, m->site_live, sizeof(m->at_peak));
		ms_sites_peak(&m->ss);
	}
}

static void model_free(struct model *m, unsigned a)
{
	uint64_t size = m->addr_size[a];

	ck_assert_uint_ne(size, 0);
	blk_free(&m->ss, 0x100000 + 16 * (uint64_t)a, size);
	m->site_live[m->addr_site[a]] -= size;
	m->live -= size;
	m->addr_size[a] = 0;
}

/* Every site's contribution is what it held at the last peak; they add up to the peak */
static void model_check(const struct model *m, const char *when)
{
	uint64_t sum = 0;
	unsigned k;

	for (k = 0; k < NMODEL; k++) {
		int i = site_index(&m->ss, (int32_t)k, caller_of(k));
		uint64_t got = i < 0 ? 0 : ms_site_peak_contribution(&m->ss, &m->ss.v[i]);

		ck_assert_msg(got == m->at_peak[k],
			      "%s: site %u: peak contribution %llu, expected %llu", when, k,
			      (unsigned long long)got, (unsigned long long)m->at_peak[k]);
		if (i >= 0)
			ck_assert_uint_eq(m->ss.v[i].live_bytes, m->site_live[k]);
		sum += got;
	}
	ck_assert_uint_eq(sum, m->peak);
}

START_TEST(peak_contribution_epochs)
{
	static struct model m;

	memset(&m, 0, sizeof(m));
	model_alloc(&m, 0, 0, 100); /* A 100: peak 100 */
	model_check(&m, "A alone");
	model_alloc(&m, 1, 1, 50); /* B 50: peak 150 = A 100 + B 50 */
	model_check(&m, "A and B");
	model_free(&m, 0); /* A frees after the peak: it held 100 then */
	model_check(&m, "A freed");
	ck_assert_uint_eq(ms_site_peak_contribution(&m.ss, site(&m.ss, 0, caller_of(0))), 100);
	model_alloc(&m, 2, 2, 80); /* C starts below the peak: no share of it */
	model_check(&m, "C below the peak");
	ck_assert_uint_eq(ms_site_peak_contribution(&m.ss, site(&m.ss, 2, caller_of(2))), 0);
	model_alloc(&m, 3, 2, 40); /* C 120: a new peak 170 = B 50 + C 120, A 0 */
	model_check(&m, "new peak");
	model_free(&m, 1);	   /* B frees: held 50 at the peak */
	model_alloc(&m, 4, 0, 10); /* A grows again below the peak: held 0 then */
	model_check(&m, "after the peak");
	ck_assert_uint_eq(ms_site_peak_contribution(&m.ss, site(&m.ss, 0, caller_of(0))), 0);
	ck_assert_uint_eq(ms_site_peak_contribution(&m.ss, site(&m.ss, 1, caller_of(1))), 50);
	ck_assert_uint_eq(ms_site_peak_contribution(&m.ss, site(&m.ss, 2, caller_of(2))), 120);
	model_alloc(&m, 5, 3, 0); /* a zero-byte block: a site that never held anything */
	model_check(&m, "zero bytes");
	model_free(&m, 2);
	model_free(&m, 3);
	model_free(&m, 4);
	model_check(&m, "all freed");
	blk_done(&m.ss);
}
END_TEST

START_TEST(peak_contribution_random)
{
	static struct model m;
	uint64_t x = 0x9E3779B97F4A7C15ull;
	unsigned step, a;

	memset(&m, 0, sizeof(m));
	for (step = 0; step < 20000; step++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		a = (unsigned)(x % 4096);
		if (m.addr_size[a])
			model_free(&m, a);
		else
			model_alloc(&m, a, (unsigned)((x >> 20) % NMODEL), 1 + (x >> 32) % 5000);
		if (step % 97 == 0)
			model_check(&m, "random");
	}
	model_check(&m, "random, at the end");
	blk_done(&m.ss);
}
END_TEST

/* The same through ms_stats_apply: stats.c bumps the peak epoch */
START_TEST(peak_contribution_via_stats)
{
	struct ms_catalog *cat;
	struct ms_func malloc_fn = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_func free_fn = { .name = "free", .kind = MS_FN_FREE, .allocator = 1 };
	struct ms_event e;
	struct ms_stats s;
	struct ms_proc *p;
	int fm, ff;

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	fm = ms_catalog_add_func(cat, &malloc_fn);
	ff = ms_catalog_add_func(cat, &free_fn);
	ms_stats_init(&s, cat, NULL, NULL);
	s.sites = true;
	memset(&e, 0, sizeof(e));
	e.tgid = e.tid = 7;
#define EV_ALLOC(ptr_, size_, id_, caller_)                                                        \
	do {                                                                                       \
		e.type = MS_EV_ALLOC;                                                              \
		e.func = fm;                                                                       \
		e.a.ptr = ptr_;                                                                    \
		e.a.size = size_;                                                                  \
		e.stack_id = id_;                                                                  \
		e.caller = caller_;                                                                \
		e.ts_ns += 1000;                                                                   \
		ms_stats_apply(&s, &e);                                                            \
	} while (0)
#define EV_FREE(ptr_)                                                                              \
	do {                                                                                       \
		e.type = MS_EV_FREE;                                                               \
		e.func = ff;                                                                       \
		e.a.ptr = ptr_;                                                                    \
		e.a.size = 0;                                                                      \
		e.ts_ns += 1000;                                                                   \
		ms_stats_apply(&s, &e);                                                            \
	} while (0)
	EV_ALLOC(0x1000, 100, 1, 0x401000);
	EV_ALLOC(0x2000, 300, 2, 0x402000);
	EV_FREE(0x1000);
	EV_ALLOC(0x3000, 50, 1, 0x401000);
	EV_FREE(0x2000);
	EV_ALLOC(0x4000, 10, 3, 0x403000);
	p = ms_stats_proc(&s, 7, false);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(p->stack_sites);
	ck_assert_uint_eq(p->c.peak_bytes, 400);
	ck_assert_uint_eq(p->stack_sites->n, 3);
	/* at the peak (400): site 1 held 100, site 2 held 300, site 3 did not exist */
	ck_assert_uint_eq(
		ms_site_peak_contribution(p->stack_sites, site(p->stack_sites, 1, 0x401000)), 100);
	ck_assert_uint_eq(
		ms_site_peak_contribution(p->stack_sites, site(p->stack_sites, 2, 0x402000)), 300);
	ck_assert_uint_eq(
		ms_site_peak_contribution(p->stack_sites, site(p->stack_sites, 3, 0x403000)), 0);
	CK_SITE(p->stack_sites, 1, 0x401000, 2, 150, 1, 1, 50);
	CK_SITE(p->stack_sites, 2, 0x402000, 1, 300, 1, 0, 0);
	CK_SITE(p->stack_sites, 3, 0x403000, 1, 10, 0, 1, 10);
	/* a realloc-free world: the sites' live bytes are the process' */
	ck_assert_uint_eq(p->c.live_bytes, 60);
#undef EV_ALLOC
#undef EV_FREE
	ms_stats_free(&s);
	ms_catalog_free(cat);
}
END_TEST

/* ---------------------------------------------------------------- trend */

/* A site whose live bytes were v[0..n-1] at n reports: its trend, and t for more checks */
static enum ms_trend trend_of(const uint64_t *v, unsigned n, struct ms_stack_sites *ss)
{
	unsigned i;

	memset(ss, 0, sizeof(*ss));
	blk_alloc(ss, 0x1000, 1, 1, 0x400000, 1);
	for (i = 0; i < n; i++) {
		ss->v[0].live_bytes = v[i];
		ms_sites_sample(ss);
	}
	ck_assert_uint_eq(ss->v[0].nhistory, n);
	return ms_site_trend(&ss->v[0]);
}

#define TREND(expected, ...)                                                                       \
	do {                                                                                       \
		static const uint64_t v_[] = { __VA_ARGS__ };                                      \
		struct ms_stack_sites ss_;                                                         \
		enum ms_trend got_ = trend_of(v_, sizeof(v_) / sizeof(v_[0]), &ss_);               \
		ck_assert_msg(got_ == (expected), "trend of {%s}: %s, expected %s", #__VA_ARGS__,  \
			      ms_trend_name(got_), ms_trend_name(expected));                       \
		blk_done(&ss_);                                                                    \
	} while (0)

START_TEST(trend_crafted)
{
	struct ms_stack_sites ss;

	/* fewer than 4 samples: unknown, whatever they say */
	ck_assert_int_eq(trend_of(NULL, 0, &ss), MS_TREND_UNKNOWN);
	blk_done(&ss);
	TREND(MS_TREND_UNKNOWN, 100);
	TREND(MS_TREND_UNKNOWN, 100, 200, 300);
	TREND(MS_TREND_UNKNOWN, 300, 300, 300);
	/* growing: up at each of the last three samples, above the first */
	TREND(MS_TREND_GROWING, 0, 100, 200, 300);
	TREND(MS_TREND_GROWING, 640, 2560, 3840, 5760, 7040, 8960);
	/* a cache: fills, then unchanged over the last three */
	TREND(MS_TREND_LEVELED, 8192, 32768, 32768, 32768);
	TREND(MS_TREND_LEVELED, 0, 500, 1000, 1000, 1000, 1000);
	TREND(MS_TREND_LEVELED, 5, 5, 5, 5);
	TREND(MS_TREND_LEVELED, 0, 0, 0, 0, 0);
	/* a leak that stopped (three equal samples) reads as leveled */
	TREND(MS_TREND_LEVELED, 100, 200, 300, 400, 400, 400);
	/* shrinking: down at each of the last three */
	TREND(MS_TREND_SHRINKING, 400, 300, 200, 100);
	TREND(MS_TREND_SHRINKING, 0, 1000, 900, 800, 700);
	/* up three times but not above where the history began: not a leak */
	TREND(MS_TREND_LEVELED, 1000, 0, 100, 200, 300);
	/* noisy growth ending above the start: growing */
	TREND(MS_TREND_GROWING, 100, 150, 140, 200, 260, 250, 300);
	/* a leak with a pause, then growing again, and a last sample taken right after the
	 * previous one (no allocation between): still growing (the e2e leak's exit) */
	TREND(MS_TREND_GROWING, 640, 2560, 10240, 10240, 10240, 10240, 11520, 12800, 13440);
	TREND(MS_TREND_GROWING, 100, 200, 300, 400, 400);
	/* noisy, ending below the start: not growing */
	TREND(MS_TREND_LEVELED, 300, 100, 200, 150, 250);
}
END_TEST

START_TEST(trend_ring_wrap)
{
	struct ms_stack_sites ss;
	uint64_t v[40];
	unsigned i;

	/* 4 huge samples, then 16 growing ones: the ring keeps the last 16, so the history
	 * begins at 100 and the site is growing (had the first sample counted, it would not be
	 * above where the history began) */
	for (i = 0; i < 4; i++)
		v[i] = 1000000;
	for (i = 0; i < 16; i++)
		v[4 + i] = 100 * (i + 1);
	ck_assert_int_eq(trend_of(v, 20, &ss), MS_TREND_GROWING);
	ck_assert_uint_eq(ss.v[0].nhistory, 20);
	ck_assert_uint_eq(ms_site_history(&ss.v[0], 0), 1600);
	ck_assert_uint_eq(ms_site_history(&ss.v[0], 1), 1500);
	ck_assert_uint_eq(ms_site_history(&ss.v[0], MS_SITE_HISTORY - 1), 100);
	ck_assert_uint_eq(ms_site_history(&ss.v[0], MS_SITE_HISTORY), 0);
	ck_assert_uint_eq(ms_site_history(&ss.v[0], 100), 0);
	blk_done(&ss);

	/* up to 16 samples, the huge first one is still kept: not above it, not growing */
	for (i = 0; i < 15; i++)
		v[i] = i == 0 ? 1000000 : 100 * i;
	ck_assert_int_eq(trend_of(v, 15, &ss), MS_TREND_LEVELED);
	ck_assert_uint_eq(ms_site_history(&ss.v[0], 14), 1000000);
	blk_done(&ss);
	/* one more sample pushes 1000000 out at 17 samples (the ring holds 16) */
	for (i = 0; i < 17; i++)
		v[i] = i == 0 ? 1000000 : 100 * i;
	ck_assert_int_eq(trend_of(v, 16, &ss), MS_TREND_LEVELED);
	blk_done(&ss);
	ck_assert_int_eq(trend_of(v, 17, &ss), MS_TREND_GROWING);
	ck_assert_uint_eq(ms_site_history(&ss.v[0], MS_SITE_HISTORY - 1), 100);
	blk_done(&ss);

	/* many wraps: 40 samples, a cache that filled long ago */
	for (i = 0; i < 40; i++)
		v[i] = i < 3 ? 1000 * (i + 1) : 4096;
	ck_assert_int_eq(trend_of(v, 40, &ss), MS_TREND_LEVELED);
	for (i = 0; i < MS_SITE_HISTORY; i++)
		ck_assert_uint_eq(ms_site_history(&ss.v[0], i), 4096);
	blk_done(&ss);
}
END_TEST

START_TEST(trend_names)
{
	ck_assert_str_eq(ms_trend_name(MS_TREND_UNKNOWN), "unknown");
	ck_assert_str_eq(ms_trend_name(MS_TREND_GROWING), "growing");
	ck_assert_str_eq(ms_trend_name(MS_TREND_LEVELED), "leveled");
	ck_assert_str_eq(ms_trend_name(MS_TREND_SHRINKING), "shrinking");
	ck_assert_str_eq(ms_trend_name((enum ms_trend)42), "unknown");
}
END_TEST

/* ---------------------------------------------------------------- leaks */

START_TEST(leaks_cut_sort_bytes)
{
	struct ms_stack_sites ss;
	struct ms_leak l[8];
	unsigned n;

	memset(&ss, 0, sizeof(ss));
	ck_assert_uint_eq(ms_sites_leaks(&ss, blk_each, NULL, 1000, l, 8), 0);
	/* site 0 (A): 3 blocks of different sizes at 100, 200, 300 */
	blk_alloc(&ss, 0xa1, 10, 1, 0x401000, 100);
	blk_alloc(&ss, 0xa2, 20, 1, 0x401000, 200);
	blk_alloc(&ss, 0xa3, 30, 1, 0x401000, 300);
	/* site 1 (B): a big old block, a small young one */
	blk_alloc(&ss, 0xb1, 1000, 2, 0x402000, 150);
	blk_alloc(&ss, 0xb2, 5, 2, 0x402000, 400);
	/* site 2 (C): young only */
	blk_alloc(&ss, 0xc1, 7, 3, 0x403000, 500);
	/* site 3 (D): exactly at the cut: not older than it */
	blk_alloc(&ss, 0xd1, 9, 4, 0x404000, 250);

	n = ms_sites_leaks(&ss, blk_each, NULL, 250, l, 8);
	ck_assert_uint_eq(n, 2);
	/* largest first */
	ck_assert_uint_eq(l[0].site, 1);
	ck_assert_uint_eq(l[0].blocks, 1);
	ck_assert_uint_eq(l[0].bytes, 1000);
	ck_assert_uint_eq(l[0].oldest_ts, 150);
	ck_assert_uint_eq(l[1].site, 0);
	ck_assert_uint_eq(l[1].blocks, 2);
	ck_assert_uint_eq(l[1].bytes, 30);
	ck_assert_uint_eq(l[1].oldest_ts, 100);
	/* at most max filled; the count says how many sites have old blocks */
	ck_assert_uint_eq(ms_sites_leaks(&ss, blk_each, NULL, 250, l, 1), 2);
	ck_assert_uint_eq(l[0].site, 1);
	/* a freed block is no leak: A's oldest goes, B's only old one too */
	blk_free(&ss, 0xa1, 10);
	blk_free(&ss, 0xb1, 1000);
	n = ms_sites_leaks(&ss, blk_each, NULL, 1000, l, 8);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(l[0].site, 0); /* A: 20 + 30 */
	ck_assert_uint_eq(l[0].blocks, 2);
	ck_assert_uint_eq(l[0].bytes, 50);
	ck_assert_uint_eq(l[0].oldest_ts, 200);
	ck_assert_uint_eq(l[1].site, 3); /* D: 9 */
	ck_assert_uint_eq(l[1].bytes, 9);
	ck_assert_uint_eq(l[1].oldest_ts, 250);
	ck_assert_uint_eq(l[2].site, 2); /* C: 7 */
	ck_assert_uint_eq(l[2].bytes, 7);
	ck_assert_uint_eq(l[3].site, 1); /* B: 5 */
	ck_assert_uint_eq(l[3].bytes, 5);
	ck_assert_uint_eq(l[3].oldest_ts, 400);
	/* nothing old yet */
	ck_assert_uint_eq(ms_sites_leaks(&ss, blk_each, NULL, 100, l, 8), 0);
	ck_assert_uint_eq(ms_sites_leaks(&ss, blk_each, NULL, 0, l, 8), 0);
	blk_done(&ss);
}
END_TEST

START_TEST(leaks_ties_and_sizes)
{
	struct ms_stack_sites ss;
	struct ms_leak l[8];
	unsigned n;

	memset(&ss, 0, sizeof(ss));
	/* equal bytes: in the order of the sites */
	blk_alloc(&ss, 0x10, 64, 9, 0x409000, 1);
	blk_alloc(&ss, 0x20, 32, 8, 0x408000, 2);
	blk_alloc(&ss, 0x30, 32, 8, 0x408000, 3);
	blk_alloc(&ss, 0x40, 64, 7, 0x407000, 4);
	/* block sizes from 1 B to the tables' largest, 1 TiB - 1, add up exactly */
	blk_alloc(&ss, 0x50, 1, 6, 0x406000, 5);
	blk_alloc(&ss, 0x60, 4097, 6, 0x406000, 6);
	blk_alloc(&ss, 0x70, 1ull << 30, 6, 0x406000, 7);
	blk_alloc(&ss, 0x80, (1ull << 40) - 1, 6, 0x406000, 8);
	blk_alloc(&ss, 0x90, (1ull << 32) + 3, 6, 0x406000, 9);
	n = ms_sites_leaks(&ss, blk_each, NULL, 100, l, 8);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(l[0].site, 3);
	ck_assert_uint_eq(l[0].blocks, 5);
	ck_assert_uint_eq(l[0].bytes,
			  1ull + 4097 + (1ull << 30) + (1ull << 40) - 1 + (1ull << 32) + 3);
	ck_assert_uint_eq(l[0].oldest_ts, 5);
	ck_assert_uint_eq(l[1].site, 0);
	ck_assert_uint_eq(l[1].bytes, 64);
	ck_assert_uint_eq(l[2].site, 1);
	ck_assert_uint_eq(l[2].blocks, 2);
	ck_assert_uint_eq(l[2].bytes, 64);
	ck_assert_uint_eq(l[2].oldest_ts, 2);
	ck_assert_uint_eq(l[3].site, 2);
	ck_assert_uint_eq(l[3].bytes, 64);
	/* the live figures agree */
	CK_SITE(&ss, 6, 0x406000, 5, l[0].bytes, 0, 5, l[0].bytes);
	/* freeing the 1 TiB block takes exactly it out */
	blk_free(&ss, 0x80, 1ull << 40);
	n = ms_sites_leaks(&ss, blk_each, NULL, 100, l, 8);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(l[0].site, 3);
	ck_assert_uint_eq(l[0].blocks, 4);
	ck_assert_uint_eq(l[0].bytes, 1ull + 4097 + (1ull << 30) + (1ull << 32) + 3);
	blk_done(&ss);
}
END_TEST

/* Many blocks: the report is what a brute-force count says */
START_TEST(leaks_many_blocks)
{
	static struct ms_leak l[16];
	static uint64_t size_of[30000], ts_of[30000];
	static unsigned site_of[30000];
	static bool live[30000];
	uint64_t blocks[4] = { 0 }, bytes[4] = { 0 }, oldest[4] = { 0 };
	struct ms_stack_sites ss;
	uint64_t x = 12345, cut = 20000;
	unsigned i, k, n;

	memset(&ss, 0, sizeof(ss));
	for (i = 0; i < 30000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		site_of[i] = (unsigned)(x >> 60) % 4;
		size_of[i] = 1 + (x >> 33) % 3000;
		ts_of[i] = i;
		live[i] = true;
		blk_alloc(&ss, 0x10000000 + 32 * (uint64_t)i, size_of[i], (int32_t)site_of[i] + 10,
			  0x400000, ts_of[i]);
	}
	for (i = 0; i < 30000; i += 3) {
		blk_free(&ss, 0x10000000 + 32 * (uint64_t)i, size_of[i]);
		live[i] = false;
	}
	for (i = 0; i < 30000; i++) {
		if (!live[i] || ts_of[i] >= cut)
			continue;
		k = site_of[i];
		if (!blocks[k] || ts_of[i] < oldest[k])
			oldest[k] = ts_of[i];
		blocks[k]++;
		bytes[k] += size_of[i];
	}
	n = ms_sites_leaks(&ss, blk_each, NULL, cut, l, 16);
	ck_assert_uint_eq(n, 4);
	for (i = 0; i < n; i++) {
		k = (unsigned)(ss.v[l[i].site].stack_id - 10);
		ck_assert_uint_eq(l[i].blocks, blocks[k]);
		ck_assert_uint_eq(l[i].bytes, bytes[k]);
		ck_assert_uint_eq(l[i].oldest_ts, oldest[k]);
		if (i)
			ck_assert_uint_ge(l[i - 1].bytes, l[i].bytes);
	}
	blk_done(&ss);
}
END_TEST

/* ---------------------------------------------------------------- renderings */

#define PID 42
static int sym_ctx;

/* Deterministic names: a few addresses known, the others not (hex in the output) */
static int fake_symbolize(pid_t pid, uint64_t addr, char *name, size_t len, void *ctx)
{
	static const struct {
		uint64_t addr;
		const char *name;
	} names[] = {
		{ 0x401000, "alloc_a+0x10" },
		{ 0x401008, "alloc_a+0x18 (a.c:9)" },
		{ 0x402000, "alloc b;x+0x20 (b.c:7)" }, /* ';' and ' ' are the format's */
		{ 0x403000, "tick+0x5" },
		{ 0x404000, "main+0x30 (main.c:12)" },
		{ 0x405000, "__libc_start_call_main+0x7a" },
		{ 0x406000, "ns::Cache::grow(unsigned long)+0x1c" },
	};
	unsigned i;

	ck_assert_ptr_eq(ctx, &sym_ctx);
	ck_assert(pid == PID || pid == 43);
	if (pid != PID) /* names are the process': another one has none here */
		return -1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].addr == addr) {
			snprintf(name, len, "%s", names[i].name);
			return 0;
		}
	}
	return -1;
}

static struct ms_catalog *cat; /* the rendering tests' own: rendering_setup to rendering_free */
static struct ms_stats stats;
static int fm, ff;

static void ev_alloc(pid_t pid, uint64_t ptr, uint64_t size, int32_t id, uint64_t caller,
		     uint64_t ts)
{
	struct ms_event e;

	memset(&e, 0, sizeof(e));
	e.type = MS_EV_ALLOC;
	e.func = fm;
	e.tgid = e.tid = pid;
	e.a.ptr = ptr;
	e.a.size = size;
	e.stack_id = id;
	e.caller = caller;
	e.ts_ns = ts;
	ms_stats_apply(&stats, &e);
}

static void ev_free(pid_t pid, uint64_t ptr, uint64_t ts)
{
	struct ms_event e;

	memset(&e, 0, sizeof(e));
	e.type = MS_EV_FREE;
	e.func = ff;
	e.tgid = e.tid = pid;
	e.a.ptr = ptr;
	e.stack_id = -1;
	e.ts_ns = ts;
	ms_stats_apply(&stats, &e);
}

#define S(x) ((uint64_t)((x)*1e9))

/*
 * Process 42 ("leaky"), times in seconds:
 *   site 0 (stack 3, alloc_a):     100 B at 1, 50 B at 2          live 150
 *   site 1 (stack 5, tick):        64 B at 1.5, freed at 4        live 0
 *   site 2 (stack 4, "alloc b;x"): 30 B at 3                      live 30
 *   site 3 (no stack, 0xdead):     7 B at 8                       live 7
 * The process' peak: 244 B at 3 s (alloc_a 150, tick 64, alloc b 30).
 */
static void rendering_setup(const char *comm)
{
	struct ms_func malloc_fn = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_func free_fn = { .name = "free", .kind = MS_FN_FREE, .allocator = 1 };
	struct ms_proc *p;

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	fm = ms_catalog_add_func(cat, &malloc_fn);
	ff = ms_catalog_add_func(cat, &free_fn);
	ms_stats_init(&stats, cat, NULL, NULL);
	stats.sites = true;
	ev_alloc(PID, 0x1000, 100, 3, 0x401000, S(1));
	ev_alloc(PID, 0x2000, 64, 5, 0x403000, S(1.5));
	ev_alloc(PID, 0x3000, 50, 3, 0x401000, S(2));
	ev_alloc(PID, 0x4000, 30, 4, 0x402000, S(3));
	ev_free(PID, 0x2000, S(4));
	ev_alloc(PID, 0x5000, 7, -1, 0xdead, S(8));
	p = ms_stats_proc(&stats, PID, false);
	ck_assert_ptr_nonnull(p);
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
}

static void rendering_free(void)
{
	ms_stats_free(&stats);
	ms_catalog_free(cat);
}

/* The stack map: fd -1 gives the caller alone; else stacks 3-5 are there (read already:
 * the fd is never used for them) */
static void map_setup(struct ms_stackmap *m, bool with_stacks)
{
	static const uint64_t st3[] = { 4, 0xf00, 0x403000, 0x404000, 0x405000 };
	/* the walk lists the caller's frame again after the allocation function: skipped */
	static const uint64_t st4[] = { 3, 0xf00, 0x402000, 0x404000 };
	static const uint64_t st5[] = { 3, 0xf00, 0x404000, 0x405000 };
	const uint64_t *st[] = { st3, st4, st5 };
	unsigned i;

	if (!with_stacks) {
		ck_assert_int_eq(ms_stackmap_init(m, -1, 8, 16), 0);
		return;
	}
	/* a real fd that is no BPF map: a lookup of another id fails */
	ck_assert_int_eq(ms_stackmap_init(m, open("/dev/null", O_RDONLY | O_CLOEXEC), 8, 16), 0);
	ck_assert_int_ge(m->fd, 0);
	for (i = 0; i < 3; i++) {
		m->by_id[3 + i] = calloc(m->depth + 1, sizeof(uint64_t));
		memcpy(m->by_id[3 + i], st[i], (st[i][0] + 1) * sizeof(uint64_t));
	}
}

static void map_free(struct ms_stackmap *m)
{
	if (m->fd >= 0)
		close(m->fd);
	ms_stackmap_free(m);
}

static char *folded_as(struct ms_stackmap *m, enum ms_folded_what what, bool count, bool lines,
		       uint64_t now, uint64_t min_age)
{
	struct ms_output o = {
		.stacks = m, .sites = true, .symbolize = fake_symbolize, .symbolize_ctx = &sym_ctx
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(ms_output_folded(&o, f, &stats, what, count, lines, now, min_age), 0);
	fclose(f);
	return buf;
}

static char *folded(struct ms_stackmap *m, enum ms_folded_what what, bool count, uint64_t now,
		    uint64_t min_age)
{
	return folded_as(m, what, count, false, now, min_age);
}

#define CK_FOLDED(m, what, count, now, min_age, expected)                                          \
	do {                                                                                       \
		char *out_ = folded(m, what, count, now, min_age);                                 \
		ck_assert_str_eq(out_, expected);                                                  \
		free(out_);                                                                        \
	} while (0)

START_TEST(stackmap_frames)
{
	struct ms_stackmap m;
	uint64_t ips[8];
	unsigned n;

	map_setup(&m, false);
	n = ms_stackmap_frames(&m, 3, 0x401000, ips, 8);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ips[0], 0x401000);
	ck_assert_uint_eq(ms_stackmap_frames(&m, -1, 0, ips, 8), 0);
	map_free(&m);

	map_setup(&m, true);
	/* the caller, then the walk without its first frame (the allocation function) */
	n = ms_stackmap_frames(&m, 3, 0x401000, ips, 8);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(ips[0], 0x401000);
	ck_assert_uint_eq(ips[1], 0x403000);
	ck_assert_uint_eq(ips[2], 0x404000);
	ck_assert_uint_eq(ips[3], 0x405000);
	/* at most max */
	ck_assert_uint_eq(ms_stackmap_frames(&m, 3, 0x401000, ips, 2), 2);
	ck_assert_uint_eq(ips[1], 0x403000);
	/* the caller listed again by the walk: once */
	n = ms_stackmap_frames(&m, 4, 0x402000, ips, 8);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(ips[0], 0x402000);
	ck_assert_uint_eq(ips[1], 0x404000);
	/* an id the map does not have (the lookup fails): the caller alone */
	n = ms_stackmap_frames(&m, 9, 0x401000, ips, 8);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ms_stackmap_frames(&m, 99, 0x401000, ips, 8), 1);
	map_free(&m);
}
END_TEST

START_TEST(folded_caller_only)
{
	struct ms_stackmap m;

	rendering_setup("leaky");
	map_setup(&m, false);
	/* live: sites in their order, freed ones left out, unknown addresses in hex */
	CK_FOLDED(&m, MS_FOLDED_LIVE, false, S(10), S(1),
		  "leaky;alloc_a 150\n"
		  "leaky;alloc_b_x 30\n"
		  "leaky;0xdead 7\n");
	CK_FOLDED(&m, MS_FOLDED_LIVE, true, S(10), S(1),
		  "leaky;alloc_a 2\n"
		  "leaky;alloc_b_x 1\n"
		  "leaky;0xdead 1\n");
	/* allocated: every site */
	CK_FOLDED(&m, MS_FOLDED_ALLOCATED, false, S(10), S(1),
		  "leaky;alloc_a 150\n"
		  "leaky;tick 64\n"
		  "leaky;alloc_b_x 30\n"
		  "leaky;0xdead 7\n");
	CK_FOLDED(&m, MS_FOLDED_ALLOCATED, true, S(10), S(1),
		  "leaky;alloc_a 2\n"
		  "leaky;tick 1\n"
		  "leaky;alloc_b_x 1\n"
		  "leaky;0xdead 1\n");
	/* leaked at 10 s, older than 8.5 s (before 1.5 s): alloc_a's first block only */
	CK_FOLDED(&m, MS_FOLDED_LEAKED, false, S(10), S(8.5), "leaky;alloc_a 100\n");
	/* older than 1 s: by bytes, largest first */
	CK_FOLDED(&m, MS_FOLDED_LEAKED, false, S(10), S(1),
		  "leaky;alloc_a 150\n"
		  "leaky;alloc_b_x 30\n"
		  "leaky;0xdead 7\n");
	CK_FOLDED(&m, MS_FOLDED_LEAKED, true, S(10), S(1),
		  "leaky;alloc_a 2\n"
		  "leaky;alloc_b_x 1\n"
		  "leaky;0xdead 1\n");
	/* nothing old enough: nothing at all */
	CK_FOLDED(&m, MS_FOLDED_LEAKED, false, S(10), S(10), "");
	map_free(&m);
	rendering_free();
}
END_TEST

START_TEST(folded_stacks)
{
	struct ms_stackmap m;

	rendering_setup("leaky");
	map_setup(&m, true);
	/* comm first, then the outermost frame down to the caller of the allocation */
	CK_FOLDED(&m, MS_FOLDED_LIVE, false, S(10), S(1),
		  "leaky;__libc_start_call_main;main;tick;alloc_a "
		  "150\n"
		  "leaky;main;alloc_b_x 30\n"
		  "leaky;0xdead 7\n");
	CK_FOLDED(&m, MS_FOLDED_ALLOCATED, true, S(10), S(1),
		  "leaky;__libc_start_call_main;main;tick;alloc_a 2\n"
		  "leaky;__libc_start_call_main;main;tick 1\n"
		  "leaky;main;alloc_b_x 1\n"
		  "leaky;0xdead 1\n");
	map_free(&m);
	rendering_free();
}
END_TEST

/* Frames by function: two call sites in one function are one box, weights summed where
 * the first was; with lines (--folded-lines), a box a line, offsets left out all the same */
START_TEST(folded_by_function)
{
	struct ms_stackmap m;
	char *out;

	rendering_setup("leaky");
	ev_alloc(PID, 0x6000, 20, -1, 0x401008, S(9)); /* alloc_a+0x18 (a.c:9) */
	ev_alloc(PID, 0x7000, 5, -1, 0x406000, S(9));  /* a C++ name, its ' ' the format's */
	map_setup(&m, false);
	CK_FOLDED(&m, MS_FOLDED_LIVE, false, S(10), S(1),
		  "leaky;alloc_a 170\n"
		  "leaky;alloc_b_x 30\n"
		  "leaky;0xdead 7\n"
		  "leaky;ns::Cache::grow(unsigned_long) 5\n");
	out = folded_as(&m, MS_FOLDED_LIVE, false, true, S(10), S(1));
	ck_assert_str_eq(out, "leaky;alloc_a 150\n"
			      "leaky;alloc_b_x_(b.c:7) 30\n"
			      "leaky;0xdead 7\n"
			      "leaky;alloc_a_(a.c:9) 20\n"
			      "leaky;ns::Cache::grow(unsigned_long) 5\n");
	free(out);
	map_free(&m);
	rendering_free();
}
END_TEST

/* A process names itself: ';' would add a frame, ' ' would end the stack early */
START_TEST(folded_comm_sanitized)
{
	struct ms_stackmap m;

	rendering_setup("Web Co;x\x01");
	map_setup(&m, false);
	CK_FOLDED(&m, MS_FOLDED_LEAKED, false, S(10), S(8.5), "Web_Co_x?;alloc_a 100\n");
	map_free(&m);
	rendering_free();
}
END_TEST

/* Two processes: each its own lines (the order of processes is the table's) */
START_TEST(folded_two_processes)
{
	struct ms_stackmap m;
	struct ms_proc *p;
	char *out, *a, *b;

	rendering_setup("leaky");
	ev_alloc(43, 0x1000, 11, 3, 0x401000, S(1));
	p = ms_stats_proc(&stats, 43, false);
	snprintf(p->comm, sizeof(p->comm), "other");
	/* a process without a site (no --stacks then): nothing of it */
	ms_stats_proc(&stats, 44, true)->listed = true;
	map_setup(&m, false);
	out = folded(&m, MS_FOLDED_LIVE, false, S(10), S(1));
	a = strstr(out, "other;0x401000 11\n");
	b = strstr(out, "leaky;alloc_a 150\nleaky;alloc_b_x 30\nleaky;0xdead 7\n");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(
		strlen(out),
		strlen("other;0x401000 11\n") +
			strlen("leaky;alloc_a 150\nleaky;alloc_b_x 30\nleaky;0xdead 7\n"));
	free(out);
	map_free(&m);
	rendering_free();
}
END_TEST

static double lowered_from; /* the report's min_age_lowered_from */

static char *leaks_report(struct ms_stackmap *m, bool json, uint64_t now, uint64_t min_age)
{
	struct ms_output o = { .json = json,
			       .stacks = m,
			       .sites = true,
			       .symbolize = fake_symbolize,
			       .symbolize_ctx = &sym_ctx };
	struct ms_report r = {
		.ts = 2.0, .interval_s = 1.0, .events = 5, .min_age_lowered_from = lowered_from
	};
	char *buf = NULL;
	size_t len = 0;

	o.f = open_memstream(&buf, &len);
	ms_output_leaks(&o, &r, &stats, now, min_age);
	fclose(o.f);
	return buf;
}

/* A site's samples: its live bytes at each of n reports, the same for every site */
static void samples(unsigned n)
{
	struct ms_proc *p = ms_stats_proc(&stats, PID, false);

	while (n--)
		ms_sites_sample(p->stack_sites);
}

START_TEST(leaks_record)
{
	struct ms_stackmap m;
	char *out;

	rendering_setup("leaky");
	map_setup(&m, true);
	/* traced from its exec: 4 samples are enough for a trend (an attached process needs
	 * 16, see output.c) */
	ms_stats_proc(&stats, PID, false)->from_start = true;
	samples(4);
	/* alloc_a 150 B (growing: made so below), alloc b 30 B, 0xdead 7 B; tick's freed */
	ms_stats_proc(&stats, PID, false)->stack_sites->v[0].history[0] = 10;
	ms_stats_proc(&stats, PID, false)->stack_sites->v[0].history[1] = 20;
	ms_stats_proc(&stats, PID, false)->stack_sites->v[0].history[2] = 40;
	out = leaks_report(&m, true, S(10), S(1));
	/* the record's head is every record's (tested with them); from min_age_s on, exactly */
	ck_assert_msg(!strncmp(out,
			       "{\"type\":\"leaks\",\"ts\":2,\"interval_s\":1,\"events\":5,"
			       "\"events_lost\":0,\"lost\":{",
			       strlen("{\"type\":\"leaks\",\"ts\":2,\"interval_s\":1,\"events\":5,"
				      "\"events_lost\":0,\"lost\":{")),
		      "leaks record head: %s", out);
	ck_assert_ptr_nonnull(strstr(out, ",\"min_age_s\":"));
	ck_assert_str_eq(
		strstr(out, ",\"min_age_s\":"),
		",\"min_age_s\":1,\"processes\":[{"
		"\"pid\":42,\"comm\":\"leaky\",\"sites\":["
		"{\"stack\":[\"alloc_a+0x10\",\"tick+0x5\",\"main+0x30 (main.c:12)\","
		"\"__libc_start_call_main+0x7a\"],\"truncated\":false,\"blocks\":2,\"bytes\":150,\"oldest_age_s\":9,"
		"\"trend\":\"growing\",\"leak\":true,\"live_bytes_history\":[10,20,40,150]},"
		"{\"stack\":[\"alloc b;x+0x20 (b.c:7)\",\"main+0x30 (main.c:12)\"],\"truncated\":false,\"blocks\":1,"
		"\"bytes\":30,\"oldest_age_s\":7,\"trend\":\"leveled\",\"leak\":false,"
		"\"live_bytes_history\":[30,30,30,30]},"
		"{\"stack\":[\"0xdead\"],\"truncated\":false,\"blocks\":1,\"bytes\":7,\"oldest_age_s\":2,"
		"\"trend\":\"leveled\",\"leak\":false,\"live_bytes_history\":[7,7,7,7]}],\"more_sites\":0}]}\n");
	free(out);
	/* text: the same, readably */
	out = leaks_report(&m, false, S(10), S(1));
	ck_assert_str_eq(out, "leak report: blocks live for more than 1.0 s, by allocation site\n"
			      "\n42 (leaky):\n"
			      "  150 B in 2 blocks, oldest 9.0 s, growing: a leak\n"
			      "      alloc_a+0x10\n"
			      "      tick+0x5\n"
			      "      main+0x30 (main.c:12)\n"
			      "      __libc_start_call_main+0x7a\n"
			      "  30 B in 1 block, oldest 7.0 s, leveled: levels off, a cache\n"
			      "      alloc b;x+0x20 (b.c:7)\n"
			      "      main+0x30 (main.c:12)\n"
			      "  7 B in 1 block, oldest 2.0 s, leveled: levels off, a cache\n"
			      "      0xdead\n"
			      "\n");
	free(out);
	/* older than 8.5 s: alloc_a's first block; with nothing old, the process is listed in
	 * JSON with no site, and left out of the text */
	out = leaks_report(&m, true, S(10), S(8.5));
	ck_assert_ptr_nonnull(strstr(out, "\"min_age_s\":8.5,\"processes\":[{\"pid\":42,\"comm\":"
					  "\"leaky\",\"sites\":[{\"stack\":[\"alloc_a+0x10\","));
	ck_assert_ptr_nonnull(strstr(out, "\"blocks\":1,\"bytes\":100,\"oldest_age_s\":9,"));
	ck_assert_ptr_null(strstr(out, "alloc b"));
	free(out);
	out = leaks_report(&m, true, S(10), S(9.5));
	ck_assert_ptr_nonnull(strstr(
		out,
		"\"processes\":[{\"pid\":42,\"comm\":\"leaky\",\"sites\":[],\"more_sites\":0}]}\n"));
	free(out);
	out = leaks_report(&m, false, S(10), S(9.5));
	ck_assert_str_eq(out, "leak report: blocks live for more than 9.5 s, by allocation site\n"
			      "\n");
	free(out);
	/* the end of a run (2 s) shorter than --min-age 5: every live block, said so */
	lowered_from = 5;
	out = leaks_report(&m, false, S(10), 0);
	ck_assert_ptr_nonnull(strstr(out, "leak report: the run (2.0 s) was shorter than --min-age "
					  "5.0 s: every block still live, by allocation site\n"));
	ck_assert_ptr_nonnull(strstr(out, "alloc_a+0x10"));
	free(out);
	out = leaks_report(&m, true, S(10), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"min_age_s\":0,\"min_age_lowered_from_s\":5,"));
	free(out);
	lowered_from = 0;
	map_free(&m);
	rendering_free();
}
END_TEST

/* The "sites" object of a process in a record, cut out of the rendering */
static char *sites_object(struct ms_stackmap *m)
{
	struct ms_output o = { .json = true,
			       .stacks = m,
			       .sites = true,
			       .symbolize = fake_symbolize,
			       .symbolize_ctx = &sym_ctx };
	struct ms_report r = { .ts = 2.0, .interval_s = 2.0, .events = 5 };
	char *buf = NULL, *s, *e, *out;
	size_t len = 0;
	int depth = 0;

	o.f = open_memstream(&buf, &len);
	ms_output_report(&o, MS_REC_INTERVAL, &r, &stats);
	fclose(o.f);
	s = strstr(buf, "\"sites\":{");
	ck_assert_ptr_nonnull(s);
	for (e = s + strlen("\"sites\":"); *e; e++) {
		if (*e == '{')
			depth++;
		else if (*e == '}' && --depth == 0)
			break;
	}
	ck_assert_int_eq(*e, '}');
	out = strndup(s, (size_t)(e - s + 1));
	free(buf);
	return out;
}

START_TEST(sites_rankings)
{
	struct ms_stackmap m;
	struct ms_proc *p;
	char *out;

	rendering_setup("leaky");
	map_setup(&m, false);
	p = ms_stats_proc(&stats, PID, false);
	/* the previous report saw alloc_a's first block and tick's: one new of alloc_a, of
	 * alloc b and of 0xdead since, none of tick */
	ms_stats_mark(p);
	p->stack_sites->v[0].last_allocs = 1; /* alloc_a */
	p->stack_sites->v[1].last_allocs = 1; /* tick */
	p->stack_sites->v[2].last_allocs = 0; /* alloc b;x */
	p->stack_sites->v[3].last_allocs = 0; /* 0xdead */
	/* the peak (244 B at 3 s: 100 + 64 + 50 + 30) before tick's free; 0xdead came after;
	 * all four sites in each ranking (MS_TOP_SITES a ranking) */
	out = sites_object(&m);
/* The four sites as each ranking shows them */
#define SITE_A                                                                                            \
	"{\"stack\":[\"alloc_a+0x10\"],\"truncated\":false,\"allocs\":2,\"alloc_bytes\":150,\"frees\":0," \
	"\"live_allocs\":2,\"live_bytes\":150,\"allocs_per_s\":0.5,"                                      \
	"\"peak_contribution\":150,\"trend\":\"unknown\"}"
#define SITE_B                                                                                         \
	"{\"stack\":[\"alloc b;x+0x20 (b.c:7)\"],\"truncated\":false,\"allocs\":1,\"alloc_bytes\":30," \
	"\"frees\":0,\"live_allocs\":1,\"live_bytes\":30,\"allocs_per_s\":0.5,"                        \
	"\"peak_contribution\":30,\"trend\":\"unknown\"}"
#define SITE_DEAD                                                                                  \
	"{\"stack\":[\"0xdead\"],\"truncated\":false,\"allocs\":1,\"alloc_bytes\":7,\"frees\":0,"  \
	"\"live_allocs\":1,\"live_bytes\":7,\"allocs_per_s\":0.5,"                                 \
	"\"peak_contribution\":0,\"trend\":\"unknown\"}"
#define SITE_TICK                                                                                    \
	"{\"stack\":[\"tick+0x5\"],\"truncated\":false,\"allocs\":1,\"alloc_bytes\":64,\"frees\":1," \
	"\"live_allocs\":0,\"live_bytes\":0,\"allocs_per_s\":0,"                                     \
	"\"peak_contribution\":64,\"trend\":\"unknown\"}"
	ck_assert_str_eq(out,
			 "\"sites\":{"
			 "\"by_live_bytes\":[" SITE_A "," SITE_B "," SITE_DEAD "," SITE_TICK "],"
			 "\"by_allocs_per_s\":[" SITE_A "," SITE_B "," SITE_DEAD "," SITE_TICK "],"
			 "\"by_peak\":[" SITE_A "," SITE_TICK "," SITE_B "," SITE_DEAD "],"
			 "\"untracked\":0,\"stacks\":4,\"truncated_stacks\":0,"
			 "\"stack_allocs\":5,\"truncated_allocs\":0}");
#undef SITE_A
#undef SITE_B
#undef SITE_DEAD
#undef SITE_TICK
	free(out);
	ck_assert_uint_eq(p->c.peak_bytes, 244);
	map_free(&m);
	rendering_free();
}
END_TEST

Suite *sites_suite(void)
{
	Suite *s = suite_create("sites");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, grouping_by_stack_and_caller);
	tcase_add_test(tc, grouping_cap);
	tcase_add_test(tc, check_truncates_at_non_code);
	tcase_add_test(tc, peak_contribution_epochs);
	tcase_add_test(tc, peak_contribution_random);
	tcase_add_test(tc, peak_contribution_via_stats);
	tcase_add_test(tc, trend_crafted);
	tcase_add_test(tc, trend_ring_wrap);
	tcase_add_test(tc, trend_names);
	tcase_add_test(tc, leaks_cut_sort_bytes);
	tcase_add_test(tc, leaks_ties_and_sizes);
	tcase_add_test(tc, leaks_many_blocks);
	tcase_add_test(tc, stackmap_frames);
	tcase_add_test(tc, folded_caller_only);
	tcase_add_test(tc, folded_stacks);
	tcase_add_test(tc, folded_by_function);
	tcase_add_test(tc, folded_comm_sanitized);
	tcase_add_test(tc, folded_two_processes);
	tcase_add_test(tc, leaks_record);
	tcase_add_test(tc, sites_rankings);
	suite_add_tcase(s, tc);
	return s;
}
