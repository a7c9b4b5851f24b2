/* pprofs.c: the run's heap profiles (pprof.c's format): a snapshot of every process' sites
 * at each record, written to --pprof at the end and to --pprof-dir at each record, and
 * served at /debug/pprof/heap and /debug/pprof/allocs on --prometheus' server */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "catalog.h"
#include "clock.h"
#include "outfile.h"
#include "pprofs.h"
#include "symcache.h"
#include "utf8.h"

struct ms_pprofs {
	struct ms_tracer *t;
	pthread_mutex_t lock;  /* guards last: the server's thread reads it */
	struct ms_pprof *last; /* the snapshot of the last record */
	bool serve;	       /* the endpoints are on */
	bool dir_failed;       /* --pprof-dir: a write failed (said once) */
	uint64_t dir_ms;       /* --pprof-dir: the millisecond the last record's files name */
};

/* ---------------------------------------------------------------- frames */

static unsigned site_addrs(pid_t pid, const struct ms_stack_site *s, uint64_t *ips, unsigned max,
			   void *ctx)
{
	struct ms_tracer *t = ctx;

	return ms_output_site_addrs(&t->out, s, ips, max);
}

static int frames_at(pid_t pid, uint64_t addr, char (*frames)[MS_PPROF_FRAME_LEN], unsigned max,
		     void *ctx)
{
	struct ms_tracer *t = ctx;

	return t->syms ? ms_symcache_frames_path(pid, addr, frames, max, t->syms) : -ENOENT;
}

static int mapping_at(pid_t pid, uint64_t addr, struct ms_symcache_mapping *m, void *ctx)
{
	struct ms_tracer *t = ctx;

	return t->syms ? ms_symcache_mapping(pid, addr, m, t->syms) : -ENOENT;
}

static unsigned site_names(pid_t pid, const struct ms_stack_site *s,
			   char (*frames)[MS_PPROF_FRAME_LEN], unsigned max, void *ctx)
{
	static char names[256][128]; /* as recorded: by file name */
	struct ms_tracer *t = ctx;
	unsigned n, k;

	if (!t->out.recorded_frames)
		return 0;
	n = t->out.recorded_frames(pid, s, names, max < 256 ? max : 256, t->out.recorded_ctx);
	for (k = 0; k < n; k++)
		memcpy(frames[k], names[k], sizeof(names[k])); /* terminated: recorded so */
	return n;
}

static const char *allocator_name(unsigned id, void *ctx)
{
	const struct ms_allocator *a = ms_catalog_allocator(ctx, id);

	return a ? a->name : "";
}

struct add_ctx {
	struct ms_pprofs *pp;
	struct ms_pprof *snap;
	int err;
};

static void add_proc(struct ms_proc *p, void *arg)
{
	static const struct ms_pprof_frames frames = {
		.addrs = site_addrs,
		.frames_of = frames_at,
		.mapping = mapping_at,
		.names = site_names,
	};
	struct add_ctx *c = arg;
	struct ms_pprof_frames f = frames;
	struct ms_pprof_proc pp = {
		.pid = p->pid,
		.comm = p->comm,
		.sites = p->stack_sites,
		.allocator_name = allocator_name,
		.allocator_ctx = c->pp->t->cat,
	};

	if (!p->stack_sites || c->err || (!p->active && !p->listed))
		return;
	f.ctx = c->pp->t;
	c->err = ms_pprof_add(c->snap, &pp, &f);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---------------------------------------------------------------- the endpoints */

static char *text(const char *s, size_t *len)
{
	char *b = strdup(s);

	*len = b ? strlen(b) : 0;
	return b;
}

/*
 * GET /debug/pprof/heap (default_sample_type inuse_space) or /debug/pprof/allocs
 * (alloc_space), as Go's net/http/pprof serves them: every process, or ?pid=N, ?comm=NAME;
 * debug=0 (the binary profile, the default) only; seconds (a delta profile) is not served.
 */
static unsigned serve(struct ms_pprofs *pp, bool allocs, const struct ms_httpd_request *req,
		      char **body, size_t *len, const char **type)
{
	struct ms_pprof_filter f = { 0 };
	const char *pid = ms_httpd_arg(req, "pid"), *debug = ms_httpd_arg(req, "debug");
	struct ms_pprof *s;
	char *end;
	long v;
	int err;

	if (pid) {
		errno = 0;
		v = strtol(pid, &end, 10);
		if (errno || end == pid || *end || v <= 0 || v > 0x3fffffff) {
			*body = text("bad pid: a process id is a positive number\n", len);
			return 400;
		}
		f.pid = (pid_t)v;
	}
	f.comm = ms_httpd_arg(req, "comm");
	if (f.comm && !f.comm[0]) {
		*body = text("bad comm: a process name, as in the records' comm\n", len);
		return 400;
	}
	if (debug && strcmp(debug, "0")) {
		*body = text("debug: only debug=0, the binary profile, is served\n", len);
		return 400;
	}
	if (ms_httpd_arg(req, "seconds")) {
		*body = text("seconds: delta profiles are not served; take two profiles and "
			     "compare them (pprof -diff_base)\n",
			     len);
		return 400;
	}
	pthread_mutex_lock(&pp->lock);
	s = pp->last ? ms_pprof_ref(pp->last) : NULL;
	pthread_mutex_unlock(&pp->lock);
	if ((f.pid || f.comm) && (!s || !ms_pprof_has(s, &f))) {
		ms_pprof_unref(s);
		*body = text("no such process: none traced has sites with that pid or comm\n", len);
		return 404;
	}
	if (!s)
		s = ms_pprof_new(realtime_ns(), 0, pp->t->stats.sample_bytes);
	err = s ? ms_pprof_encode(s, f.pid || f.comm ? &f : NULL, allocs, (uint8_t **)body, len) :
		  -ENOMEM;
	ms_pprof_unref(s);
	if (err) {
		*body = text("out of memory\n", len);
		return 500;
	}
	*type = MS_PPROF_CONTENT_TYPE;
	return 200;
}

static unsigned serve_heap(void *ctx, const struct ms_httpd_request *req, char **body, size_t *len,
			   const char **type)
{
	return serve(ctx, false, req, body, len, type);
}

static unsigned serve_allocs(void *ctx, const struct ms_httpd_request *req, char **body,
			     size_t *len, const char **type)
{
	return serve(ctx, true, req, body, len, type);
}

/* ---------------------------------------------------------------- the run */

struct ms_pprofs *ms_pprofs_new(struct ms_tracer *t, struct ms_prom_opts *po)
{
	const struct ms_env *env = t->env;
	struct ms_pprofs *pp;

	errno = 0;
	if (!env->pprof && !env->pprof_dir && !(env->prometheus && env->stacks))
		return NULL;
	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return NULL;
	pp->t = t;
	pthread_mutex_init(&pp->lock, NULL);
	if (po && env->prometheus && env->stacks) {
		pp->serve = true;
		po->extra[0] = (struct ms_prom_handler){ "/debug/pprof/heap",
							 "heap profiles at /debug/pprof/heap",
							 serve_heap, pp };
		po->extra[1] = (struct ms_prom_handler){ "/debug/pprof/allocs",
							 "/debug/pprof/allocs", serve_allocs, pp };
		po->nextra = 2;
	}
	return pp;
}

/* The profile of snapshot s that f keeps, written to path (a new file, never through a
 * link another user planted): 0 or -errno */
static int write_profile(const char *path, const struct ms_pprof *s,
			 const struct ms_pprof_filter *f)
{
	uint8_t *buf;
	size_t len;
	FILE *out;
	int err = ms_pprof_encode(s, f, false, &buf, &len);

	if (err)
		return err;
	out = ms_outfile_fopen(path, false);
	if (!out) {
		err = -errno;
		free(buf);
		return err;
	}
	if (fwrite(buf, 1, len, out) != len)
		err = -EIO;
	if (fclose(out) && !err)
		err = -EIO;
	free(buf);
	return err;
}

/* DIR/PID-COMM-TIMESTAMP.pb.gz: the process' profile of snapshot s */
static int write_dir(struct ms_pprofs *pp, struct ms_pprof *s, const struct ms_proc *p,
		     uint64_t now_ns)
{
	struct ms_pprof_filter f = { .pid = p->pid };
	char path[4096], comm[MS_COMM_LEN + 1], stamp[32];
	time_t secs = now_ns / 1000000000ULL;
	struct tm tm;
	size_t i;

	if (!ms_pprof_has(s, &f))
		return 0;
	ms_utf8_clean(p->comm, comm, sizeof(comm), 0);
	for (i = 0; comm[i]; i++)
		if (comm[i] == '/' || comm[i] == ' ' || comm[i] == '.' ||
		    (unsigned char)comm[i] < 32)
			comm[i] = '_';
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	snprintf(path, sizeof(path), "%s/%d-%s-%s.%03uZ.pb.gz", pp->t->env->pprof_dir, (int)p->pid,
		 comm, stamp, (unsigned)(now_ns / 1000000 % 1000));
	return write_profile(path, s, &f);
}

struct dir_ctx {
	struct ms_pprofs *pp;
	struct ms_pprof *s;
	uint64_t now;
	int err;
};

static void dir_proc(struct ms_proc *p, void *arg)
{
	struct dir_ctx *c = arg;

	if (!c->err && p->stack_sites && (p->active || p->listed))
		c->err = write_dir(c->pp, c->s, p, c->now);
}

int ms_pprofs_report(struct ms_pprofs *pp)
{
	struct ms_tracer *t;
	struct add_ctx c;
	struct ms_pprof *old;
	uint64_t now;

	if (!pp)
		return 0;
	t = pp->t;
	now = realtime_ns();
	c = (struct add_ctx){
		pp,
		ms_pprof_new(now, ((t->replaying ? t->replay_now : ms_now_s()) - t->t0) * 1e9,
			     t->stats.sample_bytes),
		0
	};
	if (!c.snap)
		return -ENOMEM;
	ms_stats_for_each(&t->stats, add_proc, &c);
	if (c.err) {
		ms_pprof_unref(c.snap);
		return c.err;
	}
	if (t->env->pprof_dir && !pp->dir_failed) {
		/* names a millisecond apart at least: two records close together (an interval
		 * record, then the final one at once) never write the same file */
		uint64_t ms = now / 1000000 > pp->dir_ms ? now / 1000000 : pp->dir_ms + 1;
		struct dir_ctx d = { pp, c.snap, ms * 1000000, 0 };

		pp->dir_ms = ms;

		ms_stats_for_each(&t->stats, dir_proc, &d);
		if (d.err) {
			pp->dir_failed = true;
			fprintf(stderr,
				"memscope-bpf: cannot write a profile into %s: %s; no more are "
				"written there\n",
				t->env->pprof_dir, strerror(-d.err));
		}
	}
	pthread_mutex_lock(&pp->lock);
	old = pp->last;
	pp->last = c.snap;
	pthread_mutex_unlock(&pp->lock);
	ms_pprof_unref(old);
	return 0;
}

int ms_pprofs_end(struct ms_pprofs *pp)
{
	const char *path;
	struct ms_pprof *s;
	int err;

	if (!pp || !pp->t->env->pprof)
		return 0;
	path = pp->t->env->pprof;
	pthread_mutex_lock(&pp->lock);
	s = pp->last ? ms_pprof_ref(pp->last) : NULL;
	pthread_mutex_unlock(&pp->lock);
	if (!s)
		s = ms_pprof_new(realtime_ns(), 0, pp->t->stats.sample_bytes);
	err = s ? write_profile(path, s, NULL) : -ENOMEM;
	ms_pprof_unref(s);
	if (err)
		fprintf(stderr, "memscope-bpf: cannot write %s: %s\n", path, strerror(-err));
	return err;
}

void ms_pprofs_free(struct ms_pprofs *pp)
{
	if (!pp)
		return;
	ms_pprof_unref(pp->last);
	pthread_mutex_destroy(&pp->lock);
	free(pp);
}
