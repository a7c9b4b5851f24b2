/* output.c: text and JSON renderers of the statistics */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "allocators.h"
#include "funcs.h"
#include "json.h"
#include "output.h"

static const char *const record_type[] = {
	[MS_REC_INTERVAL] = "interval",
	[MS_REC_EXIT] = "exit",
	[MS_REC_FINAL] = "final",
	[MS_REC_LEAKS] = "leaks",
};

static const char *const lost_name[MS_CNT_MAX] = {
	[MS_CNT_RINGBUF_FULL] = "ringbuf_full",
	[MS_CNT_THREADS_FULL] = "threads_full",
	[MS_CNT_DEPTH] = "too_deep",
	[MS_CNT_UNMATCHED_RET] = "unmatched_returns",
	[MS_CNT_STALE_FRAME] = "stale_calls",
	[MS_CNT_STACK_COLLISION] = "stack_collisions",
	[MS_CNT_STACK_FULL] = "stack_map_full",
};

const char *ms_lost_name(unsigned counter)
{
	return counter < MS_CNT_MAX && lost_name[counter] ? lost_name[counter] : "other";
}

const char *ms_human_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = v;
	unsigned u = 0;

	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.1f %s", d, unit[u]);
	return buf;
}

const char *ms_human_count(double v, char *buf, size_t len)
{
	if (v < 10000)
		snprintf(buf, len, "%.0f", v);
	else if (v < 10e6)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else if (v < 10e9)
		snprintf(buf, len, "%.1fM", v / 1e6);
	else
		snprintf(buf, len, "%.1fG", v / 1e9);
	return buf;
}

static double rate(uint64_t now, uint64_t then, double secs)
{
	return secs > 0 ? (double)(now - then) / secs : 0;
}

/* The word for n of something: one ("block") for 1, else many ("blocks") */
static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/*
 * The trend a record claims for site t of p. A process attached while it ran refills what
 * it held before the attach (a bounded cache replacing its entries): its sites' live bytes
 * rise for a while from zero. Its site is called growing only with a full history
 * (MS_SITE_HISTORY samples), not in its first records.
 */
static enum ms_trend shown_trend(const struct ms_proc *p, const struct ms_stack_site *t)
{
	enum ms_trend tr = ms_site_trend(t);

	if (tr == MS_TREND_GROWING && !p->from_start && t->nhistory < MS_SITE_HISTORY)
		return MS_TREND_UNKNOWN;
	return tr;
}

void ms_output_mark(struct ms_proc *p)
{
	unsigned i;

	p->last = p->c;
	if (p->sites) {
		ms_sites_sample(p->sites);
		for (i = 0; i < p->sites->n; i++)
			p->sites->v[i].last_allocs = p->sites->v[i].allocs;
	}
	for (i = 0; i < p->nalloc; i++) {
		struct ms_astats *a = &p->alloc[i];

		a->last = a->user.c;
		a->last_backing_live = a->backing.c.live_bytes;
		if (a->user.pat) {
			uint64_t allocs = 0, temporary = 0;
			unsigned k;

			for (k = 0; k < MS_CLASSES; k++) {
				allocs += a->user.pat->cls[k].allocs;
				temporary += a->user.pat->cls[k].temporary;
			}
			a->user.pat->last_allocs = allocs;
			a->user.pat->last_temporary = temporary;
		}
	}
}

/* The patterns of all p's allocators' users, summed (peaks per class are summed too) */
static void sum_patterns(const struct ms_proc *p, struct ms_patterns *sum)
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

static void json_patterns(struct ms_json *j, const struct ms_proc *p)
{
	uint64_t allocs = 0, temporary = 0, reused = 0, same = 0, other = 0;
	struct ms_patterns sum;
	char key[24];
	unsigned k, b;

	sum_patterns(p, &sum);
	for (k = 0; k < MS_CLASSES; k++) {
		allocs += sum.cls[k].allocs;
		temporary += sum.cls[k].temporary;
		same += sum.cls[k].reused_same;
		other += sum.cls[k].reused_other;
	}
	reused = same + other;
	ms_json_open(j, "patterns");
	ms_json_u64(j, "allocs", allocs);
	ms_json_u64(j, "small_allocs", sum.small);
	ms_json_u64(j, "large_allocs", sum.large);
	ms_json_double(j, "small_share", ms_ratio(sum.small, allocs));
	ms_json_double(j, "large_share", ms_ratio(sum.large, allocs));
	ms_json_u64(j, "temporary", temporary);
	ms_json_double(j, "temporary_share", ms_ratio(temporary, allocs));
	ms_json_open(j, "interval");
	ms_json_u64(j, "allocs", allocs - sum.last_allocs);
	ms_json_u64(j, "temporary", temporary - sum.last_temporary);
	ms_json_close(j);
	ms_json_array(j, "size_classes");
	for (k = 0; k < MS_CLASSES; k++) {
		const struct ms_class *c = &sum.cls[k];
		int median = ms_class_median_bucket(c);

		if (!c->allocs)
			continue;
		ms_json_open(j, NULL);
		ms_json_u64(j, "class", ms_bucket_floor(k));
		ms_json_u64(j, "allocs", c->allocs);
		ms_json_u64(j, "alloc_bytes", c->alloc_bytes);
		ms_json_u64(j, "frees", c->frees);
		ms_json_u64(j, "live_allocs", c->live_allocs);
		ms_json_u64(j, "live_bytes", c->live_bytes);
		ms_json_u64(j, "peak_bytes", c->peak_bytes);
		ms_json_u64(j, "temporary", c->temporary);
		ms_json_double(j, "recycling_ratio", ms_ratio(c->alloc_bytes, c->peak_bytes));
		if (median >= 0)
			ms_json_str(j, "median_lifetime", ms_life_bucket_name(median));
		ms_json_open(j, "lifetime");
		for (b = 0; b < MS_LIFE_BUCKETS; b++)
			if (c->lifetime[b])
				ms_json_u64(j, ms_life_bucket_name(b), c->lifetime[b]);
		ms_json_close(j);
		ms_json_u64(j, "reused_same_size", c->reused_same);
		ms_json_u64(j, "reused_other_size", c->reused_other);
		ms_json_close(j);
	}
	ms_json_end(j);
	ms_json_open(j, "reuse");
	ms_json_u64(j, "reused", reused);
	ms_json_u64(j, "same_size", same);
	ms_json_u64(j, "other_size", other);
	ms_json_open(j, "distance_hist");
	for (b = 0; b < MS_REUSE_BUCKETS; b++) {
		if (!sum.reuse_distance[b])
			continue;
		snprintf(key, sizeof(key), "%" PRIu64, ms_bucket_floor(b));
		ms_json_u64(j, key, sum.reuse_distance[b]);
	}
	ms_json_close(j);
	ms_json_close(j);
	ms_json_close(j);
}

#define MAX_FINDINGS 32
#define MAX_FRAMES (MS_MAX_STACK_DEPTH + 1)

/* A site's frames as strings: "function+0x1c", innermost first */
static unsigned site_frames(struct ms_output *o, pid_t pid, const struct ms_stack_site *t,
			    char frames[][128], unsigned max)
{
	uint64_t ips[MAX_FRAMES];
	unsigned n, i;

	n = ms_stackmap_frames(o->stacks, t->stack_id, t->caller, ips,
			       max < MAX_FRAMES ? max : MAX_FRAMES);
	for (i = 0; i < n; i++)
		if (!o->symbolize ||
		    o->symbolize(pid, ips[i], frames[i], 128, o->symbolize_ctx) < 0)
			snprintf(frames[i], 128, "0x%" PRIx64, ips[i]);
	return n;
}

static void json_site(struct ms_json *j, struct ms_output *o, const struct ms_proc *p,
		      const struct ms_stack_site *t, double secs)
{
	static char frames[MAX_FRAMES][128];
	unsigned n = site_frames(o, p->pid, t, frames, MAX_FRAMES), i;

	ms_json_open(j, NULL);
	ms_json_array(j, "stack");
	for (i = 0; i < n; i++)
		ms_json_str(j, NULL, frames[i]);
	ms_json_end(j);
	ms_json_u64(j, "allocs", t->allocs);
	ms_json_u64(j, "alloc_bytes", t->alloc_bytes);
	ms_json_u64(j, "frees", t->frees);
	ms_json_u64(j, "live_allocs", t->live_allocs);
	ms_json_u64(j, "live_bytes", t->live_bytes);
	ms_json_double(j, "allocs_per_s", secs > 0 ? (t->allocs - t->last_allocs) / secs : 0);
	ms_json_u64(j, "peak_contribution", ms_site_peak_contribution(p->sites, t));
	ms_json_str(j, "trend", ms_trend_name(shown_trend(p, t)));
	ms_json_close(j);
}

static const struct ms_stack_sites *sort_sites;
static int sort_by;

static int site_order(const void *x, const void *y)
{
	const struct ms_stack_site *a = &sort_sites->v[*(const unsigned *)x];
	const struct ms_stack_site *b = &sort_sites->v[*(const unsigned *)y];
	uint64_t va, vb;

	if (sort_by == 0) {
		va = a->live_bytes;
		vb = b->live_bytes;
	} else if (sort_by == 1) {
		va = a->allocs - a->last_allocs;
		vb = b->allocs - b->last_allocs;
	} else {
		va = ms_site_peak_contribution(sort_sites, a);
		vb = ms_site_peak_contribution(sort_sites, b);
	}
	if (va != vb)
		return va > vb ? -1 : 1;
	return *(const unsigned *)x < *(const unsigned *)y ? -1 : 1;
}

/* Sites by live bytes, by allocations per second, by contribution to the peak */
static void json_sites(struct ms_json *j, struct ms_output *o, const struct ms_proc *p, double secs)
{
	static const char *const rank[] = { "by_live_bytes", "by_allocs_per_s", "by_peak" };
	const struct ms_stack_sites *ss = p->sites;
	unsigned *order, k, i, top = o->top_sites ? o->top_sites : 5;

	if (!o->stacks)
		return;
	ms_json_open(j, "sites");
	order = ss && ss->n ? malloc(ss->n * sizeof(*order)) : NULL;
	for (k = 0; k < 3; k++) {
		ms_json_array(j, rank[k]);
		if (order) {
			for (i = 0; i < ss->n; i++)
				order[i] = i;
			sort_sites = ss;
			sort_by = k;
			qsort(order, ss->n, sizeof(*order), site_order);
			for (i = 0; i < ss->n && i < top; i++)
				json_site(j, o, p, &ss->v[order[i]], secs);
		}
		ms_json_end(j);
	}
	free(order);
	ms_json_u64(j, "untracked", ss ? ss->untracked : 0);
	ms_json_close(j);
}

static void json_pools(struct ms_json *j, struct ms_output *o, struct ms_proc *p)
{
	static struct ms_finding f[MAX_FINDINGS];
	unsigned n = ms_find(p, &o->pool, o->symbolize, o->object, o->symbolize_ctx, f,
			     MAX_FINDINGS),
		 i, k;

	ms_json_array(j, "pools");
	for (i = 0; i < n; i++) {
		ms_json_open(j, NULL);
		ms_json_str(j, "name", f[i].name);
		ms_json_str(j, "kind", ms_finding_kind_name(f[i].kind));
		ms_json_open(j, "evidence");
		for (k = 0; k < f[i].nev; k++)
			ms_json_double(j, f[i].ev[k].key, f[i].ev[k].value);
		ms_json_close(j);
		if (f[i].where[0])
			ms_json_str(j, "where", f[i].where);
		ms_json_str(j, "advice", f[i].advice);
		ms_json_close(j);
	}
	ms_json_end(j);
}

static void json_counts(struct ms_json *j, const char *prefix, const struct ms_counts *c)
{
	static const char *const names[] = {
		"allocs",	"frees",       "unmatched_frees", "dead_frees",
		"missed_frees", "alloc_bytes", "freed_bytes",	  "live_allocs",
		"live_bytes",	"peak_bytes",  "failed_allocs",
	};
	const uint64_t v[] = {
		c->allocs,	 c->frees,	 c->unmatched_frees, c->dead_frees,
		c->missed_frees, c->alloc_bytes, c->freed_bytes,     c->live_allocs,
		c->live_bytes,	 c->peak_bytes,	 c->failed_allocs,
	};
	char key[48];
	unsigned i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		/* the backing's allocated bytes are its "backing_bytes" */
		if (prefix[0] && !strcmp(names[i], "alloc_bytes"))
			snprintf(key, sizeof(key), "%sbytes", prefix);
		else
			snprintf(key, sizeof(key), "%s%s", prefix, names[i]);
		ms_json_u64(j, key, v[i]);
	}
}

/* by_func of p, only the functions of allocator id; with id 0, every allocator's, those
 * of one name summed (libc's malloc and a preloaded jemalloc's are one "malloc") */
static void json_by_func(struct ms_json *j, const struct ms_proc *p, unsigned id)
{
	unsigned i, k;

	ms_json_open(j, "by_func");
	for (i = 0; i < p->nby_func; i++) {
		const struct ms_func *f = ms_funcs_get(i);
		uint64_t n = p->by_func[i];

		if (!n || !f || (id && f->allocator != id))
			continue;
		if (!id) {
			/* the first function of this name adds up the others */
			for (k = 0; k < i; k++)
				if (p->by_func[k] && ms_funcs_get(k) &&
				    !strcmp(ms_funcs_get(k)->name, f->name))
					break;
			if (k < i)
				continue;
			for (k = i + 1; k < p->nby_func; k++)
				if (p->by_func[k] && ms_funcs_get(k) &&
				    !strcmp(ms_funcs_get(k)->name, f->name))
					n += p->by_func[k];
		}
		ms_json_u64(j, f->name, n);
	}
	ms_json_close(j);
}

static void json_hist(struct ms_json *j, const uint64_t hist[MS_HIST_BUCKETS])
{
	char key[24];
	unsigned i;

	ms_json_open(j, "size_hist");
	for (i = 0; i < MS_HIST_BUCKETS; i++) {
		if (!hist[i])
			continue;
		snprintf(key, sizeof(key), "%" PRIu64, ms_bucket_floor(i));
		ms_json_u64(j, key, hist[i]);
	}
	ms_json_close(j);
}

static void json_rates(struct ms_json *j, const struct ms_counts *c, const struct ms_counts *last,
		       double secs)
{
	ms_json_double(j, "allocs_per_s", rate(c->allocs, last->allocs, secs));
	ms_json_double(j, "frees_per_s", rate(c->frees, last->frees, secs));
	ms_json_double(j, "alloc_bytes_per_s", rate(c->alloc_bytes, last->alloc_bytes, secs));
}

/* The numa object: figures per node, remote frees, the live heap's balance */
static void json_numa(struct ms_json *j, const struct ms_numa_counts *nc,
		      const struct ms_page_sample *pages)
{
	uint64_t live = 0, frees = 0;
	char key[16];
	unsigned i;

	for (i = 0; i < nc->nnodes; i++) {
		live += nc->node[i].live_bytes;
		frees += nc->node[i].frees;
	}
	ms_json_open(j, "numa");
	ms_json_open(j, "nodes");
	for (i = 0; i < nc->nnodes; i++) {
		const struct ms_node_counts *n = &nc->node[i];

		if (!n->allocs && !n->frees)
			continue;
		snprintf(key, sizeof(key), "%u", i);
		ms_json_open(j, key);
		ms_json_u64(j, "allocs", n->allocs);
		ms_json_u64(j, "alloc_bytes", n->alloc_bytes);
		ms_json_u64(j, "frees", n->frees);
		ms_json_u64(j, "freed_bytes", n->freed_bytes);
		ms_json_u64(j, "live_allocs", n->live_allocs);
		ms_json_u64(j, "live_bytes", n->live_bytes);
		ms_json_u64(j, "peak_bytes", n->peak_bytes);
		ms_json_double(j, "live_share", ms_ratio(n->live_bytes, live));
		ms_json_close(j);
	}
	ms_json_close(j);
	ms_json_u64(j, "remote_frees", nc->remote_frees);
	ms_json_u64(j, "remote_free_bytes", nc->remote_free_bytes);
	ms_json_double(j, "remote_free_share", ms_ratio(nc->remote_frees, frees));
	if (pages) {
		ms_json_open(j, "pages");
		ms_json_u64(j, "sampled_blocks", pages->blocks);
		ms_json_u64(j, "sampled_bytes", pages->bytes);
		ms_json_u64(j, "remote_bytes", pages->remote_bytes);
		ms_json_double(j, "remote_share", ms_ratio(pages->remote_bytes, pages->bytes));
		ms_json_u64(j, "not_present_blocks", pages->not_present);
		ms_json_close(j);
	}
	ms_json_close(j);
}

static void json_allocators(struct ms_json *j, struct ms_proc *p, double secs)
{
	uint64_t hist[MS_HIST_BUCKETS];
	unsigned id;

	ms_json_array(j, "allocators");
	for (id = 1; id < p->nalloc; id++) {
		const struct ms_allocator *a = ms_allocators_get(id);
		struct ms_astats *as = ms_proc_allocator(p, id);

		if (!as || !a)
			continue;
		ms_json_open(j, NULL);
		ms_json_str(j, "name", a->name);
		ms_json_str(j, "kind", ms_alloc_kind_name(a->kind));
		json_counts(j, "", &as->user.c);
		json_by_func(j, p, id);
		ms_side_size_hist(&as->user, hist);
		json_hist(j, hist);
		json_rates(j, &as->user.c, &as->last, secs);
		json_counts(j, "backing_", &as->backing.c);
		json_numa(j, &as->user.numa, NULL);
		ms_json_close(j);
	}
	ms_json_end(j);
}

static void json_proc(struct ms_json *j, struct ms_output *o, struct ms_proc *p, double secs)
{
	uint64_t hist[MS_HIST_BUCKETS];

	ms_json_open(j, NULL);
	ms_json_i64(j, "pid", p->pid);
	ms_json_str(j, "comm", p->comm);
	/* what live_* cover: the whole heap of its image, or what was allocated since attaching */
	ms_json_str(j, "live_since", p->from_start ? "start" : "attach");
	json_counts(j, "", &p->c);
	json_by_func(j, p, 0);
	ms_proc_size_hist(p, hist);
	json_hist(j, hist);
	json_rates(j, &p->c, &p->last, secs);
	json_allocators(j, p, secs);
	json_numa(j, &p->numa, o->numa_pages ? &p->pages : NULL);
	json_patterns(j, p);
	json_pools(j, o, p);
	json_sites(j, o, p, secs);
	ms_json_close(j);
}

static void json_head(struct ms_json *j, enum ms_record_kind kind, const struct ms_report *r)
{
	unsigned i;

	ms_json_open(j, NULL);
	ms_json_str(j, "type", record_type[kind]);
	ms_json_double(j, "ts", r->ts);
	ms_json_double(j, "interval_s", r->interval_s);
	ms_json_u64(j, "events", r->events);
	ms_json_u64(j, "events_lost", r->lost);
	ms_json_open(j, "lost");
	for (i = 0; i < MS_CNT_MAX; i++)
		ms_json_u64(j, ms_lost_name(i), r->lost_by[i]);
	ms_json_u64(j, "untracked", r->untracked);
	ms_json_u64(j, "missed_free", r->missed_frees);
	ms_json_u64(j, "late", r->late);
	ms_json_close(j);
	ms_json_u64(j, "tracked_blocks", r->tracked_blocks);
	ms_json_u64(j, "tracked_blocks_peak", r->tracked_blocks_peak);
	if (kind == MS_REC_FINAL)
		ms_json_u64(j, "untraced_children", r->untraced_children);
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
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct ms_proc **v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = p;
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

#define TEXT_HEAD "%7s %-16s %8s %8s %10s %10s %9s %11s %11s %7s  %s\n"
#define TEXT_ROW                                                                                   \
	"%7d %-16s %8s %8s %10" PRIu64 " %10" PRIu64 " %9" PRIu64 " %11s %11s %7" PRIu64 "  %s\n"

/* The allocators p's users called, "jemalloc" or "libc,objpool(+backing 2.0 MiB)" */
static void text_allocators(const struct ms_proc *p, char *out, size_t len)
{
	size_t n = 0;
	unsigned id;

	out[0] = '\0';
	for (id = 1; id < p->nalloc && n < len; id++) {
		const struct ms_astats *a = &p->alloc[id];
		char b[16];

		if (!a->used || !(a->user.c.allocs + a->user.c.frees + a->user.c.failed_allocs) ||
		    !ms_allocators_get(id))
			continue;
		n += snprintf(out + n, len - n, "%s%s", n ? "," : "", ms_allocators_get(id)->name);
		if (n < len && a->backing.c.live_bytes)
			n += snprintf(out + n, len - n, "(+backing %s)",
				      ms_human_bytes(a->backing.c.live_bytes, b, sizeof(b)));
	}
}

static void text_comm(const char *in, char *out, size_t len)
{
	size_t i;

	/* a process name is the process' to choose: show control characters as '?' */
	for (i = 0; in[i] && i + 1 < len; i++)
		out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ? '?' : in[i];
	out[i] = '\0';
}

/* p's row into buf; its comm is marked '*' when p was attached while it ran: its live
 * figures cover what it allocated since */
static void text_row(char *buf, size_t len, struct ms_proc *p, double secs)
{
	char a[16], fr[16], lb[16], pb[16], comm[MS_COMM_LEN + 2], allocs[96];

	text_comm(p->comm, comm, sizeof(comm) - 1);
	if (!p->from_start)
		strcat(comm, "*");
	text_allocators(p, allocs, sizeof(allocs));
	snprintf(buf, len, TEXT_ROW, (int)p->pid, comm,
		 ms_human_count(rate(p->c.allocs, p->last.allocs, secs), a, sizeof(a)),
		 ms_human_count(rate(p->c.frees, p->last.frees, secs), fr, sizeof(fr)), p->c.allocs,
		 p->c.frees, p->c.live_allocs, ms_human_bytes(p->c.live_bytes, lb, sizeof(lb)),
		 ms_human_bytes(p->c.peak_bytes, pb, sizeof(pb)), p->c.failed_allocs, allocs);
}

#define TEXT_ROW_MAX 256

static void text_row_out(FILE *f, struct ms_proc *p, double secs)
{
	char row[TEXT_ROW_MAX];

	text_row(row, sizeof(row), p, secs);
	fputs(row, f);
}

static void text_head(FILE *f, const char *what, const struct ms_report *r, size_t nprocs)
{
	char clock[16], ev[16];
	time_t now = time(NULL);
	struct tm tm;

	strftime(clock, sizeof(clock), "%H:%M:%S", localtime_r(&now, &tm));
	fprintf(f, "%s %s  events %" PRIu64 " (%s/s)  lost %" PRIu64 "  processes %zu\n", clock,
		what, r->events, ms_human_count(r->events_per_s, ev, sizeof(ev)), r->lost, nprocs);
}

/* One line under a process' row: its allocation pattern in brief */
static void text_patterns(FILE *f, const struct ms_proc *p)
{
	uint64_t allocs = 0, temporary = 0, top = 0;
	struct ms_patterns sum;
	unsigned k, topk = 0;
	char lo[16], hi[16];
	int median;

	sum_patterns(p, &sum);
	for (k = 0; k < MS_CLASSES; k++) {
		allocs += sum.cls[k].allocs;
		temporary += sum.cls[k].temporary;
		if (sum.cls[k].allocs > top) {
			top = sum.cls[k].allocs;
			topk = k;
		}
	}
	if (!allocs)
		return;
	median = ms_class_median_bucket(&sum.cls[topk]);
	fprintf(f,
		"%7s   %.0f%% small, %.0f%% large, %.0f%% temporary; most in %s-%s (%.0f%%%s%s)\n",
		"", ms_ratio(sum.small, allocs) * 100, ms_ratio(sum.large, allocs) * 100,
		ms_ratio(temporary, allocs) * 100,
		ms_human_bytes(ms_bucket_floor(topk), lo, sizeof(lo)),
		ms_human_bytes(topk ? ms_bucket_floor(topk) * 2 - 1 : 0, hi, sizeof(hi)),
		ms_ratio(top, allocs) * 100, median >= 0 ? ", median life " : "",
		median >= 0 ? ms_life_bucket_name(median) : "");
}

/* --stacks: one line under a process' row: the site holding the most live bytes */
static void text_top_site(struct ms_output *o, const struct ms_proc *p)
{
	static char frames[MAX_FRAMES][128];
	const struct ms_stack_site *top = NULL;
	char b[16];
	unsigned i;

	if (!o->stacks || !p->sites)
		return;
	for (i = 0; i < p->sites->n; i++)
		if (p->sites->v[i].live_bytes &&
		    (!top || p->sites->v[i].live_bytes > top->live_bytes))
			top = &p->sites->v[i];
	if (!top || !site_frames(o, p->pid, top, frames, 1))
		return;
	fprintf(o->f, "%7s   top site %s: %s live in %" PRIu64 " %s (%s)\n", "", frames[0],
		ms_human_bytes(top->live_bytes, b, sizeof(b)), top->live_allocs,
		plural(top->live_allocs, "block", "blocks"), ms_trend_name(shown_trend(p, top)));
}

/* The final report's findings of a process, one line each: "kind name: advice", with the
 * call site of a pool candidate ("kind name at where: advice") unless the advice says it */
static void text_findings(struct ms_output *o, struct ms_proc *p)
{
	static struct ms_finding f[MAX_FINDINGS];
	unsigned n = ms_find(p, &o->pool, o->symbolize, o->object, o->symbolize_ctx, f,
			     MAX_FINDINGS),
		 i;
	char comm[MS_COMM_LEN + 1];

	if (!n)
		return;
	text_comm(p->comm, comm, sizeof(comm));
	fprintf(o->f, "\nfindings for %d (%s):\n", (int)p->pid, comm);
	for (i = 0; i < n; i++) {
		bool at = f[i].where[0] && !strstr(f[i].advice, f[i].where);

		fprintf(o->f, "  %s %s%s%s: %s\n", ms_finding_kind_name(f[i].kind), f[i].name,
			at ? " at " : "", at ? f[i].where : "", f[i].advice);
	}
}

static int by_allocs(const void *a, const void *b)
{
	const struct ms_ended_comm *x = a, *y = b;

	if (x->allocs != y->allocs)
		return x->allocs > y->allocs ? -1 : 1;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->comm, y->comm);
}

/* Holds a process that ended for the next table: its row, and its name in the counts */
static void ended_hold(struct ms_output *o, enum ms_end_reason why, struct ms_proc *p, double secs)
{
	struct ms_ended *e = &o->ended[why == MS_END_EXEC];
	char comm[MS_COMM_LEN + 1];
	unsigned i;

	if (e->n < MS_ENDED_ROWS) {
		int k = snprintf(e->rows[e->n], sizeof(e->rows[e->n]),
				 "%s: ", why == MS_END_EXEC ? "exec" : "exit");

		text_row(e->rows[e->n] + k, sizeof(e->rows[e->n]) - k, p, secs);
	}
	e->n++;
	e->allocs += p->c.allocs;
	text_comm(p->comm, comm, sizeof(comm));
	for (i = 0; i < e->ncomm && strcmp(e->comm[i].comm, comm); i++)
		;
	if (i == e->ncomm && e->ncomm < MS_ENDED_COMMS) {
		snprintf(e->comm[i].comm, sizeof(e->comm[i].comm), "%s", comm);
		e->comm[i].n = 0;
		e->comm[i].allocs = 0;
		e->ncomm++;
	}
	if (i < e->ncomm) {
		e->comm[i].n++;
		e->comm[i].allocs += p->c.allocs;
	}
}

#define ENDED_NAMES 8 /* names in a summary line, those with the most allocations */

/* The processes that ended since the previous table: their rows when a few, else a line
 * "12 processes exited (3.1k allocations): bash(5) date(4) ... and 3 more" */
static void ended_flush(struct ms_output *o)
{
	unsigned why, i, shown;

	for (why = 0; why < 2; why++) {
		struct ms_ended *e = &o->ended[why];
		char allocs[16];

		if (e->n <= MS_ENDED_ROWS) {
			for (i = 0; i < e->n; i++)
				fputs(e->rows[i], o->f);
		} else {
			qsort(e->comm, e->ncomm, sizeof(e->comm[0]), by_allocs);
			fprintf(o->f, "%u processes %s (%s %s):", e->n,
				why == MS_END_EXEC ? "called exec" : "exited",
				ms_human_count(e->allocs, allocs, sizeof(allocs)),
				plural(e->allocs, "allocation", "allocations"));
			for (i = shown = 0; i < e->ncomm && i < ENDED_NAMES; i++) {
				fprintf(o->f, " %s(%u)", e->comm[i].comm, e->comm[i].n);
				shown += e->comm[i].n;
			}
			if (shown < e->n)
				fprintf(o->f, " and %u more", e->n - shown);
			fputc('\n', o->f);
		}
		e->n = 0;
		e->allocs = 0;
		e->ncomm = 0;
	}
}

void ms_output_report(struct ms_output *o, enum ms_record_kind kind, const struct ms_report *r,
		      struct ms_stats *s)
{
	struct collect c = { 0 };
	size_t i, rows;

	ms_stats_for_each(s, collect_one, &c);
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), by_activity);
	if (o->json) {
		struct ms_json j;

		ms_json_init(&j, o->f);
		json_head(&j, kind, r);
		ms_json_array(&j, "processes");
		for (i = 0; i < c.n; i++)
			json_proc(&j, o, c.v[i], r->interval_s);
		ms_json_end(&j);
		ms_json_close(&j);
		ms_json_line(&j);
	} else {
		bool attached = false;

		ended_flush(o);
		text_head(o->f, record_type[kind], r, c.n);
		fprintf(o->f, TEXT_HEAD, "PID", "COMM", "ALLOC/s", "FREE/s", "ALLOCS", "FREES",
			"LIVE", "LIVE_BYTES", "PEAK_BYTES", "FAILED", "ALLOCATORS");
		rows = o->max_rows && o->max_rows < c.n && kind != MS_REC_FINAL ? o->max_rows : c.n;
		for (i = 0; i < rows; i++) {
			text_row_out(o->f, c.v[i], r->interval_s);
			text_patterns(o->f, c.v[i]);
			text_top_site(o, c.v[i]);
			attached |= !c.v[i]->from_start;
		}
		if (rows < c.n)
			fprintf(o->f, "%7s (%zu more %s)\n", "", c.n - rows,
				plural(c.n - rows, "process", "processes"));
		if (attached)
			fprintf(o->f,
				"%7s * attached while running: live figures cover the blocks "
				"allocated since\n",
				"");
		if (kind == MS_REC_FINAL)
			for (i = 0; i < c.n; i++)
				text_findings(o, c.v[i]);
		fputc('\n', o->f);
	}
	free(c.v);
	fflush(o->f);
}

void ms_output_end(struct ms_output *o, const struct ms_report *r, struct ms_proc *p,
		   enum ms_end_reason why)
{
	const char *reason = why == MS_END_EXEC ? "exec" : "exit";

	if (o->json) {
		struct ms_json j;

		ms_json_init(&j, o->f);
		json_head(&j, MS_REC_EXIT, r);
		ms_json_str(&j, "reason", reason);
		ms_json_array(&j, "processes");
		json_proc(&j, o, p, r->interval_s);
		ms_json_end(&j);
		ms_json_close(&j);
		ms_json_line(&j);
	} else if (p->pinned) {
		fprintf(o->f, "%s: ", reason);
		text_row_out(o->f, p, r->interval_s);
	} else {
		ended_hold(o, why, p, r->interval_s);
	}
	fflush(o->f);
}

#define MAX_LEAKS 64

void ms_output_leaks(struct ms_output *o, const struct ms_report *r, struct ms_stats *s,
		     uint64_t now_ns, uint64_t min_age_ns)
{
	static struct ms_leak leaks[MAX_LEAKS];
	static char frames[MAX_FRAMES][128];
	struct collect c = { 0 };
	struct ms_json j;
	size_t i;
	unsigned n, k, f, nf, total;

	ms_stats_for_each(s, collect_one, &c);
	if (o->json) {
		ms_json_init(&j, o->f);
		json_head(&j, MS_REC_LEAKS, r);
		ms_json_double(&j, "min_age_s", min_age_ns / 1e9);
		ms_json_array(&j, "processes");
	} else {
		fprintf(o->f, "leak report: blocks live for more than %.1f s, by allocation site\n",
			min_age_ns / 1e9);
	}
	for (i = 0; i < c.n; i++) {
		struct ms_proc *p = c.v[i];
		char comm[MS_COMM_LEN + 1], b[16];

		total = p->sites ? ms_sites_leaks(p->sites,
						  now_ns > min_age_ns ? now_ns - min_age_ns : 0,
						  leaks, MAX_LEAKS) :
				   0;
		n = total < MAX_LEAKS ? total : MAX_LEAKS;
		if (o->json) {
			ms_json_open(&j, NULL);
			ms_json_i64(&j, "pid", p->pid);
			ms_json_str(&j, "comm", p->comm);
			ms_json_array(&j, "sites");
		} else if (n) {
			text_comm(p->comm, comm, sizeof(comm));
			fprintf(o->f, "\n%d (%s):\n", (int)p->pid, comm);
		}
		for (k = 0; k < n; k++) {
			const struct ms_stack_site *t = &p->sites->v[leaks[k].site];
			enum ms_trend tr = shown_trend(p, t);

			nf = site_frames(o, p->pid, t, frames, MAX_FRAMES);
			if (o->json) {
				ms_json_open(&j, NULL);
				ms_json_array(&j, "stack");
				for (f = 0; f < nf; f++)
					ms_json_str(&j, NULL, frames[f]);
				ms_json_end(&j);
				ms_json_u64(&j, "blocks", leaks[k].blocks);
				ms_json_u64(&j, "bytes", leaks[k].bytes);
				ms_json_double(&j, "oldest_age_s",
					       (now_ns - leaks[k].oldest_ts) / 1e9);
				ms_json_str(&j, "trend", ms_trend_name(tr));
				ms_json_bool(&j, "leak", tr == MS_TREND_GROWING);
				ms_json_array(&j, "live_bytes_history");
				for (f = t->nhistory < MS_SITE_HISTORY ? t->nhistory :
									 MS_SITE_HISTORY;
				     f-- > 0;)
					ms_json_u64(&j, NULL, ms_site_history(t, f));
				ms_json_end(&j);
				ms_json_close(&j);
			} else {
				fprintf(o->f, "  %s in %" PRIu64 " %s, oldest %.1f s, %s%s\n",
					ms_human_bytes(leaks[k].bytes, b, sizeof(b)),
					leaks[k].blocks, plural(leaks[k].blocks, "block", "blocks"),
					(now_ns - leaks[k].oldest_ts) / 1e9, ms_trend_name(tr),
					tr == MS_TREND_GROWING ? ": a leak" :
					tr == MS_TREND_LEVELED ? ": levels off, a cache" :
								 "");
				for (f = 0; f < nf; f++)
					fprintf(o->f, "      %s\n", frames[f]);
			}
		}
		if (o->json) {
			ms_json_end(&j);
			/* sites with old blocks the report left out: the smallest */
			ms_json_u64(&j, "more_sites", total - n);
			ms_json_close(&j);
		} else if (total > n) {
			fprintf(o->f, "  (%u more %s, smaller)\n", total - n,
				plural(total - n, "site", "sites"));
		}
	}
	if (o->json) {
		ms_json_end(&j);
		ms_json_close(&j);
		ms_json_line(&j);
	} else {
		fputc('\n', o->f);
	}
	free(c.v);
	fflush(o->f);
}

int ms_output_folded(struct ms_output *o, FILE *f, struct ms_stats *s, enum ms_folded_what what,
		     bool count, uint64_t now_ns, uint64_t min_age_ns)
{
	static struct ms_leak leaks[MAX_LEAKS * 16];
	static char frames[MAX_FRAMES][128];
	struct collect c = { 0 };
	size_t i;
	unsigned k, n, nf, x;

	ms_stats_for_each(s, collect_one, &c);
	for (i = 0; i < c.n; i++) {
		struct ms_proc *p = c.v[i];
		char comm[MS_COMM_LEN + 1];

		if (!p->sites)
			continue;
		text_comm(p->comm, comm, sizeof(comm));
		for (x = 0; comm[x]; x++)
			if (comm[x] == ';' || comm[x] == ' ')
				comm[x] = '_';
		n = what == MS_FOLDED_LEAKED ?
			    ms_sites_leaks(p->sites, now_ns > min_age_ns ? now_ns - min_age_ns : 0,
					   leaks, sizeof(leaks) / sizeof(leaks[0])) :
			    p->sites->n;
		if (what == MS_FOLDED_LEAKED && n > sizeof(leaks) / sizeof(leaks[0]))
			n = sizeof(leaks) / sizeof(leaks[0]); /* the largest: the rest weigh less */
		for (k = 0; k < n; k++) {
			const struct ms_stack_site *t =
				&p->sites->v[what == MS_FOLDED_LEAKED ? leaks[k].site : k];
			uint64_t w;

			if (what == MS_FOLDED_LEAKED)
				w = count ? leaks[k].blocks : leaks[k].bytes;
			else if (what == MS_FOLDED_LIVE)
				w = count ? t->live_allocs : t->live_bytes;
			else
				w = count ? t->allocs : t->alloc_bytes;
			if (!w)
				continue;
			nf = site_frames(o, p->pid, t, frames, MAX_FRAMES);
			/* outermost first; ';' and ' ' would split a frame: replace them */
			fprintf(f, "%s", comm);
			for (x = nf; x-- > 0;) {
				char *q;

				for (q = frames[x]; *q; q++)
					if (*q == ';' || *q == ' ')
						*q = '_';
				fprintf(f, ";%s", frames[x]);
			}
			fprintf(f, " %" PRIu64 "\n", w);
		}
	}
	free(c.v);
	return fflush(f) || ferror(f) ? -EIO : 0;
}
