/* fuzz_replay.c: --replay FILE (any file a user hands over): the daemon's own replay
 * driver (report.c's ms_report_replay): ms_replay, the statistics, interval, exit and
 * final records, in text and in JSON. Every JSON line written must be valid JSON, every
 * record handed on one the programs write, the figures those of the live tables.
 * Seeds are real recordings, gzip and decompressed (zlib reads both: the raw frame
 * stream is what mutations work best on), and damaged copies. */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include "catalog.h"
#include "env.h"
#include "fuzz.h"
#include "numa.h"
#include "record.h"
#include "report.h"
#include "stats.h"

/* ------------------------------------------------------------ a strict JSON checker */

static const unsigned char *js_value(const unsigned char *p, const unsigned char *end, int depth);

static const unsigned char *js_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

static const unsigned char *js_string(const unsigned char *p, const unsigned char *end)
{
	FZ_CHECK(p < end && *p == '"', "string expected");
	for (p++; p < end && *p != '"';) {
		FZ_CHECK(*p >= 0x20, "raw control character 0x%02x in a string", *p);
		if (*p == '\\') {
			FZ_CHECK(p + 1 < end && strchr("\"\\/bfnrtu", p[1]), "bad escape");
			if (p[1] == 'u') {
				int k;

				for (k = 2; k < 6; k++)
					FZ_CHECK(p + k < end && isxdigit(p[k]), "bad \\u escape");
				p += 6;
			} else {
				p += 2;
			}
			continue;
		}
		{
			size_t n = fz_utf8_len(p, end - p);

			FZ_CHECK(n, "invalid UTF-8 in a string");
			p += n;
		}
	}
	FZ_CHECK(p < end, "unterminated string");
	return p + 1;
}

static const unsigned char *js_number(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *s = p;

	if (p < end && *p == '-')
		p++;
	FZ_CHECK(p < end && isdigit(*p), "bad number at '%.20s'", s);
	if (*p == '0')
		p++;
	else
		while (p < end && isdigit(*p))
			p++;
	if (p < end && *p == '.') {
		p++;
		FZ_CHECK(p < end && isdigit(*p), "bad fraction");
		while (p < end && isdigit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		FZ_CHECK(p < end && isdigit(*p), "bad exponent");
		while (p < end && isdigit(*p))
			p++;
	}
	return p;
}

static const unsigned char *js_value(const unsigned char *p, const unsigned char *end, int depth)
{
	FZ_CHECK(depth < 64, "nesting too deep");
	p = js_ws(p, end);
	FZ_CHECK(p < end, "value expected");
	if (*p == '{' || *p == '[') {
		unsigned char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';

		p = js_ws(p + 1, end);
		if (p < end && *p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = js_string(js_ws(p, end), end);
				p = js_ws(p, end);
				FZ_CHECK(p < end && *p == ':', "':' expected");
				p++;
			}
			p = js_ws(js_value(p, end, depth + 1), end);
			FZ_CHECK(p < end, "unterminated %s", obj ? "object" : "array");
			if (*p == close)
				return p + 1;
			FZ_CHECK(*p == ',', "',' expected, got '%c'", *p);
			p++;
		}
	}
	if (*p == '"')
		return js_string(p, end);
	if (end - p >= 4 && (!memcmp(p, "true", 4) || !memcmp(p, "null", 4)))
		return p + 4;
	if (end - p >= 5 && !memcmp(p, "false", 5))
		return p + 5;
	return js_number(p, end);
}

/* Every line of buf[0..len) is one JSON value */
static void check_json_lines(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;

	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', end - p);

		FZ_CHECK(nl, "a JSON record without its newline");
		FZ_CHECK(js_ws(js_value(p, nl, 0), nl) == nl, "bytes after a JSON value");
		p = nl + 1;
	}
}

/* ------------------------------------------------------------ the daemon's replay */

/*
 * The figures agree with the live tables: each side's live_allocs and live_bytes are
 * the count and the sizes of its live blocks (those in the table, and those a realloc
 * in flight took out), and a process' figures are the sum of its allocators' user sides
 */
static void check_side(const struct ms_proc *p, unsigned id, const char *what,
		       const struct ms_side *d)
{
	uint64_t n = 0, bytes = 0, pos = 0;
	const struct ms_block *b;
	unsigned i;

	while ((b = ms_livetab_iter(&d->live, &pos)))
		if (!ms_block_dead(b))
			n++, bytes += ms_block_size(b);
	for (i = 0; d->pending && i < d->pending->n; i++)
		if (d->pending->v[i].tracked && !d->pending->v[i].released)
			n++, bytes += ms_block_size(&d->pending->v[i].old);
	FZ_CHECK(!d->pending || d->pending->n <= MS_MAX_PENDING,
		 "pid %d allocator %u %s: %zu "
		 "reallocs in flight",
		 (int)p->pid, id, what, d->pending ? d->pending->n : (size_t)0);
	FZ_CHECK(d->c.live_allocs == n && d->c.live_bytes == bytes,
		 "pid %d allocator %u %s: live_allocs %llu live_bytes %llu, but the table holds "
		 "%llu blocks of %llu bytes",
		 (int)p->pid, id, what, (unsigned long long)d->c.live_allocs,
		 (unsigned long long)d->c.live_bytes, (unsigned long long)n,
		 (unsigned long long)bytes);
}

static void check_proc(struct ms_proc *p, void *ctx)
{
	const struct ms_catalog *cat = ctx;
	uint64_t n = 0, bytes = 0;
	unsigned id;

	/* no table grown past what the recording defined */
	FZ_CHECK(p->nby_func <= 8 || p->nby_func <= 2 * (ms_catalog_nfuncs(cat) + 1),
		 "pid %d: by_func of %zu for %u functions", (int)p->pid, p->nby_func,
		 ms_catalog_nfuncs(cat));
	FZ_CHECK(p->numa.nnodes <= MS_MAX_NODES, "pid %d: %zu nodes", (int)p->pid, p->numa.nnodes);

	for (id = 0; id < p->nalloc; id++) {
		if (!p->alloc[id].used)
			continue;
		check_side(p, id, "user", &p->alloc[id].user);
		check_side(p, id, "backing", &p->alloc[id].backing);
		n += p->alloc[id].user.c.live_allocs;
		bytes += p->alloc[id].user.c.live_bytes;
	}
	FZ_CHECK(p->c.live_allocs == n && p->c.live_bytes == bytes,
		 "pid %d: live_allocs %llu live_bytes %llu, its allocators %llu and %llu",
		 (int)p->pid, (unsigned long long)p->c.live_allocs,
		 (unsigned long long)p->c.live_bytes, (unsigned long long)n,
		 (unsigned long long)bytes);
}

/* The daemon's own lines (a damaged recording is said on stderr) go to /dev/null while
 * it replays; the checks below print their findings to the real stderr */
static FILE *real_err, *null_err;

/* Before each record: the figures agree with the tables (unless a cap cut them short) */
static void on_report(struct ms_stats *s, const struct ms_catalog *cat, void *ctx)
{
	stderr = real_err;
	if (!s->oom)
		ms_stats_for_each(s, check_proc, (void *)cat);
	stderr = null_err;
}

/* Each record handed on is one the programs write, for what the recording defined */
static void on_event(const struct ms_event *e, const struct ms_catalog *cat, void *ctx)
{
	const struct ms_func *f = ms_catalog_func(cat, e->func);

	stderr = real_err;
	/* a function's allocator is one the recording defined (the text table prints the
	 * allocator's name) */
	if (f)
		FZ_CHECK(ms_catalog_allocator(cat, f->allocator) && f->kind >= MS_FN_ALLOC &&
				 f->kind <= MS_FN_DLSTATE,
			 "function %u '%.64s': allocator %u of %u, kind %u", e->func, f->name,
			 f->allocator, ms_catalog_nallocators(cat), f->kind);

	/* an allocator's record names a function of its kind the recording defined, and a
	 * block (a FREE or REALLOC_ENTER of NULL is not recorded), a node the statistics
	 * have room for */
	if (e->type >= MS_EV_ALLOC && e->type <= MS_EV_REALLOC)
		FZ_CHECK(f &&
				 f->kind == (e->type == MS_EV_ALLOC ? MS_FN_ALLOC :
					     e->type == MS_EV_FREE  ? MS_FN_FREE :
								      MS_FN_REALLOC) &&
				 (e->a.ptr || e->type == MS_EV_ALLOC || e->type == MS_EV_REALLOC),
			 "record of type %u, function %u of %u, address 0x%llx handed on", e->type,
			 e->func, ms_catalog_nfuncs(cat), (unsigned long long)e->a.ptr);
	FZ_CHECK(e->type >= MS_EV_ALLOC && e->type < MS_EV_TYPE_MAX && e->node < MS_MAX_NODES,
		 "record of type %u, node %u handed on", e->type, e->node);
	stderr = null_err;
}

/* The file as the daemon replays it (-o into a scratch file, as a user would run it);
 * with json, every line written is checked */
static void replay(const char *path, bool json)
{
	static const struct ms_replay_hooks hooks = { .event = on_event, .report = on_report };
	char out[128], *argv[8], *buf = NULL;
	struct ms_env env;
	size_t cap = 0;
	ssize_t n;
	int argc = 0, status;
	FILE *f;

	snprintf(out, sizeof(out), "%s/replay.out", fz_tmpdir());
	unlink(out);
	argv[argc++] = "memscope-bpf";
	argv[argc++] = "--replay";
	argv[argc++] = (char *)path;
	argv[argc++] = "-o";
	argv[argc++] = out;
	if (json)
		argv[argc++] = "--json";
	argv[argc] = NULL;
	ms_env_parse(&env, argc, argv);
	if (!null_err && !(null_err = fopen("/dev/null", "we")))
		abort();
	real_err = stderr;
	stderr = null_err;
	status = ms_report_replay(&env, &hooks);
	stderr = real_err;
	FZ_CHECK(status == 0 || status == 1, "replay exited with %d", status);
	f = fopen(out, "re");
	FZ_CHECK(f, "no output file: %s", strerror(errno));
	if (json) {
		while ((n = getline(&buf, &cap, f)) > 0) {
			check_json_lines(buf, n);
		}
	}
	free(buf);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_file(data, size);

	replay(path, false);
	replay(path, true);
	return 0;
}
