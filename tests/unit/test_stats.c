/* test_stats.c: per-process statistics from synthetic event streams */
#include <string.h>
#include "funcs.h"
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

START_TEST(alloc_free_peak)
{
	struct ms_stats s;
	struct ms_counts c;

	ms_stats_init(&s, NULL, NULL);
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

	ms_stats_init(&s, NULL, NULL);
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

	ms_stats_init(&s, NULL, NULL);
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

	ms_stats_init(&s, NULL, NULL);
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

	ms_stats_init(&s, NULL, NULL);
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
	ms_stats_init(&s, on_end, NULL);
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

	ms_stats_init(&s, NULL, NULL);
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
	struct ms_func pool_alloc = { .name = "pool_alloc", .allocator = 2, .kind = MS_FN_ALLOC };
	struct ms_func pool_free = { .name = "pool_free", .allocator = 2, .kind = MS_FN_FREE };
	struct ms_func slab = {
		.name = "slab", .allocator = 2, .kind = MS_FN_ALLOC, .fixed_size = 64
	};
	struct ms_func lmalloc = { .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC };
	struct ms_func lfree = { .name = "free", .allocator = 1, .kind = MS_FN_FREE };
	int pa, pf, sl, lm, lf;
	struct ms_stats s;
	struct ms_event e;
	struct ms_proc *p;

	ms_funcs_reset();
	pa = ms_funcs_add(&pool_alloc);
	pf = ms_funcs_add(&pool_free);
	sl = ms_funcs_add(&slab);
	lm = ms_funcs_add(&lmalloc);
	lf = ms_funcs_add(&lfree);
	ms_stats_init(&s, NULL, NULL);
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
	ms_funcs_reset();
}
END_TEST

/* Past --max-live, calls are counted and blocks not tracked; past --max-processes,
 * new processes are not tracked; both say so */
START_TEST(caps)
{
	struct ms_stats s;
	struct ms_counts c;

	ms_stats_init(&s, NULL, NULL);
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

Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

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
	suite_add_tcase(s, tc);
	return s;
}
