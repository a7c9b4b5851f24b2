/* test_patterns.c: allocation patterns and findings (pools, pool and slab candidates) from
 * synthetic event streams, every figure asserted */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "catalog.h"
#include "findings.h"
#include "output.h"
#include "patterns.h"
#include "presets.h"
#include "stats.h"
#include "unit.h"

#define PID 10
#define MS 1000000ULL /* ns */

static struct ms_catalog *cat; /* each test's own: setup to teardown */
static struct ms_stats st;
static bool from_start; /* the process was traced from its exec (else: attached to it) */
static int f_malloc, f_free, f_realloc, f_palloc, f_pfree, f_aalloc;
static int a_pool, a_arena;
static uint64_t now; /* the clock of the helpers without an explicit time */

static void setup(void)
{
	struct ms_func fs[] = {
		{ .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC },
		{ .name = "free", .allocator = 1, .kind = MS_FN_FREE },
		{ .name = "realloc", .allocator = 1, .kind = MS_FN_REALLOC },
		{ .name = "pool_alloc", .kind = MS_FN_ALLOC },
		{ .name = "pool_free", .kind = MS_FN_FREE },
		{ .name = "arena_alloc", .kind = MS_FN_ALLOC },
	};

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	a_pool = ms_catalog_allocator_id(cat, "objpool", MS_AK_CUSTOM);
	a_arena = ms_catalog_allocator_id(cat, "arena", MS_AK_CUSTOM);
	ck_assert_int_eq(a_pool, 2);
	ck_assert_int_eq(a_arena, 3);
	fs[3].allocator = fs[4].allocator = a_pool;
	fs[5].allocator = a_arena;
	f_malloc = ms_catalog_add_func(cat, &fs[0]);
	f_free = ms_catalog_add_func(cat, &fs[1]);
	f_realloc = ms_catalog_add_func(cat, &fs[2]);
	f_palloc = ms_catalog_add_func(cat, &fs[3]);
	f_pfree = ms_catalog_add_func(cat, &fs[4]);
	f_aalloc = ms_catalog_add_func(cat, &fs[5]);
	ck_assert_int_gt(f_aalloc, 0);
	ms_stats_init(&st, cat, NULL, NULL);
	now = 0;
	from_start = true;
}

static void teardown(void)
{
	ms_stats_free(&st);
	ms_catalog_free(cat);
}

/* One record of process pid; outer: the enclosing call's function (nested: backing) */
static void put(pid_t pid, uint8_t type, int func, int outer, uint64_t ts, uint64_t ptr,
		uint64_t size, uint64_t ret, uint64_t caller)
{
	struct ms_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.func = func;
	e.tgid = pid;
	e.tid = pid;
	e.ts_ns = ts;
	e.a.ptr = ptr;
	e.a.size = size;
	e.a.ret = ret;
	e.stack_id = -1;
	e.caller = caller;
	if (outer) {
		e.flags = MS_EVF_NESTED;
		e.outer_func = outer;
	}
	ms_stats_apply(&st, &e);
	if (ms_stats_proc(&st, pid, false))
		ms_stats_proc(&st, pid, false)->from_start = from_start;
}

/* libc user calls of process PID */
static void mal_at(uint64_t ts, uint64_t ptr, uint64_t size)
{
	put(PID, MS_EV_ALLOC, f_malloc, 0, ts, ptr, size, 0, 0);
}

static void fre_at(uint64_t ts, uint64_t ptr)
{
	put(PID, MS_EV_FREE, f_free, 0, ts, ptr, 0, 0, 0);
}

static void mal(uint64_t ptr, uint64_t size)
{
	mal_at(++now, ptr, size);
}

static void fre(uint64_t ptr)
{
	fre_at(++now, ptr);
}

/* malloc from the call site caller (the return address the probe reads) */
static void mal_from(uint64_t caller, uint64_t ptr, uint64_t size)
{
	put(PID, MS_EV_ALLOC, f_malloc, 0, ++now, ptr, size, 0, caller);
}

/* realloc(old, size) returning new, entry and return records */
static void rea(uint64_t old, uint64_t size, uint64_t new)
{
	put(PID, MS_EV_REALLOC_ENTER, f_realloc, 0, ++now, old, size, 0, 0);
	put(PID, MS_EV_REALLOC, f_realloc, 0, ++now, old, size, new, 0);
}

/* the pool's user calls */
static void obj(uint64_t ptr, uint64_t size)
{
	put(PID, MS_EV_ALLOC, f_palloc, 0, ++now, ptr, size, 0, 0);
}

static void obj_free(uint64_t ptr)
{
	put(PID, MS_EV_FREE, f_pfree, 0, ++now, ptr, 0, 0, 0);
}

/* the pool's backing: malloc inside pool_alloc, free inside pool_free */
static void chunk(uint64_t ptr, uint64_t size)
{
	put(PID, MS_EV_ALLOC, f_malloc, f_palloc, ++now, ptr, size, 0, 0x401000);
}

static void chunk_free(uint64_t ptr)
{
	put(PID, MS_EV_FREE, f_free, f_pfree, ++now, ptr, 0, 0, 0);
}

/* n times malloc(size) at ptr, freed life ns later */
static void churn(uint64_t ptr, uint64_t size, uint64_t life, unsigned n)
{
	while (n--) {
		mal_at(++now, ptr, size);
		now += life;
		fre_at(now, ptr);
	}
}

static struct ms_proc *proc(void)
{
	struct ms_proc *p = ms_stats_proc(&st, PID, false);

	ck_assert_ptr_nonnull(p);
	return p;
}

static struct ms_side *side(unsigned id, bool backing)
{
	struct ms_astats *a = ms_proc_allocator(proc(), id);

	ck_assert_ptr_nonnull(a);
	return backing ? &a->backing : &a->user;
}

static struct ms_patterns *pat(unsigned id, bool backing)
{
	struct ms_side *d = side(id, backing);

	ck_assert_ptr_nonnull(d->pat);
	return d->pat;
}

/* The class of size in the user side of allocator id */
static const struct ms_class *cls(unsigned id, uint64_t size)
{
	return &pat(id, false)->cls[ms_size_bucket(size)];
}

#define CLASS_EQ(c, a, ab, f, la, lb, pk, tmp)                                                     \
	do {                                                                                       \
		const struct ms_class *c_ = (c);                                                   \
		ck_assert_uint_eq(c_->allocs, a);                                                  \
		ck_assert_uint_eq(c_->alloc_bytes, ab);                                            \
		ck_assert_uint_eq(c_->frees, f);                                                   \
		ck_assert_uint_eq(c_->live_allocs, la);                                            \
		ck_assert_uint_eq(c_->live_bytes, lb);                                             \
		ck_assert_uint_eq(c_->peak_bytes, pk);                                             \
		ck_assert_uint_eq(c_->temporary, tmp);                                             \
	} while (0)

static uint64_t total_temporary(unsigned id)
{
	const struct ms_patterns *q = pat(id, false);
	uint64_t t = 0;
	unsigned k;

	for (k = 0; k < MS_CLASSES; k++)
		t += q->cls[k].temporary;
	return t;
}

/* ---- findings helpers ---- */

static struct ms_finding fnd[32];

static int fake_sym(pid_t pid, uint64_t addr, char *name, size_t len, void *ctx)
{
	ck_assert_int_eq(pid, PID);
	if (addr == 0x401234) {
		snprintf(name, len, "chunk_owner+0x1c");
		return 0;
	}
	if (addr == 0x402000) {
		snprintf(name, len, "grow_arena");
		return 0;
	}
	if (addr == 0x401240) {
		snprintf(name, len, "chunk_owner+0x2c (owner.c:12)");
		return 0;
	}
	if (addr == 0x405000) { /* in an object, no symbol */
		snprintf(name, len, "libx.so+0x1234");
		return 1;
	}
	return -ENOENT;
}

/* The objects of the call sites: 0x7f.. in the dynamic loader, 0x7e.. in libc, 0x7d.. in a
 * library with a known allocator (built by the test), the rest in the program */
static char allocator_lib[256];

static int fake_obj(pid_t pid, uint64_t addr, char *path, size_t len, void *ctx)
{
	ck_assert_int_eq(pid, PID);
	if (addr >> 40 == 0x7f)
		snprintf(path, len, "/lib64/ld-linux-x86-64.so.2");
	else if (addr >> 40 == 0x7e)
		snprintf(path, len, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	else if (addr >> 40 == 0x7d)
		snprintf(path, len, "%s", allocator_lib);
	else if (addr >> 40 == 0x7c)
		return -ENOENT;
	else
		snprintf(path, len, "/proc/self/exe");
	return 0;
}

static unsigned find_opts(const struct ms_pool_opts *o)
{
	return ms_find(cat, proc(), o, fake_sym, fake_obj, NULL, fnd, 32);
}

static unsigned find(void)
{
	struct ms_pool_opts o = MS_POOL_OPTS_DEFAULT;

	return find_opts(&o);
}

/* The evidence keys of f, joined by ',' */
static const char *ev_keys(const struct ms_finding *f)
{
	static char s[512];
	size_t n = 0;
	unsigned i;

	s[0] = '\0';
	for (i = 0; i < f->nev; i++)
		n += snprintf(s + n, sizeof(s) - n, "%s%s", i ? "," : "", f->ev[i].key);
	return s;
}

static double ev(const struct ms_finding *f, const char *key)
{
	unsigned i;

	for (i = 0; i < f->nev; i++)
		if (!strcmp(f->ev[i].key, key))
			return f->ev[i].value;
	ck_abort_msg("no evidence '%s' in %s", key, f->name);
	return -1;
}

#define POOL_KEYS                                                                                  \
	"objects,live_objects,live_object_bytes,chunks,live_chunks,backing_bytes,"                 \
	"backing_live_bytes,chunk_size,objects_per_chunk,utilization,hit_ratio,"                   \
	"backing_growth_bytes"
#define SITE_KEYS "chunk_size,chunks,live_chunks,live_bytes"
#define SLAB_KEYS                                                                                  \
	"class,allocs,share,frees,median_lifetime_lt_ns,temporary,peak_bytes,recycling_ratio"

/* Renders the records of st: JSON or text, interval or final */
static char *render(bool json, enum ms_record_kind kind)
{
	struct ms_report r = { .ts = 2.0, .interval_s = 1.0, .events = 5 };
	struct ms_output o = { .json = json, .pool = MS_POOL_OPTS_DEFAULT };
	char *buf = NULL;
	size_t len = 0;

	o.symbolize = fake_sym;
	o.f = open_memstream(&buf, &len);
	ms_output_report(&o, kind, &r, &st);
	fclose(o.f);
	return buf;
}

/* The text of out from the first from to the first to after it (to excluded) */
static char *between(const char *out, const char *from, const char *to)
{
	const char *a = strstr(out, from), *b;
	char *s;

	ck_assert_msg(a != NULL, "no '%s' in %s", from, out);
	b = strstr(a, to);
	ck_assert_msg(b != NULL, "no '%s' after '%s' in %s", to, from, out);
	s = strndup(a, b - a);
	ck_assert_ptr_nonnull(s);
	return s;
}

#define STR_EQ_LONG(got, expected)                                                                 \
	do {                                                                                       \
		const char *g_ = (got), *e_ = (expected);                                          \
		size_t n_;                                                                         \
		for (n_ = 0; g_[n_] && g_[n_] == e_[n_]; n_++)                                     \
			;                                                                          \
		ck_assert_msg(!g_[n_] && !e_[n_],                                                  \
			      "differs at %zu: got '%.100s', expected '%.100s'", n_, g_ + n_,      \
			      e_ + n_);                                                            \
	} while (0)

/* ================================================================ patterns */

/* Per power-of-two class: allocations, bytes, frees, live, peak, of each allocator apart */
START_TEST(size_classes)
{
	mal(0x1000, 0);	   /* class 0 */
	mal(0x2000, 1);	   /* class 1 */
	mal(0x3000, 40);   /* class 32 */
	mal(0x4000, 63);   /* class 32 */
	mal(0x5000, 64);   /* class 64 */
	mal(0x6000, 4096); /* class 4096 */
	fre(0x3000);
	mal(0x7000, 32); /* class 32: live 63 + 32 = 95, below the peak of 103 */
	obj(0x8000, 40); /* the pool's class 32, not libc's */
	CLASS_EQ(cls(1, 0), 1, 0, 0, 1, 0, 0, 0);
	CLASS_EQ(cls(1, 1), 1, 1, 0, 1, 1, 1, 0);
	CLASS_EQ(cls(1, 32), 3, 135, 1, 2, 95, 103, 0);
	CLASS_EQ(cls(1, 64), 1, 64, 0, 1, 64, 64, 0);
	CLASS_EQ(cls(1, 4096), 1, 4096, 0, 1, 4096, 4096, 0);
	CLASS_EQ(cls(a_pool, 32), 1, 40, 0, 1, 40, 40, 0);
	ck_assert_uint_eq(ms_size_bucket(40), ms_size_bucket(63));
	ck_assert_uint_ne(ms_size_bucket(63), ms_size_bucket(64));
	/* everything freed: live back to 0, peaks stay */
	fre(0x1000);
	fre(0x2000);
	fre(0x4000);
	fre(0x5000);
	fre(0x6000);
	fre(0x7000);
	obj_free(0x8000);
	CLASS_EQ(cls(1, 0), 1, 0, 1, 0, 0, 0, 0);
	CLASS_EQ(cls(1, 1), 1, 1, 1, 0, 0, 1, 0);
	/* 0x7000 had one allocation (the pool's object) after it: temporary */
	CLASS_EQ(cls(1, 32), 3, 135, 3, 0, 0, 103, 1);
	CLASS_EQ(cls(1, 64), 1, 64, 1, 0, 0, 64, 0);
	CLASS_EQ(cls(1, 4096), 1, 4096, 1, 0, 0, 4096, 0);
	CLASS_EQ(cls(a_pool, 32), 1, 40, 1, 0, 0, 40, 1); /* freed right after: temporary */
	/* no other class was touched */
	{
		const struct ms_patterns *q = pat(1, false);
		uint64_t n = 0;
		unsigned k;

		for (k = 0; k < MS_CLASSES; k++)
			n += q->cls[k].allocs;
		ck_assert_uint_eq(n, 7);
	}
}
END_TEST

/* Temporary: freed while one of the process' last two user allocations */
START_TEST(temporary)
{
	/* freed right after its allocation */
	mal(0xa000, 16);
	fre(0xa000);
	ck_assert_uint_eq(total_temporary(1), 1);
	/* one allocation in between */
	mal(0xb000, 16);
	mal(0xc000, 16);
	fre(0xb000);
	ck_assert_uint_eq(total_temporary(1), 2);
	/* two in between: not temporary */
	mal(0xd000, 16);
	mal(0xe000, 16);
	mal(0xf000, 16);
	fre(0xd000);
	ck_assert_uint_eq(total_temporary(1), 2);
	/* 0xe000 has one allocation (0xf000) after it: temporary; so has 0xf000 (none) */
	fre(0xe000);
	fre(0xf000);
	ck_assert_uint_eq(total_temporary(1), 4);
	/* frees do not push anything out: 0xc000 is no longer among the last two */
	fre(0xc000);
	ck_assert_uint_eq(total_temporary(1), 4);
	/* address reuse: 0xa000 comes back as a new block, freed at once */
	mal(0xa000, 16);
	fre(0xa000);
	ck_assert_uint_eq(total_temporary(1), 5);
	/* a block allocated long ago at an address that comes back: the new block is the
	 * recent one, the old one was freed long ago (not temporary) */
	mal(0x10000, 16);
	mal(0x11000, 16);
	mal(0x12000, 16);
	fre(0x10000); /* not temporary */
	mal(0x10000, 16);
	mal(0x13000, 16);
	fre(0x10000); /* temporary: one allocation in between */
	ck_assert_uint_eq(total_temporary(1), 6);
	fre(0x11000); /* not */
	fre(0x12000); /* not */
	fre(0x13000); /* temporary */
	ck_assert_uint_eq(total_temporary(1), 7);
	CLASS_EQ(cls(1, 16), 12, 192, 12, 0, 0, 64, 7);

	/* backing allocations are not user allocations: not "in between" */
	mal(0x20000, 100);
	chunk(0x30000, 4096);
	chunk(0x31000, 4096);
	chunk(0x32000, 4096);
	fre(0x20000);
	CLASS_EQ(cls(1, 100), 1, 100, 1, 0, 0, 100, 1);
	/* a backing block freed right after its allocation is not counted: temporaries are
	 * user figures */
	chunk_free(0x32000);
	ck_assert_uint_eq(pat(a_pool, true)->cls[ms_size_bucket(4096)].temporary, 0);
	ck_assert_uint_eq(pat(a_pool, true)->cls[ms_size_bucket(4096)].frees, 1);

	/* user allocations of another allocator of the process are in between */
	mal(0x21000, 100);
	obj(0x40000, 100);
	obj(0x40100, 100);
	fre(0x21000);
	CLASS_EQ(cls(1, 100), 2, 200, 2, 0, 0, 100, 1);
	obj_free(0x40000); /* one in between */
	CLASS_EQ(cls(a_pool, 100), 2, 200, 1, 1, 100, 200, 1);

	/* another process' allocations are not: each process has its own last two */
	mal(0x22000, 100);
	put(PID + 1, MS_EV_ALLOC, f_malloc, 0, ++now, 0x50000, 100, 0, 0);
	put(PID + 1, MS_EV_ALLOC, f_malloc, 0, ++now, 0x51000, 100, 0, 0);
	put(PID + 1, MS_EV_FREE, f_free, 0, ++now, 0x50000, 0, 0, 0);
	fre(0x22000);
	CLASS_EQ(cls(1, 100), 3, 300, 3, 0, 0, 100, 2);
	ck_assert_uint_eq(ms_stats_proc(&st, PID + 1, false)
				  ->alloc[1]
				  .user.pat->cls[ms_size_bucket(100)]
				  .temporary,
			  1);

	/* realloc is a free of the old block and an allocation of the new: moving the most
	 * recent block frees it while it is the last allocation */
	mal(0x23000, 200);
	rea(0x23000, 300, 0x24000);
	CLASS_EQ(cls(1, 200), 1, 200, 1, 0, 0, 200, 1);
	fre(0x24000);
	CLASS_EQ(cls(1, 300), 1, 300, 1, 0, 0, 300, 1);
	/* a failed allocation is no allocation */
	mal(0x25000, 200);
	mal(0x26000, 200);
	put(PID, MS_EV_ALLOC, f_malloc, 0, ++now, 0, 200, 0, 0); /* NULL */
	mal_at(++now, 0, 200);
	fre(0x25000); /* one in between */
	CLASS_EQ(cls(1, 200), 3, 600, 2, 1, 200, 400, 2);
}
END_TEST

/* Lifetime: alloc record (at the return) to free record (at the entry), bucket edges */
START_TEST(lifetime_buckets)
{
	static const struct {
		uint64_t life;
		unsigned bucket;
	} cases[] = {
		{ 0, 0 },
		{ 999, 0 },
		{ 1000, 1 },
		{ 9999, 1 },
		{ 10000, 2 },
		{ 99999, 2 },
		{ 100000, 3 },
		{ 999999, 3 },
		{ 1000000, 4 },
		{ 9999999, 4 },
		{ 10000000, 5 },
		{ 99999999, 5 },
		{ 100000000, 6 },
		{ 999999999, 6 },
		{ 1000000000, 7 },
		{ 9999999999ULL, 7 },
		{ 10000000000ULL, 8 },
		{ 1000000000000ULL, 8 },
	};
	static const char *const names[MS_LIFE_BUCKETS] = {
		"<1us", "<10us", "<100us", "<1ms", "<10ms", "<100ms", "<1s", "<10s", ">=10s",
	};
	uint64_t expect[MS_LIFE_BUCKETS] = { 0 }, t = 5000000000000ULL;
	const struct ms_class *c;
	unsigned i, b;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_uint_eq(ms_life_bucket(cases[i].life), cases[i].bucket);
		mal_at(t, 0x1000 + i * 0x100, 100);
		fre_at(t + cases[i].life, 0x1000 + i * 0x100);
		expect[cases[i].bucket]++;
		t += cases[i].life + 1;
	}
	/* a free record stamped before its alloc record (CPUs' clocks): 0, the first bucket */
	mal_at(t, 0x9000, 100);
	fre_at(t - 10, 0x9000);
	expect[0]++;
	c = cls(1, 100);
	for (b = 0; b < MS_LIFE_BUCKETS; b++) {
		ck_assert_msg(c->lifetime[b] == expect[b], "bucket %s: got %llu, expected %llu",
			      names[b], (unsigned long long)c->lifetime[b],
			      (unsigned long long)expect[b]);
		ck_assert_str_eq(ms_life_bucket_name(b), names[b]);
	}
	ck_assert_uint_eq(c->frees, 19);
	/* per class: a block of another class lands in its own class */
	mal_at(t, 0xa000, 5000);
	fre_at(t + 5 * MS, 0xa000);
	ck_assert_uint_eq(cls(1, 5000)->lifetime[4], 1);
	ck_assert_uint_eq(cls(1, 100)->lifetime[4], 2);
	/* the limits */
	ck_assert_uint_eq(ms_life_bucket_limit(0), 1000);
	ck_assert_uint_eq(ms_life_bucket_limit(3), 1000000);
	ck_assert_uint_eq(ms_life_bucket_limit(7), 10000000000ULL);
	ck_assert_uint_eq(ms_life_bucket_limit(8), UINT64_MAX);
	ck_assert_uint_eq(ms_life_bucket(UINT64_MAX), 8);
	ck_assert_str_eq(ms_life_bucket_name(9), "?");
	/* the backing's lifetimes are kept apart */
	chunk(0x30000, 4096);
	now += 2 * MS;
	chunk_free(0x30000);
	ck_assert_uint_eq(pat(a_pool, true)->cls[ms_size_bucket(4096)].lifetime[4], 1);
}
END_TEST

/* The median lifetime bucket: the first whose running count reaches half */
START_TEST(median_bucket)
{
	struct ms_class c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(ms_class_median_bucket(&c), -1);
	c.lifetime[5] = 1;
	ck_assert_int_eq(ms_class_median_bucket(&c), 5);
	c.lifetime[0] = 2;
	c.lifetime[3] = 1;
	c.lifetime[5] = 1; /* 2 of 4 in the first bucket: half */
	ck_assert_int_eq(ms_class_median_bucket(&c), 0);
	c.lifetime[0] = 1;
	c.lifetime[3] = 2; /* 1, then 3 of 4 */
	ck_assert_int_eq(ms_class_median_bucket(&c), 3);
	memset(&c, 0, sizeof(c));
	c.lifetime[8] = 3;
	ck_assert_int_eq(ms_class_median_bucket(&c), 8);
}
END_TEST

/* An address back: same size or another, after how many allocations of its side */
START_TEST(reuse)
{
	const struct ms_patterns *q;

	mal(0x1000, 64);
	fre(0x1000);
	mal(0x1000, 64); /* same size, nothing in between: distance 0 */
	fre(0x1000);
	mal(0x2000, 10);
	mal(0x1000, 100); /* another size (same class 64), distance 1 */
	fre(0x1000);
	mal(0x3000, 10);
	mal(0x3100, 10);
	mal(0x3200, 10);
	mal(0x1000, 100); /* same size as freed, distance 3: bucket [2, 4) */
	fre(0x1000);
	mal(0x4000, 10);
	mal(0x4100, 10);
	mal(0x4200, 10);
	mal(0x4300, 10);
	mal(0x1000, 100); /* distance 4: bucket [4, 8) */
	fre(0x1000);
	mal(0x1000, 5000); /* another class: counted in the new size's class */
	q = pat(1, false);
	ck_assert_uint_eq(cls(1, 64)->reused_same, 3);
	ck_assert_uint_eq(cls(1, 64)->reused_other, 1);
	ck_assert_uint_eq(cls(1, 5000)->reused_same, 0);
	ck_assert_uint_eq(cls(1, 5000)->reused_other, 1);
	ck_assert_uint_eq(cls(1, 10)->reused_same + cls(1, 10)->reused_other, 0);
	ck_assert_uint_eq(q->reuse_distance[0], 2);
	ck_assert_uint_eq(q->reuse_distance[1], 1);
	ck_assert_uint_eq(q->reuse_distance[2], 1);
	ck_assert_uint_eq(q->reuse_distance[3], 1);
	ck_assert_uint_eq(q->reuse_distance[4], 0);

	/* allocations of other sides and allocators are not counted in the distance */
	fre(0x1000);
	obj(0x50000, 32);
	obj(0x50100, 32);
	chunk(0x60000, 4096);
	chunk(0x61000, 4096);
	mal(0x1000, 5000); /* same size, distance 0 */
	ck_assert_uint_eq(cls(1, 5000)->reused_same, 1);
	ck_assert_uint_eq(q->reuse_distance[0], 3);
	/* a user block's address taken by the backing is not a reuse on either side */
	mal(0x70000, 4096);
	fre(0x70000);
	chunk(0x70000, 4096);
	ck_assert_uint_eq(pat(a_pool, true)->cls[ms_size_bucket(4096)].reused_same, 0);
	ck_assert_uint_eq(pat(a_pool, true)->cls[ms_size_bucket(4096)].reused_other, 0);
	/* ... but the backing's own addresses coming back are, on the backing side */
	chunk_free(0x60000);
	chunk(0x60000, 4096);
	ck_assert_uint_eq(pat(a_pool, true)->cls[ms_size_bucket(4096)].reused_same, 1);
	ck_assert_uint_eq(pat(a_pool, true)->reuse_distance[0], 1);
	ck_assert_uint_eq(q->reuse_distance[0], 3);

	/* a moving realloc frees the old address: it can come back */
	mal(0x80000, 10);
	rea(0x80000, 20, 0x81000);
	mal(0x80000, 10); /* same size as the old block; the realloc's new block between */
	ck_assert_uint_eq(cls(1, 10)->reused_same, 1);
	ck_assert_uint_eq(q->reuse_distance[1], 2);
	/* in place: the block stays, no reuse */
	rea(0x81000, 30, 0x81000);
	ck_assert_uint_eq(cls(1, 30)->reused_same + cls(1, 30)->reused_other, 0);
	/* allocated twice without a free in between (a lost free): not a reuse */
	mal(0x90000, 10);
	mal(0x90000, 10);
	ck_assert_uint_eq(cls(1, 10)->reused_same, 1);
	/* 0x2000, 0x3000-0x3200, 0x4000-0x4300, 0x80000 and 0x90000 */
	ck_assert_uint_eq(cls(1, 10)->live_allocs, 10);

	/* the buckets: 0, then [2^k, 2^(k+1)) as bucket k + 1, the last one open */
	ck_assert_uint_eq(ms_reuse_bucket(0), 0);
	ck_assert_uint_eq(ms_reuse_bucket(1), 1);
	ck_assert_uint_eq(ms_reuse_bucket(2), 2);
	ck_assert_uint_eq(ms_reuse_bucket(3), 2);
	ck_assert_uint_eq(ms_reuse_bucket(4), 3);
	ck_assert_uint_eq(ms_reuse_bucket(7), 3);
	ck_assert_uint_eq(ms_reuse_bucket(8), 4);
	ck_assert_uint_eq(ms_reuse_bucket(1ULL << 30), 31);
	ck_assert_uint_eq(ms_reuse_bucket((1ULL << 31) - 1), 31);
	ck_assert_uint_eq(ms_reuse_bucket(1ULL << 31), 32);
	ck_assert_uint_eq(ms_reuse_bucket(1ULL << 40), 32);
	ck_assert_uint_eq(ms_reuse_bucket(UINT64_MAX), 32);
}
END_TEST

/* Reuse distances over the whole range of a side's allocation count */
START_TEST(reuse_distance_long)
{
	const struct ms_patterns *q;
	unsigned i;

	mal(0x1000, 8);
	fre(0x1000);
	for (i = 0; i < 1000; i++)
		mal(0x100000 + i * 16, 8);
	mal(0x1000, 8); /* 1000 allocations in between: [512, 1024) */
	q = pat(1, false);
	ck_assert_uint_eq(q->reuse_distance[10], 1);
	ck_assert_uint_eq(cls(1, 8)->reused_same, 1);
}
END_TEST

/* Small: <= 256 bytes; large: >= 128 KiB */
START_TEST(small_large)
{
	const struct ms_patterns *q;

	mal(0x1000, 0);
	mal(0x2000, 256);
	mal(0x3000, 257);
	mal(0x4000, 131071);
	mal(0x5000, 131072);
	mal(0x6000, 1ULL << 30);
	q = pat(1, false);
	ck_assert_uint_eq(q->small, 2);
	ck_assert_uint_eq(q->large, 2);
	/* reallocs count their new blocks */
	rea(0x1000, 131072, 0x7000);
	ck_assert_uint_eq(q->small, 2);
	ck_assert_uint_eq(q->large, 3);
	/* frees change neither */
	fre(0x2000);
	ck_assert_uint_eq(q->small, 2);
	/* other allocators have their own */
	obj(0x8000, 100);
	ck_assert_uint_eq(pat(a_pool, false)->small, 1);
	ck_assert_uint_eq(q->small, 2);
	ck_assert_uint_eq(MS_SMALL_MAX, 256);
	ck_assert_uint_eq(MS_LARGE_MIN, 131072);
}
END_TEST

/* The JSON patterns object: every figure, shares, recycling ratio, interval after a mark */
START_TEST(patterns_json)
{
	const char *expected;
	char *out, *got;
	uint64_t t;

	/* 10 x 40 bytes at one address, each living 500 ns */
	churn(0x1000, 40, 500, 10);
	/* two blocks of 100, one freed after 2 ms, then another: recycling 300 / 200 */
	t = now + 1;
	mal_at(t, 0x2000, 100);
	mal_at(t + 1, 0x3000, 100);
	fre_at(t + 2 * MS, 0x2000);
	mal_at(t + 2 * MS + 1, 0x5000, 100);
	now = t + 3 * MS;
	ms_stats_mark(proc());
	/* after the mark: one large block, freed at once */
	mal(0x100000, 300000);
	fre(0x100000);
	strcpy(proc()->comm, "pat");
	out = render(true, MS_REC_INTERVAL);
	got = between(out, "\"patterns\":", "}]}\n");
	expected =
		"\"patterns\":{\"allocs\":14,\"small_allocs\":13,\"large_allocs\":1,"
		"\"small_share\":0.9285714286,\"large_share\":0.07142857143,\"temporary\":12,"
		"\"temporary_share\":0.8571428571,\"interval\":{\"allocs\":1,\"temporary\":1},"
		"\"size_classes\":["
		"{\"class\":32,\"allocs\":10,\"alloc_bytes\":400,\"frees\":10,"
		"\"live_allocs\":0,\"live_bytes\":0,\"peak_bytes\":40,\"temporary\":10,"
		"\"recycling_ratio\":10,\"median_lifetime\":\"<1us\",\"lifetime\":{\"<1us\":10},"
		"\"reused_same_size\":9,\"reused_other_size\":0},"
		"{\"class\":64,\"allocs\":3,\"alloc_bytes\":300,\"frees\":1,"
		"\"live_allocs\":2,\"live_bytes\":200,\"peak_bytes\":200,\"temporary\":1,"
		"\"recycling_ratio\":1.5,\"median_lifetime\":\"<10ms\",\"lifetime\":{\"<10ms\":1},"
		"\"reused_same_size\":0,\"reused_other_size\":0},"
		"{\"class\":262144,\"allocs\":1,\"alloc_bytes\":300000,\"frees\":1,"
		"\"live_allocs\":0,\"live_bytes\":0,\"peak_bytes\":300000,\"temporary\":1,"
		"\"recycling_ratio\":1,\"median_lifetime\":\"<1us\",\"lifetime\":{\"<1us\":1},"
		"\"reused_same_size\":0,\"reused_other_size\":0}],"
		"\"reuse\":{\"reused\":9,\"same_size\":9,\"other_size\":0,"
		"\"distance_hist\":{\"0\":9}}},\"pools\":[]";
	STR_EQ_LONG(got, expected);
	free(got);
	free(out);
}
END_TEST

/* The process' patterns sum its allocators' users (never a backing) */
START_TEST(patterns_json_sum)
{
	char *out, *got;

	mal(0x1000, 40);
	obj(0x2000, 40);
	obj(0x2100, 40);
	chunk(0x3000, 40); /* backing: not in the patterns */
	obj_free(0x2100);
	fre(0x1000); /* two user allocations in between: not temporary */
	out = render(true, MS_REC_INTERVAL);
	got = between(out, "\"patterns\":", ",\"reuse\"");
	STR_EQ_LONG(got, "\"patterns\":{\"allocs\":3,\"small_allocs\":3,\"large_allocs\":0,"
			 "\"small_share\":1,\"large_share\":0,\"temporary\":1,"
			 "\"temporary_share\":0.3333333333,\"interval\":{\"allocs\":3,"
			 "\"temporary\":1},\"size_classes\":[{\"class\":32,\"allocs\":3,"
			 "\"alloc_bytes\":120,\"frees\":2,\"live_allocs\":1,\"live_bytes\":40,"
			 /* the peaks of the two allocators, summed */
			 "\"peak_bytes\":120,\"temporary\":1,\"recycling_ratio\":1,"
			 "\"median_lifetime\":\"<1us\",\"lifetime\":{\"<1us\":2},"
			 "\"reused_same_size\":0,\"reused_other_size\":0}]");
	free(got);
	free(out);
}
END_TEST

/* ================================================================ findings */

/* slab_candidate: share >= 0.8 of the process' allocations, not 0.799 */
START_TEST(slab_share_edge)
{
	unsigned i;

	churn(0x1000, 40, 500, 799);
	for (i = 0; i < 201; i++)
		mal(0x100000 + i * 0x100, 200);
	ck_assert_uint_eq(proc()->c.allocs, 1000);
	ck_assert_uint_eq(find(), 0);
	/* one more in the class (and one fewer elsewhere, in another process' figures) */
	teardown();
	setup();
	churn(0x1000, 40, 500, 800);
	for (i = 0; i < 200; i++)
		mal(0x100000 + i * 0x100, 200);
	ck_assert_uint_eq(find(), 1);
	ck_assert_int_eq(fnd[0].kind, MS_FIND_SLAB_CANDIDATE);
	ck_assert_str_eq(ms_finding_kind_name(fnd[0].kind), "slab_candidate");
	ck_assert_str_eq(fnd[0].name, "32 B-63 B");
	ck_assert_str_eq(ev_keys(&fnd[0]), SLAB_KEYS);
	ck_assert_double_eq(ev(&fnd[0], "class"), 32);
	ck_assert_double_eq(ev(&fnd[0], "allocs"), 800);
	ck_assert_double_eq(ev(&fnd[0], "share"), 0.8);
	ck_assert_double_eq(ev(&fnd[0], "frees"), 800);
	ck_assert_double_eq(ev(&fnd[0], "median_lifetime_lt_ns"), 1000);
	ck_assert_double_eq(ev(&fnd[0], "temporary"), 800);
	ck_assert_double_eq(ev(&fnd[0], "peak_bytes"), 40);
	ck_assert_double_eq(ev(&fnd[0], "recycling_ratio"), 800);
	ck_assert_str_eq(fnd[0].advice,
			 "80% of allocations (800) are 32 B-63 B and the median one lives <1us; a "
			 "free list or slab of 63 B objects would serve them without the allocator "
			 "(recycling ratio 800)");
}
END_TEST

/* The share is of the process' allocations, all allocators' users together */
START_TEST(slab_share_of_process)
{
	unsigned i;

	churn(0x1000, 40, 500, 800);
	for (i = 0; i < 200; i++)
		obj(0x100000 + i * 0x100, 200); /* the pool's: 1000 in the process */
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(&fnd[0], "share"), 0.8);
	obj(0x200000, 200); /* 800 of 1001 */
	ck_assert_uint_eq(find(), 0);
	/* backing allocations are not the process' */
	teardown();
	setup();
	churn(0x1000, 40, 500, 800);
	obj(0x100000, 8);
	for (i = 0; i < 500; i++)
		chunk(0x200000 + i * 0x1000, 4096);
	for (i = 0; i < 199; i++)
		mal(0x100000 + i * 0x100, 200);
	ck_assert_uint_eq(proc()->c.allocs, 1000);
	ck_assert_uint_eq(find(), 2); /* the slab candidate and objpool's pool */
	ck_assert_int_eq(fnd[0].kind, MS_FIND_SLAB_CANDIDATE);
	ck_assert_int_eq(fnd[1].kind, MS_FIND_POOL);
}
END_TEST

/* A share exactly at a threshold that is not a binary fraction (0.55 of 1300 = 715) */
START_TEST(slab_share_exact_decimal)
{
	struct ms_pool_opts o = MS_POOL_OPTS_DEFAULT;
	unsigned i;

	o.min_share = 0.55;
	churn(0x1000, 40, 500, 715);
	for (i = 0; i < 585; i++)
		mal(0x100000 + i * 0x100, 200);
	ck_assert_uint_eq(proc()->c.allocs, 1300);
	/* 715 / 1300 is 0.55: the threshold is met */
	ck_assert_uint_eq(find_opts(&o), 1);
	ck_assert_double_eq(ev(&fnd[0], "share"), 0.55);
}
END_TEST

/* slab_candidate: process allocations >= --pool-min-allocs (1000), not 999 */
START_TEST(slab_min_allocs)
{
	struct ms_pool_opts o = MS_POOL_OPTS_DEFAULT;

	churn(0x1000, 40, 500, 999);
	ck_assert_uint_eq(find(), 0);
	o.min_allocs = 999;
	ck_assert_uint_eq(find_opts(&o), 1);
	ck_assert_double_eq(ev(&fnd[0], "allocs"), 999);
	ck_assert_double_eq(ev(&fnd[0], "share"), 1);
	churn(0x1000, 40, 500, 1);
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(&fnd[0], "allocs"), 1000);
	ck_assert_str_eq(fnd[0].advice,
			 "100% of allocations (1000) are 32 B-63 B and the median one lives <1us; "
			 "a free list or slab of 63 B objects would serve them without the "
			 "allocator (recycling ratio 1000)");
	/* nothing freed: no lifetime, no candidate */
	teardown();
	setup();
	{
		unsigned i;

		for (i = 0; i < 2000; i++)
			mal(0x100000 + i * 0x100, 40);
	}
	ck_assert_uint_eq(find(), 0);
}
END_TEST

/* slab_candidate: the median lifetime's bucket limit <= --pool-max-lifetime (1 ms) */
START_TEST(slab_lifetime_edge)
{
	struct ms_pool_opts o = MS_POOL_OPTS_DEFAULT;

	churn(0x1000, 40, 999999, 1000); /* <1ms */
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(&fnd[0], "median_lifetime_lt_ns"), 1000000);
	ck_assert_str_eq(fnd[0].advice,
			 "100% of allocations (1000) are 32 B-63 B and the median one lives <1ms; "
			 "a free list or slab of 63 B objects would serve them without the "
			 "allocator (recycling ratio 1000)");
	teardown();
	setup();
	churn(0x1000, 40, 1000000, 1000); /* <10ms */
	ck_assert_uint_eq(find(), 0);
	o.max_lifetime_ns = 10000000;
	ck_assert_uint_eq(find_opts(&o), 1);
	ck_assert_double_eq(ev(&fnd[0], "median_lifetime_lt_ns"), 10000000);
	o.max_lifetime_ns = 9999999;
	ck_assert_uint_eq(find_opts(&o), 0);
	/* the median: half short is enough, one fewer is not */
	teardown();
	setup();
	churn(0x1000, 40, 100, 500);
	churn(0x1000, 40, 5 * MS, 500);
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(&fnd[0], "median_lifetime_lt_ns"), 1000);
	teardown();
	setup();
	churn(0x1000, 40, 100, 499);
	churn(0x1000, 40, 5 * MS, 501);
	ck_assert_uint_eq(find(), 0);
}
END_TEST

static void site_chunks(uint64_t caller, uint64_t base, uint64_t size, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		mal_from(caller, base + i * 0x10000, size);
}

/* pool_candidate: a site of >= 1024-byte blocks, >= 4 of them, >= 75% live */
START_TEST(pool_candidate_chunks)
{
	struct ms_pool_opts o = MS_POOL_OPTS_DEFAULT;

	site_chunks(0x401234, 0x1000000, 4096, 3);
	ck_assert_uint_eq(find(), 0);
	o.min_chunks = 3;
	ck_assert_uint_eq(find_opts(&o), 1);
	site_chunks(0x401234, 0x2000000, 4096, 1);
	ck_assert_uint_eq(find(), 1);
	ck_assert_int_eq(fnd[0].kind, MS_FIND_POOL_CANDIDATE);
	ck_assert_str_eq(ms_finding_kind_name(fnd[0].kind), "pool_candidate");
	/* "chunk_owner+0x1c": the function that owns the call site */
	ck_assert_str_eq(fnd[0].name, "chunk_owner");
	ck_assert_str_eq(ev_keys(&fnd[0]), SITE_KEYS);
	ck_assert_double_eq(ev(&fnd[0], "chunk_size"), 4096);
	ck_assert_double_eq(ev(&fnd[0], "chunks"), 4);
	ck_assert_double_eq(ev(&fnd[0], "live_chunks"), 4);
	ck_assert_double_eq(ev(&fnd[0], "live_bytes"), 16384);
	/* the call site as resolved, beside the evidence */
	ck_assert_str_eq(fnd[0].where, "chunk_owner+0x1c");
	ck_assert_str_eq(fnd[0].advice,
			 "chunk_owner obtains 4.0 KiB chunks from libc and keeps 4 of 4: if it "
			 "carves objects out of them, trace it with --alloc 'chunk_owner(ROLES)', "
			 "naming its size parameter (e.g. --alloc 'chunk_owner(_, size)')");
	/* without a symbolizer, or one that fails: the address, and no flag to propose */
	ck_assert_uint_eq(ms_find(cat, proc(), &o, NULL, NULL, NULL, fnd, 32), 1);
	ck_assert_str_eq(fnd[0].name, "0x401234");
	ck_assert_ptr_null(strstr(fnd[0].advice, "--alloc"));
}
END_TEST

/* pool_candidate: 75% of the chunks live, not 74% */
START_TEST(pool_candidate_live_share)
{
	unsigned i;

	site_chunks(0x401234, 0x1000000, 4096, 100);
	for (i = 0; i < 26; i++)
		fre(0x1000000 + i * 0x10000);
	ck_assert_uint_eq(find(), 0);
	/* 4 more: 78 of 104 live, 75% */
	site_chunks(0x401234, 0x1000000, 4096, 4);
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(&fnd[0], "chunks"), 104);
	ck_assert_double_eq(ev(&fnd[0], "live_chunks"), 78);
	teardown();
	setup();
	site_chunks(0x401234, 0x1000000, 4096, 100);
	for (i = 0; i < 25; i++)
		fre(0x1000000 + i * 0x10000);
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(&fnd[0], "chunks"), 100);
	ck_assert_double_eq(ev(&fnd[0], "live_chunks"), 75);
	ck_assert_double_eq(ev(&fnd[0], "live_bytes"), 75 * 4096);
	ck_assert_str_eq(fnd[0].advice,
			 "chunk_owner obtains 4.0 KiB chunks from libc and keeps 75 of 100: if it "
			 "carves objects out of them, trace it with --alloc 'chunk_owner(ROLES)', "
			 "naming its size parameter (e.g. --alloc 'chunk_owner(_, size)')");
}
END_TEST

/* pool_candidate: sites are (caller, exact size) of blocks of 1024 bytes or more */
START_TEST(pool_candidate_sites)
{
	struct ms_finding *f;

	site_chunks(0x401234, 0x1000000, 1023, 10); /* too small to be a chunk */
	ck_assert_uint_eq(find(), 0);
	site_chunks(0x401234, 0x2000000, 1024, 2);
	site_chunks(0x401234, 0x3000000, 1025, 2); /* another size: another site */
	site_chunks(0x402000, 0x4000000, 1024, 2); /* another caller: another site */
	ck_assert_uint_eq(find(), 0);
	site_chunks(0x402000, 0x5000000, 1024, 2);
	ck_assert_uint_eq(find(), 1);
	ck_assert_str_eq(fnd[0].name, "grow_arena");
	ck_assert_double_eq(ev(&fnd[0], "chunk_size"), 1024);
	ck_assert_double_eq(ev(&fnd[0], "chunks"), 4);
	ck_assert_str_eq(
		fnd[0].advice,
		"grow_arena obtains 1.0 KiB chunks from libc and keeps 4 of 4: if it carves "
		"objects out of them, trace it with --alloc 'grow_arena(ROLES)', naming its "
		"size parameter (e.g. --alloc 'grow_arena(_, size)')");
	/* a realloc of a chunk is a free and an allocation (caller 0 here: another site) */
	rea(0x5000000, 1024, 0x6000000);
	ck_assert_uint_eq(find(), 1); /* 3 of 4 live: 75% */
	ck_assert_double_eq(ev(&fnd[0], "live_chunks"), 3);
	rea(0x5010000, 1024, 0x6010000);
	ck_assert_uint_eq(find(), 0); /* 2 of 4 */
	/* of another allocator's users: named after it */
	teardown();
	setup();
	{
		unsigned i;

		for (i = 0; i < 4; i++)
			put(PID, MS_EV_ALLOC, f_aalloc, 0, ++now, 0x100000 + i * 0x10000, 8192, 0,
			    0x402000);
	}
	ck_assert_uint_eq(find(), 1);
	f = &fnd[0];
	ck_assert_str_eq(f->name, "grow_arena");
	ck_assert_str_eq(f->advice,
			 "grow_arena obtains 8.0 KiB chunks from arena and keeps 4 of 4: if it "
			 "carves objects out of them, trace it with --alloc 'grow_arena(ROLES)', "
			 "naming its size parameter (e.g. --alloc 'grow_arena(_, size)')");
	/* a pool's backing chunks are the pool's, never a candidate */
	teardown();
	setup();
	{
		unsigned i;

		for (i = 0; i < 8; i++)
			chunk(0x100000 + i * 0x10000, 4096);
	}
	ck_assert_uint_eq(find(), 0); /* no user allocations: no pool finding either */
}
END_TEST

/* pool: an allocator with backing and user calls, all its figures */
START_TEST(pool_finding)
{
	struct ms_finding *f;
	unsigned i;

	for (i = 0; i < 30; i++) {
		if (i % 10 == 0)
			chunk(0x100000 + (i / 10) * 0x10000, 4096);
		obj(0x100000 + (i / 10) * 0x10000 + (i % 10) * 64, 64);
	}
	for (i = 0; i < 10; i++)
		obj_free(0x100000 + i * 64); /* the first chunk's objects */
	chunk_free(0x100000);		     /* and the chunk */
	obj_free(0x110000);
	obj_free(0x110040);
	ck_assert_uint_eq(find(), 1);
	f = &fnd[0];
	ck_assert_int_eq(f->kind, MS_FIND_POOL);
	ck_assert_str_eq(ms_finding_kind_name(f->kind), "pool");
	ck_assert_str_eq(f->name, "objpool");
	ck_assert_str_eq(ev_keys(f), POOL_KEYS);
	ck_assert_double_eq(ev(f, "objects"), 30);
	ck_assert_double_eq(ev(f, "live_objects"), 18);
	ck_assert_double_eq(ev(f, "live_object_bytes"), 18 * 64);
	ck_assert_double_eq(ev(f, "chunks"), 3);
	ck_assert_double_eq(ev(f, "live_chunks"), 2);
	ck_assert_double_eq(ev(f, "backing_bytes"), 3 * 4096);
	ck_assert_double_eq(ev(f, "backing_live_bytes"), 2 * 4096);
	ck_assert_double_eq(ev(f, "chunk_size"), 4096);
	ck_assert_double_eq(ev(f, "objects_per_chunk"), 10);
	ck_assert_double_eq(ev(f, "utilization"), 1152.0 / 8192);
	ck_assert_double_eq(ev(f, "hit_ratio"), 1 - 3.0 / 30);
	ck_assert_double_eq(ev(f, "backing_growth_bytes"), 8192); /* no report yet */
	ck_assert_str_eq(
		f->advice,
		"objpool served 10.0 objects per 4.0 KiB chunk; 14% of its 8.0 KiB of live "
		"backing holds live objects; 90% of its allocations needed no new chunk: "
		"most of its memory is idle, consider returning empty chunks or smaller "
		"chunks");

	/* growth: since the previous report */
	ms_stats_mark(proc());
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(f, "backing_growth_bytes"), 0);
	chunk(0x200000, 8192);
	obj(0x200000, 64);
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(f, "backing_growth_bytes"), 8192);
	ck_assert_double_eq(ev(f, "chunk_size"), (3 * 4096 + 8192) / 4.0);
	ck_assert_double_eq(ev(f, "objects_per_chunk"), 31 / 4.0);
	ck_assert_double_eq(ev(f, "hit_ratio"), 1 - 4 / 31.0);
	ms_stats_mark(proc());
	chunk_free(0x110000);
	chunk_free(0x120000);
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(f, "backing_growth_bytes"), -8192);
	ck_assert_double_eq(ev(f, "backing_live_bytes"), 8192);
	ck_assert_double_eq(ev(f, "live_chunks"), 1);
	/* objects outlive their chunks here: utilization over the remaining backing */
	ck_assert_double_eq(ev(f, "utilization"), 19 * 64 / 8192.0);
}
END_TEST

/* pool: utilization at half or more says nothing about idle memory; more chunks than
 * objects: hit ratio 0, not negative */
START_TEST(pool_finding_edges)
{
	struct ms_finding *f;

	chunk(0x100000, 1000);
	obj(0x100000, 500);
	ck_assert_uint_eq(find(), 1);
	f = &fnd[0];
	ck_assert_double_eq(ev(f, "utilization"), 0.5);
	ck_assert_double_eq(ev(f, "hit_ratio"), 0);
	ck_assert_str_eq(f->advice,
			 "objpool served 1.0 objects per 1000 B chunk; 50% of its 1000 B of live "
			 "backing holds live objects; 0% of its allocations needed no new chunk");
	chunk(0x200000, 1000);
	chunk(0x300000, 1000);
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(f, "hit_ratio"), 0);
	ck_assert_double_eq(ev(f, "objects_per_chunk"), 1 / 3.0);
	/* all backing released: utilization 0, no idle advice */
	chunk_free(0x100000);
	chunk_free(0x200000);
	chunk_free(0x300000);
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(f, "utilization"), 0);
	ck_assert_double_eq(ev(f, "backing_live_bytes"), 0);
	ck_assert_ptr_null(strstr(f->advice, "idle"));
}
END_TEST

/* Several findings: per allocator (libc first), pool, then sites, then classes; max */
START_TEST(findings_order)
{
	unsigned i;

	site_chunks(0x401234, 0x10000000, 4096, 4);
	chunk(0x100000, 4096);
	obj(0x100000, 32);
	churn(0x1000, 40, 500, 1200);
	ck_assert_uint_eq(proc()->c.allocs, 1205);
	ck_assert_uint_eq(find(), 3);
	ck_assert_int_eq(fnd[0].kind, MS_FIND_POOL_CANDIDATE);
	ck_assert_int_eq(fnd[1].kind, MS_FIND_SLAB_CANDIDATE);
	ck_assert_int_eq(fnd[2].kind, MS_FIND_POOL);
	ck_assert_str_eq(fnd[1].name, "32 B-63 B");
	ck_assert_double_eq(ev(&fnd[1], "share"), 1200 / 1205.0);
	{
		struct ms_pool_opts o = MS_POOL_OPTS_DEFAULT;

		ck_assert_uint_eq(ms_find(cat, proc(), &o, fake_sym, fake_obj, NULL, fnd, 1), 1);
		ck_assert_int_eq(fnd[0].kind, MS_FIND_POOL_CANDIDATE);
		ck_assert_uint_eq(ms_find(cat, proc(), &o, fake_sym, fake_obj, NULL, fnd, 2), 2);
		ck_assert_uint_eq(ms_find(cat, proc(), &o, fake_sym, fake_obj, NULL, fnd, 0), 0);
	}
	/* the size class name of class 0 and of a large class */
	teardown();
	setup();
	for (i = 0; i < 1000; i++) {
		mal(0x1000, 0);
		fre(0x1000);
	}
	ck_assert_uint_eq(find(), 1);
	ck_assert_str_eq(fnd[0].name, "0 B-0 B");
	ck_assert_double_eq(ev(&fnd[0], "class"), 0);
}
END_TEST

/* The JSON pools array and the text report of the same findings */
START_TEST(findings_rendered)
{
	const char *adv;
	char *out, *got;

	churn(0x1000, 40, 500, 1000);
	strcpy(proc()->comm, "churn");
	out = render(true, MS_REC_FINAL);
	got = between(out, "\"pools\":", "}]}\n");
	adv = "100% of allocations (1000) are 32 B-63 B and the median one lives <1us; a free "
	      "list or slab of 63 B objects would serve them without the allocator (recycling "
	      "ratio 1000)";
	{
		char expected[1024];

		snprintf(expected, sizeof(expected),
			 "\"pools\":[{\"name\":\"32 B-63 B\",\"kind\":\"slab_candidate\","
			 "\"evidence\":{\"class\":32,\"allocs\":1000,\"share\":1,\"frees\":1000,"
			 "\"median_lifetime_lt_ns\":1000,\"temporary\":1000,\"peak_bytes\":40,"
			 "\"recycling_ratio\":1000},\"advice\":\"%s\"}]",
			 adv);
		STR_EQ_LONG(got, expected);
	}
	free(got);
	free(out);
	/* text: a line of patterns under the row; the findings only in the final report */
	out = render(false, MS_REC_INTERVAL);
	ck_assert_msg(strstr(out, "\n          100% small, 0% large, 100% temporary; most in "
				  "32 B-63 B (100%, median life <1us)\n") != NULL,
		      "%s", out);
	ck_assert_ptr_null(strstr(out, "findings"));
	free(out);
	out = render(false, MS_REC_FINAL);
	{
		char expected[1024];

		snprintf(expected, sizeof(expected),
			 "\nfindings for 10 (churn):\n  slab_candidate 32 B-63 B: %s\n", adv);
		ck_assert_msg(strstr(out, expected) != NULL, "%s", out);
	}
	free(out);
}
END_TEST

/* An exit record carries the process' patterns and pools too */
START_TEST(findings_in_exit_record)
{
	struct ms_report r = { .ts = 2.0, .interval_s = 1.0 };
	struct ms_output o = { .json = true, .pool = MS_POOL_OPTS_DEFAULT };
	char *buf = NULL;
	size_t len = 0;

	site_chunks(0x401234, 0x10000000, 4096, 4);
	o.symbolize = fake_sym;
	o.f = open_memstream(&buf, &len);
	ms_output_end(&o, &r, &st, proc(), MS_END_EXIT);
	fclose(o.f);
	ck_assert_ptr_nonnull(strstr(buf, "\"pools\":[{\"name\":\"chunk_owner\","
					  "\"kind\":\"pool_candidate\",\"evidence\":{"
					  "\"chunk_size\":4096,\"chunks\":4,\"live_chunks\":4,"
					  "\"live_bytes\":16384},\"where\":\"chunk_owner+0x1c\","));
	free(buf);
}
END_TEST

/* A shared library defining the function fn, built into dir; 0 when cc is missing */
static int build_lib(const char *dir, const char *lib, const char *fn, char *path, size_t len)
{
	char src[512], cmd[2048];
	FILE *f;

	snprintf(src, sizeof(src), "%s/%s.c", dir, lib);
	f = fopen(src, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "void *%s(unsigned long n, int flags) { return (void *)n; }\n", fn);
	fclose(f);
	snprintf(path, len, "%s/%s.so", dir, lib);
	snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -o %s %s 2>/dev/null", path, src);
	return system(cmd) == 0;
}

/* pool_candidate: never a call site in the dynamic loader, a C library, or an object that
 * defines a known allocator (not Rust's: its shim is in every Rust program) */
START_TEST(pool_candidate_runtime_objects)
{
	char dir[] = "/tmp/ms-findings-XXXXXX", rust_lib[256], cmd[300];
	unsigned i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	site_chunks(0x7f0000401000, 0x1000000, 1360, 5); /* _dl_new_object's link maps */
	site_chunks(0x7e0000401000, 0x2000000, 4096, 4); /* stdio buffers */
	site_chunks(0x401234, 0x3000000, 4096, 4);	 /* the program's */
	ck_assert_uint_eq(find(), 1);
	ck_assert_str_eq(fnd[0].name, "chunk_owner");
	/* without the objects' paths nothing is left out */
	{
		struct ms_pool_opts o = MS_POOL_OPTS_DEFAULT;

		ck_assert_uint_eq(ms_find(cat, proc(), &o, fake_sym, NULL, NULL, fnd, 32), 3);
	}
	/* an object that defines jemalloc's marker (with its prefix) is jemalloc's; pymalloc's
	 * (CPython's executable) likewise; Rust's allocator shim is the program's own */
	if (build_lib(dir, "libjem", "je_mallocx", allocator_lib, sizeof(allocator_lib))) {
		site_chunks(0x7d0000401000, 0x4000000, 8192, 4);
		ck_assert_uint_eq(find(), 1);
		ck_assert(ms_runtime_object(allocator_lib));
		ck_assert(build_lib(dir, "libpy", "PyObject_Malloc", allocator_lib,
				    sizeof(allocator_lib)));
		ck_assert(ms_runtime_object(allocator_lib));
		ck_assert(build_lib(dir, "librs", "__rust_alloc", rust_lib, sizeof(rust_lib)));
		ck_assert(!ms_runtime_object(rust_lib));
		snprintf(allocator_lib, sizeof(allocator_lib), "%s", rust_lib);
		ck_assert_uint_eq(find(), 2);
		ck_assert_str_eq(fnd[1].name, "0x7d0000401000");
	} else {
		fprintf(stderr, "test_patterns: cc not found, allocator objects not built\n");
	}
	ck_assert(ms_runtime_object("/lib64/ld-linux-x86-64.so.2"));
	ck_assert(ms_runtime_object("/proc/9/root/usr/lib/x86_64-linux-gnu/libc.so.6"));
	ck_assert(ms_runtime_object("/lib/ld-musl-x86_64.so.1"));
	ck_assert(!ms_runtime_object("/nonexistent/libapp.so"));
	/* an address in no object: kept, named by its address */
	teardown();
	setup();
	for (i = 0; i < 4; i++)
		mal_from(0x7c0000001000, 0x1000000 + i * 0x10000, 2048);
	ck_assert_uint_eq(find(), 1);
	ck_assert_str_eq(fnd[0].name, "0x7c0000001000");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* pool_candidate: one finding per function, its call sites of every size and allocator
 * merged; said once in the text too */
START_TEST(pool_candidate_merged)
{
	struct ms_finding *f = &fnd[0];
	unsigned i;
	char *out;

	site_chunks(0x401234, 0x1000000, 4096, 4);
	site_chunks(0x401234, 0x2000000, 1024, 4);
	ck_assert_uint_eq(find(), 1);
	ck_assert_str_eq(f->name, "chunk_owner");
	ck_assert_str_eq(ev_keys(f), SITE_KEYS);
	ck_assert_double_eq(ev(f, "chunk_size"), (4 * 4096 + 4 * 1024) / 8.0);
	ck_assert_double_eq(ev(f, "chunks"), 8);
	ck_assert_double_eq(ev(f, "live_chunks"), 8);
	ck_assert_double_eq(ev(f, "live_bytes"), 4 * 4096 + 4 * 1024);
	ck_assert_str_eq(f->where, "chunk_owner+0x1c");
	ck_assert_str_eq(f->advice,
			 "chunk_owner obtains chunks of 1.0 KiB to 4.0 KiB from libc and keeps 8 "
			 "of 8: if it carves objects out of them, trace it with --alloc "
			 "'chunk_owner(ROLES)', naming its size parameter (e.g. --alloc "
			 "'chunk_owner(_, size)')");
	/* another call site in the function, and chunks from another allocator */
	site_chunks(0x401240, 0x3000000, 4096, 4);
	for (i = 0; i < 4; i++)
		put(PID, MS_EV_ALLOC, f_aalloc, 0, ++now, 0x4000000 + i * 0x10000, 8192, 0,
		    0x401234);
	ck_assert_uint_eq(find(), 1);
	ck_assert_str_eq(ev_keys(f), SITE_KEYS ",call_sites");
	ck_assert_double_eq(ev(f, "call_sites"), 2);
	ck_assert_double_eq(ev(f, "chunks"), 16);
	ck_assert_str_eq(
		f->advice,
		"chunk_owner obtains chunks of 1.0 KiB to 8.0 KiB from libc, arena at 2 "
		"call sites and keeps 16 of 16: if it carves objects out of them, trace it "
		"with --alloc 'chunk_owner(ROLES)', naming its size parameter (e.g. --alloc "
		"'chunk_owner(_, size)')");
	strcpy(proc()->comm, "owner");
	out = render(false, MS_REC_FINAL);
	ck_assert_msg(strstr(out, "\nfindings for 10 (owner):\n  pool_candidate chunk_owner at "
				  "chunk_owner+0x1c: chunk_owner obtains chunks of 1.0 KiB to 8.0 "
				  "KiB from libc, arena at 2 call sites") != NULL,
		      "%s", out);
	ck_assert_ptr_null(strstr(strstr(out, "pool_candidate") + 1, "pool_candidate"));
	free(out);
}
END_TEST

/* pool_candidate: a call site in an object without a symbol says its address and object */
START_TEST(pool_candidate_no_symbol)
{
	char *out;

	site_chunks(0x405000, 0x1000000, 2048, 4);
	ck_assert_uint_eq(find(), 1);
	ck_assert_str_eq(fnd[0].name, "libx.so+0x1234");
	ck_assert_str_eq(fnd[0].where, "0x405000 (libx.so+0x1234)");
	ck_assert_str_eq(
		fnd[0].advice,
		"code without a symbol at 0x405000 (libx.so+0x1234) obtains 2.0 KiB chunks "
		"from libc and keeps 4 of 4: it may be a pool; with the object's symbols "
		"memscope-bpf names the function to trace");
	/* the text line: the call site once (in the advice) */
	out = render(false, MS_REC_FINAL);
	ck_assert_msg(strstr(out, "  pool_candidate libx.so+0x1234: code without a symbol at "
				  "0x405000 (libx.so+0x1234) obtains") != NULL,
		      "%s", out);
	free(out);
}
END_TEST

/* pool: attached to a running process, backing obtained before is unknown: utilisation is
 * a bound, never above 1, and the advice says so */
START_TEST(pool_finding_attached)
{
	struct ms_finding *f = &fnd[0];
	unsigned i;

	from_start = false;
	/* 40 objects of 64 bytes after the attach, one 1000-byte chunk obtained since: most
	 * objects came from chunks obtained before */
	chunk(0x100000, 1000);
	for (i = 0; i < 40; i++)
		obj(0x200000 + i * 64, 64);
	ck_assert(!proc()->from_start);
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(f, "live_object_bytes"), 2560);
	ck_assert_double_eq(ev(f, "backing_live_bytes"), 1000);
	ck_assert_double_eq(ev(f, "utilization"), 1);
	ck_assert_str_eq(
		f->advice,
		"objpool served 40.0 objects per 1000 B chunk; at most 100% of the 1000 B "
		"of live backing it obtained since attaching holds live objects; 98% of its "
		"allocations needed no new chunk; backing obtained before attaching is "
		"unknown");
	/* a bound below one half is still idle memory: the chunks obtained since hold at most
	 * the objects allocated since */
	for (i = 0; i < 38; i++)
		obj_free(0x200000 + i * 64);
	ck_assert_uint_eq(find(), 1);
	ck_assert_double_eq(ev(f, "utilization"), 128 / 1000.0);
	ck_assert_str_eq(
		f->advice,
		"objpool served 40.0 objects per 1000 B chunk; at most 13% of the 1000 B of "
		"live backing it obtained since attaching holds live objects; 98% of its "
		"allocations needed no new chunk: most of its memory is idle, consider "
		"returning empty chunks or smaller chunks; backing obtained before "
		"attaching is unknown");
}
END_TEST

/* pool: a known allocator's chunks are its own policy: figures, no advice on them */
START_TEST(pool_finding_known_allocator)
{
	struct ms_func je = { .name = "je_malloc", .kind = MS_FN_ALLOC };
	int a_je = ms_catalog_allocator_id(cat, "jemalloc", MS_AK_JEMALLOC), f_je;
	unsigned i;

	ck_assert_int_gt(a_je, 0);
	je.allocator = a_je;
	f_je = ms_catalog_add_func(cat, &je);
	ck_assert_int_gt(f_je, 0);
	/* one 2 MiB extent (malloc inside its call: its backing), 10 objects of 64 bytes */
	put(PID, MS_EV_ALLOC, f_malloc, f_je, ++now, 0x10000000, 2 << 20, 0, 0x401000);
	for (i = 0; i < 10; i++)
		put(PID, MS_EV_ALLOC, f_je, 0, ++now, 0x10000000 + i * 64, 64, 0, 0x401000);
	ck_assert_uint_eq(find(), 1);
	ck_assert_str_eq(fnd[0].name, "jemalloc");
	ck_assert_str_eq(
		fnd[0].advice,
		"jemalloc served 10.0 objects per 2.0 MiB chunk; 0% of its 2.0 MiB of live "
		"backing holds live objects; 90% of its allocations needed no new chunk");
}
END_TEST

Suite *patterns_suite(void)
{
	Suite *s = suite_create("patterns");
	TCase *tc = tcase_create("patterns");
	TCase *tf = tcase_create("findings");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, size_classes);
	tcase_add_test(tc, temporary);
	tcase_add_test(tc, lifetime_buckets);
	tcase_add_test(tc, median_bucket);
	tcase_add_test(tc, reuse);
	tcase_add_test(tc, reuse_distance_long);
	tcase_add_test(tc, small_large);
	tcase_add_test(tc, patterns_json);
	tcase_add_test(tc, patterns_json_sum);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_add_test(tf, slab_share_edge);
	tcase_add_test(tf, slab_share_of_process);
	tcase_add_test(tf, slab_share_exact_decimal);
	tcase_add_test(tf, slab_min_allocs);
	tcase_add_test(tf, slab_lifetime_edge);
	tcase_add_test(tf, pool_candidate_chunks);
	tcase_add_test(tf, pool_candidate_live_share);
	tcase_add_test(tf, pool_candidate_sites);
	tcase_add_test(tf, pool_finding);
	tcase_add_test(tf, pool_finding_edges);
	tcase_add_test(tf, findings_order);
	tcase_add_test(tf, findings_rendered);
	tcase_add_test(tf, findings_in_exit_record);
	tcase_add_test(tf, pool_candidate_runtime_objects);
	tcase_add_test(tf, pool_candidate_merged);
	tcase_add_test(tf, pool_candidate_no_symbol);
	tcase_add_test(tf, pool_finding_attached);
	tcase_add_test(tf, pool_finding_known_allocator);
	suite_add_tcase(s, tf);
	return s;
}
