/* test_stats.c: per-process statistics from synthetic event streams */
#include <string.h>
#include "catalog.h"
#include "numa.h"
#include "stats.h"
#include "unit.h"

enum { F_MALLOC = 1, F_FREE, F_REALLOC, F_PMA };

static struct ms_event ev(uint8_t type, uint16_t func, uint32_t pid, uint32_t tid, uint64_t ptr,
			  uint64_t size, uint64_t ret)
{
	struct ms_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.func = func;
	e.tgid = pid;
	e.tid = tid;
	e.a.ptr = ptr;
	e.a.size = size;
	e.a.ret = ret;
	e.stack_id = -1;
	return e;
}

static void apply(struct ms_stats *s, struct ms_event e)
{
	ms_stats_apply(s, &e);
}

#define ALLOC(s, pid, ptr, size) apply(s, ev(MS_EV_ALLOC, F_MALLOC, pid, pid, ptr, size, 0))
#define FREE(s, pid, ptr) apply(s, ev(MS_EV_FREE, F_FREE, pid, pid, ptr, 0, 0))

static struct ms_proc ended;
static enum ms_end_reason ended_why;
static int nended;

static void on_end(struct ms_proc *p, enum ms_end_reason why, void *ctx)
{
	ended = *p;
	ended_why = why;
	nended++;
}

static struct ms_counts counts(struct ms_stats *s, pid_t pid)
{
	struct ms_proc *p = ms_stats_proc(s, pid, false);

	ck_assert_ptr_nonnull(p);
	return p->c;
}

static uint64_t calls(struct ms_stats *s, pid_t pid, unsigned func)
{
	struct ms_proc *p = ms_stats_proc(s, pid, false);

	return p && func < p->nby_func ? p->by_func[func] : 0;
}

static struct ms_catalog *cat; /* the fixture's: libc_funcs to catalog_free */

/* A new catalog of the n functions f, their ids 1 to n in order */
static struct ms_catalog *catalog_of(const struct ms_func *f, unsigned n)
{
	struct ms_catalog *c = ms_catalog_new();
	unsigned i;

	ck_assert_ptr_nonnull(c);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(ms_catalog_add_func(c, &f[i]), i + 1);
	return c;
}

/* F_MALLOC .. F_PMA, libc's: the statistics count calls only of the functions they
 * were told about (tests of other functions make a catalog of their own) */
static void libc_funcs(void)
{
	static const struct ms_func f[] = {
		{ .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC },
		{ .name = "free", .allocator = 1, .kind = MS_FN_FREE },
		{ .name = "realloc", .allocator = 1, .kind = MS_FN_REALLOC },
		{ .name = "posix_memalign", .allocator = 1, .kind = MS_FN_ALLOC },
	};

	cat = catalog_of(f, sizeof(f) / sizeof(f[0]));
}

static void catalog_free(void)
{
	ms_catalog_free(cat);
}

START_TEST(alloc_free_peak)
{
	struct ms_stats s;
	struct ms_counts c;

	ms_stats_init(&s, cat, NULL, NULL);
	ALLOC(&s, 10, 0x1000, 100);
	ALLOC(&s, 10, 0x2000, 300);
	FREE(&s, 10, 0x1000);
	ALLOC(&s, 10, 0x3000, 50);
	apply(&s, ev(MS_EV_ALLOC, F_MALLOC, 10, 10, 0, 1ULL << 62, 0)); /* failed */
	c = counts(&s, 10);
	ck_assert_uint_eq(c.allocs, 3);
	ck_assert_uint_eq(c.frees, 1);
	ck_assert_uint_eq(c.alloc_bytes, 450);
	ck_assert_uint_eq(c.freed_bytes, 100);
	ck_assert_uint_eq(c.live_allocs, 2);
	ck_assert_uint_eq(c.live_bytes, 350);
	ck_assert_uint_eq(c.peak_bytes, 400);
	ck_assert_uint_eq(c.failed_allocs, 1);
	ck_assert_uint_eq(calls(&s, 10, F_MALLOC), 4);
	ck_assert_uint_eq(calls(&s, 10, F_FREE), 1);
	ms_stats_free(&s);
}
END_TEST

START_TEST(unmatched_and_dead_frees)
{
	struct ms_stats s;
	struct ms_counts c;

	ms_stats_init(&s, cat, NULL, NULL);
	FREE(&s, 10, 0x9000); /* allocated before tracing */
	ALLOC(&s, 10, 0x1000, 64);
	FREE(&s, 10, 0x1000);
	FREE(&s, 10, 0x1000);	   /* glibc's tcache release at thread exit */
	ALLOC(&s, 10, 0x1000, 32); /* the address comes back */
	FREE(&s, 10, 0x1000);
	c = counts(&s, 10);
	ck_assert_uint_eq(c.frees, 2);
	ck_assert_uint_eq(c.unmatched_frees, 1);
	ck_assert_uint_eq(c.dead_frees, 1);
	ck_assert_uint_eq(c.freed_bytes, 96);
	ck_assert_uint_eq(c.live_allocs, 0);
	ck_assert_uint_eq(c.live_bytes, 0);
	ck_assert_uint_eq(calls(&s, 10, F_FREE), 3);
	ms_stats_free(&s);
}
END_TEST

START_TEST(realloc_forms)
{
	struct ms_stats s;
	struct ms_counts c;

	ms_stats_init(&s, cat, NULL, NULL);
	/* realloc(NULL, 40): an allocation */
	apply(&s, ev(MS_EV_REALLOC, F_REALLOC, 10, 10, 0, 40, 0x1000));
	/* moves: free of the old + alloc of the new */
	apply(&s, ev(MS_EV_REALLOC_ENTER, F_REALLOC, 10, 10, 0x1000, 400, 0));
	apply(&s, ev(MS_EV_REALLOC, F_REALLOC, 10, 10, 0x1000, 400, 0x2000));
	/* in place */
	apply(&s, ev(MS_EV_REALLOC_ENTER, F_REALLOC, 10, 10, 0x2000, 200, 0));
	apply(&s, ev(MS_EV_REALLOC, F_REALLOC, 10, 10, 0x2000, 200, 0x2000));
	/* fails: the block stays */
	apply(&s, ev(MS_EV_REALLOC_ENTER, F_REALLOC, 10, 10, 0x2000, 1ULL << 62, 0));
	apply(&s, ev(MS_EV_REALLOC, F_REALLOC, 10, 10, 0x2000, 1ULL << 62, 0));
	c = counts(&s, 10);
	ck_assert_uint_eq(c.allocs, 3);
	ck_assert_uint_eq(c.frees, 2);
	ck_assert_uint_eq(c.failed_allocs, 1);
	ck_assert_uint_eq(c.alloc_bytes, 640);
	ck_assert_uint_eq(c.freed_bytes, 440);
	ck_assert_uint_eq(c.live_allocs, 1);
	ck_assert_uint_eq(c.live_bytes, 200);
	ck_assert_uint_eq(c.peak_bytes, 400);
	/* realloc(p, 0) frees and returns NULL */
	apply(&s, ev(MS_EV_REALLOC_ENTER, F_REALLOC, 10, 10, 0x2000, 0, 0));
	apply(&s, ev(MS_EV_REALLOC, F_REALLOC, 10, 10, 0x2000, 0, 0));
	c = counts(&s, 10);
	ck_assert_uint_eq(c.frees, 3);
	ck_assert_uint_eq(c.allocs, 3);
	ck_assert_uint_eq(c.live_allocs, 0);
	ck_assert_uint_eq(c.live_bytes, 0);
	ck_assert_uint_eq(c.failed_allocs, 1);
	ck_assert_uint_eq(calls(&s, 10, F_REALLOC), 5);
	/* the old address was freed: freeing it again is a dead free */
	FREE(&s, 10, 0x1000);
	ck_assert_uint_eq(counts(&s, 10).dead_frees, 1);
	/* a block older than the trace: unmatched release, new allocation */
	apply(&s, ev(MS_EV_REALLOC_ENTER, F_REALLOC, 10, 10, 0x7000, 8, 0));
	apply(&s, ev(MS_EV_REALLOC, F_REALLOC, 10, 10, 0x7000, 8, 0x8000));
	c = counts(&s, 10);
	ck_assert_uint_eq(c.unmatched_frees, 1);
	ck_assert_uint_eq(c.allocs, 4);
	ck_assert_uint_eq(c.live_bytes, 8);
	ms_stats_free(&s);
}
END_TEST

/* Thread 1 reallocs p; inside, p is released and thread 2's malloc gets p back
 * before thread 1's realloc returns: p must be counted once as freed, once as new. */
START_TEST(realloc_races_malloc)
{
	struct ms_stats s;
	struct ms_counts c;

	ms_stats_init(&s, cat, NULL, NULL);
	apply(&s, ev(MS_EV_ALLOC, F_MALLOC, 10, 11, 0x1000, 100, 0));
	apply(&s, ev(MS_EV_REALLOC_ENTER, F_REALLOC, 10, 11, 0x1000, 5000, 0));
	apply(&s, ev(MS_EV_ALLOC, F_MALLOC, 10, 12, 0x1000, 60, 0));
	c = counts(&s, 10);
	ck_assert_uint_eq(c.frees, 1);
	ck_assert_uint_eq(c.live_bytes, 60);
	apply(&s, ev(MS_EV_REALLOC, F_REALLOC, 10, 11, 0x1000, 5000, 0x9000));
	c = counts(&s, 10);
	ck_assert_uint_eq(c.allocs, 3);
	ck_assert_uint_eq(c.frees, 1);
	ck_assert_uint_eq(c.live_allocs, 2);
	ck_assert_uint_eq(c.live_bytes, 5060);
	ck_assert_uint_eq(c.peak_bytes, 5060);
	apply(&s, ev(MS_EV_FREE, F_FREE, 10, 12, 0x1000, 0, 0));
	apply(&s, ev(MS_EV_FREE, F_FREE, 10, 11, 0x9000, 0, 0));
	c = counts(&s, 10);
	ck_assert_uint_eq(c.frees, 3);
	ck_assert_uint_eq(c.live_allocs, 0);
	ck_assert_uint_eq(c.live_bytes, 0);
	ck_assert_uint_eq(c.unmatched_frees, 0);
	ck_assert_uint_eq(c.dead_frees, 0);
	ms_stats_free(&s);
}
END_TEST

/* The tracer attached between a realloc's entry and its return */
START_TEST(realloc_without_entry)
{
	struct ms_stats s;
	struct ms_counts c;

	ms_stats_init(&s, cat, NULL, NULL);
	ALLOC(&s, 10, 0x1000, 10);
	apply(&s, ev(MS_EV_REALLOC, F_REALLOC, 10, 10, 0x1000, 20, 0x2000));
	c = counts(&s, 10);
	ck_assert_uint_eq(c.frees, 1);
	ck_assert_uint_eq(c.allocs, 2);
	ck_assert_uint_eq(c.live_bytes, 20);
	ms_stats_free(&s);
}
END_TEST

START_TEST(exit_exec_and_pid_reuse)
{
	struct ms_stats s;
	struct ms_event e;
	struct ms_counts c;

	nended = 0;
	ms_stats_init(&s, cat, on_end, NULL);
	ALLOC(&s, 10, 0x1000, 10);
	e = ev(MS_EV_EXEC, 0, 10, 10, 0, 0, 0);
	strcpy(e.comm, "newimage");
	ms_stats_apply(&s, &e);
	ck_assert_int_eq(nended, 1);
	ck_assert_int_eq(ended_why, MS_END_EXEC);
	ck_assert_uint_eq(ended.c.allocs, 1);
	c = counts(&s, 10);
	ck_assert_uint_eq(c.allocs, 0);
	ck_assert_uint_eq(c.live_bytes, 0);
	ck_assert_str_eq(ms_stats_proc(&s, 10, false)->comm, "newimage");
	ALLOC(&s, 10, 0x1000, 30);
	e = ev(MS_EV_EXIT, 0, 10, 10, 0, 0, 0);
	strcpy(e.comm, "newimage");
	ms_stats_apply(&s, &e);
	ck_assert_int_eq(nended, 2);
	ck_assert_int_eq(ended_why, MS_END_EXIT);
	ck_assert_uint_eq(ended.c.alloc_bytes, 30);
	ck_assert_ptr_null(ms_stats_proc(&s, 10, false));
	/* a new process with the recycled pid starts from nothing */
	FREE(&s, 10, 0x1000);
	c = counts(&s, 10);
	ck_assert_uint_eq(c.frees, 0);
	ck_assert_uint_eq(c.unmatched_frees, 1);
	ck_assert_uint_eq(c.allocs, 0);
	/* an exit of a process never seen is ignored */
	e = ev(MS_EV_EXIT, 0, 99, 99, 0, 0, 0);
	ms_stats_apply(&s, &e);
	ck_assert_int_eq(nended, 2);
	ms_stats_free(&s);
}
END_TEST

START_TEST(many_processes)
{
	struct ms_stats s;
	pid_t pid;

	ms_stats_init(&s, cat, NULL, NULL);
	for (pid = 1; pid <= 3000; pid++)
		ALLOC(&s, pid, 0x1000 + pid, pid);
	for (pid = 1; pid <= 3000; pid += 2)
		ms_stats_forget(&s, pid);
	ck_assert_uint_eq(s.nprocs, 1500);
	for (pid = 1; pid <= 3000; pid++) {
		struct ms_proc *p = ms_stats_proc(&s, pid, false);

		if (pid % 2) {
			ck_assert_ptr_null(p);
		} else {
			ck_assert_ptr_nonnull(p);
			ck_assert_uint_eq(p->c.live_bytes, (uint64_t)pid);
		}
	}
	ms_stats_free(&s);
}
END_TEST

/* malloc called inside a pool's alloc is the pool's backing, not a libc user call */
START_TEST(backing_of_outer_allocator)
{
	static const struct ms_func fs[] = {
		{ .name = "pool_alloc", .allocator = 2, .kind = MS_FN_ALLOC },
		{ .name = "pool_free", .allocator = 2, .kind = MS_FN_FREE },
		{ .name = "slab", .allocator = 2, .kind = MS_FN_ALLOC, .fixed_size = 64 },
		{ .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC },
		{ .name = "free", .allocator = 1, .kind = MS_FN_FREE },
	};
	enum { pa = 1, pf, sl, lm, lf }; /* their ids */
	struct ms_catalog *own = catalog_of(fs, sizeof(fs) / sizeof(fs[0]));
	struct ms_stats s;
	struct ms_event e;
	struct ms_proc *p;

	ms_stats_init(&s, own, NULL, NULL);
	/* pool_alloc(32) refills from malloc(4096): the chunk's address is the object's */
	e = ev(MS_EV_ALLOC, lm, 10, 10, 0x10000, 4096, 0);
	e.flags = MS_EVF_NESTED;
	e.outer_func = pa;
	ms_stats_apply(&s, &e);
	apply(&s, ev(MS_EV_ALLOC, pa, 10, 10, 0x10000, 32, 0));
	apply(&s, ev(MS_EV_ALLOC, pa, 10, 10, 0x10020, 32, 0));
	apply(&s, ev(MS_EV_ALLOC, sl, 10, 10, 0x20000, 0, 0));	 /* fixed size: 64 */
	apply(&s, ev(MS_EV_ALLOC, lm, 10, 10, 0x30000, 100, 0)); /* a plain malloc */
	apply(&s, ev(MS_EV_FREE, pf, 10, 10, 0x10000, 0, 0));
	/* the chunk goes back with free inside pool_free */
	e = ev(MS_EV_FREE, lf, 10, 10, 0x10000, 0, 0);
	e.flags = MS_EVF_NESTED;
	e.outer_func = pf;
	ms_stats_apply(&s, &e);
	p = ms_stats_proc(&s, 10, false);
	ck_assert_uint_eq(p->c.allocs, 4);
	ck_assert_uint_eq(p->c.frees, 1);
	ck_assert_uint_eq(p->c.live_bytes, 32 + 64 + 100);
	ck_assert_uint_eq(p->alloc[2].user.c.allocs, 3);
	ck_assert_uint_eq(p->alloc[2].user.c.live_bytes, 96);
	ck_assert_uint_eq(p->alloc[2].user.c.peak_bytes, 128);
	ck_assert_uint_eq(p->alloc[2].backing.c.allocs, 1);
	ck_assert_uint_eq(p->alloc[2].backing.c.alloc_bytes, 4096);
	ck_assert_uint_eq(p->alloc[2].backing.c.frees, 1);
	ck_assert_uint_eq(p->alloc[2].backing.c.live_bytes, 0);
	ck_assert_uint_eq(p->alloc[2].backing.c.peak_bytes, 4096);
	ck_assert_uint_eq(p->alloc[1].user.c.allocs, 1);
	ck_assert_uint_eq(p->alloc[1].user.c.frees, 0);
	ck_assert_uint_eq(p->alloc[1].backing.c.allocs, 0);
	/* backing calls are not the process' calls */
	ck_assert_uint_eq(calls(&s, 10, lm), 1);
	ck_assert_uint_eq(calls(&s, 10, lf), 0);
	ck_assert_uint_eq(calls(&s, 10, pa), 2);
	ms_stats_free(&s);
	ms_catalog_free(own);
}
END_TEST

/* The number of live blocks in side d's table and the reallocs in flight that took one */
static uint64_t side_live(struct ms_side *d)
{
	const struct ms_block *b;
	uint64_t n = 0, pos = 0;
	unsigned i;

	while ((b = ms_livetab_iter(&d->live, &pos)))
		n += !ms_block_dead(b);
	for (i = 0; d->pending && i < d->pending->n; i++)
		n += d->pending->v[i].tracked && !d->pending->v[i].released;
	return n;
}

/* An id the statistics were not told about (a function the recording never defined, a
 * node past MS_MAX_NODES) grows no table to it */
START_TEST(unknown_ids_not_grown)
{
	struct ms_stats s;
	struct ms_event e;
	struct ms_proc *p;

	ms_stats_init(&s, cat, NULL, NULL);
	apply(&s, ev(MS_EV_ALLOC, 65535, 10, 10, 0x1000, 16, 0));
	apply(&s, ev(MS_EV_ALLOC, F_PMA + 1, 10, 10, 0x2000, 16, 0));
	e = ev(MS_EV_ALLOC, F_MALLOC, 10, 10, 0x3000, 16, 0);
	e.node = 255;
	ms_stats_apply(&s, &e);
	p = ms_stats_proc(&s, 10, false);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_le(p->nby_func, 8);
	ck_assert_uint_eq(calls(&s, 10, F_MALLOC), 1);
	ck_assert_uint_le(p->numa.nnodes, MS_MAX_NODES);
	ck_assert_uint_le(p->alloc[1].user.numa.nnodes, MS_MAX_NODES);
	/* the calls are counted all the same */
	ck_assert_uint_eq(p->c.allocs, 3);
	ck_assert_uint_eq(p->c.live_allocs, 3);
	FREE(&s, 10, 0x3000);
	ck_assert_uint_eq(counts(&s, 10).live_allocs, 2);
	ms_stats_free(&s);
}
END_TEST

/* Threads that die inside realloc (or whose return record is lost) leave a realloc in
 * flight each: a side keeps at most MS_MAX_PENDING, the others are dropped and counted
 * (their blocks back in the table), and the returns that come later still balance */
START_TEST(pending_reallocs_bounded)
{
	const unsigned n = 3 * MS_MAX_PENDING;
	struct ms_stats s;
	struct ms_counts c;
	struct ms_proc *p;
	unsigned i;

	ms_stats_init(&s, cat, NULL, NULL);
	for (i = 0; i < n; i++) {
		apply(&s, ev(MS_EV_ALLOC, F_MALLOC, 10, 100 + i, 0x100000 + 16 * i, 16, 0));
		apply(&s,
		      ev(MS_EV_REALLOC_ENTER, F_REALLOC, 10, 100 + i, 0x100000 + 16 * i, 32, 0));
	}
	p = ms_stats_proc(&s, 10, false);
	ck_assert_ptr_nonnull(p->alloc[1].user.pending);
	ck_assert_uint_eq(p->alloc[1].user.pending->n, MS_MAX_PENDING);
	ck_assert_uint_eq(s.oom, n - MS_MAX_PENDING);
	ck_assert_uint_eq(s.stale_reallocs, n - MS_MAX_PENDING);
	c = counts(&s, 10);
	ck_assert_uint_eq(c.allocs, n);
	ck_assert_uint_eq(c.live_allocs, n);
	ck_assert_uint_eq(side_live(&p->alloc[1].user), n);
	ck_assert_uint_eq(s.blocks, p->alloc[1].user.live.used);
	/* the returns come after all: every block moves, none is lost or counted twice */
	for (i = 0; i < n; i++)
		apply(&s, ev(MS_EV_REALLOC, F_REALLOC, 10, 100 + i, 0x100000 + 16 * i, 32,
			     0x10000000 + 64 * i));
	c = counts(&s, 10);
	ck_assert_uint_eq(p->alloc[1].user.pending->n, 0);
	ck_assert_uint_eq(c.allocs, 2 * n);
	ck_assert_uint_eq(c.frees, n);
	ck_assert_uint_eq(c.unmatched_frees, 0);
	ck_assert_uint_eq(c.live_allocs, n);
	ck_assert_uint_eq(c.live_bytes, 32 * n);
	ck_assert_uint_eq(side_live(&p->alloc[1].user), n);
	ms_stats_free(&s);
}
END_TEST

/* The release of a block by a realloc in flight is found by its address, whichever of
 * many reallocs in flight took it, and an entry reused by its thread leaves no trace */
START_TEST(pending_found_by_address)
{
	struct ms_stats s;
	struct ms_counts c;
	struct ms_proc *p;
	unsigned i;

	ms_stats_init(&s, cat, NULL, NULL);
	for (i = 0; i < 100; i++) {
		apply(&s, ev(MS_EV_ALLOC, F_MALLOC, 10, 100 + i, 0x1000 * (i + 1), 10, 0));
		apply(&s, ev(MS_EV_REALLOC_ENTER, F_REALLOC, 10, 100 + i, 0x1000 * (i + 1), 20, 0));
	}
	/* thread 1000 gets back the blocks of threads 100..149 before their reallocs return */
	for (i = 0; i < 50; i++)
		apply(&s, ev(MS_EV_ALLOC, F_MALLOC, 10, 1000, 0x1000 * (i + 1), 5, 0));
	c = counts(&s, 10);
	ck_assert_uint_eq(c.frees, 50);
	ck_assert_uint_eq(c.live_allocs, 100); /* 50 reallocs' blocks and 50 new ones */
	ck_assert_uint_eq(c.live_bytes, 50 * 10 + 50 * 5);
	p = ms_stats_proc(&s, 10, false);
	ck_assert_uint_eq(side_live(&p->alloc[1].user), 100);
	/* thread 150 enters realloc again: its last realloc's return was lost, its block
	 * goes back to the table, and the new entry takes it again */
	apply(&s, ev(MS_EV_REALLOC_ENTER, F_REALLOC, 10, 150, 0x1000 * 51, 20, 0));
	ck_assert_uint_eq(p->alloc[1].user.pending->n, 100);
	ck_assert_uint_eq(side_live(&p->alloc[1].user), 100);
	/* every realloc returns, moving its block */
	for (i = 0; i < 100; i++)
		apply(&s, ev(MS_EV_REALLOC, F_REALLOC, 10, 100 + i, 0x1000 * (i + 1), 20,
			     0x900000 + 0x1000 * i));
	c = counts(&s, 10);
	ck_assert_uint_eq(p->alloc[1].user.pending->n, 0);
	ck_assert_uint_eq(c.frees, 100);
	ck_assert_uint_eq(c.allocs, 250);
	ck_assert_uint_eq(c.live_allocs, 150);
	ck_assert_uint_eq(c.live_bytes, 50 * 5 + 100 * 20);
	ck_assert_uint_eq(c.unmatched_frees, 0);
	ck_assert_uint_eq(s.oom, 0);
	ms_stats_free(&s);
}
END_TEST

/* A process kept after its exit (-p, COMMAND, -f) keeps no realloc in flight: a thread
 * can no longer return from it. Its block stays counted live, in the table */
START_TEST(pending_dropped_at_exit)
{
	struct ms_stats s;
	struct ms_event e;
	struct ms_proc *p;

	ms_stats_init(&s, cat, NULL, NULL);
	p = ms_stats_proc(&s, 10, true);
	p->pinned = true;
	apply(&s, ev(MS_EV_ALLOC, F_MALLOC, 10, 11, 0x1000, 10, 0));
	apply(&s, ev(MS_EV_REALLOC_ENTER, F_REALLOC, 10, 11, 0x1000, 20, 0));
	ck_assert_uint_eq(p->alloc[1].user.pending->n, 1);
	e = ev(MS_EV_EXIT, 0, 10, 10, 0, 0, 0);
	ms_stats_apply(&s, &e);
	ck_assert(p->exited);
	ck_assert(!p->alloc[1].user.pending || p->alloc[1].user.pending->n == 0);
	ck_assert_uint_eq(counts(&s, 10).live_allocs, 1);
	ck_assert_uint_eq(side_live(&p->alloc[1].user), 1);
	ck_assert_uint_eq(s.blocks, 1);
	ms_stats_free(&s);
}
END_TEST

/* What a record of every process would show (a process, each allocator, function, size
 * class and NUMA node it shows) is counted as it changes: a replay writes no more of it
 * than it reads records */
START_TEST(figures_counted)
{
	struct ms_stats s;
	struct ms_event e;

	ms_stats_init(&s, cat, NULL, NULL);
	ck_assert_uint_eq(s.figures, 0);
	/* pid 10, libc, malloc, the class of 8 to 15 bytes, node 0 (libc's, pid 10's) */
	ALLOC(&s, 10, 0x1000, 10);
	ck_assert_uint_eq(s.figures, 6);
	ALLOC(&s, 10, 0x2000, 12);
	ck_assert_uint_eq(s.figures, 6);
	FREE(&s, 10, 0x2000);
	ck_assert_uint_eq(s.figures, 7); /* free */
	ALLOC(&s, 10, 0x3000, 100);
	ck_assert_uint_eq(s.figures, 8); /* the class of 64 to 127 bytes */
	e = ev(MS_EV_ALLOC, F_MALLOC, 10, 10, 0x4000, 100, 0);
	e.node = 1;
	ms_stats_apply(&s, &e);
	ck_assert_uint_eq(s.figures, 10); /* node 1, twice */
	ALLOC(&s, 11, 0x1000, 10);
	ck_assert_uint_eq(s.figures, 16);
	ck_assert(!ms_stats_worth_report(&s, s.events - 15));
	ck_assert(ms_stats_worth_report(&s, s.events - 16));
	e = ev(MS_EV_EXEC, 0, 10, 10, 0, 0, 0);
	ms_stats_apply(&s, &e); /* pid 10 starts afresh */
	ck_assert_uint_eq(s.figures, 7);
	ms_stats_forget(&s, 11);
	ck_assert_uint_eq(s.figures, 1);
	ms_stats_proc(&s, 12, true); /* named (a comm frame), no call yet */
	ck_assert_uint_eq(s.figures, 2);
	ms_stats_free(&s);
}
END_TEST

/* The sites of a side's large blocks (for the findings) cost with their number: a side
 * with one such block holds a small index, not one sized for MS_MAX_SIZE_SITES */
START_TEST(site_index_grows)
{
	const unsigned n = MS_MAX_SIZE_SITES + 1000;
	struct ms_size_sites *ss;
	struct ms_stats s;
	struct ms_event e;
	unsigned i, frees = 0;

	ms_stats_init(&s, cat, NULL, NULL);
	ALLOC(&s, 10, 0x1000, MS_SIZE_SITE_MIN);
	ss = ms_stats_proc(&s, 10, false)->alloc[1].user.size_sites;
	ck_assert_ptr_nonnull(ss);
	ck_assert_uint_eq(ss->n, 1);
	ck_assert_uint_le(ss->index.cap, 16);
	for (i = 0; i < n; i++) {
		e = ev(MS_EV_ALLOC, F_MALLOC, 11, 11, 0x100000 + 0x1000 * i, MS_SIZE_SITE_MIN, 0);
		e.caller = 0x400000 + i;
		ms_stats_apply(&s, &e);
	}
	ss = ms_stats_proc(&s, 11, false)->alloc[1].user.size_sites;
	ck_assert_uint_eq(ss->n, MS_MAX_SIZE_SITES);
	ck_assert_uint_eq(ss->index.cap, 2 * MS_MAX_SIZE_SITES);
	ck_assert_uint_eq(ss->untracked, n - MS_MAX_SIZE_SITES);
	/* each site still found: a second block of each of the first 100 */
	for (i = 0; i < 100; i++) {
		e = ev(MS_EV_ALLOC, F_MALLOC, 11, 11, 0x90000000 + 0x1000 * i, MS_SIZE_SITE_MIN, 0);
		e.caller = 0x400000 + i;
		ms_stats_apply(&s, &e);
	}
	ck_assert_uint_eq(ss->n, MS_MAX_SIZE_SITES);
	for (i = 0; i < MS_MAX_SIZE_SITES; i++) {
		ck_assert_uint_eq(ss->v[i].allocs, ss->v[i].caller < 0x400000 + 100 ? 2 : 1);
		frees += ss->v[i].frees;
	}
	ck_assert_uint_eq(frees, 0);
	for (i = 0; i < n; i++)
		FREE(&s, 11, 0x100000 + 0x1000 * i);
	for (i = frees = 0; i < MS_MAX_SIZE_SITES; i++)
		frees += ss->v[i].frees;
	ck_assert_uint_eq(frees, MS_MAX_SIZE_SITES);
	ms_stats_free(&s);
}
END_TEST

/* Past --max-live, calls are counted and blocks not tracked; past --max-processes,
 * new processes are not tracked; both say so */
START_TEST(caps)
{
	struct ms_stats s;
	struct ms_counts c;

	ms_stats_init(&s, cat, NULL, NULL);
	s.max_blocks = 3;
	s.max_procs = 2;
	ALLOC(&s, 10, 0x1000, 10);
	ALLOC(&s, 10, 0x2000, 10);
	ALLOC(&s, 10, 0x3000, 10);
	ck_assert_uint_eq(s.blocks, 3);
	ck_assert(!s.capped);
	ALLOC(&s, 10, 0x4000, 10); /* counted, not tracked */
	c = counts(&s, 10);
	ck_assert(s.capped);
	ck_assert_uint_eq(s.oom, 1);
	ck_assert_uint_eq(c.allocs, 4);
	ck_assert_uint_eq(c.alloc_bytes, 40);
	ck_assert_uint_eq(c.live_allocs, 3);
	FREE(&s, 10, 0x4000); /* its free: unmatched */
	ck_assert_uint_eq(counts(&s, 10).unmatched_frees, 1);
	FREE(&s, 10, 0x1000); /* a dead entry still takes its place */
	ck_assert_uint_eq(s.blocks, 3);
	ALLOC(&s, 10, 0x1000, 20); /* the same address: no new entry needed */
	ck_assert_uint_eq(counts(&s, 10).live_allocs, 3);
	ALLOC(&s, 11, 0x1000, 10);
	ck_assert_uint_eq(s.blocks, 3); /* at the cap: pid 11 counted, not tracked */
	ALLOC(&s, 12, 0x1000, 10);
	ck_assert_ptr_null(ms_stats_proc(&s, 12, false));
	ms_stats_forget(&s, 10);
	ck_assert_uint_eq(s.blocks, 0);
	ms_stats_free(&s);
}
END_TEST

START_TEST(size_buckets)
{
	ck_assert_uint_eq(ms_size_bucket(0), 0);
	ck_assert_uint_eq(ms_size_bucket(1), 1);
	ck_assert_uint_eq(ms_size_bucket(2), 2);
	ck_assert_uint_eq(ms_size_bucket(3), 2);
	ck_assert_uint_eq(ms_size_bucket(4), 3);
	ck_assert_uint_eq(ms_size_bucket(4096), 13);
	ck_assert_uint_eq(ms_size_bucket(UINT64_MAX), 64);
	ck_assert_uint_eq(ms_bucket_floor(0), 0);
	ck_assert_uint_eq(ms_bucket_floor(1), 1);
	ck_assert_uint_eq(ms_bucket_floor(13), 4096);
	ck_assert_uint_eq(ms_bucket_floor(64), 1ULL << 63);
}
END_TEST

/* allocs - frees = live for side d */
static void assert_balanced(const struct ms_counts *c)
{
	ck_assert_uint_eq(c->allocs - c->frees, c->live_allocs);
	ck_assert_uint_eq(c->alloc_bytes - c->freed_bytes, c->live_bytes);
}

/*
 * CPython under --preset pymalloc: a block allocated through PyObject_Malloc (its
 * malloc nested: the pymalloc backing) is freed by an inlined PyObject_Free that calls
 * free directly; a libc block is freed through the PyObject_Free symbol, whose nested
 * free is the second view of the same release. A free finds its block whatever side
 * holds it, and nothing freed stays live.
 */
START_TEST(frees_across_allocators)
{
	static const struct ms_func fs[] = {
		{ .name = "PyObject_Malloc", .allocator = 2, .kind = MS_FN_ALLOC },
		{ .name = "PyObject_Free", .allocator = 2, .kind = MS_FN_FREE },
		{ .name = "PyObject_Realloc", .allocator = 2, .kind = MS_FN_REALLOC },
		{ .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC },
		{ .name = "free", .allocator = 1, .kind = MS_FN_FREE },
		{ .name = "realloc", .allocator = 1, .kind = MS_FN_REALLOC },
	};
	enum { pa = 1, pf, pr, lm, lf, lr }; /* their ids */
	struct ms_catalog *own = catalog_of(fs, sizeof(fs) / sizeof(fs[0]));
	struct ms_stats s;
	struct ms_event e;
	struct ms_proc *p;

	ms_stats_init(&s, own, NULL, NULL);

	/* PyObject_Malloc(1000) -> malloc(1000): both sides hold 0x1000 */
	e = ev(MS_EV_ALLOC, lm, 10, 10, 0x1000, 1000, 0);
	e.flags = MS_EVF_NESTED;
	e.outer_func = pa;
	ms_stats_apply(&s, &e);
	apply(&s, ev(MS_EV_ALLOC, pa, 10, 10, 0x1000, 1000, 0));
	/* an inlined PyObject_Free: free(0x1000) outside any traced call */
	apply(&s, ev(MS_EV_FREE, lf, 10, 10, 0x1000, 0, 0));
	p = ms_stats_proc(&s, 10, false);
	ck_assert_uint_eq(p->alloc[2].user.c.frees, 1);
	ck_assert_uint_eq(p->alloc[2].user.c.live_allocs, 0);
	ck_assert_uint_eq(p->alloc[2].backing.c.frees, 1);
	ck_assert_uint_eq(p->alloc[2].backing.c.live_allocs, 0);
	ck_assert_uint_eq(p->alloc[1].user.c.unmatched_frees, 0);
	ck_assert_uint_eq(p->c.frees, 1);
	ck_assert_uint_eq(p->c.live_allocs, 0);
	ck_assert_uint_eq(calls(&s, 10, lf), 1);

	/* a libc block freed through PyObject_Free, which passes it on to free */
	apply(&s, ev(MS_EV_ALLOC, lm, 10, 10, 0x2000, 64, 0));
	apply(&s, ev(MS_EV_FREE, pf, 10, 10, 0x2000, 0, 0));
	e = ev(MS_EV_FREE, lf, 10, 10, 0x2000, 0, 0);
	e.flags = MS_EVF_NESTED;
	e.outer_func = pf;
	ms_stats_apply(&s, &e);
	p = ms_stats_proc(&s, 10, false);
	ck_assert_uint_eq(p->alloc[1].user.c.frees, 1);
	ck_assert_uint_eq(p->alloc[1].user.c.live_allocs, 0);
	ck_assert_uint_eq(p->alloc[2].user.c.unmatched_frees, 0);
	ck_assert_uint_eq(p->alloc[2].backing.c.unmatched_frees, 0);
	ck_assert_uint_eq(p->alloc[2].backing.c.dead_frees, 0);
	ck_assert_uint_eq(p->c.frees, 2);
	ck_assert_uint_eq(calls(&s, 10, pf), 1);

	/* the address comes back from malloc: nothing to correct, nothing missed */
	apply(&s, ev(MS_EV_ALLOC, lm, 10, 10, 0x2000, 32, 0));
	p = ms_stats_proc(&s, 10, false);
	ck_assert_uint_eq(p->c.missed_frees, 0);
	ck_assert_uint_eq(p->c.live_allocs, 1);

	/* libc's realloc moves a block PyObject_Malloc handed out */
	e = ev(MS_EV_ALLOC, lm, 10, 10, 0x3000, 600, 0);
	e.flags = MS_EVF_NESTED;
	e.outer_func = pa;
	ms_stats_apply(&s, &e);
	apply(&s, ev(MS_EV_ALLOC, pa, 10, 10, 0x3000, 600, 0));
	apply(&s, ev(MS_EV_REALLOC_ENTER, lr, 10, 10, 0x3000, 900, 0));
	apply(&s, ev(MS_EV_REALLOC, lr, 10, 10, 0x3000, 900, 0x4000));
	/* PyObject_Realloc of a libc block: passed on to realloc (nested) */
	apply(&s, ev(MS_EV_REALLOC_ENTER, pr, 10, 10, 0x4000, 2000, 0));
	e = ev(MS_EV_REALLOC_ENTER, lr, 10, 10, 0x4000, 2000, 0);
	e.flags = MS_EVF_NESTED;
	e.outer_func = pr;
	ms_stats_apply(&s, &e);
	e = ev(MS_EV_REALLOC, lr, 10, 10, 0x4000, 2000, 0x5000);
	e.flags = MS_EVF_NESTED;
	e.outer_func = pr;
	ms_stats_apply(&s, &e);
	apply(&s, ev(MS_EV_REALLOC, pr, 10, 10, 0x4000, 2000, 0x5000));
	p = ms_stats_proc(&s, 10, false);
	ck_assert_uint_eq(p->alloc[1].user.c.live_allocs, 1); /* 0x2000 */
	ck_assert_uint_eq(p->alloc[2].user.c.live_allocs, 1); /* 0x5000 */
	ck_assert_uint_eq(p->alloc[2].user.c.live_bytes, 2000);
	ck_assert_uint_eq(p->alloc[2].backing.c.live_allocs, 1); /* 0x5000 */
	ck_assert_uint_eq(p->c.live_allocs, 2);
	ck_assert_uint_eq(p->c.live_bytes, 32 + 2000);
	ck_assert_uint_eq(p->c.unmatched_frees, 0);
	ck_assert_uint_eq(p->alloc[2].backing.c.unmatched_frees, 0);
	assert_balanced(&p->c);
	assert_balanced(&p->alloc[1].user.c);
	assert_balanced(&p->alloc[1].backing.c);
	assert_balanced(&p->alloc[2].user.c);
	assert_balanced(&p->alloc[2].backing.c);
	ck_assert_uint_eq(s.missed_frees, 0);
	ms_stats_free(&s);
	ms_catalog_free(own);
}
END_TEST

/* An address allocated twice without a free seen: the free was missed. The block is
 * released, counted as a missed free (in the process, its side and the tracer's
 * losses), and allocs - frees = live still holds. */
START_TEST(missed_free_counted)
{
	struct ms_stats s;
	struct ms_counts c;

	ms_stats_init(&s, cat, NULL, NULL);
	ALLOC(&s, 10, 0x1000, 100);
	ALLOC(&s, 10, 0x1000, 40); /* its free was never seen */
	c = counts(&s, 10);
	ck_assert_uint_eq(c.allocs, 2);
	ck_assert_uint_eq(c.missed_frees, 1);
	ck_assert_uint_eq(c.frees, 1);
	ck_assert_uint_eq(c.freed_bytes, 100);
	ck_assert_uint_eq(c.live_allocs, 1);
	ck_assert_uint_eq(c.live_bytes, 40);
	ck_assert_uint_eq(s.missed_frees, 1);
	assert_balanced(&c);
	FREE(&s, 10, 0x1000);
	c = counts(&s, 10);
	ck_assert_uint_eq(c.frees, 2);
	ck_assert_uint_eq(c.live_allocs, 0);
	assert_balanced(&c);
	ms_stats_free(&s);
}
END_TEST

/* A process' image is traced from its start once its exec is seen */
START_TEST(from_start_on_exec)
{
	struct ms_stats s;
	struct ms_event e;

	ms_stats_init(&s, cat, NULL, NULL);
	ALLOC(&s, 10, 0x1000, 100);
	ck_assert(!ms_stats_proc(&s, 10, false)->from_start);
	e = ev(MS_EV_EXEC, 0, 10, 10, 0, 0, 0);
	memcpy(e.comm, "late", 5);
	ms_stats_apply(&s, &e);
	ck_assert(ms_stats_proc(&s, 10, false)->from_start);
	ms_stats_free(&s);
}
END_TEST

static void count_procs(struct ms_proc *p, void *ctx)
{
	(*(unsigned *)ctx)++;
}

/* A pinned process that exited keeps its figures for the final record, and a new process
 * that gets its pid (a fork, an exec, or simply its calls) gets an entry of its own */
START_TEST(pid_reuse_keeps_exited)
{
	struct ms_stats s;
	struct ms_event e;
	struct ms_proc *p;
	unsigned n = 0;

	ms_stats_init(&s, cat, NULL, NULL);
	p = ms_stats_proc(&s, 10, true);
	p->pinned = p->listed = true;
	ALLOC(&s, 10, 0x1000, 100);
	e = ev(MS_EV_EXIT, 0, 10, 10, 0, 0, 0);
	memcpy(e.comm, "old", 4);
	ms_stats_apply(&s, &e);
	ck_assert(ms_stats_proc(&s, 10, false)->exited);
	/* the pid comes back: a fork, then an exec */
	e = ev(MS_EV_FORK, 0, 10, 10, 0, 0, 0);
	memcpy(e.comm, "new", 4);
	ms_stats_apply(&s, &e);
	ALLOC(&s, 10, 0x2000, 7);
	e = ev(MS_EV_EXEC, 0, 10, 10, 0, 0, 0);
	memcpy(e.comm, "newer", 6);
	ms_stats_apply(&s, &e);
	p = ms_stats_proc(&s, 10, false);
	ck_assert(!p->exited);
	ck_assert_str_eq(p->comm, "newer");
	ck_assert_uint_eq(p->c.allocs, 0);
	ms_stats_for_each(&s, count_procs, &n);
	ck_assert_uint_eq(n, 2);
	/* the old one is still there for the final record, with its figures */
	ck_assert_uint_eq(s.nretired, 1);
	ck_assert_str_eq(s.retired[0]->comm, "old");
	ck_assert_uint_eq(s.retired[0]->c.allocs, 1);
	ck_assert_uint_eq(s.retired[0]->c.live_bytes, 100);
	/* calls of a pid whose exited process is kept, with no fork seen: a new process */
	p->pinned = true;
	e = ev(MS_EV_EXIT, 0, 10, 10, 0, 0, 0);
	ms_stats_apply(&s, &e);
	ALLOC(&s, 10, 0x3000, 5);
	ck_assert_uint_eq(s.nretired, 2);
	ck_assert_uint_eq(ms_stats_proc(&s, 10, false)->c.allocs, 1);
	ck_assert_uint_eq(ms_stats_proc(&s, 10, false)->c.alloc_bytes, 5);
	ms_stats_free(&s);
}
END_TEST

/* A forked process is named after its parent until it execs; threads keep the name of
 * their process' leader */
START_TEST(fork_names_child)
{
	struct ms_stats s;
	struct ms_event e;
	struct ms_proc *p;

	ms_stats_init(&s, cat, NULL, NULL);
	e = ev(MS_EV_FORK, 0, 11, 11, 0, 0, 0);
	memcpy(e.comm, "bash", 5);
	e.ppid = 10;
	ms_stats_apply(&s, &e);
	ALLOC(&s, 11, 0x1000, 100);
	p = ms_stats_proc(&s, 11, false);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->comm, "bash");
	ck_assert_int_eq(p->ppid, 10);
	ck_assert(!p->from_start);
	ms_stats_free(&s);
}
END_TEST

Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, libc_funcs, catalog_free);

	tcase_add_test(tc, alloc_free_peak);
	tcase_add_test(tc, unmatched_and_dead_frees);
	tcase_add_test(tc, realloc_forms);
	tcase_add_test(tc, realloc_races_malloc);
	tcase_add_test(tc, realloc_without_entry);
	tcase_add_test(tc, exit_exec_and_pid_reuse);
	tcase_add_test(tc, many_processes);
	tcase_add_test(tc, backing_of_outer_allocator);
	tcase_add_test(tc, caps);
	tcase_add_test(tc, size_buckets);
	tcase_add_test(tc, frees_across_allocators);
	tcase_add_test(tc, missed_free_counted);
	tcase_add_test(tc, from_start_on_exec);
	tcase_add_test(tc, fork_names_child);
	tcase_add_test(tc, unknown_ids_not_grown);
	tcase_add_test(tc, pending_reallocs_bounded);
	tcase_add_test(tc, pending_found_by_address);
	tcase_add_test(tc, pending_dropped_at_exit);
	tcase_add_test(tc, figures_counted);
	tcase_add_test(tc, site_index_grows);
	tcase_add_test(tc, pid_reuse_keeps_exited);
	suite_add_tcase(s, tc);
	return s;
}
