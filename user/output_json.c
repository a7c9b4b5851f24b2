/* output_json.c: the JSON Lines printer of the records */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "output_impl.h"
#include "presets.h"

static void json_patterns(struct ms_json *j, const struct ms_proc *p)
{
	uint64_t allocs = 0, temporary = 0, reused = 0, same = 0, other = 0;
	struct ms_patterns sum;
	char key[24];
	unsigned k, b;

	out_sum_patterns(p, &sum);
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

/* A site's figure: a whole number, or with --sample-bytes an estimate */
static void json_figure(struct ms_json *j, const char *name, double v, bool estimated)
{
	if (estimated)
		ms_json_double(j, name, v);
	else
		ms_json_u64(j, name, (uint64_t)llround(v));
}

static void json_site(struct ms_json *j, struct ms_output *o, const struct ms_proc *p,
		      const struct ms_stack_site *t, double secs)
{
	bool est = p->stack_sites->sample_bytes != 0;
	static char frames[MAX_FRAMES][128];
	unsigned n = out_site_frames(o, p->pid, t, frames, MAX_FRAMES), i;

	ms_json_open(j, NULL);
	ms_json_array(j, "stack");
	for (i = 0; i < n; i++)
		ms_json_str(j, NULL, frames[i]);
	ms_json_end(j);
	ms_json_bool(j, "truncated", t->truncated);
	json_figure(j, "allocs", t->allocs, est);
	json_figure(j, "alloc_bytes", t->alloc_bytes, est);
	json_figure(j, "frees", t->frees, est);
	json_figure(j, "live_allocs", t->live_allocs, est);
	json_figure(j, "live_bytes", t->live_bytes, est);
	ms_json_double(j, "allocs_per_s", secs > 0 ? (t->allocs - t->last_allocs) / secs : 0);
	json_figure(j, "peak_contribution", ms_site_peak_contribution(p->stack_sites, t), est);
	ms_json_str(j, "trend", ms_trend_name(out_trend(p, t)));
	ms_json_close(j);
}

static const struct ms_stack_sites *sort_sites;
static int sort_by;

static int site_order(const void *x, const void *y)
{
	const struct ms_stack_site *a = &sort_sites->v[*(const unsigned *)x];
	const struct ms_stack_site *b = &sort_sites->v[*(const unsigned *)y];
	double va, vb;

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
	const struct ms_stack_sites *ss = p->stack_sites;
	double allocs, truncated;
	unsigned *order, k, i;

	if (!o->sites)
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
			for (i = 0; i < ss->n && i < MS_TOP_SITES; i++)
				json_site(j, o, p, &ss->v[order[i]], secs);
		}
		ms_json_end(j);
	}
	free(order);
	ms_json_u64(j, "untracked", ss ? ss->untracked : 0);
	ms_json_u64(j, "stacks", ss ? ss->n : 0);
	ms_json_u64(j, "truncated_stacks", ss ? ss->truncated_stacks : 0);
	ms_sites_tally(ss, &allocs, &truncated);
	json_figure(j, "stack_allocs", allocs, ss && ss->sample_bytes);
	json_figure(j, "truncated_allocs", truncated, ss && ss->sample_bytes);
	if (ss && ss->sample_bytes) {
		/* figures of a sample, weighted: estimates (allocs, bytes), not counts */
		ms_json_bool(j, "estimated", true);
		ms_json_u64(j, "sample_bytes", ss->sample_bytes);
	}
	ms_json_close(j);
}

static void json_pools(struct ms_json *j, const struct ms_finding *f, unsigned n)
{
	unsigned i, k;

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
	char key[48];

	/* each field under its name; the backing's allocated bytes are its "backing_bytes" */
#define PUT(name)                                                                                  \
	snprintf(key, sizeof(key), "%s%s", prefix,                                                 \
		 prefix[0] && !strcmp(#name, "alloc_bytes") ? "bytes" : #name);                    \
	ms_json_u64(j, key, c->name);
	MS_COUNTS_FIELDS(PUT)
#undef PUT
}

/* by_func of p, only the functions of allocator id; with id 0, every allocator's, those
 * of one name summed (libc's malloc and a preloaded jemalloc's are one "malloc") */
static void json_by_func(struct ms_json *j, const struct ms_catalog *cat, const struct ms_proc *p,
			 unsigned id)
{
	unsigned i, k;

	ms_json_open(j, "by_func");
	for (i = 0; i < p->nby_func; i++) {
		const struct ms_func *f = ms_catalog_func(cat, i);
		uint64_t n = p->by_func[i];

		if (!n || !f || (id && f->allocator != id))
			continue;
		if (!id) {
			/* the first function of this name adds up the others */
			for (k = 0; k < i; k++)
				if (p->by_func[k] && ms_catalog_func(cat, k) &&
				    !strcmp(ms_catalog_func(cat, k)->name, f->name))
					break;
			if (k < i)
				continue;
			for (k = i + 1; k < p->nby_func; k++)
				if (p->by_func[k] && ms_catalog_func(cat, k) &&
				    !strcmp(ms_catalog_func(cat, k)->name, f->name))
					n += p->by_func[k];
		}
		ms_json_u64(j, f->name, n);
	}
	ms_json_close(j);
}

static void json_hist(struct ms_json *j, const uint64_t hist[MS_CLASSES])
{
	char key[24];
	unsigned i;

	ms_json_open(j, "size_hist");
	for (i = 0; i < MS_CLASSES; i++) {
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
	ms_json_double(j, "allocs_per_s", out_rate(c->allocs, last->allocs, secs));
	ms_json_double(j, "frees_per_s", out_rate(c->frees, last->frees, secs));
	ms_json_double(j, "alloc_bytes_per_s", out_rate(c->alloc_bytes, last->alloc_bytes, secs));
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

static void json_allocators(struct ms_json *j, const struct ms_catalog *cat, struct ms_proc *p,
			    double secs)
{
	uint64_t hist[MS_CLASSES];
	unsigned id;

	ms_json_array(j, "allocators");
	for (id = 1; id < p->nalloc; id++) {
		const struct ms_allocator *a = ms_catalog_allocator(cat, id);
		struct ms_astats *as = ms_proc_allocator(p, id);

		if (!as || !a)
			continue;
		ms_json_open(j, NULL);
		ms_json_str(j, "name", a->name);
		ms_json_str(j, "kind", ms_alloc_kind_name(a->kind));
		json_counts(j, "", &as->user.c);
		json_by_func(j, cat, p, id);
		ms_side_size_hist(&as->user, hist);
		json_hist(j, hist);
		json_rates(j, &as->user.c, &as->last, secs);
		json_counts(j, "backing_", &as->backing.c);
		json_numa(j, &as->user.numa, NULL);
		ms_json_close(j);
	}
	ms_json_end(j);
}

static void json_proc(struct ms_json *j, struct ms_output *o, const struct out_proc *v, double secs)
{
	struct ms_proc *p = v->p;
	uint64_t hist[MS_CLASSES];

	ms_json_open(j, NULL);
	ms_json_i64(j, "pid", p->pid);
	ms_json_str(j, "comm", p->comm);
	/* what live_* cover: the whole heap of its image, or what was allocated since attaching */
	ms_json_str(j, "live_since", p->from_start ? "start" : "attach");
	json_counts(j, "", &p->c);
	json_by_func(j, v->cat, p, 0);
	ms_proc_size_hist(p, hist);
	json_hist(j, hist);
	json_rates(j, &p->c, &p->last, secs);
	json_allocators(j, v->cat, p, secs);
	json_numa(j, &p->numa, o->numa_pages ? &p->pages : NULL);
	json_patterns(j, p);
	json_pools(j, v->find, v->nfind);
	json_sites(j, o, p, secs);
	ms_json_close(j);
}

static void json_head(struct ms_json *j, enum ms_record_kind kind, const struct ms_report *r)
{
	unsigned i;

	ms_json_open(j, NULL);
	ms_json_str(j, "type", out_record_type[kind]);
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

static void json_report(struct ms_output *o, enum ms_record_kind kind, const struct ms_report *r,
			const struct out_proc *v, size_t n)
{
	struct ms_json j;
	size_t i;

	ms_json_init(&j, o->f);
	json_head(&j, kind, r);
	ms_json_array(&j, "processes");
	for (i = 0; i < n; i++)
		json_proc(&j, o, &v[i], r->interval_s);
	ms_json_end(&j);
	ms_json_close(&j);
	ms_json_line(&j);
}

static void json_end(struct ms_output *o, const struct ms_report *r, const struct out_proc *v,
		     enum ms_end_reason why)
{
	struct ms_json j;

	ms_json_init(&j, o->f);
	json_head(&j, MS_REC_EXIT, r);
	ms_json_str(&j, "reason", why == MS_END_EXEC ? "exec" : "exit");
	ms_json_array(&j, "processes");
	json_proc(&j, o, v, r->interval_s);
	ms_json_end(&j);
	ms_json_close(&j);
	ms_json_line(&j);
}

static void json_leaks(struct ms_output *o, const struct ms_report *r, const struct out_leaks *v,
		       size_t n, uint64_t now_ns, uint64_t min_age_ns)
{
	static char frames[MAX_FRAMES][128];
	struct ms_json j;
	unsigned k, f, nf;
	size_t i;

	ms_json_init(&j, o->f);
	json_head(&j, MS_REC_LEAKS, r);
	ms_json_double(&j, "min_age_s", min_age_ns / 1e9);
	if (r->min_age_lowered_from > 0) /* a run shorter than --min-age: every live block */
		ms_json_double(&j, "min_age_lowered_from_s", r->min_age_lowered_from);
	ms_json_array(&j, "processes");
	for (i = 0; i < n; i++) {
		const struct ms_proc *p = v[i].p;

		ms_json_open(&j, NULL);
		ms_json_i64(&j, "pid", p->pid);
		ms_json_str(&j, "comm", p->comm);
		ms_json_array(&j, "sites");
		for (k = 0; k < v[i].n; k++) {
			const struct ms_leak *l = &v[i].leaks[k];
			const struct ms_stack_site *t = &p->stack_sites->v[l->site];
			enum ms_trend tr = out_trend(p, t);

			nf = out_site_frames(o, p->pid, t, frames, MAX_FRAMES);
			ms_json_open(&j, NULL);
			ms_json_array(&j, "stack");
			for (f = 0; f < nf; f++)
				ms_json_str(&j, NULL, frames[f]);
			ms_json_end(&j);
			ms_json_bool(&j, "truncated", t->truncated);
			json_figure(&j, "blocks", l->blocks, p->stack_sites->sample_bytes);
			json_figure(&j, "bytes", l->bytes, p->stack_sites->sample_bytes);
			ms_json_double(&j, "oldest_age_s", (now_ns - l->oldest_ts) / 1e9);
			ms_json_str(&j, "trend", ms_trend_name(tr));
			ms_json_bool(&j, "leak", tr == MS_TREND_GROWING);
			ms_json_array(&j, "live_bytes_history");
			for (f = t->nhistory < MS_SITE_HISTORY ? t->nhistory : MS_SITE_HISTORY;
			     f-- > 0;)
				json_figure(&j, NULL, ms_site_history(t, f),
					    p->stack_sites->sample_bytes);
			ms_json_end(&j);
			ms_json_close(&j);
		}
		ms_json_end(&j);
		/* sites with old blocks the report left out: the smallest */
		ms_json_u64(&j, "more_sites", v[i].total - v[i].n);
		ms_json_close(&j);
	}
	ms_json_end(&j);
	ms_json_close(&j);
	ms_json_line(&j);
}

/* JSON Lines: every record shows the findings (as "pools") */
const struct out_printer out_json = {
	.findings = (1u << MS_REC_INTERVAL) | (1u << MS_REC_EXIT) | (1u << MS_REC_FINAL),
	.report = json_report,
	.end = json_end,
	.leaks = json_leaks,
};
