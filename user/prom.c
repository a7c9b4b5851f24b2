/* prom.c: the Prometheus exposition: the metric families, rendered in the daemon thread and
 * published to the HTTP server (httpd.c) */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cgroup.h"
#include "httpd.h"
#include "prom.h"
#include "utf8.h"
#include "vec.h"

#define COMM_LABEL_LEN (MS_COMM_LEN * 3 + 8) /* every byte could become U+FFFD */

/* One allocator's figures in an entry */
struct ent_alloc {
	bool used;
	struct ms_counts user, backing;
	uint64_t size_hist[MS_CLASSES]; /* its users' successful calls per size class */
};

/* The figures of one exported process, an exited process' final ones, or a sum per comm */
struct entry {
	pid_t pid;				 /* 0: the sum of the processes beyond the cap */
	char comm[COMM_LABEL_LEN];		 /* valid UTF-8, no control character but '\n' */
	char *cgroup;				 /* path, NULL in the root cgroup or when unknown */
	char container[MS_CONTAINER_ID_LEN + 1]; /* "" when the path names none */
	struct ms_counts c;			 /* all allocators' user calls together */
	struct ent_alloc *a;			 /* indexed by allocator id */
	size_t nalloc;
	bool gone;	  /* the process has exited: these are its final figures */
	double exited_at; /* r->ts of the first update after the exit, < 0 before it */
};

struct ms_prom {
	struct ms_prom_opts o;
	struct ms_httpd *http; /* serves the text; listens only with an address */
	int metrics;	       /* the path of the text in http */
	char url[96];
	struct ms_cgroups cg;
	struct entry **gone; /* exited processes' final figures */
	size_t ngone, cap_gone;
	unsigned nbounds; /* the size histogram's finite bounds: classes 0..nbounds-1 (grows) */
};

/* ---------------------------------------------------------------- families */

enum fam_src {
	SRC_USER,    /* per allocator: its users' calls */
	SRC_BACKING, /* per allocator: its backing, where it has any */
	SRC_PROC,    /* per process: all allocators together */
	SRC_SIZES,   /* per allocator: its users' calls per size class, a histogram */
};

struct family {
	const char *name, *type, *help;
	enum fam_src src;
	size_t off; /* of the figure in struct ms_counts (a histogram's _sum) */
};

#define FIG(f) offsetof(struct ms_counts, f)

static const struct family families[] = {
	{ "memscope_allocations_total", "counter",
	  "Successful allocation calls (malloc, calloc, realloc, ...) made by the process",
	  SRC_USER, FIG(allocs) },
	{ "memscope_frees_total", "counter", "Releases of blocks allocated while traced", SRC_USER,
	  FIG(frees) },
	{ "memscope_unmatched_frees_total", "counter",
	  "Releases of blocks allocated before tracing began", SRC_USER, FIG(unmatched_frees) },
	{ "memscope_failed_allocations_total", "counter", "Allocation calls that failed", SRC_USER,
	  FIG(failed_allocs) },
	{ "memscope_allocated_bytes_total", "counter",
	  "Bytes requested by successful allocation calls", SRC_USER, FIG(alloc_bytes) },
	{ "memscope_freed_bytes_total", "counter", "Requested bytes of the released blocks",
	  SRC_USER, FIG(freed_bytes) },
	{ "memscope_live_allocations", "gauge",
	  "Blocks allocated while traced and not released yet", SRC_USER, FIG(live_allocs) },
	{ "memscope_live_bytes", "gauge", "Requested bytes of the live blocks", SRC_USER,
	  FIG(live_bytes) },
	{ "memscope_peak_bytes", "gauge", "Highest live bytes since tracing began", SRC_USER,
	  FIG(peak_bytes) },
	{ "memscope_allocation_size_bytes", "histogram",
	  "Requested sizes of successful allocation calls, in power-of-two size classes (le: a "
	  "class' largest size, 2^k-1)",
	  SRC_SIZES, FIG(alloc_bytes) },
	{ "memscope_backing_allocations_total", "counter",
	  "Allocations the allocator made from others inside its own calls (pool refills)",
	  SRC_BACKING, FIG(allocs) },
	{ "memscope_backing_live_bytes", "gauge",
	  "Live bytes the allocator holds from others (its pool)", SRC_BACKING, FIG(live_bytes) },
	{ "memscope_process_peak_bytes", "gauge",
	  "Highest live bytes of all allocators together (pid=\"other\": a sum of peaks)", SRC_PROC,
	  FIG(peak_bytes) },
};

static uint64_t fig(const struct ms_counts *c, size_t off)
{
	return *(const uint64_t *)((const char *)c + off);
}

static bool backing_used(const struct ms_counts *c)
{
	return c->allocs || c->frees || c->unmatched_frees || c->failed_allocs;
}

/* ---------------------------------------------------------------- text */

/* A label value: backslash, quote and newline escaped as the format says */
static void put_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

struct label {
	const char *name, *value;
};

static void put_sample(FILE *f, const char *name, const struct label *l, unsigned n, uint64_t v)
{
	unsigned i;

	fputs(name, f);
	for (i = 0; i < n; i++) {
		fprintf(f, "%s%s=\"", i ? "," : "{", l[i].name);
		put_value(f, l[i].value);
		fputc('"', f);
	}
	fprintf(f, "%s %" PRIu64 "\n", n ? "}" : "", v);
}

/* The largest size of size class k (stats.h): 0, then 2^k - 1 for [2^(k-1), 2^k) */
static uint64_t class_max(unsigned k)
{
	return k ? UINT64_MAX >> (64 - k) : 0;
}

/*
 * One series of the size histogram: cumulative buckets le="0", "1", "3", ..., "2^k-1" for
 * the classes 0..nbounds-1, le="+Inf", then _sum (requested bytes) and _count. A size is a
 * whole number, so a class' largest size is its exact upper bound: the bucket le="2^k-1"
 * holds exactly the calls of classes 0..k. +Inf and _count are the classes' total, which
 * stats.c keeps equal to allocs (both are counted at the same places). l has room for le
 * after its n labels. Cost: nbounds + 3 lines.
 */
static void put_sizes(FILE *f, const struct family *fam, struct label *l, unsigned n,
		      const struct ent_alloc *a, unsigned nbounds)
{
	char series[128], le[24];
	uint64_t cum = 0, total = 0;
	unsigned k;

	for (k = 0; k < MS_CLASSES; k++)
		total += a->size_hist[k];
	snprintf(series, sizeof(series), "%s_bucket", fam->name);
	l[n] = (struct label){ "le", le };
	for (k = 0; k < nbounds; k++) {
		cum += a->size_hist[k];
		snprintf(le, sizeof(le), "%" PRIu64, class_max(k));
		put_sample(f, series, l, n + 1, cum);
	}
	snprintf(le, sizeof(le), "+Inf");
	put_sample(f, series, l, n + 1, total);
	snprintf(series, sizeof(series), "%s_sum", fam->name);
	put_sample(f, series, l, n, fig(&a->user, fam->off));
	snprintf(series, sizeof(series), "%s_count", fam->name);
	put_sample(f, series, l, n, total);
}

static void put_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels of entry e: pid, comm[, allocator][, cgroup][, container] */
static unsigned entry_labels(const struct entry *e, const char *allocator, char *pid, size_t pidlen,
			     struct label *l)
{
	unsigned n = 0;

	if (e->pid)
		snprintf(pid, pidlen, "%d", (int)e->pid);
	else
		snprintf(pid, pidlen, "other");
	l[n++] = (struct label){ "pid", pid };
	l[n++] = (struct label){ "comm", e->comm };
	if (allocator)
		l[n++] = (struct label){ "allocator", allocator };
	if (e->cgroup)
		l[n++] = (struct label){ "cgroup", e->cgroup };
	if (e->container[0])
		l[n++] = (struct label){ "container", e->container };
	return n;
}

static void put_entry(FILE *f, const struct ms_catalog *cat, const struct family *fam,
		      const struct entry *e, unsigned nbounds)
{
	struct label l[6]; /* pid, comm, allocator, cgroup, container, le */
	char pid[16];
	unsigned id, n;

	if (fam->src == SRC_PROC) {
		n = entry_labels(e, NULL, pid, sizeof(pid), l);
		put_sample(f, fam->name, l, n, fig(&e->c, fam->off));
		return;
	}
	for (id = 1; id < e->nalloc; id++) {
		const struct ent_alloc *a = &e->a[id];
		const struct ms_allocator *al = ms_catalog_allocator(cat, id);

		if (!a->used || !al || (fam->src == SRC_BACKING && !backing_used(&a->backing)))
			continue;
		n = entry_labels(e, al->name, pid, sizeof(pid), l);
		if (fam->src == SRC_SIZES)
			put_sizes(f, fam, l, n, a, nbounds);
		else
			put_sample(f, fam->name, l, n,
				   fig(fam->src == SRC_USER ? &a->user : &a->backing, fam->off));
	}
}

/* The whole exposition into a new buffer; nbounds: the size histogram's finite bounds */
static int render(const struct ms_catalog *cat, struct entry *const *ex, size_t nex,
		  const struct entry *agg, size_t nagg, const struct ms_report *r, size_t nprocs,
		  unsigned nbounds, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0, i, k;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	for (k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
		put_head(f, families[k].name, families[k].type, families[k].help);
		for (i = 0; i < nex; i++)
			put_entry(f, cat, &families[k], ex[i], nbounds);
		for (i = 0; i < nagg; i++)
			put_entry(f, cat, &families[k], &agg[i], nbounds);
	}
	put_head(f, "memscope_events_total", "counter", "Records the daemon received");
	put_sample(f, "memscope_events_total", NULL, 0, r->events);
	put_head(f, "memscope_lost_events_total", "counter",
		 "Records lost, calls not counted or stacks not recorded, by cause (the JSON "
		 "\"lost\" object)");
	for (k = 0; k < MS_CNT_MAX; k++) {
		struct label l = { "cause", ms_lost_name(k) }; /* the JSON "lost" object's */

		put_sample(f, "memscope_lost_events_total", &l, 1, r->lost_by[k]);
	}
	put_sample(f, "memscope_lost_events_total", &(struct label){ "cause", "untracked" }, 1,
		   r->untracked);
	put_sample(f, "memscope_lost_events_total", &(struct label){ "cause", "missed_free" }, 1,
		   r->missed_frees);
	put_sample(f, "memscope_lost_events_total", &(struct label){ "cause", "late" }, 1, r->late);
	put_head(f, "memscope_processes", "gauge", "Processes traced now");
	put_sample(f, "memscope_processes", NULL, 0, nprocs);
	put_head(f, "memscope_exported_processes", "gauge",
		 "Processes with series of their own (--prometheus-max-processes)");
	put_sample(f, "memscope_exported_processes", NULL, 0, nex);
	if (fclose(f) || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

char *ms_prom_text(struct ms_prom *p, size_t *len)
{
	return ms_httpd_copy(p->http, p->metrics, len);
}

/* ---------------------------------------------------------------- entries */

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	free(e->a);
	free(e->cgroup);
	free(e);
}

/* A label value from a name someone else chose: valid UTF-8 (U+FFFD for a bad byte),
 * control characters but newline as '?' */
static void label_value(const char *in, char *out, size_t len)
{
	ms_utf8_clean(in, out, len, MS_UTF8_REPAIR | MS_UTF8_KEEP_NL);
}

/* A copy of p's figures; cgroup labels from c (may be NULL) */
static struct entry *entry_of(const struct ms_proc *p, const struct ms_cgroup *c)
{
	struct entry *e = calloc(1, sizeof(*e));
	unsigned id;

	if (!e)
		return NULL;
	e->pid = p->pid;
	e->exited_at = -1;
	label_value(p->comm, e->comm, sizeof(e->comm));
	e->c = p->c;
	if (c && c->path) {
		/* a cgroup's name is whoever made it's to choose: valid UTF-8 like a comm,
		 * or Prometheus refuses the whole scrape (a bad byte takes 3 out) */
		size_t len = strlen(c->path) * 3 + 1;

		e->cgroup = malloc(len);
		if (!e->cgroup)
			goto nomem;
		label_value(c->path, e->cgroup, len);
		memcpy(e->container, c->container, sizeof(e->container));
	}
	if (p->nalloc) {
		e->a = calloc(p->nalloc, sizeof(*e->a));
		if (!e->a)
			goto nomem;
		e->nalloc = p->nalloc;
	}
	for (id = 1; id < p->nalloc; id++) {
		if (!p->alloc[id].used)
			continue;
		e->a[id].used = true;
		e->a[id].user = p->alloc[id].user.c;
		e->a[id].backing = p->alloc[id].backing.c;
		ms_side_size_hist(&p->alloc[id].user, e->a[id].size_hist);
	}
	return e;
nomem:
	entry_free(e);
	return NULL;
}

static bool has_allocator(const struct entry *e)
{
	unsigned id;

	for (id = 1; id < e->nalloc; id++)
		if (e->a[id].used)
			return true;
	return false;
}

static void counts_add(struct ms_counts *d, const struct ms_counts *s)
{
#define ADD(f) d->f += s->f;
	MS_COUNTS_FIELDS(ADD)
#undef ADD
}

/* Adds e's figures to the sum d (its comm is d's); -ENOMEM */
static int entry_add(struct entry *d, const struct entry *e)
{
	unsigned id, k;

	if (MS_VEC_RESERVE(d->a, d->nalloc, e->nalloc))
		return -ENOMEM;
	counts_add(&d->c, &e->c);
	for (id = 1; id < e->nalloc; id++) {
		if (!e->a[id].used)
			continue;
		d->a[id].used = true;
		counts_add(&d->a[id].user, &e->a[id].user);
		counts_add(&d->a[id].backing, &e->a[id].backing);
		for (k = 0; k < MS_CLASSES; k++)
			d->a[id].size_hist[k] += e->a[id].size_hist[k];
	}
	return 0;
}

/* Running processes first (an exited one does not push a running one out), then the most
 * live bytes, then the lower pid */
static int by_live(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;

	if (x->gone != y->gone)
		return x->gone ? 1 : -1;
	if (x->c.live_bytes != y->c.live_bytes)
		return x->c.live_bytes > y->c.live_bytes ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int by_comm(const void *a, const void *b)
{
	return strcmp((*(struct entry *const *)a)->comm, (*(struct entry *const *)b)->comm);
}

static int by_pid(const void *a, const void *b)
{
	pid_t x = (*(struct entry *const *)a)->pid, y = (*(struct entry *const *)b)->pid;

	return x < y ? -1 : x > y;
}

/* What one update collects */
struct collect {
	struct ms_prom *p;
	struct entry **v; /* live processes' entries, owned */
	size_t n, cap;
	size_t nprocs; /* processes traced now */
	bool nomem;
};

static void collect_one(struct ms_proc *proc, void *ctx)
{
	struct collect *c = ctx;
	const struct ms_cgroup *cg;
	struct entry *e;

	if ((!proc->active && !proc->listed) || proc->exited)
		return;
	c->nprocs++;
	if (c->nomem)
		return;
	cg = ms_cgroups_get(&c->p->cg, proc->pid);
	e = entry_of(proc, cg);
	if (!e || !has_allocator(e)) {
		c->nomem |= !e;
		entry_free(e);
		return;
	}
	if (MS_VEC_RESERVE(c->v, c->cap, c->n + 1)) {
		entry_free(e);
		c->nomem = true;
		return;
	}
	c->v[c->n++] = e;
}

/* Exited processes: the clock starts at their first update; past the grace period, or
 * with a live process of the same pid and comm (exec, pid reuse), they go */
static void expire_gone(struct ms_prom *p, struct entry **live, size_t nlive, double now)
{
	size_t i, k = 0;

	for (i = 0; i < p->ngone; i++) {
		struct entry *g = p->gone[i], **m;

		if (g->exited_at < 0)
			g->exited_at = now;
		m = nlive ? bsearch(&g, live, nlive, sizeof(*live), by_pid) : NULL;
		if (now - g->exited_at >= p->o.grace_s || (m && !strcmp((*m)->comm, g->comm)))
			entry_free(g);
		else
			p->gone[k++] = g;
	}
	p->ngone = k;
}

/*
 * The size histogram's bounds: one layout for every series, classes 0 to the largest any
 * series has had since the start. The same bounds everywhere let sum by (le) add series
 * bucket by bucket (a series without le="4095" would be missing from that bucket of a sum
 * but not from its +Inf), so histogram_quantile() over an aggregate is right; a layout
 * that never shrinks keeps every bucket series alive as long as its process. Classes past
 * the largest are empty in every series and would only add series; sizes are kept to 40
 * bits (stats.c), so there are at most 41 bounds.
 */
static void grow_bounds(struct ms_prom *p, struct entry *const *v, size_t n)
{
	unsigned id, k;
	size_t i;

	if (!p->nbounds)
		p->nbounds = 1; /* le="0": histogram_quantile() needs a finite bucket */
	for (i = 0; i < n; i++) {
		for (id = 1; id < v[i]->nalloc; id++) {
			const struct ent_alloc *a = &v[i]->a[id];

			for (k = p->nbounds; a->used && k < MS_CLASSES; k++)
				if (a->size_hist[k])
					p->nbounds = k + 1;
		}
	}
}

/* Sums the entries v[0..n) (sorted by comm) per comm into *agg; -ENOMEM */
static int aggregate(struct entry **v, size_t n, struct entry **agg, size_t *nagg)
{
	struct entry *a;
	size_t i, k = 0;

	*agg = NULL;
	*nagg = 0;
	if (!n)
		return 0;
	a = calloc(n, sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!k || strcmp(a[k - 1].comm, v[i]->comm)) {
			memcpy(a[k].comm, v[i]->comm, sizeof(a[k].comm));
			k++;
		}
		if (entry_add(&a[k - 1], v[i])) {
			while (k--)
				free(a[k].a);
			free(a);
			return -ENOMEM;
		}
	}
	*agg = a;
	*nagg = k;
	return 0;
}

int ms_prom_update(struct ms_prom *p, struct ms_stats *s, const struct ms_report *r)
{
	struct collect c = { .p = p };
	struct entry **all = NULL, *agg = NULL;
	size_t i, n, nex, nagg = 0, len;
	char *text = NULL;
	int err = 0;

	ms_stats_for_each(s, collect_one, &c);
	/* the pass is over: the cgroups of processes gone from the statistics are forgotten */
	ms_cgroups_end(&p->cg, !c.nomem);
	if (c.nomem) {
		err = -ENOMEM;
		goto out;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), by_pid);
	expire_gone(p, c.v, c.n, r->ts);

	/* the exported: live and exited alike, the most live bytes first */
	n = c.n + p->ngone;
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < c.n; i++)
		all[i] = c.v[i];
	for (i = 0; i < p->ngone; i++)
		all[c.n + i] = p->gone[i];
	if (n)
		qsort(all, n, sizeof(*all), by_live);
	grow_bounds(p, all, n);
	nex = n < p->o.max_processes ? n : p->o.max_processes; /* 0: every one summed */
	if (n > nex) {
		qsort(all + nex, n - nex, sizeof(*all), by_comm);
		err = aggregate(all + nex, n - nex, &agg, &nagg);
		if (err)
			goto out;
	}
	err = render(s->cat, all, nex, agg, nagg, r, c.nprocs, p->nbounds, &text, &len);
	if (!err)
		ms_httpd_publish(p->http, p->metrics, text, len);
out:
	for (i = 0; i < nagg; i++)
		free(agg[i].a);
	free(agg);
	free(all);
	for (i = 0; i < c.n; i++)
		entry_free(c.v[i]);
	free(c.v);
	return err;
}

void ms_prom_process_exited(struct ms_prom *p, const struct ms_proc *proc)
{
	const struct ms_cgroup *c = ms_cgroups_find(&p->cg, proc->pid);
	struct ms_cgroup fresh = { 0 };
	struct entry *e;
	size_t i, k;

	if (!c) { /* started and ended between two updates: /proc may still have it */
		ms_cgroups_read(&p->cg, proc->pid, &fresh);
		c = &fresh;
	}
	e = entry_of(proc, c);
	if (e)
		e->gone = true;
	free(fresh.path);
	ms_cgroups_drop(&p->cg, proc->pid); /* the pid may come back as another process */
	if (!e || !has_allocator(e) || p->o.grace_s <= 0) {
		entry_free(e);
		return;
	}
	/* the pid ended before under the same name (reused, or exec'd into the same program):
	 * one series each, the latest figures */
	for (i = k = 0; i < p->ngone; i++) {
		if (p->gone[i]->pid == e->pid && !strcmp(p->gone[i]->comm, e->comm))
			entry_free(p->gone[i]);
		else
			p->gone[k++] = p->gone[i];
	}
	p->ngone = k;
	if (MS_VEC_PUSH(p->gone, p->ngone, p->cap_gone, e))
		entry_free(e);
}

struct ms_prom *ms_prom_new(const char *addr_port, const struct ms_prom_opts *o)
{
	struct ms_prom *p = calloc(1, sizeof(*p));
	struct ms_report zero = { 0 };
	char *text;
	size_t len;
	unsigned i;
	int err;

	if (!p)
		return NULL;
	if (o)
		p->o = *o;
	else {
		p->o.max_processes = MS_PROM_DEFAULT_MAX_PROCESSES;
		p->o.grace_s = MS_PROM_DEFAULT_GRACE;
	}
	ms_cgroups_init(&p->cg, p->o.proc_root);
	p->o.proc_root = p->cg.proc_root;
	p->http = ms_httpd_new(&p->o.http, p->o.verbose);
	if (!p->http) {
		err = -ENOMEM;
		goto fail;
	}
	p->metrics = ms_httpd_add_path(p->http, "/metrics", MS_PROM_CONTENT_TYPE,
				       "the metrics are at /metrics");
	for (i = 0; i < p->o.nextra && i < sizeof(p->o.extra) / sizeof(p->o.extra[0]); i++)
		ms_httpd_add_handler(p->http, p->o.extra[i].path, p->o.extra[i].fn,
				     p->o.extra[i].ctx, p->o.extra[i].hint);
	/* scrapes before the first update see the tracer's families, no process */
	err = render(NULL, NULL, 0, NULL, 0, &zero, 0, 0, &text, &len);
	if (err)
		goto fail;
	ms_httpd_publish(p->http, p->metrics, text, len);
	if (addr_port) {
		err = ms_httpd_start(p->http, addr_port);
		if (err)
			goto fail;
		snprintf(p->url, sizeof(p->url), "%s/metrics", ms_httpd_url(p->http));
	}
	return p;
fail:
	ms_prom_free(p);
	errno = -err;
	return NULL;
}

const char *ms_prom_url(const struct ms_prom *p)
{
	return p->url;
}

void ms_prom_free(struct ms_prom *p)
{
	size_t i;

	if (!p)
		return;
	ms_httpd_free(p->http);
	ms_cgroups_free(&p->cg);
	for (i = 0; i < p->ngone; i++)
		entry_free(p->gone[i]);
	free(p->gone);
	free(p);
}
