/* prom.c: the Prometheus endpoint: the exposition text, rendered in the daemon thread,
 * served by the server's thread (libmicrohttpd, run by us) from a copy under a mutex */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include "allocators.h"
#include "prom.h"

#define HTTP_MEMORY (32 << 10)		     /* bytes per connection: request line and headers */
#define COMM_LABEL_LEN (MS_COMM_LEN * 3 + 8) /* every byte could become U+FFFD */
#define CONTAINER_ID_LEN 64

/* One allocator's figures in an entry */
struct ent_alloc {
	bool used;
	struct ms_counts user, backing;
	uint64_t size_hist[MS_HIST_BUCKETS]; /* its users' successful calls per size class */
};

/* The figures of one exported process, an exited process' final ones, or a sum per comm */
struct entry {
	pid_t pid;			      /* 0: the sum of the processes beyond the cap */
	char comm[COMM_LABEL_LEN];	      /* valid UTF-8, no control character but '\n' */
	char *cgroup;			      /* path, NULL in the root cgroup or when unknown */
	char container[CONTAINER_ID_LEN + 1]; /* "" when the path names none */
	struct ms_counts c;		      /* all allocators' user calls together */
	struct ent_alloc *a;		      /* indexed by allocator id */
	unsigned nalloc;
	bool gone;	  /* the process has exited: these are its final figures */
	double exited_at; /* r->ts of the first update after the exit, < 0 before it */
};

/* /proc/PID/cgroup, read once per process */
struct cg {
	pid_t pid;
	bool seen; /* by the current update */
	char *path;
	char container[CONTAINER_ID_LEN + 1];
};

struct ms_prom {
	struct ms_prom_opts o;
	char proc_root[256];
	struct http *http; /* the server; NULL without a listener */
	char url[96];
	pthread_mutex_t lock; /* guards text and len, the only data the HTTP thread reads */
	char *text;
	size_t len;
	struct cg *cg; /* sorted by pid, but for what an update adds before it sorts */
	size_t ncg, cap_cg, ncg_sorted;
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

	for (k = 0; k < MS_HIST_BUCKETS; k++)
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

/* A process name as a label value: valid UTF-8 (U+FFFD for a bad byte), control
 * characters but newline as '?' */
static void comm_label(const char *in, char *out, size_t len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	while (*s && o + 5 <= len) {
		unsigned n = *s < 0x80		 ? 1 :
			     (*s & 0xe0) == 0xc0 ? 2 :
			     (*s & 0xf0) == 0xe0 ? 3 :
			     (*s & 0xf8) == 0xf0 ? 4 :
						   0;
		unsigned i;

		for (i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80) {
				n = 0;
				break;
			}
		}
		/* overlong forms, surrogates and code points past U+10FFFF are invalid too */
		if ((n == 2 && *s < 0xc2) || (n == 3 && *s == 0xe0 && s[1] < 0xa0) ||
		    (n == 3 && *s == 0xed && s[1] >= 0xa0) ||
		    (n == 4 && *s == 0xf0 && s[1] < 0x90) || (n == 4 && *s > 0xf4) ||
		    (n == 4 && *s == 0xf4 && s[1] >= 0x90))
			n = 0;
		if (!n) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			s++;
		} else if (n == 1) {
			out[o++] = (*s < 0x20 && *s != '\n') || *s == 0x7f ? '?' : (char)*s;
			s++;
		} else {
			memcpy(out + o, s, n);
			o += n;
			s += n;
		}
	}
	out[o] = '\0';
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

static void put_entry(FILE *f, const struct family *fam, const struct entry *e, unsigned nbounds)
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
		const struct ms_allocator *al = ms_allocators_get(id);

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
static int render(struct entry *const *ex, size_t nex, const struct entry *agg, size_t nagg,
		  const struct ms_report *r, size_t nprocs, unsigned nbounds, char **out,
		  size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0, i, k;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	for (k = 0; k < sizeof(families) / sizeof(families[0]); k++) {
		put_head(f, families[k].name, families[k].type, families[k].help);
		for (i = 0; i < nex; i++)
			put_entry(f, &families[k], ex[i], nbounds);
		for (i = 0; i < nagg; i++)
			put_entry(f, &families[k], &agg[i], nbounds);
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

/* Makes text the one served; frees the previous one */
static void publish(struct ms_prom *p, char *text, size_t len)
{
	char *old;

	pthread_mutex_lock(&p->lock);
	old = p->text;
	p->text = text;
	p->len = len;
	pthread_mutex_unlock(&p->lock);
	free(old);
}

char *ms_prom_text(struct ms_prom *p, size_t *len)
{
	char *t;

	pthread_mutex_lock(&p->lock);
	t = malloc(p->len + 1);
	if (t) {
		memcpy(t, p->text, p->len);
		t[p->len] = '\0';
		*len = p->len;
	}
	pthread_mutex_unlock(&p->lock);
	return t;
}

/* ---------------------------------------------------------------- cgroups */

/* The last run of exactly 64 hex digits in path: docker, containerd, cri-o and podman
 * name a container's cgroup after its id */
static void container_of(const char *path, char id[CONTAINER_ID_LEN + 1])
{
	const char *s = path, *run;

	id[0] = '\0';
	while (*s) {
		for (run = s; (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'); s++)
			;
		if (s - run == CONTAINER_ID_LEN) {
			memcpy(id, run, CONTAINER_ID_LEN);
			id[CONTAINER_ID_LEN] = '\0';
		}
		if (s == run)
			s++;
	}
}

/*
 * The cgroup of pid: the unified hierarchy's ("0::/path"), else (cgroup v1) the
 * name=systemd hierarchy's, else the memory controller's; NULL for the root or unknown
 */
static char *read_cgroup(const char *root, pid_t pid)
{
	char file[300], *line = NULL, *best[3] = { NULL, NULL, NULL }, *res = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned i;
	FILE *f;

	snprintf(file, sizeof(file), "%s/%d/cgroup", root, (int)pid);
	f = fopen(file, "re");
	if (!f)
		return NULL;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *path;
		int rank = -1;

		if (!c2)
			continue;
		line[strcspn(line, "\n")] = '\0';
		path = c2 + 1;
		*c1 = *c2 = '\0'; /* hierarchy id, controllers, path */
		if (!strcmp(line, "0") && c1 + 1 == c2)
			rank = 0;
		else if (!strcmp(c1 + 1, "name=systemd"))
			rank = 1;
		else {
			char *tok, *save = NULL;

			for (tok = strtok_r(c1 + 1, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				if (!strcmp(tok, "memory"))
					rank = 2;
		}
		if (rank < 0 || best[rank] || !path[0] || !strcmp(path, "/"))
			continue;
		best[rank] = strdup(path);
	}
	free(line);
	fclose(f);
	for (i = 0; i < 3; i++) {
		if (!res)
			res = best[i];
		else
			free(best[i]);
	}
	return res;
}

static int cg_cmp(const void *a, const void *b)
{
	pid_t x = ((const struct cg *)a)->pid, y = ((const struct cg *)b)->pid;

	return x < y ? -1 : x > y;
}

static struct cg *cg_find(struct ms_prom *p, pid_t pid)
{
	struct cg key = { .pid = pid };

	return p->ncg_sorted ? bsearch(&key, p->cg, p->ncg_sorted, sizeof(*p->cg), cg_cmp) : NULL;
}

static void cg_sort(struct ms_prom *p)
{
	qsort(p->cg, p->ncg, sizeof(*p->cg), cg_cmp);
	p->ncg_sorted = p->ncg;
}

/* The cgroup of pid from the cache, read and added when new (unsorted: the caller sorts
 * after adding, cg_sort; each pid is asked for once between two sorts); NULL on ENOMEM */
static struct cg *cg_get(struct ms_prom *p, pid_t pid, bool *added)
{
	struct cg *c = cg_find(p, pid);

	if (c)
		return c;
	if (p->ncg == p->cap_cg) {
		size_t cap = p->cap_cg ? p->cap_cg * 2 : 64;
		struct cg *v = realloc(p->cg, cap * sizeof(*v));

		if (!v)
			return NULL;
		p->cg = v;
		p->cap_cg = cap;
	}
	c = &p->cg[p->ncg++];
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->path = read_cgroup(p->proc_root, pid);
	if (c->path)
		container_of(c->path, c->container);
	*added = true;
	return c;
}

static void cg_drop(struct ms_prom *p, pid_t pid)
{
	struct cg *c = cg_find(p, pid);

	if (!c)
		return;
	free(c->path);
	memmove(c, c + 1, (p->cg + p->ncg - (c + 1)) * sizeof(*c));
	p->ncg--;
	p->ncg_sorted--;
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

/* A copy of p's figures; cgroup labels from c (may be NULL) */
static struct entry *entry_of(const struct ms_proc *p, const struct cg *c)
{
	struct entry *e = calloc(1, sizeof(*e));
	unsigned id;

	if (!e)
		return NULL;
	e->pid = p->pid;
	e->exited_at = -1;
	comm_label(p->comm, e->comm, sizeof(e->comm));
	e->c = p->c;
	if (c && c->path) {
		/* a cgroup's name is whoever made it's to choose: valid UTF-8 like a comm,
		 * or Prometheus refuses the whole scrape (a bad byte takes 3 out) */
		size_t len = strlen(c->path) * 3 + 1;

		e->cgroup = malloc(len);
		if (!e->cgroup)
			goto nomem;
		comm_label(c->path, e->cgroup, len);
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
	d->allocs += s->allocs;
	d->frees += s->frees;
	d->unmatched_frees += s->unmatched_frees;
	d->dead_frees += s->dead_frees;
	d->alloc_bytes += s->alloc_bytes;
	d->freed_bytes += s->freed_bytes;
	d->failed_allocs += s->failed_allocs;
	d->live_allocs += s->live_allocs;
	d->live_bytes += s->live_bytes;
	d->peak_bytes += s->peak_bytes;
}

/* Adds e's figures to the sum d (its comm is d's); -ENOMEM */
static int entry_add(struct entry *d, const struct entry *e)
{
	unsigned id, k;

	if (e->nalloc > d->nalloc) {
		struct ent_alloc *a = realloc(d->a, e->nalloc * sizeof(*a));

		if (!a)
			return -ENOMEM;
		memset(a + d->nalloc, 0, (e->nalloc - d->nalloc) * sizeof(*a));
		d->a = a;
		d->nalloc = e->nalloc;
	}
	counts_add(&d->c, &e->c);
	for (id = 1; id < e->nalloc; id++) {
		if (!e->a[id].used)
			continue;
		d->a[id].used = true;
		counts_add(&d->a[id].user, &e->a[id].user);
		counts_add(&d->a[id].backing, &e->a[id].backing);
		for (k = 0; k < MS_HIST_BUCKETS; k++)
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
	bool cg_added, nomem;
};

static void collect_one(struct ms_proc *proc, void *ctx)
{
	struct collect *c = ctx;
	struct cg *cg;
	struct entry *e;

	if ((!proc->active && !proc->listed) || proc->exited)
		return;
	c->nprocs++;
	if (c->nomem)
		return;
	cg = cg_get(c->p, proc->pid, &c->cg_added);
	if (cg)
		cg->seen = true;
	e = entry_of(proc, cg);
	if (!e || !has_allocator(e)) {
		c->nomem |= !e;
		entry_free(e);
		return;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct entry **v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			entry_free(e);
			c->nomem = true;
			return;
		}
		c->v = v;
		c->cap = cap;
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

			for (k = p->nbounds; a->used && k < MS_HIST_BUCKETS; k++)
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
	size_t i, k, n, nex, nagg = 0, len;
	char *text = NULL;
	int err = 0;

	for (i = 0; i < p->ncg; i++)
		p->cg[i].seen = false;
	ms_stats_for_each(s, collect_one, &c);
	if (c.cg_added)
		cg_sort(p);
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
	err = render(all, nex, agg, nagg, r, c.nprocs, p->nbounds, &text, &len);
	if (!err)
		publish(p, text, len);

	/* forget the cgroups of processes gone from the statistics */
	for (i = k = 0; i < p->ncg; i++) {
		if (p->cg[i].seen)
			p->cg[k++] = p->cg[i];
		else
			free(p->cg[i].path);
	}
	p->ncg = p->ncg_sorted = k;
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
	struct cg *c = cg_find(p, proc->pid), fresh = { .pid = proc->pid };
	struct entry *e;
	size_t i, k;

	if (!c) { /* started and ended between two updates: /proc may still have it */
		fresh.path = read_cgroup(p->proc_root, proc->pid);
		if (fresh.path)
			container_of(fresh.path, fresh.container);
		c = &fresh;
	}
	e = entry_of(proc, c);
	if (e)
		e->gone = true;
	free(fresh.path);
	cg_drop(p, proc->pid); /* the pid may come back as another process */
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
	if (p->ngone == p->cap_gone) {
		size_t cap = p->cap_gone ? p->cap_gone * 2 : 16;
		struct entry **v = realloc(p->gone, cap * sizeof(*v));

		if (!v) {
			entry_free(e);
			return;
		}
		p->gone = v;
		p->cap_gone = cap;
	}
	p->gone[p->ngone++] = e;
}

/* ---------------------------------------------------------------- HTTP */

/*
 * The server. libmicrohttpd parses and answers, run from a thread of ours on its epoll
 * set, so that the bounds it lacks are kept between its runs: its timeout is one of
 * inactivity, renewed by every byte received (a client sending a header line every few
 * seconds holds a connection for ever), and its limit per IP refuses a scraper that
 * shares an attacker's address (loopback). Here every connection has a slot with its
 * state and an absolute deadline; one past its deadline, or chosen to make room for a new
 * one, is shut down, and libmicrohttpd closes it on its next run. The callbacks are
 * called from MHD_run in that thread: the slots need no lock.
 */

enum conn_state {
	C_HEAD,	  /* its first request head is not complete */
	C_KEPT,	  /* kept alive after a response: the next request head is not complete */
	C_ANSWER, /* a request head is complete, its response is not sent yet */
};

/* A client: its address, IPv4-mapped IPv6 as IPv4 */
struct client {
	uint8_t a[16];
	uint8_t len; /* 4 or 16 */
};

struct conn {
	bool used;
	bool closing; /* shut down here, libmicrohttpd closes it: it counts no more */
	enum conn_state state;
	int fd;
	struct client from;
	uint64_t since;	   /* ms: when the state began */
	uint64_t deadline; /* ms: when the connection is shut down */
};

struct http {
	struct MHD_Daemon *mhd;
	struct ms_prom_http b;
	struct conn *conn; /* as many slots as libmicrohttpd's connection limit */
	unsigned nconn;
	int epoll_fd; /* libmicrohttpd's */
	int wake;     /* eventfd: ms_prom_free ends the thread */
	pthread_t thread;
	bool running;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void client_of(const struct sockaddr *sa, struct client *c)
{
	memset(c, 0, sizeof(*c));
	if (sa && sa->sa_family == AF_INET) {
		memcpy(c->a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		c->len = 4;
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		c->len = IN6_IS_ADDR_V4MAPPED(a6) ? 4 : 16;
		memcpy(c->a, a6->s6_addr + 16 - c->len, c->len);
	}
}

static bool same_client(const struct client *a, const struct client *b)
{
	return a->len == b->len && !memcmp(a->a, b->a, a->len);
}

static bool counted(const struct conn *x)
{
	return x->used && !x->closing;
}

/* The connections counted now from client c (NULL: from every client) */
static unsigned count_from(const struct http *h, const struct client *c)
{
	unsigned i, n = 0;

	for (i = 0; i < h->nconn; i++)
		n += counted(&h->conn[i]) && (!c || same_client(&h->conn[i].from, c));
	return n;
}

/* x enters state s now; its deadline is s's bound from now */
static void conn_enter(const struct http *h, struct conn *x, enum conn_state s)
{
	x->state = s;
	x->since = now_ms();
	x->deadline = x->since + (s == C_HEAD ? h->b.request_ms :
				  s == C_KEPT ? h->b.idle_ms :
						h->b.response_ms);
}

/* Shuts x down: libmicrohttpd sees the end of the stream on its next run and closes it */
static void conn_close(struct conn *x)
{
	shutdown(x->fd, SHUT_RDWR);
	x->closing = true;
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Which of two connections goes first to make room: one whose first request head is
 * incomplete (a slow or idle client, as slowloris holds them), then an idle kept-alive
 * one, then one being answered; the oldest in its state first */
static bool goes_first(const struct conn *a, const struct conn *b)
{
	if (a->state != b->state)
		return a->state < b->state;
	return a->since < b->since;
}

/* The connection to close for room: the first to go of client c's, or (c NULL) of the
 * connections of the clients that have the most. Cost: O(slots^2) */
static struct conn *first_to_go(struct http *h, const struct client *c)
{
	struct conn *v = NULL;
	unsigned i, n, most = 0;

	for (i = 0; !c && i < h->nconn; i++)
		if (counted(&h->conn[i]) && (n = count_from(h, &h->conn[i].from)) > most)
			most = n;
	for (i = 0; i < h->nconn; i++) {
		struct conn *x = &h->conn[i];

		if (!counted(x) || (c ? !same_client(&x->from, c) : count_from(h, &x->from) < most))
			continue;
		if (!v || goes_first(x, v))
			v = x;
	}
	return v;
}

/*
 * A new connection from sa, before libmicrohttpd takes it: always let in. At the limit per
 * client, the client's first to go is closed: a client cannot hold more, and a scraper
 * behind the same address as a flood of slow connections still gets in. At the total
 * limit, the first to go of the clients with the most connections is closed.
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct http *h = cls;
	struct conn *v = NULL;
	struct client c;

	client_of(sa, &c);
	if (count_from(h, &c) >= h->b.per_client)
		v = first_to_go(h, &c);
	else if (count_from(h, NULL) >= h->b.connections)
		v = first_to_go(h, NULL);
	if (v)
		conn_close(v);
	return MHD_YES;
}

/* A connection starts (a slot of its own, its request deadline) or ends */
static void on_connection(void *cls, struct MHD_Connection *mc, void **ctx,
			  enum MHD_ConnectionNotificationCode what)
{
	struct http *h = cls;
	const union MHD_ConnectionInfo *fd, *sa;
	struct conn *x = *ctx;
	unsigned i;

	if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (x)
			x->used = false;
		*ctx = NULL;
		return;
	}
	fd = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	sa = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	for (i = 0; i < h->nconn && h->conn[i].used; i++)
		;
	if (!fd)
		return;
	if (i == h->nconn || !sa) { /* never: libmicrohttpd holds no more than the slots */
		shutdown(fd->connect_fd, SHUT_RDWR);
		return;
	}
	x = &h->conn[i];
	*x = (struct conn){ .used = true, .fd = fd->connect_fd };
	client_of(sa->client_addr, &x->from);
	conn_enter(h, x, C_HEAD);
	*ctx = x;
}

/* A response is sent: the connection is kept alive for the next request (or closes) */
static void on_completed(void *cls, struct MHD_Connection *mc, void **req,
			 enum MHD_RequestTerminationCode why)
{
	struct conn *x = conn_of(mc);

	if (x && counted(x) && why == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		conn_enter(cls, x, C_KEPT);
}

/* Shuts down the connections past their deadline; returns the next deadline (UINT64_MAX:
 * none) */
static uint64_t enforce(struct http *h, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	unsigned i;

	for (i = 0; i < h->nconn; i++) {
		struct conn *x = &h->conn[i];

		if (!counted(x))
			continue;
		if (now >= x->deadline)
			conn_close(x);
		else if (x->deadline < next)
			next = x->deadline;
	}
	return next;
}

/* The server's thread: waits on libmicrohttpd's epoll set until its timeout or the next
 * deadline, runs it, keeps the deadlines; until ms_prom_free wakes it */
static void *serve(void *arg)
{
	struct http *h = arg;
	struct pollfd fds[2] = { { .fd = h->epoll_fd, .events = POLLIN },
				 { .fd = h->wake, .events = POLLIN } };

	for (;;) {
		MHD_UNSIGNED_LONG_LONG mhd_ms;
		uint64_t now = now_ms(), next = enforce(h, now);
		uint64_t wait = next == UINT64_MAX ? UINT64_MAX : next - now;
		int ms;

		if (MHD_get_timeout(h->mhd, &mhd_ms) == MHD_YES && mhd_ms < wait)
			wait = mhd_ms;
		ms = wait == UINT64_MAX ? -1 : wait > INT_MAX ? INT_MAX : (int)wait;
		if (poll(fds, 2, ms) < 0 && errno != EINTR)
			usleep(10000); /* ENOMEM: try again */
		if (fds[1].revents)
			break;
		MHD_run(h->mhd);
	}
	return NULL;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
			     bool allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static char head_seen; /* *req of a request whose head has been seen */

/*
 * GET or HEAD /metrics: a copy of the latest text; nothing else is read here. The first
 * call comes with the request head: the response's deadline starts, and an error is
 * answered at once (libmicrohttpd then closes the connection, unread body and all). 200 is
 * queued at the last call, after the body (none, or dropped): libmicrohttpd 0.9.75 closes a
 * connection whose response was queued with the head, and keep-alive needs it open.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	struct ms_prom *p = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	struct conn *x;

	if (!*req) {
		*req = &head_seen;
		x = conn_of(conn);
		if (x && counted(x))
			conn_enter(p->http, x, C_ANSWER);
		if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
			return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				     "only GET and HEAD /metrics\n", true);
		if (strcmp(url, "/metrics"))
			return reply(conn, MHD_HTTP_NOT_FOUND,
				     "not found: the metrics are at /metrics\n", false);
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&p->lock);
	resp = MHD_create_response_from_buffer(p->len, p->text, MHD_RESPMEM_MUST_COPY);
	pthread_mutex_unlock(&p->lock);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, MS_PROM_CONTENT_TYPE);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	fputs("memscope-bpf: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

int ms_prom_parse_addr(const char *text, struct sockaddr_storage *sa, socklen_t *len, char *err,
		       size_t errlen)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	char host[INET6_ADDRSTRLEN + 8];
	const char *colon, *port;
	uint16_t pnum;
	size_t hl;

	memset(sa, 0, sizeof(*sa));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			goto bad;
		hl = close - text - 1;
		port = close + 2;
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, text + 1, hl);
		host[hl] = '\0';
		if (parse_port(port, &pnum) || inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(pnum);
		*len = sizeof(*in6);
		return 0;
	}
	colon = strrchr(text, ':');
	hl = colon ? (size_t)(colon - text) : 0;
	port = colon ? colon + 1 : text;
	if (hl >= sizeof(host) || (colon && memchr(text, ':', hl)))
		goto bad; /* an IPv6 address needs its brackets */
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (!hl || !strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (parse_port(port, &pnum) || inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		goto bad;
	in4->sin_family = AF_INET;
	in4->sin_port = htons(pnum);
	*len = sizeof(*in4);
	return 0;
bad:
	snprintf(err, errlen,
		 "invalid --prometheus '%s': ADDR:PORT, e.g. 127.0.0.1:9464, :9464 (loopback), "
		 "0.0.0.0:9464 or [::1]:9464",
		 text);
	return -EINVAL;
}

/* A bound, listening socket for sa; -errno */
static int listen_on(const struct sockaddr_storage *sa, socklen_t len)
{
	int fd, one = 1, err;

	fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, len) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

/* Stops the server's thread and libmicrohttpd (which closes the listening socket) */
static void http_free(struct http *h)
{
	uint64_t one = 1;

	if (!h)
		return;
	if (h->running && write(h->wake, &one, sizeof(one)) == sizeof(one))
		pthread_join(h->thread, NULL);
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	if (h->wake >= 0)
		close(h->wake);
	free(h->conn);
	free(h);
}

/* The server on the listening socket fd (which it owns from then on, even on failure);
 * -errno */
static int http_start(struct ms_prom *p, int fd)
{
	const union MHD_DaemonInfo *di;
	unsigned longest;
	sigset_t all, old;
	struct http *h;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->wake = -1;
	h->b.connections = or_default(p->o.http.connections, MS_PROM_HTTP_CONNECTIONS);
	h->b.per_client = or_default(p->o.http.per_client, MS_PROM_HTTP_PER_CLIENT);
	h->b.request_ms = or_default(p->o.http.request_ms, MS_PROM_HTTP_REQUEST_MS);
	h->b.response_ms = or_default(p->o.http.response_ms, MS_PROM_HTTP_RESPONSE_MS);
	h->b.idle_ms = or_default(p->o.http.idle_ms, MS_PROM_HTTP_IDLE_MS);
	/* room for the connections shut down here until libmicrohttpd's next run closes them;
	 * at its limit, libmicrohttpd leaves new ones in the listen queue until then */
	h->nconn = 2 * h->b.connections;
	h->conn = calloc(h->nconn, sizeof(*h->conn));
	longest = h->b.request_ms > h->b.idle_ms ? h->b.request_ms : h->b.idle_ms;
	longest = longest > h->b.response_ms ? longest : h->b.response_ms;
	if (h->conn)
		/* its inactivity timeout only backs the deadlines up */
		h->mhd = MHD_start_daemon(MHD_USE_EPOLL | (p->o.verbose ? MHD_USE_ERROR_LOG : 0), 0,
					  on_accept, h, on_request, p, MHD_OPTION_EXTERNAL_LOGGER,
					  on_mhd_log, p, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
					  MHD_OPTION_CONNECTION_LIMIT, h->nconn,
					  MHD_OPTION_CONNECTION_TIMEOUT, longest / 1000 + 1,
					  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY,
					  MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
					  MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
					  MHD_OPTION_END);
	if (!h->mhd) {
		err = h->conn ? -EIO : -ENOMEM;
		close(fd);
		http_free(h);
		return err;
	}
	p->http = h;
	di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	h->epoll_fd = di ? di->epoll_fd : -1;
	h->wake = eventfd(0, EFD_CLOEXEC);
	if (h->epoll_fd < 0 || h->wake < 0)
		return h->wake < 0 ? -errno : -EIO;
	/* the server's thread takes no signal: Ctrl-C stays the daemon's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&h->thread, NULL, serve, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	h->running = !err;
	return -err;
}

static int start_http(struct ms_prom *p, const char *addr_port)
{
	struct sockaddr_storage sa, bound;
	socklen_t len, blen = sizeof(bound);
	char err[256], host[INET6_ADDRSTRLEN];
	unsigned port;
	int fd;

	if (ms_prom_parse_addr(addr_port, &sa, &len, err, sizeof(err)))
		return -EINVAL;
	fd = listen_on(&sa, len);
	if (fd < 0)
		return fd;
	getsockname(fd, (struct sockaddr *)&bound, &blen);
	if (bound.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&bound)->sin6_addr, host,
			  sizeof(host));
		port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
		snprintf(p->url, sizeof(p->url), "http://[%s]:%u/metrics", host, port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&bound)->sin_addr, host, sizeof(host));
		port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
		snprintf(p->url, sizeof(p->url), "http://%s:%u/metrics", host, port);
	}
	return http_start(p, fd);
}

struct ms_prom *ms_prom_new(const char *addr_port, const struct ms_prom_opts *o)
{
	struct ms_prom *p = calloc(1, sizeof(*p));
	struct ms_report zero = { 0 };
	char *text;
	size_t len;
	int err;

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	if (o)
		p->o = *o;
	else {
		p->o.max_processes = MS_PROM_DEFAULT_MAX_PROCESSES;
		p->o.grace_s = MS_PROM_DEFAULT_GRACE;
	}
	snprintf(p->proc_root, sizeof(p->proc_root), "%s",
		 p->o.proc_root ? p->o.proc_root : "/proc");
	p->o.proc_root = p->proc_root;
	/* scrapes before the first update see the tracer's families, no process */
	err = render(NULL, 0, NULL, 0, &zero, 0, 0, &text, &len);
	if (err)
		goto fail;
	publish(p, text, len);
	if (addr_port) {
		err = start_http(p, addr_port);
		if (err)
			goto fail;
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
	http_free(p->http);
	for (i = 0; i < p->ncg; i++)
		free(p->cg[i].path);
	free(p->cg);
	for (i = 0; i < p->ngone; i++)
		entry_free(p->gone[i]);
	free(p->gone);
	free(p->text);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
