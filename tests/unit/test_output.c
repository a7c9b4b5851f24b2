/* test_output.c: the JSON record and the text table from the same figures */
#include <stdlib.h>
#include <string.h>
#include "catalog.h"
#include "output.h"
#include "presets.h"
#include "unit.h"

START_TEST(human_units)
{
	char b[32];

	ck_assert_str_eq(ms_human_bytes(0, b, sizeof(b)), "0 B");
	ck_assert_str_eq(ms_human_bytes(1023, b, sizeof(b)), "1023 B");
	ck_assert_str_eq(ms_human_bytes(1536, b, sizeof(b)), "1.5 KiB");
	ck_assert_str_eq(ms_human_bytes(3ULL << 30, b, sizeof(b)), "3.0 GiB");
	ck_assert_str_eq(ms_human_count(9999, b, sizeof(b)), "9999");
	ck_assert_str_eq(ms_human_count(12345, b, sizeof(b)), "12.3k");
	ck_assert_str_eq(ms_human_count(12.5e6, b, sizeof(b)), "12.5M");
}
END_TEST

static char *render(bool json, enum ms_record_kind kind, struct ms_stats *s)
{
	struct ms_report r = { .ts = 2.0, .interval_s = 1.0, .events = 5, .lost = 1 };
	char *buf = NULL;
	size_t len = 0;
	struct ms_output o = { .json = json };

	o.f = open_memstream(&buf, &len);
	r.lost_by[MS_CNT_RINGBUF_FULL] = 1;
	ms_output_report(&o, kind, &r, s);
	fclose(o.f);
	return buf;
}

START_TEST(record_fields)
{
	struct ms_catalog *cat;
	struct ms_func malloc_fn = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_event e = { .type = MS_EV_ALLOC, .tgid = 42, .tid = 42 };
	struct ms_stats s;
	struct ms_proc *p;
	const char *expected;
	char *out;
	size_t n;
	int id;

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	id = ms_catalog_add_func(cat, &malloc_fn);
	ms_stats_init(&s, cat, NULL, NULL);
	e.func = id;
	e.a.ptr = 0x1000;
	e.a.size = 24;
	ms_stats_apply(&s, &e);
	p = ms_stats_proc(&s, 42, false);
	strcpy(p->comm, "we\"ird\x01");
	out = render(true, MS_REC_INTERVAL, &s);
	expected =
		"{\"type\":\"interval\",\"ts\":2,\"interval_s\":1,\"events\":5,\"events_lost\":1,"
		"\"lost\":{\"ringbuf_full\":1,\"threads_full\":0,\"too_deep\":0,"
		"\"unmatched_returns\":0,\"stale_calls\":0,\"stack_collisions\":0,"
		"\"stack_map_full\":0,\"untracked\":0,\"missed_free\":0,\"late\":0},\"tracked_blocks\":0,"
		"\"tracked_blocks_peak\":0,\"processes\":[{"
		"\"pid\":42,\"comm\":\"we\\\"ird\\u0001\",\"live_since\":\"attach\","
		"\"allocs\":1,\"frees\":0,"
		"\"unmatched_frees\":0,\"dead_frees\":0,\"missed_frees\":0,\"alloc_bytes\":24,\"freed_bytes\":0,"
		"\"live_allocs\":1,\"live_bytes\":24,\"peak_bytes\":24,\"failed_allocs\":0,"
		"\"by_func\":{\"malloc\":1},\"size_hist\":{\"16\":1},\"allocs_per_s\":1,"
		"\"frees_per_s\":0,\"alloc_bytes_per_s\":24,\"allocators\":[{\"name\":\"libc\","
		"\"kind\":\"libc\",\"allocs\":1,\"frees\":0,\"unmatched_frees\":0,\"dead_frees\":0,"
		"\"missed_frees\":0,\"alloc_bytes\":24,\"freed_bytes\":0,\"live_allocs\":1,\"live_bytes\":24,"
		"\"peak_bytes\":24,\"failed_allocs\":0,\"by_func\":{\"malloc\":1},"
		"\"size_hist\":{\"16\":1},\"allocs_per_s\":1,\"frees_per_s\":0,"
		"\"alloc_bytes_per_s\":24,\"backing_allocs\":0,\"backing_frees\":0,"
		"\"backing_unmatched_frees\":0,\"backing_dead_frees\":0,"
		"\"backing_missed_frees\":0,\"backing_bytes\":0,"
		"\"backing_freed_bytes\":0,\"backing_live_allocs\":0,\"backing_live_bytes\":0,"
		"\"backing_peak_bytes\":0,\"backing_failed_allocs\":0,"
		"\"numa\":{\"nodes\":{\"0\":{\"allocs\":1,\"alloc_bytes\":24,\"frees\":0,"
		"\"freed_bytes\":0,\"live_allocs\":1,\"live_bytes\":24,\"peak_bytes\":24,"
		"\"live_share\":1}},\"remote_frees\":0,\"remote_free_bytes\":0,"
		"\"remote_free_share\":0}}],"
		"\"numa\":{\"nodes\":{\"0\":{\"allocs\":1,\"alloc_bytes\":24,\"frees\":0,"
		"\"freed_bytes\":0,\"live_allocs\":1,\"live_bytes\":24,\"peak_bytes\":24,"
		"\"live_share\":1}},\"remote_frees\":0,\"remote_free_bytes\":0,"
		"\"remote_free_share\":0},"
		/* the patterns of one 24-byte block, and no finding */
		"\"patterns\":{\"allocs\":1,\"small_allocs\":1,\"large_allocs\":0,"
		"\"small_share\":1,\"large_share\":0,\"temporary\":0,\"temporary_share\":0,"
		"\"interval\":{\"allocs\":1,\"temporary\":0},\"size_classes\":[{\"class\":16,"
		"\"allocs\":1,\"alloc_bytes\":24,\"frees\":0,\"live_allocs\":1,\"live_bytes\":24,"
		"\"peak_bytes\":24,\"temporary\":0,\"recycling_ratio\":1,\"lifetime\":{},"
		"\"reused_same_size\":0,\"reused_other_size\":0}],\"reuse\":{\"reused\":0,"
		"\"same_size\":0,\"other_size\":0,\"distance_hist\":{}}},\"pools\":[]}]}\n";
	/* compared in pieces: check cannot print a long mismatch */
	for (n = 0; out[n] && out[n] == expected[n]; n++)
		;
	ck_assert_msg(!out[n] && !expected[n], "differs at %zu: got '%.80s', expected '%.80s'", n,
		      out + n, expected + n);
	free(out);
	out = render(false, MS_REC_FINAL, &s);
	ck_assert_ptr_nonnull(strstr(out, " final  events 5 "));
	ck_assert_ptr_nonnull(strstr(out, "PID COMM"));
	/* attached to it, not traced from its exec: marked, and the mark explained once */
	ck_assert_ptr_nonnull(strstr(out, "     42 we\"ird?* "));
	ck_assert_ptr_nonnull(strstr(out, "24 B"));
	ck_assert_ptr_nonnull(strstr(out, "\n        * attached while running: live figures "
					  "cover the blocks allocated since\n"));
	free(out);
	ms_stats_free(&s);
	ms_catalog_free(cat);
}
END_TEST

/* libc's malloc and a preloaded jemalloc's malloc: one "malloc" key for the process,
 * one per allocator in allocators[] */
START_TEST(by_func_one_key_per_name)
{
	struct ms_catalog *cat;
	struct ms_func libc_malloc = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_func je_malloc = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 2 };
	struct ms_event e = { .type = MS_EV_ALLOC, .tgid = 7, .tid = 7 };
	struct ms_stats s;
	char *out;
	int a, b;

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	ck_assert_int_eq(ms_catalog_allocator_id(cat, "jemalloc", MS_AK_JEMALLOC), 2);
	a = ms_catalog_add_func(cat, &libc_malloc);
	b = ms_catalog_add_func(cat, &je_malloc);
	ms_stats_init(&s, cat, NULL, NULL);
	e.func = a;
	e.a.ptr = 0x1000;
	e.a.size = 8;
	ms_stats_apply(&s, &e);
	e.func = b;
	e.a.ptr = 0x2000;
	ms_stats_apply(&s, &e);
	e.a.ptr = 0x3000;
	ms_stats_apply(&s, &e);
	out = render(true, MS_REC_INTERVAL, &s);
	ck_assert_ptr_nonnull(strstr(out, "\"failed_allocs\":0,\"by_func\":{\"malloc\":3},"));
	ck_assert_ptr_nonnull(strstr(out, "\"by_func\":{\"malloc\":1}"));
	ck_assert_ptr_nonnull(strstr(out, "\"by_func\":{\"malloc\":2}"));
	free(out);
	ms_stats_free(&s);
	ms_catalog_free(cat);
}
END_TEST

/* One allocation of size bytes at ptr by process pid, from call site caller */
static void alloc_ev(struct ms_stats *s, int func, pid_t pid, uint64_t ptr, uint64_t size,
		     uint64_t caller)
{
	struct ms_event e = { .type = MS_EV_ALLOC, .tgid = pid, .tid = pid, .func = func };

	e.a.ptr = ptr;
	e.a.size = size;
	e.caller = caller;
	e.stack_id = -1;
	ms_stats_apply(s, &e);
}

static char *render_with(struct ms_output *o, enum ms_record_kind kind, struct ms_stats *s)
{
	struct ms_report r = { .ts = 2.0, .interval_s = 1.0, .events = 5 };
	char *buf = NULL;
	size_t len = 0;

	o->f = open_memstream(&buf, &len);
	ms_output_report(o, kind, &r, s);
	fclose(o->f);
	return buf;
}

/* live_since says what live_* cover; one process more is "process", not "processes" */
START_TEST(live_since_and_plurals)
{
	struct ms_catalog *cat;
	struct ms_func malloc_fn = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_output o = { .json = true };
	struct ms_stats s;
	char *out;
	int id;

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	id = ms_catalog_add_func(cat, &malloc_fn);
	ms_stats_init(&s, cat, NULL, NULL);
	alloc_ev(&s, id, 42, 0x1000, 24, 0);
	alloc_ev(&s, id, 43, 0x1000, 24, 0);
	alloc_ev(&s, id, 43, 0x2000, 24, 0);
	ms_stats_proc(&s, 43, false)->from_start = true;
	out = render_with(&o, MS_REC_INTERVAL, &s);
	ck_assert_ptr_nonnull(strstr(out, "\"pid\":42,\"comm\":\"\",\"live_since\":\"attach\","));
	ck_assert_ptr_nonnull(strstr(out, "\"pid\":43,\"comm\":\"\",\"live_since\":\"start\","));
	free(out);
	/* text, one row shown: the other is "1 more process"; the row shown is traced from
	 * its start: no mark, no footnote */
	ms_output_set_json(&o, false);
	o.max_rows = 1;
	out = render_with(&o, MS_REC_INTERVAL, &s);
	ck_assert_msg(strstr(out, "\n        (1 more process)\n") != NULL, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "     43                  "));
	ck_assert_ptr_null(strstr(out, "*"));
	free(out);
	o.max_rows = 0;
	out = render_with(&o, MS_REC_INTERVAL, &s);
	ck_assert_ptr_nonnull(strstr(out, "     42 *                "));
	ck_assert_ptr_nonnull(strstr(out, "attached while running"));
	ck_assert_ptr_null(strstr(out, "more process"));
	free(out);
	ms_stats_free(&s);
	ms_catalog_free(cat);
}
END_TEST

/* The exit of a process: held in text until the next table, a row each when a few, one
 * line by name when more; a pinned process' row at once; JSON: one record each */
START_TEST(exits_summed_up)
{
	struct ms_catalog *cat;
	static const struct {
		const char *comm;
		unsigned allocs;
	} procs[] = {
		{ "bash", 1 }, { "bash", 1 }, { "date", 5 }, { "sed", 1 },
		{ "bash", 1 }, { "date", 5 }, { "a", 1 },    { "b", 1 },
		{ "c", 1 },    { "d", 1 },    { "e", 1 },    { "f\x01", 1 },
	};
	struct ms_func malloc_fn = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_report r = { .ts = 2.0, .interval_s = 1.0 };
	struct ms_output o = { .json = false };
	struct ms_stats s;
	char *buf = NULL, *out, *row;
	size_t len = 0, n = sizeof(procs) / sizeof(procs[0]), i;
	unsigned k;
	int id;

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	id = ms_catalog_add_func(cat, &malloc_fn);
	ms_stats_init(&s, cat, NULL, NULL);
	for (i = 0; i < n; i++) {
		struct ms_proc *p;

		for (k = 0; k < procs[i].allocs; k++)
			alloc_ev(&s, id, 100 + i, 0x1000 + k * 16, 8, 0);
		p = ms_stats_proc(&s, 100 + i, false);
		snprintf(p->comm, sizeof(p->comm), "%s", procs[i].comm);
	}
	/* three exits: held, then a row each before the next table */
	o.f = open_memstream(&buf, &len);
	for (i = 0; i < 3; i++)
		ms_output_end(&o, &r, &s, ms_stats_proc(&s, 100 + i, false), MS_END_EXIT);
	fflush(o.f);
	ck_assert_uint_eq(len, 0);
	ms_output_report(&o, MS_REC_INTERVAL, &r, &s);
	fclose(o.f);
	row = strstr(buf, "exit:     102 date*");
	ck_assert_msg(row && strstr(buf, "exit:     100 bash*") == buf && row < strstr(buf, "PID"),
		      "%s", buf);
	free(buf);
	/* twelve exits and a pinned process' exec: the exec's row at once, the exits summed up
	 * by name, the most allocations first, at most 8 names; control characters as '?' */
	buf = NULL;
	o.f = open_memstream(&buf, &len);
	ms_stats_proc(&s, 111, false)->pinned = true;
	ms_output_end(&o, &r, &s, ms_stats_proc(&s, 111, false), MS_END_EXEC);
	fflush(o.f);
	ck_assert_msg(!strncmp(buf, "exec:     111 f?*", strlen("exec:     111 f?*")), "%s", buf);
	for (i = 0; i < n - 1; i++)
		ms_output_end(&o, &r, &s, ms_stats_proc(&s, 100 + i, false), MS_END_EXIT);
	out = strchr(buf, '\n') + 1;
	ck_assert_str_eq(out, "");
	ms_output_report(&o, MS_REC_INTERVAL, &r, &s);
	fclose(o.f);
	out = strchr(buf, '\n') + 1;
	ck_assert_msg(!strncmp(out,
			       "11 processes exited (19 allocations): date(2) bash(3) a(1) "
			       "b(1) c(1) d(1) e(1) sed(1)\n",
			       strlen("11 processes exited (19 allocations): date(2) bash(3) "
				      "a(1) b(1) c(1) d(1) e(1) sed(1)\n")),
		      "%s", out);
	ck_assert_ptr_null(strstr(out, "exit:"));
	free(buf);
	/* the next table has nothing held */
	o.max_rows = 1;
	out = render_with(&o, MS_REC_INTERVAL, &s);
	ck_assert_msg(strstr(out, "exited") == NULL && strstr(out, "exit:") == NULL, "%s", out);
	free(out);
	/* JSON: an exit record at once, every one */
	ms_output_set_json(&o, true);
	buf = NULL;
	o.f = open_memstream(&buf, &len);
	for (i = 0; i < n; i++)
		ms_output_end(&o, &r, &s, ms_stats_proc(&s, 100 + i, false), MS_END_EXIT);
	fclose(o.f);
	for (i = 0, out = buf; (out = strstr(out, "\"type\":\"exit\"")); i++, out++)
		;
	ck_assert_uint_eq(i, n);
	free(buf);
	ms_stats_free(&s);
	ms_catalog_free(cat);
}
END_TEST

/* Nine names and more: the first 8 by allocations, then how many processes are left */
START_TEST(exits_summed_up_many_names)
{
	struct ms_catalog *cat;
	struct ms_func malloc_fn = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_report r = { .ts = 2.0, .interval_s = 1.0 };
	struct ms_output o = { .json = false };
	struct ms_stats s;
	char *buf = NULL;
	size_t len = 0;
	unsigned i;
	int id;

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	id = ms_catalog_add_func(cat, &malloc_fn);
	ms_stats_init(&s, cat, NULL, NULL);
	o.f = open_memstream(&buf, &len);
	for (i = 0; i < 40; i++) {
		struct ms_proc *p;

		alloc_ev(&s, id, 100 + i, 0x1000, 8, 0);
		p = ms_stats_proc(&s, 100 + i, false);
		snprintf(p->comm, sizeof(p->comm), "p%02u", i);
		ms_output_end(&o, &r, &s, p, i % 2 ? MS_END_EXIT : MS_END_EXEC);
		ms_stats_forget(&s, 100 + i);
	}
	ms_output_report(&o, MS_REC_FINAL, &r, &s);
	fclose(o.f);
	ck_assert_msg(!strncmp(buf,
			       "20 processes exited (20 allocations): p01(1) p03(1) p05(1) p07(1) "
			       "p09(1) p11(1) p13(1) p15(1) and 12 more\n"
			       "20 processes called exec (20 allocations): p00(1) p02(1) p04(1) "
			       "p06(1) p08(1) p10(1) p12(1) p14(1) and 12 more\n",
			       strlen("20 processes exited (20 allocations): p01(1) p03(1) p05(1) "
				      "p07(1) p09(1) p11(1) p13(1) p15(1) and 12 more\n"
				      "20 processes called exec (20 allocations): p00(1) p02(1) "
				      "p04(1) p06(1) p08(1) p10(1) p12(1) p14(1) and 12 more\n")),
		      "%s", buf);
	free(buf);
	ms_stats_free(&s);
	ms_catalog_free(cat);
}
END_TEST

/* The trend claimed for a site of a process attached while it ran: growing only with a
 * full history (a cache refilling after the attach rises for a while) */
START_TEST(trend_after_attach)
{
	struct ms_catalog *cat;
	struct ms_func malloc_fn = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_output o = { .json = true };
	struct ms_stackmap m;
	struct ms_stats s;
	struct ms_proc *p;
	unsigned i;
	char *out;
	int id;

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	id = ms_catalog_add_func(cat, &malloc_fn);
	ms_stats_init(&s, cat, NULL, NULL);
	s.sites = true;
	ck_assert_int_eq(ms_stackmap_init(&m, -1, 8, 16), 0);
	o.stacks = &m;
	o.sites = true;
	for (i = 0; i < MS_SITE_HISTORY; i++) {
		alloc_ev(&s, id, 42, 0x1000 + i * 0x100, 100, 0x401000);
		p = ms_stats_proc(&s, 42, false);
		ms_stats_mark(p);
		out = render_with(&o, MS_REC_INTERVAL, &s);
		/* 4 samples show the rise; attached: not growing until 16 */
		ck_assert_msg(strstr(out, i + 1 < MS_SITE_HISTORY ?
						  "\"trend\":\"unknown\"" :
						  "\"trend\":\"growing\"") != NULL,
			      "%u samples: %s", i + 1, out);
		free(out);
		if (i == 3) {
			p->from_start = true;
			out = render_with(&o, MS_REC_INTERVAL, &s);
			ck_assert_ptr_nonnull(strstr(out, "\"trend\":\"growing\""));
			free(out);
			p->from_start = false;
		}
	}
	ms_stackmap_free(&m);
	ms_stats_free(&s);
	ms_catalog_free(cat);
}
END_TEST

Suite *output_suite(void)
{
	Suite *s = suite_create("output");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, human_units);
	tcase_add_test(tc, record_fields);
	tcase_add_test(tc, by_func_one_key_per_name);
	tcase_add_test(tc, live_since_and_plurals);
	tcase_add_test(tc, exits_summed_up);
	tcase_add_test(tc, exits_summed_up_many_names);
	tcase_add_test(tc, trend_after_attach);
	suite_add_tcase(s, tc);
	return s;
}
