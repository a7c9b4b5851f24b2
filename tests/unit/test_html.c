/* test_html.c: the --html page (html.c) from JSON records written here: the final record
 * embedded as it was printed, hostile names escaped, the timeline bounded (points halved with
 * peaks kept, processes past the top summed), exits and execs marked, icicles from folded
 * text */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "html.h"
#include "unit.h"

static char page_path[64];

static struct ms_html *new_page(void)
{
	struct ms_html_run run = { .cmdline = "memscope-bpf --html x.html", .host = "h" };
	struct ms_html *h;
	int fd;

	snprintf(page_path, sizeof(page_path), "/tmp/ms-html-unit-XXXXXX");
	fd = mkstemp(page_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(page_path);
	h = ms_html_new(page_path, &run);
	ck_assert_ptr_nonnull(h);
	return h;
}

static void free_page(struct ms_html *h)
{
	ms_html_free(h);
	unlink(page_path);
}

/* The page as a string (the caller frees it) */
static char *page_of(struct ms_html *h, const char *live, const char *alloc)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(ms_html_page(h, f, live, alloc), 0);
	fclose(f);
	return buf;
}

static unsigned occurrences(const char *s, const char *what)
{
	unsigned n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s += strlen(what);
	}
	return n;
}

/* A record of type with one process per (pid, live bytes) pair, peak as given */
static int take(struct ms_html *h, const char *type, double ts, const int *pids, const double *live,
		const double *peak, unsigned n, const char *extra)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	unsigned i;
	int err;

	fprintf(f,
		"{\"type\":\"%s\",\"ts\":%g,\"interval_s\":1,\"events\":%u,\"events_lost\":0,"
		"\"lost\":{\"ringbuf_full\":0,\"untracked\":0},\"tracked_blocks\":1,"
		"\"tracked_blocks_peak\":1%s,\"processes\":[",
		type, ts, 10 * n, extra ? extra : "");
	for (i = 0; i < n; i++)
		fprintf(f,
			"%s{\"pid\":%d,\"comm\":\"p%d\",\"allocs\":5,\"frees\":4,\"live_allocs\":1,"
			"\"live_bytes\":%g,\"peak_bytes\":%g,\"failed_allocs\":0,"
			"\"allocs_per_s\":7,\"frees_per_s\":3,\"allocators\":[{\"name\":\"libc\","
			"\"live_bytes\":%g}]}",
			i ? "," : "", pids[i], pids[i], live[i], peak[i], live[i]);
	fputs("]}\n", f);
	fclose(f);
	err = ms_html_take(h, buf, len);
	free(buf);
	return err;
}

START_TEST(final_embedded_and_escaped)
{
	static const char final[] =
		"{\"type\":\"final\",\"ts\":2.5,\"interval_s\":2.5,\"events\":9,\"events_lost\":0,"
		"\"lost\":{\"ringbuf_full\":0},\"tracked_blocks\":1,\"tracked_blocks_peak\":2,"
		"\"processes\":[{\"pid\":7,\"comm\":\"</script><b>x\",\"allocs\":3,\"frees\":1,"
		"\"live_allocs\":2,\"live_bytes\":48,\"peak_bytes\":64,\"failed_allocs\":0,"
		"\"allocators\":[{\"name\":\"libc\",\"live_bytes\":48}],"
		"\"pools\":[{\"name\":\"obj<pool>\",\"kind\":\"pool_candidate\","
		"\"evidence\":{\"chunk_size\":2056,\"chunks\":4,\"live_bytes\":8224},"
		"\"where\":\"pool_alloc+0x36 (demo.c:181)\",\"advice\":\"trace it & see\"}]}]}\n";
	struct ms_html *h = new_page();
	json_t *want, *got;
	const char *at, *end;
	char *page, *embedded;

	ck_assert_int_eq(ms_html_take(h, final, strlen(final)), 0);
	page = page_of(h, NULL, NULL);
	/* the name is text everywhere, never markup */
	ck_assert_ptr_null(strstr(page, "<b>x"));
	ck_assert_ptr_nonnull(strstr(page, "&lt;/script&gt;&lt;b&gt;x (7)"));
	ck_assert_ptr_nonnull(strstr(page, "obj&lt;pool&gt;"));
	ck_assert_ptr_nonnull(strstr(page, "trace it &amp; see"));
	ck_assert_ptr_nonnull(strstr(page, "<li>chunk_size 2056</li><li>chunks 4</li>"));
	/* the embedded record is the printed one, '<' as \u003c (the same JSON) */
	at = strstr(page, "<script type=\"application/json\" id=\"memscope-final\">");
	ck_assert_ptr_nonnull(at);
	at = strchr(at, '>') + 1;
	end = strstr(at, "</script>");
	ck_assert_ptr_nonnull(end);
	embedded = strndup(at, end - at);
	ck_assert_ptr_null(strchr(embedded, '<'));
	want = json_loads(final, 0, NULL);
	got = json_loads(embedded, 0, NULL);
	ck_assert_ptr_nonnull(got);
	ck_assert(json_equal(want, got));
	/* the head: the command line and the duration of the final record */
	ck_assert_ptr_nonnull(strstr(page, "<code>memscope-bpf --html x.html</code>"));
	ck_assert_ptr_nonnull(strstr(page, "<td>2.500 s</td>"));
	ck_assert_ptr_nonnull(strstr(page, "</html>\n"));
	json_decref(want);
	json_decref(got);
	free(embedded);
	free(page);
	free_page(h);
}
END_TEST

START_TEST(not_a_record)
{
	struct ms_html *h = new_page();

	ck_assert_int_eq(ms_html_take(h, "{\"type\":\"interval\"}", 19), -EINVAL);
	ck_assert_int_eq(ms_html_take(h, "[1,2]", 5), -EINVAL);
	ck_assert_int_eq(ms_html_take(h, "{\"type\":\"what\",\"processes\":[]}", 31), -EINVAL);
	ck_assert_int_eq(ms_html_take(h, "{\"type\":", 8), -EINVAL);
	ck_assert_int_eq(ms_html_take(NULL, "x", 1), 0);
	free_page(h);
}
END_TEST

/* 1,000 records of one process: at most MS_HTML_POINTS points, each pair merged to its
 * larger live bytes, so the peak (record 777) stays a point */
START_TEST(timeline_halved_peaks_kept)
{
	struct ms_html *h = new_page();
	const char *chart, *end;
	char *page, *live;
	unsigned i, points;
	int pid = 5;

	for (i = 0; i < 1000; i++) {
		double v = i == 777 ? 5000 : i % 100, peak = 5000;

		ck_assert_int_eq(take(h, "interval", i + 1, &pid, &v, &peak, 1, NULL), 0);
	}
	page = page_of(h, NULL, NULL);
	chart = strstr(page, "id=\"timeline-live\"");
	ck_assert_ptr_nonnull(chart);
	end = strstr(chart, "</figure>");
	live = strndup(chart, end - chart);
	points = occurrences(live, "<path class=\"pt\"");
	/* 1,000 records: halved once at 512 (256 of 2), then 488 more as 244 pairs */
	ck_assert_uint_eq(points, 256 + 244);
	ck_assert_uint_le(points, MS_HTML_POINTS);
	ck_assert_ptr_nonnull(strstr(live, "p5 (5) at 778.000 s: 4.9 KiB (2 records)"));
	ck_assert_ptr_nonnull(strstr(page, "1000 interval and final records, 500 points (up to 2 "
					   "records each"));
	free(live);
	free(page);
	free_page(h);
}
END_TEST

/* 70 processes: MS_HTML_TOP drawn by name (the largest peaks), the rest one line whose
 * points sum them */
START_TEST(top_processes_and_others)
{
	struct ms_html *h = new_page();
	int pids[70];
	double live[70], peak[70];
	const char *chart, *end;
	char *page, *part, name[32];
	unsigned i;

	for (i = 0; i < 70; i++) {
		pids[i] = 100 + i;
		live[i] = i < 62 ? 1 : 100;
		peak[i] = 1000 + i;
	}
	ck_assert_int_eq(take(h, "interval", 1, pids, live, peak, 70, NULL), 0);
	page = page_of(h, NULL, NULL);
	chart = strstr(page, "id=\"timeline-live\"");
	end = strstr(chart, "</figure>");
	part = strndup(chart, end - chart);
	ck_assert_uint_eq(occurrences(part, "<li data-k="), MS_HTML_TOP + 1);
	for (i = 62; i < 70; i++) {
		snprintf(name, sizeof(name), ">p%d (%d)</li>", 100 + i, 100 + i);
		ck_assert_ptr_nonnull(strstr(part, name));
	}
	/* 62 of the 64 series (the cap) plus the 6 summed from the start: 62 B */
	ck_assert_ptr_nonnull(strstr(part, ">others (summed)</li>"));
	ck_assert_ptr_nonnull(strstr(part, "others (summed) at 1.000 s: 62 B"));
	/* every process in the table */
	ck_assert_uint_eq(occurrences(page, "<td>traced</td>"), 70);
	free(part);
	free(page);
	free_page(h);
}
END_TEST

START_TEST(exits_and_execs_marked)
{
	struct ms_html *h = new_page();
	int pids[2] = { 10, 11 };
	double live[2] = { 64, 32 }, peak[2] = { 64, 32 };
	char *page;

	ck_assert_int_eq(take(h, "interval", 1, pids, live, peak, 2, NULL), 0);
	ck_assert_int_eq(take(h, "exit", 1.5, &pids[0], live, peak, 1, ",\"reason\":\"exec\""), 0);
	ck_assert_int_eq(
		take(h, "exit", 1.75, &pids[1], &live[1], &peak[1], 1, ",\"reason\":\"exit\""), 0);
	ck_assert_int_eq(take(h, "interval", 2, pids, live, peak, 1, NULL), 0);
	page = page_of(h, NULL, NULL);
	/* three charts (live, allocations, frees), each with both marks */
	ck_assert_uint_eq(occurrences(page, "<line class=\"mark exec\""), 3);
	ck_assert_uint_eq(occurrences(page, "<line class=\"mark exit\""), 3);
	ck_assert_ptr_nonnull(strstr(page, "<title>exec at 1.500 s: 10 p10</title>"));
	ck_assert_ptr_nonnull(strstr(page, "<title>exit at 1.750 s: 11 p11</title>"));
	/* the exited process stays in the table, from its exit record */
	ck_assert_ptr_nonnull(strstr(page, "<tr><td>11</td><td>p11</td>"));
	ck_assert_ptr_nonnull(strstr(page, "<td>exited at 1.750 s</td></tr>"));
	ck_assert_ptr_nonnull(strstr(page, "<td>exec at 1.500 s</td></tr>"));
	free(page);
	free_page(h);
}
END_TEST

/* Folded text as icicles: a box per frame, widths by weight, tooltips with shares */
START_TEST(icicle_from_folded)
{
	struct ms_html *h = new_page();
	int pid = 3;
	double live = 1, peak = 1;
	char *page;

	ck_assert_int_eq(take(h, "interval", 1, &pid, &live, &peak, 1, NULL), 0);
	page = page_of(h, "app;main;f 100\napp;main;g 300\n", "app;main;g 1000\n");
	ck_assert_ptr_nonnull(strstr(page, "<title>main: 400 B (100.00%)</title>"));
	ck_assert_ptr_nonnull(strstr(page, "<title>g: 300 B (75.00%)</title>"));
	ck_assert_ptr_nonnull(strstr(page, "<title>f: 100 B (25.00%)</title>"));
	ck_assert_ptr_nonnull(strstr(page, "<title>g: 1000 B (100.00%)</title>"));
	/* g (the heavier) first, from the left; f after it */
	ck_assert_ptr_nonnull(strstr(page, "data-a=\"0.000000\" data-b=\"0.750000\" data-d=\"3\""));
	ck_assert_ptr_nonnull(strstr(page, "data-a=\"0.750000\" data-b=\"1.000000\" data-d=\"3\""));
	free(page);
	free_page(h);
}
END_TEST

/* The leak report: each site's stack, figures, trend and its history as a line */
START_TEST(leak_report)
{
	static const char leaks[] =
		"{\"type\":\"leaks\",\"ts\":9,\"interval_s\":0,\"events\":1,\"events_lost\":0,"
		"\"lost\":{},\"tracked_blocks\":1,\"tracked_blocks_peak\":1,\"min_age_s\":5,"
		"\"processes\":[{\"pid\":4,\"comm\":\"leaky\",\"sites\":[{\"stack\":"
		"[\"wrap+0x9 (a.c:3)\",\"ingest+0x1 (a.c:9)\"],\"truncated\":false,\"blocks\":3,"
		"\"bytes\":300,\"oldest_age_s\":7.5,\"trend\":\"growing\",\"leak\":true,"
		"\"live_bytes_history\":[100,200,300]}],\"more_sites\":2}]}";
	struct ms_html *h = new_page();
	char *page;

	ck_assert_int_eq(ms_html_take(h, leaks, strlen(leaks)), 0);
	page = page_of(h, NULL, NULL);
	ck_assert_ptr_nonnull(strstr(page, "<code>wrap+0x9 (a.c:3)</code> &lt; "
					   "<code>ingest+0x1 (a.c:9)</code>"));
	ck_assert_ptr_nonnull(strstr(page, "<td>3</td><td>300 B</td><td>7.5 s</td>"
					   "<td class=\"bad\">growing</td>"));
	ck_assert_ptr_nonnull(strstr(page, "points=\"1.0,15.3 60.0,8.7 119.0,2.0\""));
	ck_assert_ptr_nonnull(strstr(page, "2 more sites with smaller leaks"));
	free(page);
	free_page(h);
}
END_TEST

Suite *html_suite(void)
{
	Suite *s = suite_create("html");
	TCase *tc = tcase_create("page");

	tcase_add_test(tc, final_embedded_and_escaped);
	tcase_add_test(tc, not_a_record);
	tcase_add_test(tc, timeline_halved_peaks_kept);
	tcase_add_test(tc, top_processes_and_others);
	tcase_add_test(tc, exits_and_execs_marked);
	tcase_add_test(tc, icicle_from_folded);
	tcase_add_test(tc, leak_report);
	suite_add_tcase(s, tc);
	return s;
}
