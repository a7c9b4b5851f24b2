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
#include <time.h>
#include <unistd.h>
#include "catalog.h"
#include "presets.h"
#include "prom.h"
#include "stats.h"
#include "unit.h"

static struct ms_catalog *cat; /* each test's own: setup_funcs to ms_stats_free */
static int f_malloc, f_free, f_pool_get, f_pool_put;

/* libc's malloc and free, and a pool ("objpool", allocator 2) refilling from malloc */
static void setup_funcs(void)
{
	struct ms_func m = { .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC };
	struct ms_func f = { .name = "free", .allocator = 1, .kind = MS_FN_FREE };
	struct ms_func pg = { .name = "pool_get", .kind = MS_FN_ALLOC };
	struct ms_func pp = { .name = "pool_put", .kind = MS_FN_FREE };

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	pg.allocator = pp.allocator = ms_catalog_allocator_id(cat, "objpool", MS_AK_CUSTOM);
	f_malloc = ms_catalog_add_func(cat, &m);
	f_free = ms_catalog_add_func(cat, &f);
	f_pool_get = ms_catalog_add_func(cat, &pg);
	f_pool_put = ms_catalog_add_func(cat, &pp);
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

/* A histogram family's sample name: the family's with _bucket, _sum or _count */
static bool hist_sample(const char *name, const char *fam)
{
	size_t k = strlen(fam);

	return !strncmp(name, fam, k) && (!strcmp(name + k, "_bucket") ||
					  !strcmp(name + k, "_sum") || !strcmp(name + k, "_count"));
}

/*
 * Checks the text format 0.0.4 as Prometheus reads it, and more: every sample's family
 * has HELP then TYPE before it, a family's samples are together, no family or series
 * twice, counters end in _total and gauges and histograms do not, a histogram's samples
 * are its _bucket (with le), _sum and _count, label values use only the three escapes,
 * values are numbers, the text ends with a newline (check_hist checks the histograms'
 * figures)
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
			if (strcmp(type, "counter") && strcmp(type, "gauge") &&
			    strcmp(type, "histogram"))
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
		if (strcmp(type, "histogram") ? strcmp(name, fam) != 0 : !hist_sample(name, fam))
			BAD("sample %s outside its family (after TYPE %s)", name,
			    fam[0] ? fam : "-");
		if (!strcmp(type, "histogram") && !strcmp(name + strlen(fam), "_bucket") &&
		    !strstr(s, "{le=\"") && !strstr(s, ",le=\""))
			BAD("a bucket without le: %s", line);
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

/* The value of the sample whose line starts with head (name and labels) in text, or -1 */
static double value_of(const char *text, const char *head)
{
	size_t k = strlen(head);
	const char *s;

	for (s = text; (s = strstr(s, head)); s += k)
		if ((s == text || s[-1] == '\n') && s[k] == ' ')
			return strtod(s + k + 1, NULL);
	return -1;
}

#define HIST_FAMILY "memscope_allocation_size_bytes"

/*
 * Checks the figures of the histogram family HIST_FAMILY (check_text checks the syntax):
 * per series (its labels but le, which comes last), the buckets in ascending le ending
 * with +Inf, cumulative counts that never go down, then _sum and _count, +Inf equal to
 * _count; every series with the same bounds; _count and _sum equal to
 * memscope_allocations_total and memscope_allocated_bytes_total of the same labels.
 * *nseries: the series (label sets) found.
 */
static bool check_hist(const char *text, unsigned *nseries, char *err, size_t errlen)
{
	char *copy = strdup(text), *line, *save = NULL, group[512] = "", les[2048] = "",
	     first_les[2048] = "", head[640];
	double last_le = -1, last_n = -1, inf = -1, v;
	bool ok = false, in = false, sum = false;

	*nseries = 0;
#define HBAD(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		goto out;                                                                          \
	} while (0)
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *sp = strrchr(line, ' '), *le;
		size_t k;

		if (strncmp(line, HIST_FAMILY "_", sizeof(HIST_FAMILY)) || !sp)
			continue;
		v = strtod(sp + 1, NULL);
		if (!strncmp(line, HIST_FAMILY "_bucket{", sizeof(HIST_FAMILY "_bucket{") - 1)) {
			for (le = NULL, k = 0; strstr(line + k, ",le=\""); k = le - line + 1)
				le = strstr(line + k, ",le=\"") + 1; /* the last: comms are free */
			if (!le || !strchr(le + 4, '"') || strncmp(strchr(le + 4, '"'), "\"} ", 3))
				HBAD("le not the last label: %.100s", line);
			k = le - 1 - strchr(line, '{');
			if (!in) { /* a new series */
				if (k >= sizeof(group))
					HBAD("labels too long: %.100s", line);
				memcpy(group, strchr(line, '{'), k);
				group[k] = '\0';
				in = true;
				sum = false;
				les[0] = '\0';
				last_le = last_n = inf = -1;
				++*nseries;
			} else if (strncmp(strchr(line, '{'), group, k) || strlen(group) != k) {
				HBAD("series %.100s} ends without +Inf, _sum and _count", group);
			}
			if (inf >= 0)
				HBAD("a bucket after +Inf: %.100s", line);
			snprintf(les + strlen(les), sizeof(les) - strlen(les), "%.*s,",
				 (int)(strchr(le + 4, '"') - le - 4), le + 4);
			if (!strncmp(le + 4, "+Inf\"", 5)) {
				inf = v;
			} else {
				double b = strtod(le + 4, NULL);

				if (b <= last_le)
					HBAD("le not ascending: %.100s", line);
				last_le = b;
			}
			if (v < last_n)
				HBAD("buckets not cumulative: %.100s", line);
			last_n = v;
			continue;
		}
		if (!in || inf < 0)
			HBAD("%.100s outside a series' buckets", line);
		snprintf(head, sizeof(head), "%s}", group);
		if (strncmp(strchr(line, '{') ? strchr(line, '{') : "", head, strlen(head)) ||
		    strchr(line, '{')[strlen(head)] != ' ')
			HBAD("%.100s does not follow its series' buckets (%.100s)", line, head);
		if (!strncmp(line, HIST_FAMILY "_sum{", sizeof(HIST_FAMILY "_sum{") - 1)) {
			snprintf(head, sizeof(head), "memscope_allocated_bytes_total%s}", group);
			if (v != value_of(text, head))
				HBAD("%.100s: not %.100s (%g)", line, head, value_of(text, head));
			sum = true;
			continue;
		}
		if (strncmp(line, HIST_FAMILY "_count{", sizeof(HIST_FAMILY "_count{") - 1))
			HBAD("not a sample of the histogram: %.100s", line);
		if (!sum)
			HBAD("%.100s without _sum before it", line);
		if (v != inf)
			HBAD("%.100s: le=\"+Inf\" is %g", line, inf);
		snprintf(head, sizeof(head), "memscope_allocations_total%s}", group);
		if (v != value_of(text, head))
			HBAD("%.100s: not %.100s (%g)", line, head, value_of(text, head));
		if (!first_les[0])
			snprintf(first_les, sizeof(first_les), "%s", les);
		else if (strcmp(les, first_les))
			HBAD("series %.60s}: bounds %.60s, the first series' %.60s", group, les,
			     first_les);
		in = false;
	}
	if (in)
		HBAD("series %.100s} ends without _count", group);
	ok = true;
out:
	free(copy);
	return ok;
#undef HBAD
}

#define ck_text(t)                                                                                 \
	do {                                                                                       \
		struct parsed pr_;                                                                 \
		unsigned nh_;                                                                      \
		ck_assert_msg(check_text(t, &pr_), "exposition: %s", pr_.err);                     \
		ck_assert_msg(check_hist(t, &nh_, pr_.err, sizeof(pr_.err)), "histogram: %s",      \
			      pr_.err);                                                            \
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
	"# HELP memscope_allocation_size_bytes Requested sizes of successful allocation calls, in "
	"power-of-two size classes (le: a class' largest size, 2^k-1)\n"
	"# TYPE memscope_allocation_size_bytes histogram\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"0\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"1\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"3\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"7\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"15\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"31\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"63\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"127\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"255\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"511\"} 2\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"+Inf\"} 2\n"
	"memscope_allocation_size_bytes_sum{pid=\"42\",comm=\"app\",allocator=\"libc\"} 400\n"
	"memscope_allocation_size_bytes_count{pid=\"42\",comm=\"app\",allocator=\"libc\"} 2\n"
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
	"memscope_lost_events_total{cause=\"missed_free\"} 0\n"
	"memscope_lost_events_total{cause=\"late\"} 0\n"
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
	ms_stats_init(&s, cat, on_end, p);
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
	ms_catalog_free(cat);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

/* memscope_allocation_size_bytes: one bucket per size class, le its largest size; every
 * series of the family with the bounds up to the largest class any series has */
#define HB HIST_FAMILY "_bucket"

/* libc: 0 (le 0), 1 (le 1), 2 and 3 (le 3), 100 (le 127), 4096 and 5000 (le 8191);
 * objpool: 32 (le 63); both up to le 8191, the largest class of the two */
static const char hist_expected[] =
	"# HELP memscope_allocation_size_bytes Requested sizes of successful allocation calls, in "
	"power-of-two size classes (le: a class' largest size, 2^k-1)\n"
	"# TYPE memscope_allocation_size_bytes histogram\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"0\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"1\"} 2\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"3\"} 4\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"7\"} 4\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"15\"} 4\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"31\"} 4\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"63\"} 4\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"127\"} 5\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"255\"} 5\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"511\"} 5\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"1023\"} 5\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"2047\"} 5\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"4095\"} 5\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"8191\"} 7\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"libc\",le=\"+Inf\"} 7\n"
	"memscope_allocation_size_bytes_sum{pid=\"42\",comm=\"app\",allocator=\"libc\"} 9202\n"
	"memscope_allocation_size_bytes_count{pid=\"42\",comm=\"app\",allocator=\"libc\"} 7\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"0\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"1\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"3\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"7\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"15\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"31\"} 0\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"63\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"127\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"255\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"511\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"1023\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"2047\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"4095\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"8191\"} 1\n"
	"memscope_allocation_size_bytes_bucket{pid=\"42\",comm=\"app\",allocator=\"objpool\",le=\"+Inf\"} 1\n"
	"memscope_allocation_size_bytes_sum{pid=\"42\",comm=\"app\",allocator=\"objpool\"} 32\n"
	"memscope_allocation_size_bytes_count{pid=\"42\",comm=\"app\",allocator=\"objpool\"} 1\n";

/* The family's lines in text (HELP to the next HELP), a copy to free(), or NULL */
static char *family_of(const char *text, const char *name)
{
	char head[160];
	const char *s, *end;

	snprintf(head, sizeof(head), "# HELP %s ", name);
	s = strstr(text, head);
	if (!s)
		return NULL;
	end = strstr(s + 1, "# HELP ");
	return strndup(s, end ? (size_t)(end - s) : strlen(s));
}

START_TEST(size_histogram)
{
	static const uint64_t sizes[] = { 0, 1, 2, 3, 100, 4096, 5000 };
	struct ms_stats s;
	struct ms_prom *p;
	unsigned i, nh;
	char *t, *fam, err[256];

	setup_funcs();
	make_proc_dir();
	p = new_prom(100, 60);
	ms_stats_init(&s, cat, on_end, p);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		ALLOC(&s, 42, 0x1000 * (i + 1), sizes[i]);
	FREE(&s, 42, 0x5000);	      /* a free changes no bucket */
	ALLOC(&s, 42, 0, 1ULL << 62); /* nor does a failed call */
	apply(&s, MS_EV_ALLOC, f_pool_get, 42, 0x90000, 32);
	set_comm(&s, 42, "app");
	t = update(p, &s, 1);
	ck_text(t);
	fam = family_of(t, HIST_FAMILY);
	ck_assert_ptr_nonnull(fam);
	ck_assert_str_eq(fam, hist_expected);
	free(fam);
	ck_assert(check_hist(t, &nh, err, sizeof(err)));
	ck_assert_uint_eq(nh, 2);
	free(t);

	/* exited: the final histogram stays for the grace period */
	exit_event(&s, 42, "app");
	t = update(p, &s, 2);
	ck_text(t);
	fam = family_of(t, HIST_FAMILY);
	ck_assert_str_eq(fam, hist_expected);
	free(fam);
	free(t);
	ms_stats_free(&s);
	ms_catalog_free(cat);
	ms_prom_free(p);
	remove_proc_dir();
}
END_TEST

/* The histogram check itself: a valid text passes, each kind of fault is caught */
START_TEST(check_hist_catches)
{
#define A "{pid=\"1\",comm=\"le=\\\"\",allocator=\"libc\"" /* a comm with le=" in it */
#define B "{pid=\"2\",comm=\"b\",allocator=\"libc\""
	static const char good[] =
		"memscope_allocations_total{pid=\"1\",comm=\"le=\\\"\",allocator=\"libc\"} 2\n"
		"memscope_allocations_total{pid=\"2\",comm=\"b\",allocator=\"libc\"} 1\n"
		"memscope_allocated_bytes_total{pid=\"1\",comm=\"le=\\\"\",allocator=\"libc\"} 5\n"
		"memscope_allocated_bytes_total{pid=\"2\",comm=\"b\",allocator=\"libc\"} 0\n"
		"# TYPE memscope_allocation_size_bytes histogram\n"
		"memscope_allocation_size_bytes_bucket{pid=\"1\",comm=\"le=\\\"\",allocator=\"libc\",le=\"0\"} 0\n"
		"memscope_allocation_size_bytes_bucket{pid=\"1\",comm=\"le=\\\"\",allocator=\"libc\",le=\"3\"} 2\n"
		"memscope_allocation_size_bytes_bucket{pid=\"1\",comm=\"le=\\\"\",allocator=\"libc\",le=\"+Inf\"} 2\n"
		"memscope_allocation_size_bytes_sum{pid=\"1\",comm=\"le=\\\"\",allocator=\"libc\"} 5\n"
		"memscope_allocation_size_bytes_count{pid=\"1\",comm=\"le=\\\"\",allocator=\"libc\"} 2\n"
		"memscope_allocation_size_bytes_bucket{pid=\"2\",comm=\"b\",allocator=\"libc\",le=\"0\"} 1\n"
		"memscope_allocation_size_bytes_bucket{pid=\"2\",comm=\"b\",allocator=\"libc\",le=\"3\"} 1\n"
		"memscope_allocation_size_bytes_bucket{pid=\"2\",comm=\"b\",allocator=\"libc\",le=\"+Inf\"} 1\n"
		"memscope_allocation_size_bytes_sum{pid=\"2\",comm=\"b\",allocator=\"libc\"} 0\n"
		"memscope_allocation_size_bytes_count{pid=\"2\",comm=\"b\",allocator=\"libc\"} 1\n";
	static const struct {
		const char *from, *to, *what;
	} bad[] = {
		{ A ",le=\"0\"} 0", A ",le=\"0\"} 3", "not cumulative" },
		{ A ",le=\"+Inf\"} 2", A ",le=\"+Inf\"} 3", "+Inf is not _count" },
		{ "allocations_total" A "} 2", "allocations_total" A "} 3",
		  "_count is not allocations_total" },
		{ A "} 5\n" HIST_FAMILY, A "} 4\n" HIST_FAMILY, "_sum is not allocated_bytes" },
		{ A ",le=\"3\"", A ",le=\"0\"", "le not ascending" },
		{ B ",le=\"3\"", B ",le=\"7\"", "other bounds" },
		{ HIST_FAMILY "_sum" B "} 0\n", "", "no _sum" },
		{ HB B ",le=\"+Inf\"} 1\n", "", "no +Inf" },
		{ A ",le=\"3\"} 2\n", A ",le=\"3\",x=\"y\"} 2\n", "le not last" },
	};
	char text[4096], err[256];
	unsigned i, nh;

	ck_assert_msg(check_hist(good, &nh, err, sizeof(err)), "%s", err);
	ck_assert_uint_eq(nh, 2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *at = strstr(good, bad[i].from);

		ck_assert_ptr_nonnull(at);
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good), good, bad[i].to,
			 at + strlen(bad[i].from));
		ck_assert_msg(!check_hist(text, &nh, err, sizeof(err)), "%s passes", bad[i].what);
	}
#undef A
#undef B
}
END_TEST

/* pid="other": the sum of the histograms per comm, with the same bounds as the rest;
 * the bounds never shrink, so no bucket series goes away while its process stays */
START_TEST(size_histogram_other)
{
	struct ms_stats s;
	struct ms_prom *p;
	char *t, *fam, err[256];
	unsigned nh;

	setup_funcs();
	make_proc_dir();
	p = new_prom(1, 0);
	ms_stats_init(&s, cat, on_end, p);
	ALLOC(&s, 1, 0x1000, 1 << 20); /* the most live bytes, class [2^20, 2^21) */
	ALLOC(&s, 2, 0x1000, 10);
	ALLOC(&s, 2, 0x2000, 20);
	ALLOC(&s, 3, 0x1000, 20);
	ALLOC(&s, 3, 0x2000, 700);
	FREE(&s, 3, 0x2000);
	set_comm(&s, 1, "big");
	set_comm(&s, 2, "w");
	set_comm(&s, 3, "w");
	t = update(p, &s, 1);
	ck_text(t);
	ck_assert(check_hist(t, &nh, err, sizeof(err)));
	ck_assert_uint_eq(nh, 2);
	fam = family_of(t, HIST_FAMILY);
	ck_assert_ptr_nonnull(
		strstr(fam, HB "{pid=\"1\",comm=\"big\",allocator=\"libc\",le=\"1048575\"} 0\n" HB
			       "{pid=\"1\",comm=\"big\",allocator=\"libc\",le=\"2097151\"} 1\n" HB
			       "{pid=\"1\",comm=\"big\",allocator=\"libc\",le=\"+Inf\"} 1\n"));
	ck_assert_ptr_nonnull(
		strstr(fam, HB "{pid=\"other\",comm=\"w\",allocator=\"libc\",le=\"7\"} 0\n" HB
			       "{pid=\"other\",comm=\"w\",allocator=\"libc\",le=\"15\"} 1\n" HB
			       "{pid=\"other\",comm=\"w\",allocator=\"libc\",le=\"31\"} 3\n" HB
			       "{pid=\"other\",comm=\"w\",allocator=\"libc\",le=\"63\"} 3\n"));
	ck_assert_ptr_nonnull(
		strstr(fam, HB "{pid=\"other\",comm=\"w\",allocator=\"libc\",le=\"511\"} 3\n" HB
			       "{pid=\"other\",comm=\"w\",allocator=\"libc\",le=\"1023\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(
		fam, HB "{pid=\"other\",comm=\"w\",allocator=\"libc\",le=\"2097151\"} 4\n" HB
			"{pid=\"other\",comm=\"w\",allocator=\"libc\",le=\"+Inf\"} 4\n" HIST_FAMILY
			"_sum{pid=\"other\",comm=\"w\",allocator=\"libc\"} 750\n" HIST_FAMILY
			"_count{pid=\"other\",comm=\"w\",allocator=\"libc\"} 4\n"));
	ck_assert_ptr_null(strstr(fam, "le=\"4194303\""));
	free(fam);
	free(t);

	/* the big one ends (no grace): the bounds stay up to its class */
	exit_event(&s, 1, "big");
	t = update(p, &s, 2);
	ck_text(t);
	ck_assert_ptr_null(strstr(t, "pid=\"1\""));
	ck_assert_ptr_nonnull(
		strstr(t, "\n" HB "{pid=\"2\",comm=\"w\",allocator=\"libc\",le=\"2097151\"} 2\n" HB
			  "{pid=\"2\",comm=\"w\",allocator=\"libc\",le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(
		t, "\n" HB "{pid=\"other\",comm=\"w\",allocator=\"libc\",le=\"2097151\"} 2\n"));
	free(t);
	ms_stats_free(&s);
	ms_catalog_free(cat);
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
	ms_stats_init(&s, cat, on_end, p);
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
	ms_catalog_free(cat);
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
	ms_stats_init(&s, cat, on_end, p);
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
	ms_catalog_free(cat);
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
	ms_stats_init(&s, cat, on_end, p);
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
	/* 3 exported + 2 sums: 10 families of one series each (no backing) and the size
	 * histogram's le 0 to 1023 (the class of 1000), +Inf, _sum and _count; the lost
	 * causes (the BPF counters, untracked, missed_free and late), 3 */
	ck_assert_uint_eq(pr.samples, 5 * 10 + 5 * (11 + 3) + MS_CNT_MAX + 3 + 3);
	ck_assert_uint_eq(pr.families, 17);
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
	ms_catalog_free(cat);
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
	ms_stats_init(&s, cat, on_end, p);
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
	ms_catalog_free(cat);
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
	ms_stats_init(&s, cat, on_end, p);
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
	ms_catalog_free(cat);
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
	ms_stats_init(&s, cat, on_end, p);
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
	ms_catalog_free(cat);
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

/* cgroup and container labels from /proc/PID/cgroup, read once per process (which line
 * names the cgroup: test_cgroup.c) */
START_TEST(cgroup_labels)
{
	struct ms_stats s;
	struct ms_prom *p;
	char *t, path[256];

	setup_funcs();
	make_proc_dir();
	fake_cgroup(1, "0::/\n");
	fake_cgroup(2, "0::/system.slice/docker-" CID ".scope\n");
	fake_cgroup(4, "0::/user.slice/user-1000.slice/session-2.scope\n");
	fake_cgroup(6, "0::/a\"b\\c\n"); /* a hostile path: escaped */
	/* 3, 5, 7: no cgroup file (gone) */
	p = new_prom(100, 60);
	ms_stats_init(&s, cat, on_end, p);
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
	ck_assert_ptr_nonnull(
		strstr(t, "\nmemscope_live_bytes{pid=\"4\",comm=\"c\",allocator=\"libc\","
			  "cgroup=\"/user.slice/user-1000.slice/session-2.scope\"} 4\n"));
	ck_assert_ptr_nonnull(
		strstr(t, "\nmemscope_live_bytes{pid=\"6\",comm=\"c\",allocator=\"libc\","
			  "cgroup=\"/a\\\"b\\\\c\"} 6\n"));
	ck_assert_ptr_nonnull(
		strstr(t, "\nmemscope_live_bytes{pid=\"7\",comm=\"c\",allocator=\"libc\"} 7\n"));
	ck_assert_ptr_nonnull(strstr(
		t, "\nmemscope_process_peak_bytes{pid=\"2\",comm=\"c\",cgroup=\"/system.slice/"
		   "docker-" CID ".scope\",container=\"" CID "\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(t, "\n" HB "{pid=\"2\",comm=\"c\",allocator=\"libc\","
					"cgroup=\"/system.slice/docker-" CID
					".scope\",container=\"" CID "\",le=\"3\"} 1\n"));
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
	ms_catalog_free(cat);
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
	ms_stats_init(&s, cat, NULL, NULL);
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
	ms_catalog_free(cat);
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

/* ---- the server's bounds, shortened */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A connection to port from loopback address 127.0.0.src */
static int connect_from(unsigned src, unsigned port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	me.sin_addr.s_addr = htonl(0x7f000000 | src);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Whether the server has closed fd (end of stream or reset); what it sent is dropped */
static bool closed_by_server(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Waits until the server closes fd, at most max_s; the seconds it took from t0, or -1 */
static double closed_after(int fd, double t0, double max_s)
{
	while (mono_s() - t0 < max_s) {
		if (closed_by_server(fd))
			return mono_s() - t0;
		usleep(10000);
	}
	return -1;
}

static void send_all(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* One response on a kept-alive connection, read to its Content-Length (HEAD: its head);
 * its status, 0 when the server closed the connection first */
static unsigned response_on(int fd, bool head_only, bool *keeps)
{
	char buf[1 << 16];
	size_t len = 0, want = 0;
	const char *end = NULL, *cl;
	unsigned status = 0;
	ssize_t n;

	while (!end || len < want) {
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return 0;
		len += n;
		buf[len] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			cl = strcasestr(buf, "\r\nContent-Length: ");
			ck_assert_ptr_nonnull(cl);
			want = end + 4 - buf + (head_only ? 0 : strtoul(cl + 18, NULL, 10));
			*keeps = !strcasestr(buf, "\r\nConnection: close\r\n");
			ck_assert_int_eq(sscanf(buf, "HTTP/1.1 %u ", &status), 1);
		}
	}
	ck_assert_uint_eq(len, want); /* nothing more: no response was asked for */
	return status;
}

static struct ms_prom *bounded_server(const struct ms_httpd_limits *b)
{
	struct ms_prom_opts o = { .max_processes = 100, .grace_s = 60, .http = *b };
	struct ms_prom *p = ms_prom_new("127.0.0.1:0", &o);

	ck_assert_msg(p != NULL, "cannot listen on loopback: %s", strerror(errno));
	return p;
}

#define GET_KEEP "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"

/* HTTP/1.1 connections serve one request after another; the next request head has its own
 * (idle) bound, counted from the previous response */
START_TEST(http_keep_alive)
{
	struct ms_httpd_limits b = { .request_ms = 300, .idle_ms = 900 };
	struct ms_prom *p = bounded_server(&b);
	unsigned port = port_of(p);
	int fd = connect_from(1, port);
	bool keeps = false;
	double t0, took;

	send_all(fd, GET_KEEP);
	ck_assert_uint_eq(response_on(fd, false, &keeps), 200);
	ck_assert(keeps);
	send_all(fd, GET_KEEP);
	ck_assert_uint_eq(response_on(fd, false, &keeps), 200);
	ck_assert(keeps);
	send_all(fd, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_uint_eq(response_on(fd, true, &keeps), 200);
	ck_assert(keeps);
	/* idle: still open past the request bound, closed at the idle bound */
	t0 = mono_s();
	took = closed_after(fd, t0, 3);
	ck_assert_msg(took >= 0.85 && took <= 1.5, "idle kept-alive connection closed after %.2f s",
		      took);
	close(fd);
	/* "Connection: close" is honoured */
	fd = connect_from(1, port);
	send_all(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	ck_assert_uint_eq(response_on(fd, false, &keeps), 200);
	ck_assert(!keeps);
	ck_assert(closed_after(fd, mono_s(), 1) >= 0);
	close(fd);
	ms_prom_free(p);
}
END_TEST

/* A request head trickled a line at a time is closed at the request bound from the accept
 * (the bytes do not renew it); the next one on a kept-alive connection at the idle bound */
START_TEST(http_deadlines)
{
	struct ms_httpd_limits b = { .request_ms = 400, .idle_ms = 800 };
	struct ms_prom *p = bounded_server(&b);
	unsigned port = port_of(p);
	int slow = connect_from(1, port), kept = connect_from(1, port);
	double t0 = mono_s(), t_slow = -1, t_kept = -1, t1;
	bool keeps;

	send_all(kept, GET_KEEP);
	ck_assert_uint_eq(response_on(kept, false, &keeps), 200);
	t1 = mono_s();
	send_all(slow, "GET /metrics HTTP/1.1\r\n");
	send_all(kept, "GET /metrics HTTP/1.1\r\n");
	while ((t_slow < 0 || t_kept < 0) && mono_s() - t0 < 3) {
		usleep(50000);
		if (t_slow < 0 && closed_by_server(slow))
			t_slow = mono_s() - t0;
		else if (t_slow < 0)
			send(slow, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
		if (t_kept < 0 && closed_by_server(kept))
			t_kept = mono_s() - t1;
		else if (t_kept < 0)
			send(kept, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
	}
	ck_assert_msg(t_slow >= 0.35 && t_slow <= 0.8, "trickled head closed after %.2f s", t_slow);
	ck_assert_msg(t_kept >= 0.75 && t_kept <= 1.2, "trickled second head closed after %.2f s",
		      t_kept);
	close(slow);
	close(kept);
	ms_prom_free(p);
}
END_TEST

/* Returns how many of fds[0..n) the server has not closed, after 200 ms */
static unsigned open_of(const int *fds, unsigned n)
{
	unsigned i, k = 0;

	usleep(200000);
	for (i = 0; i < n; i++)
		k += !closed_by_server(fds[i]);
	return k;
}

/* One GET /metrics from 127.0.0.src with "Connection: close": its status */
static unsigned get_from(unsigned src, unsigned port)
{
	int fd = connect_from(src, port);
	bool keeps;
	unsigned st;

	send_all(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	st = response_on(fd, false, &keeps);
	close(fd);
	return st;
}

/* One client address holds at most per_client connections, all together at most
 * connections; a newcomer is always let in, the first to go being an incomplete first
 * request, then an idle kept-alive connection */
START_TEST(http_limits)
{
	struct ms_httpd_limits b = { .connections = 6, .per_client = 3 };
	struct ms_prom *p = bounded_server(&b);
	unsigned port = port_of(p), i;
	int hog[10], spread[9], kept, fresh[2];
	bool keeps;

	for (i = 0; i < 10; i++)
		hog[i] = connect_from(2, port);
	ck_assert_uint_eq(open_of(hog, 10), 3);
	/* the newest are kept: the oldest went first */
	ck_assert_uint_eq(open_of(hog + 7, 3), 3);
	/* the same address and another one get in */
	ck_assert_uint_eq(get_from(2, port), 200);
	ck_assert_uint_eq(get_from(3, port), 200);
	ck_assert_uint_le(open_of(hog, 10), 3);
	for (i = 0; i < 10; i++)
		close(hog[i]);
	usleep(100000); /* the server sees them end */
	/* three addresses, three each: 6 in all; the newcomer from a fourth gets in */
	for (i = 0; i < 9; i++)
		spread[i] = connect_from(10 + i % 3, port);
	ck_assert_uint_eq(open_of(spread, 9), 6);
	ck_assert_uint_eq(get_from(20, port), 200);
	for (i = 0; i < 9; i++)
		close(spread[i]);
	usleep(100000);
	/* a kept-alive connection outlives newer incomplete ones of its client */
	kept = connect_from(4, port);
	send_all(kept, GET_KEEP);
	ck_assert_uint_eq(response_on(kept, false, &keeps), 200);
	fresh[0] = connect_from(4, port);
	fresh[1] = connect_from(4, port);
	ck_assert_uint_eq(open_of(fresh, 2), 2);
	ck_assert_uint_eq(get_from(4, port), 200);
	ck_assert_uint_eq(open_of(&kept, 1), 1);
	ck_assert_uint_eq(open_of(fresh, 2), 1);
	send_all(kept, GET_KEEP);
	ck_assert_uint_eq(response_on(kept, false, &keeps), 200);
	close(kept);
	close(fresh[0]);
	close(fresh[1]);
	ms_prom_free(p);
}
END_TEST

Suite *prom_suite(void)
{
	Suite *s = suite_create("prom");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, small_exact);
	tcase_add_test(tc, size_histogram);
	tcase_add_test(tc, check_hist_catches);
	tcase_add_test(tc, size_histogram_other);
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
	tcase_add_test(tc, http_keep_alive);
	tcase_add_test(tc, http_deadlines);
	tcase_add_test(tc, http_limits);
	suite_add_tcase(s, tc);
	return s;
}
