/* fuzz_prom_label.c: the Prometheus exposition with hostile label values: process names
 * (any 16 bytes a process gives itself with prctl(PR_SET_NAME)) and cgroup paths (any
 * directory name a delegated cgroup subtree's owner creates), read from a fake
 * /proc/PID/cgroup. The text must stay valid exposition format 0.0.4: label values
 * valid UTF-8 with only \\, \" and \n escaped, no series twice.
 * Input: FLAGS, COMM_A[16], COMM_B[16], then the cgroup file of every process. */
#include <ctype.h>
#include <string.h>
#include <sys/stat.h>
#include "catalog.h"
#include "fuzz.h"
#include "presets.h"
#include "prom.h"
#include "stats.h"

#define NPROCS 4
#define FIRST_PID 100

static bool name_char(unsigned char c, bool first)
{
	return isalpha(c) || c == '_' || c == ':' || (!first && isdigit(c));
}

/* One line of the exposition; the series (name and labels) is appended to *series */
static void check_line(const char *line, size_t len, char **seen, size_t *nseen)
{
	const char *s = line, *end = line + len, *v;
	char *stop;
	size_t i;

	if (len >= 7 && (!memcmp(s, "# HELP ", 7) || !memcmp(s, "# TYPE ", 7)))
		return;
	FZ_CHECK(len && name_char(*s, true), "no metric name: %.*s", (int)len, line);
	while (s < end && name_char(*s, false))
		s++;
	if (s < end && *s == '{') {
		s++;
		while (s < end && *s != '}') {
			const char *val;
			size_t n;

			FZ_CHECK(name_char(*s, true), "bad label name: %.*s", (int)len, line);
			while (s < end && name_char(*s, false))
				s++;
			FZ_CHECK(end - s >= 2 && s[0] == '=' && s[1] == '"', "bad label: %.*s",
				 (int)len, line);
			s += 2;
			val = s;
			while (s < end && *s != '"') {
				if (*s == '\\') {
					FZ_CHECK(s + 1 < end && strchr("\\\"n", s[1]) && s[1],
						 "bad escape in a label value: %.*s", (int)len,
						 line);
					s += 2;
				} else {
					s++;
				}
			}
			FZ_CHECK(s < end, "unterminated label value: %.*s", (int)len, line);
			n = s - val;
			FZ_CHECK(fz_utf8_valid(val, n), "label value not valid UTF-8: %.*s",
				 (int)len, line);
			s++;
			if (s < end && *s == ',')
				s++;
			else
				FZ_CHECK(s < end && *s == '}', "bad label list: %.*s", (int)len,
					 line);
		}
		FZ_CHECK(s < end, "unterminated label list");
		s++;
	}
	FZ_CHECK(s < end && *s == ' ', "no space before the value: %.*s", (int)len, line);
	v = s + 1;
	FZ_CHECK(v < end && isdigit((unsigned char)*v), "bad value: %.*s", (int)len, line);
	strtoull(v, &stop, 10);
	FZ_CHECK(stop == end, "bad value: %.*s", (int)len, line);
	/* the same series twice makes Prometheus drop the scrape */
	for (i = 0; i < *nseen; i++)
		FZ_CHECK(strlen(seen[i]) != (size_t)(s - line) || memcmp(seen[i], line, s - line),
			 "series twice: %.*s", (int)(s - line), line);
	seen[(*nseen)++] = strndup(line, s - line);
}

static void check_text(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	char **seen = calloc(len / 4 + 1, sizeof(*seen));
	size_t nseen = 0, i;

	FZ_CHECK(strlen(text) == len, "a NUL inside the exposition");
	FZ_CHECK(len && text[len - 1] == '\n', "no newline at the end");
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);

		check_line(p, nl - p, seen, &nseen);
		p = nl + 1;
	}
	FZ_CHECK(fz_utf8_valid(text, len), "the exposition is not valid UTF-8");
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
}

static void on_end(struct ms_proc *p, enum ms_end_reason why, void *ctx)
{
	ms_prom_process_exited(ctx, p);
}

static void event(struct ms_stats *s, uint8_t type, unsigned func, pid_t pid, uint64_t ptr,
		  const char comm[MS_COMM_LEN])
{
	struct ms_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.func = func;
	e.tgid = e.tid = pid;
	e.stack_id = -1;
	if (comm)
		memcpy(e.comm, comm, MS_COMM_LEN);
	else
		e.a.ptr = ptr, e.a.size = 100 + pid;
	ms_stats_apply(s, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char proc[128];
	struct ms_func fm = { .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC };
	struct ms_func fp = { .name = "pool_get", .kind = MS_FN_ALLOC };
	char comm[2][MS_COMM_LEN], path[256];
	struct ms_prom_opts o = { 0 };
	struct ms_report r = { 0 };
	struct ms_catalog *cat;
	struct ms_stats s;
	struct ms_prom *p;
	unsigned f_malloc, f_pool, i;
	uint8_t flags;
	char *text;
	size_t len;

	if (size < 1 + 2 * MS_COMM_LEN)
		return 0;
	flags = data[0];
	memcpy(comm, data + 1, sizeof(comm));
	data += 1 + sizeof(comm);
	size -= 1 + sizeof(comm);
	if (!proc[0]) {
		snprintf(proc, sizeof(proc), "%s/proc", fz_tmpdir());
		mkdir(proc, 0700);
		for (i = 0; i < NPROCS; i++) {
			snprintf(path, sizeof(path), "%s/%u", proc, FIRST_PID + i);
			mkdir(path, 0700);
		}
	}
	for (i = 0; i < NPROCS; i++) {
		snprintf(path, sizeof(path), "%s/%u/cgroup", proc, FIRST_PID + i);
		fz_write(path, data, size);
	}

	cat = ms_catalog_new();
	if (!cat)
		abort();
	fp.allocator = ms_catalog_allocator_id(cat, "objpool", MS_AK_CUSTOM);
	f_malloc = ms_catalog_add_func(cat, &fm);
	f_pool = ms_catalog_add_func(cat, &fp);
	o.max_processes = flags & 3; /* 0: all; else the rest under pid="other" */
	o.grace_s = flags & 4 ? 60 : 0;
	o.proc_root = proc;
	p = ms_prom_new(NULL, &o);
	if (!p)
		abort();
	ms_stats_init(&s, cat, on_end, p);
	for (i = 0; i < NPROCS; i++) {
		struct ms_proc *pr;

		event(&s, MS_EV_ALLOC, i & 1 ? f_pool : f_malloc, FIRST_PID + i, 0x1000 * (i + 1),
		      NULL);
		pr = ms_stats_proc(&s, FIRST_PID + i, false);
		FZ_CHECK(pr, "no process");
		/* as the daemon reads /proc/PID/comm: up to the first newline or NUL */
		snprintf(pr->comm, sizeof(pr->comm), "%.*s", MS_COMM_LEN, comm[i & 1]);
		if (flags & 0x10)
			pr->comm[strcspn(pr->comm, "\n")] = '\0';
	}
	r.ts = 1;
	r.events = s.events;
	FZ_CHECK(!ms_prom_update(p, &s, &r), "update");
	text = ms_prom_text(p, &len);
	check_text(text, len);
	free(text);

	/* an exec into a new name (the event carries the raw 16 bytes), an exit, and one
	 * more process in the same cgroup: exited series kept for the grace period */
	if (flags & 8)
		event(&s, MS_EV_EXEC, 0, FIRST_PID, 0, comm[1]);
	event(&s, MS_EV_EXIT, 0, FIRST_PID + 1, 0, comm[0]);
	event(&s, MS_EV_ALLOC, f_malloc, FIRST_PID + 2, 0x9000, NULL);
	r.ts = 2;
	r.events = s.events;
	FZ_CHECK(!ms_prom_update(p, &s, &r), "update");
	text = ms_prom_text(p, &len);
	check_text(text, len);
	free(text);

	ms_stats_free(&s);
	ms_catalog_free(cat);
	ms_prom_free(p);
	return 0;
}
