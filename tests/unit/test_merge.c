/* test_merge.c: the per-CPU rings' records merged by timestamp (merge.c): order across
 * queues, the watermark, queues that empty and refill, growth, late records */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "merge.h"
#include "unit.h"

struct seen {
	uint64_t ts[100000];
	uint32_t tid[100000];
	size_t n;
};

static void collect(void *ctx, const struct ms_event *e)
{
	struct seen *s = ctx;

	ck_assert_uint_lt(s->n, 100000);
	s->ts[s->n] = e->ts_ns;
	s->tid[s->n++] = e->tid;
}

static struct ms_event ev(uint64_t ts, uint32_t tid)
{
	struct ms_event e;

	memset(&e, 0, sizeof(e));
	e.type = MS_EV_ALLOC;
	e.ts_ns = ts;
	e.tid = tid;
	return e;
}

static struct seen *seen_new(void)
{
	struct seen *s = calloc(1, sizeof(*s));

	ck_assert_ptr_nonnull(s);
	return s;
}

/* a free read from CPU 1's ring after the malloc CPU 0 made later comes out first */
START_TEST(order_across_queues)
{
	struct ms_merge m;
	struct seen *s = seen_new();
	struct ms_event e;

	ck_assert_int_eq(ms_merge_init(&m, 2), 0);
	e = ev(200, 1); /* CPU 0: the malloc that got the address back */
	ck_assert_int_eq(ms_merge_push(&m, 0, &e), 0);
	e = ev(300, 1);
	ck_assert_int_eq(ms_merge_push(&m, 0, &e), 0);
	e = ev(100, 2); /* CPU 1: the free, read later */
	ck_assert_int_eq(ms_merge_push(&m, 1, &e), 0);
	ck_assert_uint_eq(ms_merge_drain(&m, UINT64_MAX, collect, s), 3);
	ck_assert_uint_eq(s->n, 3);
	ck_assert_uint_eq(s->ts[0], 100);
	ck_assert_uint_eq(s->tid[0], 2);
	ck_assert_uint_eq(s->ts[1], 200);
	ck_assert_uint_eq(s->ts[2], 300);
	ck_assert_uint_eq(m.late, 0);
	ck_assert_uint_eq(ms_merge_drain(&m, UINT64_MAX, collect, s), 0); /* none left */
	ms_merge_free(&m);
	free(s);
}
END_TEST

/* records newer than the watermark wait; the next drain gives them in order */
START_TEST(watermark)
{
	struct ms_merge m;
	struct seen *s = seen_new();
	struct ms_event e;
	uint64_t q0[] = { 10, 20, 50, 60 }, q1[] = { 15, 55 };
	size_t i;

	ck_assert_int_eq(ms_merge_init(&m, 3), 0);
	for (i = 0; i < 4; i++) {
		e = ev(q0[i], 0);
		ck_assert_int_eq(ms_merge_push(&m, 0, &e), 0);
	}
	for (i = 0; i < 2; i++) {
		e = ev(q1[i], 1);
		ck_assert_int_eq(ms_merge_push(&m, 1, &e), 0);
	}
	ck_assert_uint_eq(ms_merge_drain(&m, 20, collect, s), 3); /* 10 15 20 */
	ck_assert_uint_eq(ms_merge_drain(&m, 20, collect, s), 0);
	/* a third ring's record of 30 arrives before the next drain: it comes before 50 */
	e = ev(30, 2);
	ck_assert_int_eq(ms_merge_push(&m, 2, &e), 0);
	ck_assert_uint_eq(ms_merge_drain(&m, 100, collect, s), 4);
	{
		uint64_t want[] = { 10, 15, 20, 30, 50, 55, 60 };

		ck_assert_uint_eq(s->n, 7);
		for (i = 0; i < 7; i++)
			ck_assert_uint_eq(s->ts[i], want[i]);
	}
	ck_assert_uint_eq(m.late, 0);
	ms_merge_free(&m);
	free(s);
}
END_TEST

/* one queue waiting (the drain's path without the heap): given out up to the bound, the
 * rest kept, and merged again once another queue has records; the count of records
 * waiting right throughout */
START_TEST(one_queue_then_two)
{
	struct ms_merge m;
	struct seen *s = seen_new();
	struct ms_event e;
	uint64_t want[] = { 10, 20, 30, 35, 40, 45, 50 };
	size_t i;

	ck_assert_int_eq(ms_merge_init(&m, 2), 0);
	for (i = 1; i <= 5; i++) {
		e = ev(10 * i, 0);
		ck_assert_int_eq(ms_merge_push(&m, 0, &e), 0);
	}
	ck_assert_uint_eq(ms_merge_drain(&m, 25, collect, s), 2); /* 10 20 */
	ck_assert_uint_eq(m.queued, 3);
	ck_assert_uint_eq(ms_merge_drain(&m, 25, collect, s), 0);
	e = ev(35, 1);
	ck_assert_int_eq(ms_merge_push(&m, 1, &e), 0);
	e = ev(45, 1);
	ck_assert_int_eq(ms_merge_push(&m, 1, &e), 0);
	/* 30 35 40 from both, then queue 1's 45 alone is left with 0's 50: the bound
	 * stops it inside the one queue's path (queue 0 emptied, queue 1 waits) */
	ck_assert_uint_eq(ms_merge_drain(&m, 42, collect, s), 3);
	ck_assert_uint_eq(m.queued, 2);
	ck_assert_uint_eq(ms_merge_drain(&m, UINT64_MAX, collect, s), 2);
	ck_assert_uint_eq(m.queued, 0);
	ck_assert_uint_eq(s->n, 7);
	for (i = 0; i < 7; i++)
		ck_assert_uint_eq(s->ts[i], want[i]);
	/* emptied: a push starts the queue again from its first slot */
	e = ev(60, 0);
	ck_assert_int_eq(ms_merge_push(&m, 0, &e), 0);
	ck_assert_uint_eq(ms_merge_drain(&m, UINT64_MAX, collect, s), 1);
	ck_assert_uint_eq(m.q[0].head, 0);
	ck_assert_uint_eq(m.q[0].n, 0);
	ck_assert_uint_eq(m.late, 0);
	ms_merge_free(&m);
	free(s);
}
END_TEST

/* a record older than one already given out (it came past the delay) is given out, and
 * counted as late */
START_TEST(late_record)
{
	struct ms_merge m;
	struct seen *s = seen_new();
	struct ms_event e;

	ck_assert_int_eq(ms_merge_init(&m, 3), 0);
	e = ev(100, 0);
	ck_assert_int_eq(ms_merge_push(&m, 0, &e), 0);
	ck_assert_uint_eq(ms_merge_drain(&m, 150, collect, s), 1);
	e = ev(90, 0);
	ck_assert_int_eq(ms_merge_push(&m, 2, &e), 0);
	ck_assert_uint_eq(ms_merge_drain(&m, 150, collect, s), 1);
	ck_assert_uint_eq(s->n, 2);
	ck_assert_uint_eq(m.late, 1);
	ck_assert_int_eq(ms_merge_push(&m, 3, &e), -EINVAL);
	ck_assert_int_eq(ms_merge_push(&m, -1, &e), -EINVAL);
	ms_merge_free(&m);
	free(s);
}
END_TEST

/* 64 queues, each sorted, 60,000 records in all, pushed and drained in rounds: the
 * output is sorted, nothing lost, queues grow past their first size and are reused */
START_TEST(many_queues_random)
{
	struct ms_merge m;
	struct seen *s = seen_new();
	uint64_t next[64] = { 0 }, now = 0;
	size_t pushed = 0, out = 0, i;
	unsigned seed = 12345;

	ck_assert_int_eq(ms_merge_init(&m, 64), 0);
	while (pushed < 60000) {
		/* a round: some queues get records up to now + 1000 */
		for (i = 0; i < 500 && pushed < 60000; i++) {
			int q = rand_r(&seed) % 64;
			struct ms_event e;

			if (next[q] < now)
				next[q] = now;
			next[q] += 1 + rand_r(&seed) % 7;
			e = ev(next[q], q);
			ck_assert_int_eq(ms_merge_push(&m, q, &e), 0);
			pushed++;
		}
		now += 200;
		out += ms_merge_drain(&m, now, collect, s);
	}
	out += ms_merge_drain(&m, UINT64_MAX, collect, s);
	ck_assert_uint_eq(out, pushed);
	ck_assert_uint_eq(s->n, pushed);
	for (i = 1; i < s->n; i++)
		ck_assert_msg(s->ts[i - 1] <= s->ts[i], "record %zu (%llu) after %llu", i,
			      (unsigned long long)s->ts[i], (unsigned long long)s->ts[i - 1]);
	ck_assert_uint_eq(ms_merge_drain(&m, UINT64_MAX, collect, s), 0); /* none left */
	ms_merge_free(&m);
	free(s);
}
END_TEST

/*
 * A ring whose head record is held back (a thread preempted between reserving it and
 * committing it) holds every ring back: nothing newer than the last moment it was seen
 * empty comes out, however long it takes, so the held record still comes out in order.
 */
START_TEST(held_ring_holds_all)
{
	struct ms_merge m;
	struct seen *s = seen_new();
	struct ms_event e;

	ck_assert_int_eq(ms_merge_init(&m, 2), 0);
	ms_merge_quiet(&m, 0, 1000);
	ms_merge_quiet(&m, 1, 1000);
	e = ev(900, 1);
	ck_assert_int_eq(ms_merge_push(&m, 0, &e), 0);
	ms_merge_quiet(&m, 0, 5000);
	/* ring 1 is not empty from 1000 on: its held record comes a second later */
	e = ev(3000, 1);
	ck_assert_int_eq(ms_merge_push(&m, 0, &e), 0);
	ms_merge_quiet(&m, 0, 1000000000);
	ck_assert_uint_eq(ms_merge_drain_ready(&m, 0, collect, s), 1); /* 900 only */
	ck_assert_uint_eq(s->ts[0], 900);
	e = ev(1500, 2); /* the held one */
	ck_assert_int_eq(ms_merge_push(&m, 1, &e), 0);
	ms_merge_quiet(&m, 1, 1000000000);
	ck_assert_uint_eq(ms_merge_drain_ready(&m, 0, collect, s), 2);
	ck_assert_uint_eq(s->ts[1], 1500);
	ck_assert_uint_eq(s->ts[2], 3000);
	ck_assert_uint_eq(m.late, 0);
	ms_merge_free(&m);
	free(s);
}
END_TEST

/* Within one ring, a record reserved first can carry the later timestamp: queued in order */
START_TEST(order_within_queue)
{
	struct ms_merge m;
	struct seen *s = seen_new();
	struct ms_event e;
	uint64_t ts[] = { 100, 300, 200, 400, 250, 500 };
	unsigned i;

	ck_assert_int_eq(ms_merge_init(&m, 1), 0);
	for (i = 0; i < 6; i++) {
		e = ev(ts[i], i);
		ck_assert_int_eq(ms_merge_push(&m, 0, &e), 0);
	}
	ms_merge_quiet(&m, 0, 1000);
	ck_assert_uint_eq(ms_merge_drain_ready(&m, 0, collect, s), 6);
	for (i = 1; i < 6; i++)
		ck_assert_uint_le(s->ts[i - 1], s->ts[i]);
	ck_assert_uint_eq(m.late, 0);
	ms_merge_free(&m);
	free(s);
}
END_TEST

/* Past the bound on waiting (force_upto), records come out anyway; one that comes later
 * than a newer one given out is counted late, never silently applied as if in order */
START_TEST(forced_and_late_counted)
{
	struct ms_merge m;
	struct seen *s = seen_new();
	struct ms_event e;

	ck_assert_int_eq(ms_merge_init(&m, 2), 0);
	ms_merge_quiet(&m, 1, 100); /* ring 1 held from 100 on */
	e = ev(200, 1);
	ck_assert_int_eq(ms_merge_push(&m, 0, &e), 0);
	ms_merge_quiet(&m, 0, 10000);
	ck_assert_uint_eq(ms_merge_drain_ready(&m, 0, collect, s), 0);
	ck_assert_uint_eq(ms_merge_drain_ready(&m, 5000, collect, s), 1);
	e = ev(150, 2); /* older than what came out */
	ck_assert_int_eq(ms_merge_push(&m, 1, &e), 0);
	ms_merge_quiet(&m, 1, 10000);
	ck_assert_uint_eq(ms_merge_drain_ready(&m, 0, collect, s), 1);
	ck_assert_uint_eq(m.late, 1);
	ms_merge_free(&m);
	free(s);
}
END_TEST

/*
 * Runs of records (a ring's read, ms_merge_push_run) come out as the same records pushed
 * one by one: runs in order, runs out of order inside, runs older than their queue's last
 * record, on 8 queues, with drains in between
 */
START_TEST(runs_as_records)
{
	struct ms_merge by_run, by_one;
	struct seen *a = seen_new(), *b = seen_new();
	struct ms_event v[64];
	uint64_t next[8] = { 0 }, now = 0;
	size_t pushed = 0, i, n;
	unsigned seed = 777, round;

	ck_assert_int_eq(ms_merge_init(&by_run, 8), 0);
	ck_assert_int_eq(ms_merge_init(&by_one, 8), 0);
	for (round = 0; round < 2000; round++) {
		int q = rand_r(&seed) % 8, kind = rand_r(&seed) % 4;

		n = 1 + rand_r(&seed) % 64;
		if (next[q] < now)
			next[q] = now;
		for (i = 0; i < n; i++) {
			next[q] += 1 + rand_r(&seed) % 5;
			v[i] = ev(next[q], (uint32_t)pushed + i);
		}
		if (kind == 1 && n > 2) /* two records swapped: not in order inside */
			v[n / 2].ts_ns = v[n / 2 - 1].ts_ns - 1;
		else if (kind == 2) /* its first older than the queue's last */
			v[0].ts_ns = now > 50 ? now - 50 : 0;
		ck_assert_int_eq(ms_merge_push_run(&by_run, q, v, n), 0);
		for (i = 0; i < n; i++)
			ck_assert_int_eq(ms_merge_push(&by_one, q, &v[i]), 0);
		pushed += n;
		ck_assert_uint_eq(by_run.queued, by_one.queued);
		if (round % 7 == 6) {
			now += 300;
			ms_merge_drain(&by_run, now, collect, a);
			ms_merge_drain(&by_one, now, collect, b);
		}
	}
	ms_merge_drain(&by_run, UINT64_MAX, collect, a);
	ms_merge_drain(&by_one, UINT64_MAX, collect, b);
	ck_assert_uint_eq(a->n, pushed);
	ck_assert_uint_eq(b->n, pushed);
	for (i = 0; i < pushed; i++) {
		ck_assert_uint_eq(a->ts[i], b->ts[i]);
		ck_assert_uint_eq(a->tid[i], b->tid[i]);
	}
	ck_assert_uint_eq(by_run.late, by_one.late);
	ck_assert_uint_gt(by_run.late, 0); /* the older firsts: some came after newer ones */
	ck_assert_int_eq(ms_merge_push_run(&by_run, 8, v, 1), -EINVAL);
	ms_merge_free(&by_run);
	ms_merge_free(&by_one);
	free(a);
	free(b);
}
END_TEST

START_TEST(init_bad)
{
	struct ms_merge m;

	ck_assert_int_eq(ms_merge_init(&m, 0), -EINVAL);
	ms_merge_free(&m);
}
END_TEST

Suite *merge_suite(void)
{
	Suite *s = suite_create("merge");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, order_across_queues);
	tcase_add_test(tc, watermark);
	tcase_add_test(tc, one_queue_then_two);
	tcase_add_test(tc, late_record);
	tcase_add_test(tc, many_queues_random);
	tcase_add_test(tc, init_bad);
	tcase_add_test(tc, held_ring_holds_all);
	tcase_add_test(tc, order_within_queue);
	tcase_add_test(tc, forced_and_late_counted);
	tcase_add_test(tc, runs_as_records);
	suite_add_tcase(s, tc);
	return s;
}
