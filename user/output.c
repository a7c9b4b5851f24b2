/* output.c: the records of the statistics: the processes each one shows, their findings
 * and leaking sites gathered once, written by the printer chosen for the output (JSON
 * Lines, output_json.c, or text, output_text.c); and the folded stacks */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "output_impl.h"
#include "symbolizer.h"
#include "utf8.h"
#include "vec.h"

const char *const out_record_type[] = {
	[MS_REC_INTERVAL] = "interval",
	[MS_REC_EXIT] = "exit",
	[MS_REC_FINAL] = "final",
	[MS_REC_LEAKS] = "leaks",
};

double out_rate(uint64_t now, uint64_t then, double secs)
{
	return secs > 0 ? (double)(now - then) / secs : 0;
}

/* The word for n of something: one ("block") for 1, else many ("blocks") */
const char *out_plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/*
 * The trend a record claims for site t of p. A process attached while it ran refills what
 * it held before the attach (a bounded cache replacing its entries): its sites' live bytes
 * rise for a while from zero. Its site is called growing only with a full history
 * (MS_SITE_HISTORY samples), not in its first records.
 */
enum ms_trend out_trend(const struct ms_proc *p, const struct ms_stack_site *t)
{
	enum ms_trend tr = ms_site_trend(t);

	if (tr == MS_TREND_GROWING && !p->from_start && t->nhistory < MS_SITE_HISTORY)
		return MS_TREND_UNKNOWN;
	return tr;
}

/* The patterns of all p's allocators' users, summed (peaks per class are summed too) */
void out_sum_patterns(const struct ms_proc *p, struct ms_patterns *sum)
{
	unsigned i, k, b;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < p->nalloc; i++) {
		const struct ms_patterns *q = p->alloc[i].user.pat;

		if (!q)
			continue;
		sum->small += q->small;
		sum->large += q->large;
		sum->last_allocs += q->last_allocs;
		sum->last_temporary += q->last_temporary;
		for (b = 0; b < MS_REUSE_BUCKETS; b++)
			sum->reuse_distance[b] += q->reuse_distance[b];
		for (k = 0; k < MS_CLASSES; k++) {
			const struct ms_class *c = &q->cls[k];
			struct ms_class *t = &sum->cls[k];

			t->allocs += c->allocs;
			t->alloc_bytes += c->alloc_bytes;
			t->frees += c->frees;
			t->live_allocs += c->live_allocs;
			t->live_bytes += c->live_bytes;
			t->peak_bytes += c->peak_bytes;
			t->temporary += c->temporary;
			t->reused_same += c->reused_same;
			t->reused_other += c->reused_other;
			for (b = 0; b < MS_LIFE_BUCKETS; b++)
				t->lifetime[b] += c->lifetime[b];
		}
	}
}

/* A site's frames as strings: "function+0x1c", innermost first, a call inlined at an
 * address a frame of its own; a truncated stack (t->truncated) only up to its first frame
 * that is not code */
unsigned out_site_frames(struct ms_output *o, pid_t pid, const struct ms_stack_site *t,
			 char frames[][128], unsigned max)
{
	uint64_t ips[MAX_FRAMES];
	unsigned n, i, k = 0;
	int m;

	if (o->recorded_frames)
		return o->recorded_frames(pid, t, frames, max, o->recorded_ctx);
	n = ms_output_site_addrs(o, t, ips, max < MAX_FRAMES ? max : MAX_FRAMES);
	for (i = 0; i < n && k < max; i++) {
		m = o->frames_of ?
			    o->frames_of(pid, ips[i], frames + k, max - k, o->symbolize_ctx) :
			    -ENOENT;
		if (m > 0) {
			k += m;
			continue;
		}
		if (!o->symbolize ||
		    o->symbolize(pid, ips[i], frames[k], 128, o->symbolize_ctx) < 0)
			snprintf(frames[k], 128, "0x%" PRIx64, ips[i]);
		k++;
	}
	return k;
}

unsigned ms_output_site_addrs(const struct ms_output *o, const struct ms_stack_site *t,
			      uint64_t *ips, unsigned max)
{
	unsigned n;

	if (o->recorded_frames || !o->stacks)
		return 0;
	n = ms_stackmap_frames(o->stacks, t->stack_id, t->caller, ips, max);
	return t->checked && n > t->kept ? t->kept : n; /* a frame that is not code and beyond */
}

unsigned ms_output_site_frames(struct ms_output *o, pid_t pid, const struct ms_stack_site *t,
			       char (*frames)[128], unsigned max)
{
	return out_site_frames(o, pid, t, frames, max);
}

void out_comm(const char *in, char *out, size_t len)
{
	/* a process name is the process' to choose: control characters shown as '?' */
	ms_utf8_clean(in, out, len, 0);
}

struct collect {
	struct ms_proc **v;
	size_t n, cap;
};

static void collect_one(struct ms_proc *p, void *ctx)
{
	struct collect *c = ctx;

	if (!p->active && !p->listed)
		return;
	MS_VEC_PUSH(c->v, c->n, c->cap, p);
}

/* Busiest first: calls in the interval, then live bytes, then pid */
static int by_activity(const void *a, const void *b)
{
	const struct ms_proc *p = *(struct ms_proc *const *)a, *q = *(struct ms_proc *const *)b;
	uint64_t x = p->c.allocs + p->c.frees - p->last.allocs - p->last.frees;
	uint64_t y = q->c.allocs + q->c.frees - q->last.allocs - q->last.frees;

	if (x != y)
		return x > y ? -1 : 1;
	if (p->c.live_bytes != q->c.live_bytes)
		return p->c.live_bytes > q->c.live_bytes ? -1 : 1;
	return p->pid < q->pid ? -1 : p->pid > q->pid;
}

void ms_output_set_json(struct ms_output *o, bool json)
{
	o->json = json;
	o->printer = json ? &out_json : &out_text;
}

static const struct out_printer *printer(struct ms_output *o)
{
	if (!o->printer)
		ms_output_set_json(o, o->json);
	return o->printer;
}

/* p as record kind shows it: its findings when the printer shows them in such records
 * (f: MAX_FINDINGS of scratch; the findings kept are copied out of it) */
static void view_of(struct ms_output *o, enum ms_record_kind kind, const struct ms_catalog *cat,
		    struct ms_proc *p, struct out_proc *v)
{
	static struct ms_finding f[MAX_FINDINGS];
	struct ms_finding *kept;
	unsigned n = 0;

	v->cat = cat;
	v->p = p;
	v->find = NULL;
	v->nfind = 0;
	if (printer(o)->findings & (1u << kind))
		n = ms_find(cat, p, &o->pool, o->symbolize, o->object, o->symbolize_ctx, f,
			    MAX_FINDINGS);
	if (!n || !(kept = malloc(n * sizeof(*kept))))
		return;
	memcpy(kept, f, n * sizeof(*kept));
	v->find = kept;
	v->nfind = n;
}

void ms_output_report(struct ms_output *o, enum ms_record_kind kind, const struct ms_report *r,
		      struct ms_stats *s)
{
	struct collect c = { 0 };
	struct out_proc *v;
	size_t i;

	ms_stats_for_each(s, collect_one, &c);
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), by_activity);
	v = calloc(c.n ? c.n : 1, sizeof(*v));
	if (v) {
		for (i = 0; i < c.n; i++)
			view_of(o, kind, s->cat, c.v[i], &v[i]);
		printer(o)->report(o, kind, r, v, c.n);
		for (i = 0; i < c.n; i++)
			free((void *)v[i].find);
	}
	free(v);
	free(c.v);
	fflush(o->f);
}

void ms_output_end(struct ms_output *o, const struct ms_report *r, const struct ms_stats *s,
		   struct ms_proc *p, enum ms_end_reason why)
{
	struct out_proc v;

	view_of(o, MS_REC_EXIT, s->cat, p, &v);
	printer(o)->end(o, r, &v, why);
	free((void *)v.find);
	fflush(o->f);
}

void ms_output_leaks(struct ms_output *o, const struct ms_report *r, struct ms_stats *s,
		     uint64_t now_ns, uint64_t min_age_ns)
{
	struct collect c = { 0 };
	struct out_leaks *v;
	size_t i;

	ms_stats_for_each(s, collect_one, &c);
	v = calloc(c.n ? c.n : 1, sizeof(*v));
	if (v) {
		for (i = 0; i < c.n; i++) {
			struct ms_proc *p = c.v[i];

			v[i].p = p;
			v[i].total = p->stack_sites ?
					     ms_sites_leaks(
						     p->stack_sites, ms_proc_blocks, p,
						     now_ns > min_age_ns ? now_ns - min_age_ns : 0,
						     v[i].leaks, MAX_LEAKS) :
					     0;
			v[i].n = v[i].total < MAX_LEAKS ? v[i].total : MAX_LEAKS;
		}
		printer(o)->leaks(o, r, v, c.n, now_ns, min_age_ns);
	}
	free(v);
	free(c.v);
	fflush(o->f);
}

/* frame (as the symbolizer writes it: "function+0x1c (file.c:42)", "object+0x1c", "0x..")
 * as --folded names it: the function, without the offset (one function, one box of the flame
 * graph), and with lines its " (file.c:42)"; ';' and ' ' would split it: '_' */
static void folded_frame(const char *frame, bool lines, char *out, size_t len)
{
	struct ms_frame_parts p;
	size_t x;

	ms_frame_parse(frame, &p);
	snprintf(out, len, "%.*s%s", (int)p.fn_len, frame, lines ? frame + p.where : "");
	for (x = 0; out[x]; x++)
		if (out[x] == ';' || out[x] == ' ')
			out[x] = '_';
}

/* A line of the folded file: its stack, its weight, its place */
struct folded_line {
	char *stack;
	uint64_t w;
	size_t order;
};

static int by_stack(const void *x, const void *y)
{
	const struct folded_line *a = x, *b = y;
	int c = strcmp(a->stack, b->stack);

	return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

static int by_order(const void *x, const void *y)
{
	const struct folded_line *a = x, *b = y;

	return a->order < b->order ? -1 : a->order > b->order;
}

/* Sites whose frames read the same (by function, lines apart) are one line, weights summed,
 * where the first of them was */
static size_t folded_merge(struct folded_line *v, size_t n)
{
	size_t i, k = 0;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), by_stack);
	for (i = 0; i < n; i++) {
		if (k && !strcmp(v[k - 1].stack, v[i].stack)) {
			v[k - 1].w += v[i].w;
			free(v[i].stack);
			continue;
		}
		v[k++] = v[i];
	}
	qsort(v, k, sizeof(*v), by_order);
	return k;
}

int ms_output_folded(struct ms_output *o, FILE *f, struct ms_stats *s, enum ms_folded_what what,
		     bool count, bool lines, uint64_t now_ns, uint64_t min_age_ns)
{
	static struct ms_leak leaks[MAX_LEAKS * 16];
	static char frames[MAX_FRAMES][128];
	struct folded_line *v = NULL;
	size_t nv = 0, cap = 0;
	struct collect c = { 0 };
	char name[160];
	size_t i;
	unsigned k, n, nf, x;
	int err = 0;

	ms_stats_for_each(s, collect_one, &c);
	for (i = 0; i < c.n && !err; i++) {
		struct ms_proc *p = c.v[i];
		char comm[MS_COMM_LEN + 1];

		if (!p->stack_sites)
			continue;
		out_comm(p->comm, comm, sizeof(comm));
		for (x = 0; comm[x]; x++)
			if (comm[x] == ';' || comm[x] == ' ')
				comm[x] = '_';
		n = what == MS_FOLDED_LEAKED ?
			    ms_sites_leaks(p->stack_sites, ms_proc_blocks, p,
					   now_ns > min_age_ns ? now_ns - min_age_ns : 0, leaks,
					   sizeof(leaks) / sizeof(leaks[0])) :
			    p->stack_sites->n;
		if (what == MS_FOLDED_LEAKED && n > sizeof(leaks) / sizeof(leaks[0]))
			n = sizeof(leaks) / sizeof(leaks[0]); /* the largest: the rest weigh less */
		for (k = 0; k < n && !err; k++) {
			const struct ms_stack_site *t =
				&p->stack_sites->v[what == MS_FOLDED_LEAKED ? leaks[k].site : k];
			struct folded_line l = { .order = nv };
			char *buf = NULL;
			size_t len = 0;
			FILE *m;

			/* whole numbers: with --sample-bytes the estimates, rounded */
			if (what == MS_FOLDED_LEAKED)
				l.w = llround(count ? leaks[k].blocks : leaks[k].bytes);
			else if (what == MS_FOLDED_LIVE)
				l.w = llround(count ? t->live_allocs : t->live_bytes);
			else
				l.w = llround(count ? t->allocs : t->alloc_bytes);
			if (!l.w)
				continue;
			nf = out_site_frames(o, p->pid, t, frames, MAX_FRAMES);
			m = open_memstream(&buf, &len);
			if (!m) {
				err = -ENOMEM;
				break;
			}
			/* outermost first */
			fprintf(m, "%s%s", comm, t->truncated ? ";..." : "");
			for (x = nf; x-- > 0;) {
				folded_frame(frames[x], lines, name, sizeof(name));
				fprintf(m, ";%s", name);
			}
			if (fclose(m) || !buf) {
				free(buf);
				err = -ENOMEM;
				break;
			}
			l.stack = buf;
			err = MS_VEC_PUSH(v, nv, cap, l);
			if (err)
				free(buf);
		}
	}
	free(c.v);
	nv = folded_merge(v, nv);
	for (i = 0; i < nv; i++) {
		if (!err)
			fprintf(f, "%s %" PRIu64 "\n", v[i].stack, v[i].w);
		free(v[i].stack);
	}
	free(v);
	if (err)
		return err;
	return fflush(f) || ferror(f) ? -EIO : 0;
}
