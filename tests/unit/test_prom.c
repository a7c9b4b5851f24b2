/* test_prom.c: the Prometheus exposition from synthetic statistics, and its HTTP server */
#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "allocators.h"
#include "funcs.h"
#include "prom.h"
#include "stats.h"
#include "unit.h"

static int f_malloc, f_free, f_pool_get, f_pool_put;

/* libc's malloc and free, and a pool ("objpool", allocator 2) refilling from malloc */
static void setup_funcs(void)
{
	struct ms_func m = { .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC };
	struct ms_func f = { .name = "free", .allocator = 1, .kind = MS_FN_FREE };
	struct ms_func pg = { .name = "pool_get", .kind = MS_FN_ALLOC };
	struct ms_func pp = { .name = "pool_put", .kind = MS_FN_FREE };

	ms_funcs_reset();
	ms_allocators_reset();
	pg.allocator = pp.allocator = ms_allocators_get_or_add("objpool", MS_AK_CUSTOM);
	f_malloc = ms_funcs_add(&m);
	f_free = ms_funcs_add(&f);
	f_pool_get = ms_funcs_add(&pg);
	f_pool_put = ms_funcs_add(&pp);
}

static void apply(struct ms_stats *s, uint8_t type, int func, pid_t pid, uint64_t ptr,
		  uint64_t size)
{
	struct ms_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.func = func;
	e.tgid = e.tid = pid;
	e.a.ptr = ptr;
	e.a.size = size;
	e.stack_id = -1;
	ms_stats_apply(s, &e);
}

#define ALLOC(s, pid, ptr, size) apply(s, MS_EV_ALLOC, f_malloc, pid, ptr, size)
#define FREE(s, pid, ptr) apply(s, MS_EV_FREE, f_free, pid, ptr, 0)

static void set_comm(struct ms_stats *s, pid_t pid, const char *comm)
{
	struct ms_proc *p = ms_stats_proc(s, pid, false);

	ck_assert_ptr_nonnull(p);
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
}

static void exit_event(struct ms_stats *s, pid_t pid, const char *comm)
{
	struct ms_event e;

	memset(&e, 0, sizeof(e));
	e.type = MS_EV_EXIT;
	e.tgid = e.tid = pid;
	strncpy(e.comm, comm, sizeof(e.comm));
	ms_stats_apply(s, &e);
}

static void on_end(struct ms_proc *p, enum ms_end_reason why, void *ctx)
{
	ms_prom_process_exited(ctx, p);
}

/* An empty directory as /proc: no process has a cgroup file */
static char proc_dir[64];

static void make_proc_dir(void)
{
	snprintf(proc_dir, sizeof(proc_dir), "/tmp/ms-prom-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(proc_dir));
}

static void remove_proc_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", proc_dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct ms_prom *new_prom(unsigned max, double grace)
{
	struct ms_prom_opts o = { .max_processes = max, .grace_s = grace, .proc_root = proc_dir };
	struct ms_prom *p = ms_prom_new(NULL, &o);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* The exposition after an update at time ts */
static char *update(struct ms_prom *p, struct ms_stats *s, double ts)
{
	struct ms_report r = { .ts = ts, .interval_s = 1, .events = s->events };
	size_t len;
	char *t;

	r.lost_by[MS_CNT_RINGBUF_FULL] = 2;
	ck_assert_int_eq(ms_prom_update(p, s, &r), 0);
	t = ms_prom_text(p, &len);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(strlen(t), len);
	return t;
}

/* ---------------------------------------------------------------- a tiny parser */

struct parsed {
	unsigned samples, families;
	char err[256];
};

static bool name_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':' ||
	       (!first && isdigit((unsigned char)c));
}

/* Parses a name at *s into out; false when there is none */
static bool parse_name(const char **s, char *out, size_t len)
{
	size_t n = 0;

	if (!name_char(**s, true))
		return false;
	while (name_char((*s)[0], n == 0) && n + 1 < len)
		out[n++] = *(*s)++;
	out[n] = '\0';
	return true;
}

/*
 * Checks the text format 0.0.4 as Prometheus reads it, and more: every sample's family
 * has HELP then TYPE before it, a family's samples are together, no family or series
 * twice, counters end in _total and gauges do not, label values use only the three
 * escapes, values are numbers, the text ends with a newline
 */
static bool check_text(const char *text, struct parsed *r)
{
	char fam[128] = "", help[128] = "", name[128], lname[128], seen[64][128];
	char *copy = strdup(text), *line, *save = NULL, *series_seen = NULL;
	size_t nseen = 0, sslen = 0;
	const char *type = "";
	FILE *series = open_memstream(&series_seen, &sslen);
	bool ok = false;

	fflush(series); /* series_seen: the series so far, each "\nname{labels} " */

	memset(r, 0, sizeof(*r));
#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(r->err, sizeof(r->err), __VA_ARGS__);                                     \
		goto out;                                                                          \
	} while (0)
	if (!*text || text[strlen(text) - 1] != '\n')
		BAD("no newline at the end");
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *s = line;
		char key[512];
		size_t k;
		double v;
		char *end;

		if (!strncmp(s, "# HELP ", 7)) {
			s += 7;
			if (!parse_name(&s, help, sizeof(help)) || *s != ' ')
				BAD("bad HELP line: %s", line);
			for (k = 0; k < nseen; k++)
				if (!strcmp(seen[k], help))
					BAD("family %s twice", help);
			continue;
		}
		if (!strncmp(s, "# TYPE ", 7)) {
			s += 7;
			if (!parse_name(&s, fam, sizeof(fam)) || *s++ != ' ')
				BAD("bad TYPE line: %s", line);
			if (strcmp(fam, help))
				BAD("TYPE %s without its HELP just before", fam);
			type = s;
			if (strcmp(type, "counter") && strcmp(type, "gauge"))
				BAD("type %s of %s", type, fam);
			k = strlen(fam);
			if (!strcmp(type, "counter") != (k > 6 && !strcmp(fam + k - 6, "_total")))
				BAD("%s %s: counters and only counters end in _total", type, fam);
			if (nseen < 64)
				snprintf(seen[nseen++], sizeof(seen[0]), "%s", fam);
			r->families++;
			continue;
		}
		if (*s == '#')
			BAD("comment line: %s", line);
		if (!parse_name(&s, name, sizeof(name)))
			BAD("no metric name: %s", line);
		if (strcmp(name, fam))
			BAD("sample %s outside its family (after TYPE %s)", name,
			    fam[0] ? fam : "-");
		snprintf(key, sizeof(key), "\n%s", line); /* "\nname{labels} " once parsed */
		if (*s == '{') {
			s++;
			while (*s != '}') {
				if (!parse_name(&s, lname, sizeof(lname)) || *s++ != '=' ||
				    *s++ != '"')
					BAD("bad label in: %s", line);
				while (*s != '"') {
					if (!*s || (unsigned char)*s < 0x20)
						BAD("raw control character or end in a label: %s",
						    line);
					if (*s == '\\' && !strchr("\\\"n", s[1]))
						BAD("bad escape in: %s", line);
					s += *s == '\\' ? 2 : 1;
				}
				s++;
				if (*s == ',')
					s++;
				else if (*s != '}')
					BAD("bad label list: %s", line);
			}
			s++;
		}
		if (*s++ != ' ' || s - line + 1 >= (ptrdiff_t)sizeof(key))
			BAD("no space before the value, or too long: %s", line);
		key[s - line + 1] = '\0';
		errno = 0;
		v = strtod(s, &end);
		if (end == s || *end || errno || v < 0)
			BAD("bad value: %s", line);
		fflush(series);
		if (strstr(series_seen, key))
			BAD("series twice:%.200s", key);
		fputs(key, series);
		r->samples++;
	}
	ok = true;
out:
	fclose(series);
	free(series_seen);
	free(copy);
	return ok;
#undef BAD
}

#define ck_text(t)                                                                                 \
	do {                                                                                       \
		struct parsed pr_;                                                                 \
		ck_assert_msg(check_text(t, &pr_), "exposition: %s", pr_.err);                     \
	} while (0)

/* ---------------------------------------------------------------- tests */

static const char small_expected[] =
	"# HELP memscope_allocations_total Successful allocation calls (malloc, calloc, "
	"realloc, ...) made by the process\n"
	"# TYPE memscope_allocations_total counter\n"
	"memscope_allocations_total{pid=\"42\",comm=\"app\",allocator=\"libc\"} 2\n"
	"# HELP memscope_frees_total Releases of blocks allocated while traced\n"
	"# TYPE memscope_frees_total counter\n"
	"memscope_frees_total{pid=\"42\",comm=\"app\",allocator=\"libc\"} 1\n"
	"# HELP memscope_unmatched_frees_total Releases of blocks allocated before tracing "
	"began\n"
	"# TYPE memscope_unmatched_frees_total counter\n"
	"memscope_unmatched_frees_total{pid=\"42\",comm=\"app\",allocator=\"libc\"} 1\n"
	"# HELP memscope_failed_allocations_total Allocation calls that failed\n"
	"# TYPE memscope_failed_allocations_total counter\n"
	"memscope_failed_allocations_total{pid=\"42\",comm=\"app\",allocator=\"libc\"} 1\n"
	"# HELP memscope_allocated_bytes_total Bytes requested by successful allocation calls\n"
	"# TYPE memscope_allocated_bytes_total counter\n"
	"memscope_allocated_bytes_total{pid=\"42\",comm=\"app\",allocator=\"libc\"} 400\n"
	"# HELP memscope_freed_bytes_total Requested bytes of the released blocks\n"
	"# TYPE memscope_freed_bytes_total counter\n"
	"memscope_freed_bytes_total{pid=\"42\",comm=\"app\",allocator=\"libc\"} 100\n"
	"# HELP memscope_live_allocations Blocks allocated while traced and not released yet\n"
	"# TYPE memscope_live_allocations gauge\n"
	"memscope_live_allocations{pid=\"42\",comm=\"app\",allocator=\"libc\"} 1\n"
	"# HELP memscope_live_bytes Requested bytes of the live blocks\n"
	"# TYPE memscope_live_bytes gauge\n"
	"memscope_live_bytes{pid=\"42\",comm=\"app\",allocator=\"libc\"} 300\n"
	"# HELP memscope_peak_bytes Highest live bytes since tracing began\n"
	"# TYPE memscope_peak_bytes gauge\n"
	"memscope_peak_bytes{pid=\"42\",comm=\"app\",allocator=\"libc\"} 400\n"
	"# HELP memscope_backing_allocations_total Allocations the allocator made from others "
	"inside its own calls (pool refills)\n"
	"# TYPE memscope_backing_allocations_total counter\n"
	"# HELP memscope_backing_live_bytes Live bytes the allocator holds from others (its "
	"pool)\n"
	"# TYPE memscope_backing_live_bytes gauge\n"
	"# HELP memscope_process_peak_bytes Highest live bytes of all allocators together "
	"(pid=\"other\": a sum of peaks)\n"
	"# TYPE memscope_process_peak_bytes gauge\n"
	"memscope_process_peak_bytes{pid=\"42\",comm=\"app\"} 400\n"
	"# HELP memscope_events_total Records the daemon received\n"
	"# TYPE memscope_events_total counter\n"
	"memscope_events_total 5\n"
	"# HELP memscope_lost_events_total Records lost, calls not counted or stacks not "
	"recorded, by cause (the JSON \"lost\" object)\n"
	"# TYPE memscope_lost_events_total counter\n"
	"memscope_lost_events_total{cause=\"ringbuf_full\"} 2\n"
	"memscope_lost_events_total{cause=\"threads_full\"} 0\n"
	"memscope_lost_events_total{cause=\"too_deep\"} 0\n"
	"memscope_lost_events_total{cause=\"unmatched_returns\"} 0\n"
	"memscope_lost_events_total{cause=\"stale_calls\"} 0\n"
	"memscope_lost_events_total{cause=\"stack_collisions\"} 0\n"
	"memscope_lost_events_total{cause=\"stack_map_full\"} 0\n"
	"memscope_lost_events_total{cause=\"untracked\"} 0\n"
	"# HELP memscope_processes Processes traced now\n"
	"# TYPE memscope_processes gauge\n"
	"memscope_processes 1\n"
	"# HELP memscope_exported_processes Processes with series of their own "
	"(--prometheus-max-processes)\n"
	"# TYPE memscope_exported_processes gauge\n"
	"memscope_exported_processes 1\n";

START_TEST(small_exact)
{
	struct ms_stats s;
	struct ms_prom *p;
	char *t;

	setup_funcs();
	make_proc_dir();
	p = new_prom(100, 60);
	ms_stats_init(&s, on_end, p);
	ALLOC(&s, 42, 0x1000, 100);
	ALLOC(&s, 42, 0x2000, 300);
	FREE(&s, 42, 0x1000);
	ALLOC(&s, 42, 0, 1ULL << 62); /* failed */
	FREE(&s, 42, 0x9000);	      /* allocated before tracing */
	set_comm(&s, 42, "app");
	t = update(p, &s, 1);
	ck_assert_str_eq(t, small_expected);
	ck_text(t);
	free(t);
	ms_stats_free(&s);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

/* Before any update: the tracer's families, no process */
START_TEST(before_first_update)
{
	struct ms_prom *p;
	size_t len;
	char *t;

	make_proc_dir();
	p = new_prom(100, 60);
	t = ms_prom_text(p, &len);
	ck_text(t);
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_events_total 0\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_processes 0\n"));
	ck_assert_ptr_null(strstr(t, "{pid="));
	free(t);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

START_TEST(hostile_comms)
{
	static const struct {
		const char *comm, *label;
	} cases[] = {
		{ "a\"b\\c", "a\\\"b\\\\c" },			  /* quote, backslash */
		{ "new\nline", "new\\nline" },			  /* newline */
		{ "ctl\x01\x7f\t", "ctl???" },			  /* other control characters */
		{ "bad\xff\xc3", "bad\xef\xbf\xbd\xef\xbf\xbd" }, /* not UTF-8, cut short */
		{ "caf\xc3\xa9}{,=", "caf\xc3\xa9}{,=" },	  /* UTF-8 and syntax */
		{ "\xc0\xaf\xed\xa0\x80",
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	};
	char want[128];
	struct ms_stats s;
	struct ms_prom *p;
	unsigned i;
	char *t;

	setup_funcs();
	make_proc_dir();
	p = new_prom(100, 60);
	ms_stats_init(&s, on_end, p);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ALLOC(&s, 100 + i, 0x1000, 10 + i);
		set_comm(&s, 100 + i, cases[i].comm);
	}
	t = update(p, &s, 1);
	ck_text(t);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want),
			 "\nmemscope_live_bytes{pid=\"%u\",comm=\"%s\",allocator=\"libc\"} %u\n",
			 100 + i, cases[i].label, 10 + i);
		ck_assert_msg(strstr(t, want), "no %s in the exposition", want);
	}
	free(t);
	ms_stats_free(&s);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

/* A pool's backing series; only where the allocator has any backing */
START_TEST(backing_series)
{
	struct ms_event e;
	struct ms_stats s;
	struct ms_prom *p;
	char *t;

	setup_funcs();
	make_proc_dir();
	p = new_prom(100, 60);
	ms_stats_init(&s, on_end, p);
	memset(&e, 0, sizeof(e));
	e.type = MS_EV_ALLOC;
	e.func = f_malloc;
	e.flags = MS_EVF_NESTED;
	e.outer_func = f_pool_get;
	e.tgid = e.tid = 7;
	e.a.ptr = 0x10000;
	e.a.size = 4096;
	e.stack_id = -1;
	ms_stats_apply(&s, &e); /* pool_get refills from malloc */
	apply(&s, MS_EV_ALLOC, f_pool_get, 7, 0x10000, 32);
	ALLOC(&s, 7, 0x50000, 8);
	set_comm(&s, 7, "pool");
	t = update(p, &s, 1);
	ck_text(t);
	ck_assert_ptr_nonnull(strstr(t,
				     "\nmemscope_backing_allocations_total{pid=\"7\",comm=\"pool\","
				     "allocator=\"objpool\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_backing_live_bytes{pid=\"7\",comm=\"pool\","
					"allocator=\"objpool\"} 4096\n"));
	ck_assert_ptr_null(
		strstr(t, "backing_live_bytes{pid=\"7\",comm=\"pool\",allocator=\"libc\""));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_live_bytes{pid=\"7\",comm=\"pool\","
					"allocator=\"objpool\"} 32\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_live_bytes{pid=\"7\",comm=\"pool\","
					"allocator=\"libc\"} 8\n"));
	ck_assert_ptr_nonnull(
		strstr(t, "\nmemscope_process_peak_bytes{pid=\"7\",comm=\"pool\"} 40\n"));
	free(t);
	ms_stats_free(&s);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

/* Past the cap, processes are summed per comm under pid="other" */
START_TEST(top_n_aggregation)
{
	static const struct {
		pid_t pid;
		const char *comm;
		uint64_t live;
	} procs[] = {
		{ 1, "big", 500 }, { 2, "w", 400 }, { 3, "w", 300 },
		{ 4, "w", 200 },   { 5, "x", 100 }, { 6, "w", 300 },
	};
	struct ms_stats s;
	struct ms_prom *p;
	struct parsed pr;
	unsigned i;
	char *t;

	setup_funcs();
	make_proc_dir();
	p = new_prom(3, 60);
	ms_stats_init(&s, on_end, p);
	for (i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		ALLOC(&s, procs[i].pid, 0x1000, procs[i].live);
		ALLOC(&s, procs[i].pid, 0x2000, 1000);
		FREE(&s, procs[i].pid, 0x2000);
		set_comm(&s, procs[i].pid, procs[i].comm);
	}
	t = update(p, &s, 1);
	ck_assert_msg(check_text(t, &pr), "%s", pr.err);
	/* the top 3 by live bytes: 500 (1), 400 (2), then 300 (3, the lower pid of 3 and 6) */
	ck_assert_ptr_nonnull(
		strstr(t, "memscope_live_bytes{pid=\"1\",comm=\"big\",allocator=\"libc\"} 500\n"
			  "memscope_live_bytes{pid=\"2\",comm=\"w\",allocator=\"libc\"} 400\n"
			  "memscope_live_bytes{pid=\"3\",comm=\"w\",allocator=\"libc\"} 300\n"
			  "memscope_live_bytes{pid=\"other\",comm=\"w\",allocator=\"libc\"} 500\n"
			  "memscope_live_bytes{pid=\"other\",comm=\"x\",allocator=\"libc\"} 100\n"
			  "# HELP"));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_allocations_total{pid=\"other\",comm=\"w\","
					"allocator=\"libc\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_peak_bytes{pid=\"other\",comm=\"w\","
					"allocator=\"libc\"} 2500\n"));
	ck_assert_ptr_null(strstr(t, "pid=\"4\""));
	ck_assert_ptr_null(strstr(t, "pid=\"5\""));
	ck_assert_ptr_null(strstr(t, "pid=\"6\""));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_processes 6\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_exported_processes 3\n"));
	/* 3 exported + 2 sums: 10 families of one series each (no backing), the lost causes
	 * (the BPF counters and untracked), 3 */
	ck_assert_uint_eq(pr.samples, 5 * 10 + MS_CNT_MAX + 1 + 3);
	ck_assert_uint_eq(pr.families, 16);
	free(t);

	/* max 0: every process summed */
	ms_prom_free(p);
	p = new_prom(0, 60);
	t = update(p, &s, 2);
	ck_text(t);
	ck_assert_ptr_null(strstr(t, "pid=\"1\""));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_live_bytes{pid=\"other\",comm=\"w\","
					"allocator=\"libc\"} 1200\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_exported_processes 0\n"));
	free(t);
	ms_stats_free(&s);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

/* An exited process' final series stay for the grace period, from the next update on */
START_TEST(grace_period)
{
	struct ms_stats s;
	struct ms_prom *p;
	char *t;

	setup_funcs();
	make_proc_dir();
	p = new_prom(100, 5);
	ms_stats_init(&s, on_end, p);
	ALLOC(&s, 10, 0x1000, 64);
	ALLOC(&s, 11, 0x1000, 32);
	set_comm(&s, 10, "short");
	set_comm(&s, 11, "long");
	t = update(p, &s, 1);
	ck_assert_ptr_nonnull(strstr(t, "{pid=\"10\",comm=\"short\",allocator=\"libc\"} 64\n"));
	free(t);
	/* its last call, then its exit: the figures at the exit stay */
	ALLOC(&s, 10, 0x2000, 36);
	exit_event(&s, 10, "short");
	ck_assert_ptr_null(ms_stats_proc(&s, 10, false));
	t = update(p, &s, 20); /* the grace period starts here */
	ck_text(t);
	ck_assert_ptr_nonnull(strstr(
		t, "\nmemscope_live_bytes{pid=\"10\",comm=\"short\",allocator=\"libc\"} 100\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_processes 1\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_exported_processes 2\n"));
	free(t);
	t = update(p, &s, 24.9);
	ck_assert_ptr_nonnull(strstr(t, "pid=\"10\""));
	free(t);
	t = update(p, &s, 25);
	ck_text(t);
	ck_assert_ptr_null(strstr(t, "pid=\"10\""));
	ck_assert_ptr_nonnull(strstr(t, "pid=\"11\""));
	ck_assert_ptr_nonnull(strstr(t, "\nmemscope_exported_processes 1\n"));
	free(t);

	/* the pid is reused under the same name and ends again before an update: one
	 * series, the latest figures */
	ALLOC(&s, 12, 0x1000, 5);
	exit_event(&s, 12, "again");
	ALLOC(&s, 12, 0x1000, 6);
	exit_event(&s, 12, "again");
	t = update(p, &s, 25.5);
	ck_text(t);
	ck_assert_ptr_nonnull(strstr(
		t, "\nmemscope_live_bytes{pid=\"12\",comm=\"again\",allocator=\"libc\"} 6\n"));
	ck_assert_ptr_null(strstr(t, "comm=\"again\",allocator=\"libc\"} 5\n"));
	free(t);

	/* the pid comes back with the same comm: the live process' series replace the old */
	ALLOC(&s, 11, 0x3000, 1);
	exit_event(&s, 11, "long");
	ALLOC(&s, 11, 0x1000, 7);
	set_comm(&s, 11, "long");
	t = update(p, &s, 26);
	ck_text(t);
	ck_assert_ptr_nonnull(strstr(
		t, "\nmemscope_live_bytes{pid=\"11\",comm=\"long\",allocator=\"libc\"} 7\n"));
	ck_assert_ptr_null(strstr(t, "} 33\n"));
	free(t);
	ms_stats_free(&s);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

/* An exited process, however big, does not push a running one out of the cap */
START_TEST(exited_rank_last)
{
	struct ms_stats s;
	struct ms_prom *p;
	char *t;

	setup_funcs();
	make_proc_dir();
	p = new_prom(1, 60);
	ms_stats_init(&s, on_end, p);
	ALLOC(&s, 1, 0x1000, 10);
	ALLOC(&s, 2, 0x1000, 1000);
	set_comm(&s, 1, "small");
	set_comm(&s, 2, "big");
	exit_event(&s, 2, "big");
	t = update(p, &s, 1);
	ck_text(t);
	ck_assert_ptr_nonnull(strstr(
		t, "\nmemscope_live_bytes{pid=\"1\",comm=\"small\",allocator=\"libc\"} 10\n"
		   "memscope_live_bytes{pid=\"other\",comm=\"big\",allocator=\"libc\"} 1000\n"));
	free(t);
	ms_stats_free(&s);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

/* An exec: the old image's series stay under its comm, the new image's beside them */
START_TEST(exec_keeps_old_image)
{
	struct ms_stats s;
	struct ms_prom *p;
	struct ms_event e;
	char *t;

	setup_funcs();
	make_proc_dir();
	p = new_prom(100, 60);
	ms_stats_init(&s, on_end, p);
	ALLOC(&s, 10, 0x1000, 64);
	set_comm(&s, 10, "sh");
	memset(&e, 0, sizeof(e));
	e.type = MS_EV_EXEC;
	e.tgid = e.tid = 10;
	strcpy(e.comm, "python3");
	ms_stats_apply(&s, &e);
	ALLOC(&s, 10, 0x1000, 8);
	t = update(p, &s, 1);
	ck_text(t);
	ck_assert_ptr_nonnull(
		strstr(t, "\nmemscope_live_bytes{pid=\"10\",comm=\"sh\",allocator=\"libc\"} 64\n"));
	ck_assert_ptr_nonnull(strstr(
		t, "\nmemscope_live_bytes{pid=\"10\",comm=\"python3\",allocator=\"libc\"} 8\n"));
	free(t);
	ms_stats_free(&s);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void fake_cgroup(pid_t pid, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%d", proc_dir, (int)pid);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%d/cgroup", proc_dir, (int)pid);
	write_file(path, text);
}

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* cgroup and container labels from /proc/PID/cgroup, read once per process */
START_TEST(cgroup_labels)
{
	struct ms_stats s;
	struct ms_prom *p;
	char *t, path[256];

	setup_funcs();
	make_proc_dir();
	fake_cgroup(1, "0::/\n");
	fake_cgroup(2, "0::/system.slice/docker-" CID ".scope\n");
	fake_cgroup(3,
		    "0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-" CID ".scope\n");
	fake_cgroup(4, "0::/user.slice/user-1000.slice/session-2.scope\n");
	/* cgroup v1 (hybrid): the unified root says nothing, name=systemd does */
	fake_cgroup(5, "12:memory:/docker/" CID "\n1:name=systemd:/docker/" CID "\n0::/\n");
	fake_cgroup(6, "0::/a\"b\\c\n"); /* a hostile path: escaped */
	/* 7: no cgroup file (gone) */
	p = new_prom(100, 60);
	ms_stats_init(&s, on_end, p);
	for (pid_t pid = 1; pid <= 7; pid++) {
		ALLOC(&s, pid, 0x1000, pid);
		set_comm(&s, pid, "c");
	}
	t = update(p, &s, 1);
	ck_text(t);
	ck_assert_ptr_nonnull(
		strstr(t, "\nmemscope_live_bytes{pid=\"1\",comm=\"c\",allocator=\"libc\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(
		t,
		"\nmemscope_live_bytes{pid=\"2\",comm=\"c\",allocator=\"libc\",cgroup=\"/system.slice/"
		"docker-" CID ".scope\",container=\"" CID "\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "allocator=\"libc\",cgroup=\"/kubepods.slice/"
					"kubepods-burstable.slice/cri-containerd-" CID
					".scope\",container=\"" CID "\"} 3\n"));
	ck_assert_ptr_nonnull(
		strstr(t, "\nmemscope_live_bytes{pid=\"4\",comm=\"c\",allocator=\"libc\","
			  "cgroup=\"/user.slice/user-1000.slice/session-2.scope\"} 4\n"));
	ck_assert_ptr_nonnull(
		strstr(t, "\nmemscope_live_bytes{pid=\"5\",comm=\"c\",allocator=\"libc\","
			  "cgroup=\"/docker/" CID "\",container=\"" CID "\"} 5\n"));
	ck_assert_ptr_nonnull(
		strstr(t, "\nmemscope_live_bytes{pid=\"6\",comm=\"c\",allocator=\"libc\","
			  "cgroup=\"/a\\\"b\\\\c\"} 6\n"));
	ck_assert_ptr_nonnull(
		strstr(t, "\nmemscope_live_bytes{pid=\"7\",comm=\"c\",allocator=\"libc\"} 7\n"));
	ck_assert_ptr_nonnull(strstr(
		t, "\nmemscope_process_peak_bytes{pid=\"2\",comm=\"c\",cgroup=\"/system.slice/"
		   "docker-" CID ".scope\",container=\"" CID "\"} 2\n"));
	free(t);
	/* read once: a changed file is not read again while the process lives */
	snprintf(path, sizeof(path), "%s/4/cgroup", proc_dir);
	write_file(path, "0::/elsewhere\n");
	t = update(p, &s, 2);
	ck_assert_ptr_nonnull(
		strstr(t, "cgroup=\"/user.slice/user-1000.slice/session-2.scope\"} 4\n"));
	ck_assert_ptr_null(strstr(t, "elsewhere"));
	free(t);
	/* exited: its labels stay with its final series */
	exit_event(&s, 2, "c");
	t = update(p, &s, 3);
	ck_assert_ptr_nonnull(strstr(
		t, "\nmemscope_live_bytes{pid=\"2\",comm=\"c\",allocator=\"libc\","
		   "cgroup=\"/system.slice/docker-" CID ".scope\",container=\"" CID "\"} 2\n"));
	free(t);
	ms_stats_free(&s);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

START_TEST(addresses)
{
	static const struct {
		const char *text;
		int family;
		const char *addr;
		unsigned port;
	} good[] = {
		{ ":9464", AF_INET, "127.0.0.1", 9464 },
		{ "9464", AF_INET, "127.0.0.1", 9464 },
		{ "127.0.0.1:9464", AF_INET, "127.0.0.1", 9464 },
		{ "0.0.0.0:80", AF_INET, "0.0.0.0", 80 },
		{ "localhost:1", AF_INET, "127.0.0.1", 1 },
		{ "[::1]:9464", AF_INET6, "::1", 9464 },
		{ "[::]:0", AF_INET6, "::", 0 },
	};
	static const char *const bad[] = {
		"",	 ":",	      "abc",	  ":65536",	    "1.2.3:9464",  "::1:9464",
		"[::1]", "[::1]9464", "[zz]:1",	  "host.example:1", ":-1",	   ":+1",
		": 1",	 ":1x",	      "1.2.3.4:", "[::1]:",	    "300.1.1.1:1", "[1.2.3.4]:1",
	};
	struct sockaddr_storage sa;
	char err[256], addr[64];
	socklen_t len;
	unsigned i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(!ms_prom_parse_addr(good[i].text, &sa, &len, err, sizeof(err)),
			      "%s: %s", good[i].text, err);
		ck_assert_int_eq(sa.ss_family, good[i].family);
		if (sa.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&sa;

			inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
			ck_assert_uint_eq(ntohs(in->sin_port), good[i].port);
			ck_assert_uint_eq(len, sizeof(*in));
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;

			inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
			ck_assert_uint_eq(ntohs(in6->sin6_port), good[i].port);
			ck_assert_uint_eq(len, sizeof(*in6));
		}
		ck_assert_str_eq(addr, good[i].addr);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(ms_prom_parse_addr(bad[i], &sa, &len, err, sizeof(err)) == -EINVAL,
			      "'%s' accepted", bad[i]);
		ck_assert_msg(strstr(err, "invalid --prometheus '") && strstr(err, "ADDR:PORT"),
			      "message for '%s': %s", bad[i], err);
	}
	errno = 0;
	ck_assert_ptr_null(ms_prom_new("nonsense", NULL));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* One request on a fresh connection; the response, read until the server closes it (5 s
 * at most) */
static char *http(unsigned port, const char *req, size_t reqlen)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 5 };
	char *buf = NULL, chunk[4096];
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	size_t sent = 0;
	ssize_t n;
	int fd;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* the server may answer and close before it has read it all */
	while (sent < reqlen && (n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL)) > 0)
		sent += n;
	while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
		fwrite(chunk, 1, n, out);
	close(fd);
	fclose(out);
	return buf;
}

static unsigned port_of(struct ms_prom *p)
{
	const char *u = ms_prom_url(p);
	unsigned port = 0;

	ck_assert_int_eq(sscanf(u, "http://127.0.0.1:%u/metrics", &port), 1);
	return port;
}

#define REQ(s) s, sizeof(s) - 1

/* GET and HEAD /metrics; 404, 405, 400 for the rest; the server keeps serving */
START_TEST(http_server)
{
	struct ms_prom_opts o = { .max_processes = 100, .grace_s = 60 };
	struct ms_stats s;
	struct ms_prom *p;
	unsigned port;
	char *r, *t, *big;
	size_t len;

	setup_funcs();
	p = ms_prom_new("127.0.0.1:0", &o);
	ck_assert_msg(p != NULL, "cannot listen on loopback: %s", strerror(errno));
	port = port_of(p);
	ck_assert_uint_ne(port, 0);
	ms_stats_init(&s, NULL, NULL);
	ALLOC(&s, 42, 0x1000, 123);
	set_comm(&s, 42, "served");
	free(update(p, &s, 1));
	t = ms_prom_text(p, &len);

	r = http(port, REQ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
	ck_assert_msg(!strncmp(r, "HTTP/1.1 200 ", 13), "%.80s", r);
	ck_assert_ptr_nonnull(strstr(r, "\r\nContent-Type: " MS_PROM_CONTENT_TYPE "\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "\r\n\r\n"));
	ck_assert_str_eq(strstr(r, "\r\n\r\n") + 4, t);
	free(r);
	r = http(port, REQ("GET /metrics?x=1 HTTP/1.0\r\n\r\n"));
	ck_assert_msg(!strncmp(r, "HTTP/1.0 200 ", 13) || !strncmp(r, "HTTP/1.1 200 ", 13), "%.80s",
		      r);
	free(r);
	r = http(port, REQ("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
	ck_assert_msg(!strncmp(r, "HTTP/1.1 200 ", 13), "%.80s", r);
	ck_assert_str_eq(strstr(r, "\r\n\r\n") + 4, "");
	free(r);
	r = http(port, REQ("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
	ck_assert_msg(!strncmp(r, "HTTP/1.1 404 ", 13), "%.80s", r);
	free(r);
	r = http(port, REQ("GET /metricsx HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
	ck_assert_msg(!strncmp(r, "HTTP/1.1 404 ", 13), "%.80s", r);
	free(r);
	r = http(port, REQ("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
			   "Connection: close\r\n\r\nhello"));
	ck_assert_msg(!strncmp(r, "HTTP/1.1 405 ", 13), "%.80s", r);
	ck_assert_ptr_nonnull(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);
	r = http(port, REQ("DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
	ck_assert_msg(!strncmp(r, "HTTP/1.1 405 ", 13), "%.80s", r);
	free(r);
	r = http(port, REQ("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"));
	ck_assert_msg(r[0] == '\0' || !strncmp(r, "HTTP/1.1 400 ", 13), "%.80s", r);
	free(r);
	/* a 100 KiB header: past the connection's memory */
	big = malloc(100 << 10);
	len = snprintf(big, 100 << 10, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(big + len, 'a', (100 << 10) - len - 4);
	memcpy(big + (100 << 10) - 4, "\r\n\r\n", 4);
	r = http(port, big, 100 << 10);
	ck_assert_msg(r[0] == '\0' || !strncmp(r, "HTTP/1.1 4", 10), "%.80s", r);
	free(r);
	free(big);
	/* still serving */
	r = http(port, REQ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
	ck_assert_msg(!strncmp(r, "HTTP/1.1 200 ", 13), "%.80s", r);
	ck_assert_ptr_nonnull(strstr(r, "comm=\"served\""));
	free(r);
	free(t);
	ms_stats_free(&s);
	ms_prom_free(p);
}
END_TEST

/* A port in use: the bind's error */
START_TEST(port_in_use)
{
	struct ms_prom *a, *b;
	char addr[32];

	a = ms_prom_new("127.0.0.1:0", NULL);
	ck_assert_ptr_nonnull(a);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port_of(a));
	errno = 0;
	b = ms_prom_new(addr, NULL);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(errno, EADDRINUSE);
	ms_prom_free(a);
	ms_prom_free(NULL);
}
END_TEST

Suite *prom_suite(void)
{
	Suite *s = suite_create("prom");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, small_exact);
	tcase_add_test(tc, before_first_update);
	tcase_add_test(tc, hostile_comms);
	tcase_add_test(tc, backing_series);
	tcase_add_test(tc, top_n_aggregation);
	tcase_add_test(tc, grace_period);
	tcase_add_test(tc, exited_rank_last);
	tcase_add_test(tc, exec_keeps_old_image);
	tcase_add_test(tc, cgroup_labels);
	tcase_add_test(tc, addresses);
	tcase_add_test(tc, http_server);
	tcase_add_test(tc, port_in_use);
	suite_add_tcase(s, tc);
	return s;
}
