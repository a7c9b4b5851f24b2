/* fuzz_replay.c: --replay FILE (any file a user hands over): ms_replay, then what the
 * daemon does with it (user/main.c's replay_main): the statistics, interval, exit and
 * final records, in text and in JSON. Every JSON line written must be valid JSON.
 * Seeds are real recordings, gzip and decompressed (zlib reads both: the raw frame
 * stream is what mutations work best on), and damaged copies. */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include "catalog.h"
#include "fuzz.h"
#include "numa.h"
#include "output.h"
#include "record.h"
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

struct run {
	struct ms_catalog *cat; /* what the recording defines */
	struct ms_stats stats;
	struct ms_output out;
	char *buf;
	size_t len;
	bool json;
	bool started;
	double t0, now, next, last_report;
	uint64_t last_events;
	uint64_t listed; /* processes the interval records listed, all together */
	uint64_t lost_by[MS_CNT_MAX];
};

static void out_open(struct run *r)
{
	r->buf = NULL;
	r->len = 0;
	r->out.f = open_memstream(&r->buf, &r->len);
	if (!r->out.f)
		abort();
}

/* Checks what was written since the last flush, and starts a new buffer */
static void out_flush(struct run *r)
{
	if (fclose(r->out.f))
		abort();
	if (r->json)
		check_json_lines(r->buf, r->len);
	free(r->buf);
	out_open(r);
}

static void report_of(struct run *r, struct ms_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->ts = r->now - r->t0;
	rep->interval_s = r->now - r->last_report;
	rep->events = r->stats.events;
	rep->events_per_s = rep->interval_s > 0 ? (rep->events - r->last_events) / rep->interval_s :
						  0;
	memcpy(rep->lost_by, r->lost_by, sizeof(rep->lost_by));
	rep->untracked = r->stats.oom;
	rep->lost = rep->lost_by[MS_CNT_RINGBUF_FULL] + rep->lost_by[MS_CNT_THREADS_FULL] +
		    rep->lost_by[MS_CNT_DEPTH] + rep->lost_by[MS_CNT_STALE_FRAME] + rep->untracked;
}

static void mark_one(struct ms_proc *p, void *ctx)
{
	ms_stats_mark(p);
}

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
		 "pid %d allocator %u %s: %u "
		 "reallocs in flight",
		 (int)p->pid, id, what, d->pending ? d->pending->n : 0);
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
		 "pid %d: by_func of %u for %u functions", (int)p->pid, p->nby_func,
		 ms_catalog_nfuncs(cat));
	FZ_CHECK(p->numa.nnodes <= MS_MAX_NODES, "pid %d: %u nodes", (int)p->pid, p->numa.nnodes);

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

static void report(struct run *r, enum ms_record_kind kind)
{
	struct ms_report rep;

	if (!r->stats.oom)
		ms_stats_for_each(&r->stats, check_proc, r->cat);
	report_of(r, &rep);
	ms_output_report(&r->out, kind, &rep, &r->stats);
	ms_stats_for_each(&r->stats, mark_one, NULL);
	r->last_report = r->now;
	r->last_events = r->stats.events;
	out_flush(r);
}

static void on_end(struct ms_proc *p, enum ms_end_reason why, void *ctx)
{
	struct run *r = ctx;
	struct ms_report rep;

	report_of(r, &rep);
	ms_output_end(&r->out, &rep, &r->stats, p, why);
}

static void count_listed(struct ms_proc *p, void *ctx)
{
	*(uint64_t *)ctx += p->active || p->listed;
}

static void on_event(const struct ms_event *e, void *ctx)
{
	struct run *r = ctx;
	double ts = e->ts_ns / 1e9;
	const struct ms_catalog *cat = r->cat;
	const struct ms_func *f = ms_catalog_func(cat, e->func);

	/* what the recording registered must be in range: a function's allocator is one
	 * the recording defined (the text table prints the allocator's name) */
	if (f)
		FZ_CHECK(ms_catalog_allocator(cat, f->allocator) && f->kind >= MS_FN_ALLOC &&
				 f->kind <= MS_FN_DLSTATE,
			 "function %u '%.64s': allocator %u of %u, kind %u", e->func, f->name,
			 f->allocator, ms_catalog_nallocators(cat), f->kind);

	/* ms_replay hands on only records the programs write: an allocator's record names a
	 * function of its kind the recording defined, and a block (a FREE or REALLOC_ENTER
	 * of NULL is not recorded), a node the statistics have room for */
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

	if (!r->started) {
		r->started = true;
		r->t0 = r->last_report = ts;
		r->next = ts + 1.0;
	}
	/* interval records at the recorded times, as main.c does: a quiet gap shown as one,
	 * an interval with fewer records than the record would show figures merged into the
	 * next. So the interval records list no more processes than there were records */
	if (ts >= r->next && ms_stats_worth_report(&r->stats, r->last_events)) {
		if (r->now < r->next)
			r->now = r->next;
		ms_stats_for_each(&r->stats, count_listed, &r->listed);
		FZ_CHECK(r->listed <= r->stats.events,
			 "interval records listed %llu processes in all, for %llu records",
			 (unsigned long long)r->listed, (unsigned long long)r->stats.events);
		report(r, MS_REC_INTERVAL);
		r->next += 1.0;
		if (ts >= r->next)
			r->next = ts + 1.0;
	}
	r->now = ts;
	ms_stats_apply(&r->stats, e);
}

static void on_comm(pid_t pid, const char *comm, uint32_t flags, void *ctx)
{
	struct run *r = ctx;
	struct ms_proc *p;

	FZ_CHECK(strlen(comm) <= MS_COMM_LEN, "comm of %zu bytes", strlen(comm));
	p = ms_stats_proc(&r->stats, pid, flags & MS_PROC_LISTED);
	if (!p)
		return;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->listed |= !!(flags & MS_PROC_LISTED);
	p->pinned |= !!(flags & MS_PROC_PINNED);
}

static void on_lost(const uint64_t lost_by[MS_CNT_MAX], void *ctx)
{
	struct run *r = ctx;

	memcpy(r->lost_by, lost_by, sizeof(r->lost_by));
}

static void replay(const char *path, bool json)
{
	static const struct ms_replay_fns fns = {
		.event = on_event,
		.comm = on_comm,
		.lost = on_lost,
	};
	static const struct ms_pool_opts pool = MS_POOL_OPTS_DEFAULT;
	struct ms_replay_info info;
	struct run r;
	int err;

	memset(&r, 0, sizeof(r));
	r.cat = ms_catalog_new();
	if (!r.cat)
		abort();
	r.json = json;
	ms_stats_init(&r.stats, r.cat, on_end, &r);
	r.stats.max_blocks = 20000000; /* main.c's defaults */
	r.stats.max_procs = 100000;
	r.out.json = json;
	r.out.max_rows = 20;
	r.out.pool = pool;
	out_open(&r);
	memset(&info, 0xa5, sizeof(info));
	err = ms_replay(path, r.cat, &fns, &r, &info);
	FZ_CHECK(err == 0 || err == -ENOEXEC || err == -EBADMSG || err == -ENOMEM,
		 "replay returned %d", err);
	if (!err || err == -EBADMSG) {
		FZ_CHECK(memchr(info.host, '\0', sizeof(info.host)), "host not terminated");
		FZ_CHECK(memchr(info.kernel, '\0', sizeof(info.kernel)), "kernel not terminated");
		report(&r, MS_REC_FINAL); /* as replay_main: a final record, even when cut */
	}
	out_flush(&r);
	fclose(r.out.f);
	free(r.buf);
	ms_stats_free(&r.stats);
	ms_catalog_free(r.cat);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fz_file(data, size);

	replay(path, false);
	replay(path, true);
	return 0;
}
