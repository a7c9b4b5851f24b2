/* test_output.c: the JSON record and the text table from the same figures */
#include <stdlib.h>
#include <string.h>
#include "allocators.h"
#include "funcs.h"
#include "output.h"
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
	struct ms_func malloc_fn = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_event e = { .type = MS_EV_ALLOC, .tgid = 42, .tid = 42 };
	struct ms_stats s;
	struct ms_proc *p;
	const char *expected;
	char *out;
	size_t n;
	int id;

	ms_funcs_reset();
	id = ms_funcs_add(&malloc_fn);
	ms_stats_init(&s, NULL, NULL);
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
		"\"stack_map_full\":0,\"untracked\":0},\"tracked_blocks\":0,"
		"\"tracked_blocks_peak\":0,\"processes\":[{"
		"\"pid\":42,\"comm\":\"we\\\"ird\\u0001\",\"allocs\":1,\"frees\":0,"
		"\"unmatched_frees\":0,\"dead_frees\":0,\"alloc_bytes\":24,\"freed_bytes\":0,"
		"\"live_allocs\":1,\"live_bytes\":24,\"peak_bytes\":24,\"failed_allocs\":0,"
		"\"by_func\":{\"malloc\":1},\"size_hist\":{\"16\":1},\"allocs_per_s\":1,"
		"\"frees_per_s\":0,\"alloc_bytes_per_s\":24,\"allocators\":[{\"name\":\"libc\","
		"\"kind\":\"libc\",\"allocs\":1,\"frees\":0,\"unmatched_frees\":0,\"dead_frees\":0,"
		"\"alloc_bytes\":24,\"freed_bytes\":0,\"live_allocs\":1,\"live_bytes\":24,"
		"\"peak_bytes\":24,\"failed_allocs\":0,\"by_func\":{\"malloc\":1},"
		"\"size_hist\":{\"16\":1},\"allocs_per_s\":1,\"frees_per_s\":0,"
		"\"alloc_bytes_per_s\":24,\"backing_allocs\":0,\"backing_frees\":0,"
		"\"backing_unmatched_frees\":0,\"backing_dead_frees\":0,\"backing_bytes\":0,"
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
	ck_assert_ptr_nonnull(strstr(out, "     42 we\"ird?  "));
	ck_assert_ptr_nonnull(strstr(out, "24 B"));
	free(out);
	ms_stats_free(&s);
	ms_funcs_reset();
}
END_TEST

/* libc's malloc and a preloaded jemalloc's malloc: one "malloc" key for the process,
 * one per allocator in allocators[] */
START_TEST(by_func_one_key_per_name)
{
	struct ms_func libc_malloc = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_func je_malloc = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 2 };
	struct ms_event e = { .type = MS_EV_ALLOC, .tgid = 7, .tid = 7 };
	struct ms_stats s;
	char *out;
	int a, b;

	ms_funcs_reset();
	ms_allocators_reset();
	ck_assert_int_eq(ms_allocators_get_or_add("jemalloc", MS_AK_JEMALLOC), 2);
	a = ms_funcs_add(&libc_malloc);
	b = ms_funcs_add(&je_malloc);
	ms_stats_init(&s, NULL, NULL);
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
	ms_funcs_reset();
	ms_allocators_reset();
}
END_TEST

Suite *output_suite(void)
{
	Suite *s = suite_create("output");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, human_units);
	tcase_add_test(tc, record_fields);
	tcase_add_test(tc, by_func_one_key_per_name);
	suite_add_tcase(s, tc);
	return s;
}
