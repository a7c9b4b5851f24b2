/* report.c: what is said of the statistics: interval, exit, final and leak records on
 * stdout, the metrics, the folded stacks; and the replay of a recording through them */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "catalog.h"
#include "clock.h"
#include "memscope.skel.h"
#include "outfile.h"
#include "prom.h"
#include "record.h"
#include "html.h"
#include "inproc.h"
#include "pprofs.h"
#include "report.h"
#include "symcache.h"
#include "targets.h"
#include "tracer.h"
#include "unwind.h"
#include "vec.h"

/* The tracer's clock: monotonic time, or the recorded time of a replay */
static double clock_of(const struct ms_tracer *t)
{
	return t->replaying ? t->replay_now : ms_now_s();
}

struct check_ctx {
	struct ms_tracer *t;
	pid_t pid;
};

static unsigned site_frames(const struct ms_stack_site *s, uint64_t *ips, unsigned max, void *ctx)
{
	struct check_ctx *c = ctx;

	return ms_stackmap_frames(&c->t->stackmap, s->stack_id, s->caller, ips, max);
}

static int site_code(uint64_t addr, void *ctx)
{
	struct check_ctx *c = ctx;

	return ms_symcache_code(c->pid, addr, c->t->syms);
}

static int site_start(uint64_t addr, void *ctx)
{
	struct check_ctx *c = ctx;

	return ms_symcache_start(c->pid, addr, c->t->syms);
}

/* --stacks: the frames of p's new sites checked before anything shows them (sites.h) */
static void check_stacks(struct ms_proc *p, void *ctx)
{
	static const struct ms_frame_ops ops = {
		.frames = site_frames,
		.code = site_code,
		.start = site_start,
	};
	struct check_ctx c = { ctx, p->pid };

	if (p->stack_sites && c.t->syms && c.t->env->stacks)
		ms_sites_check(p->stack_sites, &ops, &c);
}

static void fill_comm(struct ms_proc *p, void *ctx)
{
	struct ms_tracer *t = ctx;

	char comm[MS_COMM_LEN + 1];
	uint64_t start;

	if (t->replaying)
		return;
	/* a process that renamed itself (prctl PR_SET_NAME in its leader) is shown under its
	 * new name, once it is sure the pid is still that process */
	if (!p->exited && (p->active || p->listed || !p->comm[0]) &&
	    !ms_proc_ident(p->pid, comm, &start) && (!p->start_ticks || p->start_ticks == start)) {
		p->start_ticks = start;
		if (strcmp(comm, p->comm)) {
			memcpy(p->comm, comm, sizeof(p->comm));
			p->comm_recorded = false;
		}
	}
	if (!p->comm[0])
		snprintf(p->comm, sizeof(p->comm), "?");
	if (t->rec && !p->comm_recorded) {
		ms_recorder_comm(t->rec, p->pid, p->comm, 0);
		p->comm_recorded = true;
	}
}

/* Sums the per-CPU loss counters of the BPF programs into t->lost_by */
static void read_counters(struct ms_tracer *t)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(t->skel->maps.ms_counters);
	__u64 v[ncpu > 0 ? ncpu : 1];
	__u32 k;
	int c;

	for (k = 0; k < MS_CNT_MAX && ncpu > 0; k++) {
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		t->lost_by[k] = 0;
		for (c = 0; c < ncpu; c++)
			t->lost_by[k] += v[c];
	}
	if (t->inproc) {
		/* the in-process rings' losses are the same causes': a record with no room, a
		 * thread with no ring (the BPF programs: no per-thread call stack), a stack the
		 * table had no room for or the walk missed */
		struct ms_inproc_lost l;

		ms_inproc_lost(t->inproc, &l);
		t->lost_by[MS_CNT_RINGBUF_FULL] += l.ring_full;
		t->lost_by[MS_CNT_THREADS_FULL] += l.no_ring;
		t->lost_by[MS_CNT_STACK_FULL] += l.stacks;
		t->inproc_untracked = l.no_proc + l.unnamed;
	}
	if (t->rec)
		ms_recorder_lost(t->rec, t->lost_by);
}

/* What a record of kind says about the tracer. Rates cover the time since the last
 * report, but a final record's cover the whole run (see rates_from_start) */
static void report_of(struct ms_tracer *t, struct ms_report *r, enum ms_record_kind kind)
{
	double now = clock_of(t);
	bool whole = kind == MS_REC_FINAL;

	memset(r, 0, sizeof(*r));
	r->ts = now - t->t0;
	r->interval_s = now - (whole ? t->t0 : t->last_report);
	r->events = t->stats.events;
	r->events_per_s =
		r->interval_s > 0 ? (r->events - (whole ? 0 : t->last_events)) / r->interval_s : 0;
	r->untraced_children = t->untraced_children;
	memcpy(r->lost_by, t->lost_by, sizeof(r->lost_by));
	r->untracked = t->stats.oom + t->inproc_untracked;
	r->tracked_blocks = t->stats.blocks;
	r->tracked_blocks_peak = t->stats.blocks_peak;
	r->missed_frees = t->stats.missed_frees;
	r->late = t->rings.merge.late;
	r->lost = r->lost_by[MS_CNT_RINGBUF_FULL] + r->lost_by[MS_CNT_THREADS_FULL] +
		  r->lost_by[MS_CNT_DEPTH] + r->lost_by[MS_CNT_STALE_FRAME] + r->untracked +
		  r->missed_frees + r->late;
}

static void check_stdout(struct ms_tracer *t)
{
	if (ferror(t->out.f) && !t->stdout_gone) {
		t->stdout_gone = true; /* e.g. a pipe into head closed: detach and stop */
		t->stop = true;
	}
}

static void mark_one(struct ms_proc *p, void *ctx)
{
	ms_stats_mark(p);
}

/* The final record's rates are averages over the whole run, not over the sliver of
 * time since the last interval record: counted from no calls at the start */
static void rates_from_start(struct ms_proc *p, void *ctx)
{
	unsigned i;

	memset(&p->last, 0, sizeof(p->last));
	for (i = 0; i < p->nalloc; i++)
		memset(&p->alloc[i].last, 0, sizeof(p->alloc[i].last));
}

#define PAGE_SAMPLE 256 /* live blocks whose pages are looked up per process and report */

/* --numa-pages: where the pages of a sample of p's live blocks are */
static void sample_pages(struct ms_proc *p, void *ctx)
{
	uint64_t addrs[PAGE_SAMPLE], sizes[PAGE_SAMPLE];
	int alloc_node[PAGE_SAMPLE], where[PAGE_SAMPLE];
	struct ms_page_sample *ps = &p->pages;
	size_t n = 0, i, visited = 0, entries = 0;
	const struct ms_block *b;
	unsigned a;

	(void)ctx;
	if (p->exited)
		return;
	for (a = 0; a < p->nalloc; a++)
		entries += p->alloc[a].user.live.used;
	memset(ps, 0, offsetof(struct ms_page_sample, cursor));
	/* the user sides' tables one after the other, from where the last sample stopped:
	 * the cursor's allocator, then its position in that table */
	for (a = ps->cursor_alloc; entries && visited < entries && n < PAGE_SAMPLE;) {
		if (a >= p->nalloc) {
			a = 0;
			ps->cursor = 0;
			continue;
		}
		b = ms_livetab_iter(&p->alloc[a].user.live, &ps->cursor);
		if (!b) {
			a++;
			continue;
		}
		visited++;
		if (ms_block_dead(b))
			continue;
		addrs[n] = b->addr;
		sizes[n] = ms_block_size(b);
		alloc_node[n] = ms_block_node(b);
		n++;
	}
	ps->cursor_alloc = a;
	if (!n || ms_numa_page_nodes(p->pid, addrs, n, where))
		return;
	for (i = 0; i < n; i++) {
		if (where[i] < 0) {
			ps->not_present++;
			continue;
		}
		ps->blocks++;
		ps->bytes += sizes[i];
		if (where[i] != alloc_node[i])
			ps->remote_bytes += sizes[i];
	}
}

void ms_report(struct ms_tracer *t, enum ms_record_kind kind)
{
	struct ms_report r;

	if (!t->replaying) {
		read_counters(t);
		if (ms_numa_refresh(&t->numa) && t->env->verbose)
			fprintf(stderr,
				"memscope-bpf: CPUs came online or went offline: "
				"%u NUMA node(s) now\n",
				t->numa.present);
		if (t->env->numa_pages)
			ms_stats_for_each(&t->stats, sample_pages, t);
	}
	if (kind == MS_REC_FINAL)
		ms_stats_for_each(&t->stats, rates_from_start, NULL);
	report_of(t, &r, kind);
	ms_stats_for_each(&t->stats, fill_comm, t);
	ms_stats_for_each(&t->stats, check_stacks, t);
	if (t->hooks && t->hooks->report)
		t->hooks->report(&t->stats, t->cat, t->hooks->ctx);
	if (!t->env->quiet)
		ms_output_report(&t->out, kind, &r, &t->stats);
	ms_html_report(t->html, &t->out, kind, &r, &t->stats);
	if (t->prom && ms_prom_update(t->prom, &t->stats, &r))
		fprintf(stderr, "memscope-bpf: cannot update the metrics: out of memory\n");
	if (t->pprofs && ms_pprofs_report(t->pprofs))
		fprintf(stderr, "memscope-bpf: cannot take the heap profile: out of memory\n");
	ms_stats_for_each(&t->stats, mark_one, NULL);
	if (t->stats.capped && !t->cap_warned) {
		t->cap_warned = true;
		fprintf(stderr,
			"memscope-bpf: a cap was reached (--max-live %lu blocks or "
			"--max-processes %lu): calls are still counted, further blocks or "
			"processes are not tracked (see \"untracked\")\n",
			t->env->max_live, t->env->max_procs);
	}
	if (r.lost_by[MS_CNT_RINGBUF_FULL] > t->warned_lost) {
		fprintf(stderr,
			"memscope-bpf: %" PRIu64 " records dropped; consider increasing "
			"--ringbuf-size\n",
			r.lost_by[MS_CNT_RINGBUF_FULL] - t->warned_lost);
		t->warned_lost = r.lost_by[MS_CNT_RINGBUF_FULL];
	}
	t->last_report = clock_of(t);
	t->last_events = t->stats.events;
	check_stdout(t);
}

/* The age a block must have to count as leaked now: --min-age, or 0 at the end of a run
 * shorter than that (a two-second program's leaks are the blocks it left live); the age
 * asked in *lowered_from when lowered, else 0 */
static double leak_min_age(const struct ms_tracer *t, bool at_end, double *lowered_from)
{
	double run_s = clock_of(t) - t->t0;

	*lowered_from = 0;
	if (at_end && run_s < t->env->min_age) {
		*lowered_from = t->env->min_age;
		return 0;
	}
	return t->env->min_age;
}

/* The leak report: sites of blocks older than --min-age */
void ms_report_leaks(struct ms_tracer *t, bool at_end)
{
	struct ms_report r;
	double min_age;
	uint64_t now_ns;

	if (!t->stats.sites) {
		fprintf(stderr,
			"memscope-bpf: %s was recorded without --stacks: it has no sites "
			"for a leak report\n",
			t->env->replay);
		return;
	}
	report_of(t, &r, MS_REC_LEAKS);
	min_age = leak_min_age(t, at_end, &r.min_age_lowered_from);
	ms_stats_for_each(&t->stats, fill_comm, t);
	ms_stats_for_each(&t->stats, check_stacks, t);
	now_ns = clock_of(t) * 1e9; /* one moment for the printed report and the page's */
	ms_output_leaks(&t->out, &r, &t->stats, now_ns, min_age * 1e9);
	ms_html_leaks(t->html, &t->out, &r, &t->stats, now_ns, min_age * 1e9);
	check_stdout(t);
}

void ms_report_on_end(struct ms_proc *p, enum ms_end_reason why, void *ctx)
{
	struct ms_tracer *t = ctx;
	struct ms_report r;

	report_of(t, &r, MS_REC_EXIT);
	check_stacks(p, t);
	if (!t->env->quiet)
		ms_output_end(&t->out, &r, &t->stats, p, why);
	ms_html_end(t->html, &t->out, &r, &t->stats, p, why);
	if (t->prom)
		ms_prom_process_exited(t->prom, p);
	if (t->syms && !p->pinned)
		ms_symcache_forget(t->syms, p->pid);
	if (t->unwind && why == MS_END_EXIT)
		ms_unwind_forget(t->unwind, p->pid);
	check_stdout(t);
}

static void replay_event(const struct ms_event *e, void *ctx)
{
	struct ms_tracer *t = ctx;
	double ts = e->ts_ns / 1e9;

	if (!t->stats.events && t->t0 == 0) {
		/* a recording with stacks has its sites' frames: shown as the live run did */
		t->stats.sites = t->out.sites = t->stacks =
			t->replay_info && (t->replay_info->flags & MS_RECORD_STACKS);
		t->stats.sample_bytes = t->replay_info ? t->replay_info->sample_bytes : 0;
		t->t0 = t->last_report = ts;
		t->replay_next = ts + t->env->interval;
	}
	/* interval records at the recorded times, a long quiet gap shown as one, and an
	 * interval with fewer records than the record would hold figures merged into the
	 * next: the output grows with the records read, not with the recorded time */
	if (ts >= t->replay_next && ms_stats_worth_report(&t->stats, t->last_events)) {
		/* at the boundary, or at the last record of the intervals merged */
		if (t->replay_now < t->replay_next)
			t->replay_now = t->replay_next;
		ms_report(t, MS_REC_INTERVAL);
		t->replay_next += t->env->interval;
		if (ts >= t->replay_next)
			t->replay_next = ts + t->env->interval;
	}
	t->replay_now = ts;
	if (t->hooks && t->hooks->event)
		t->hooks->event(e, t->cat, t->hooks->ctx);
	ms_stats_apply(&t->stats, e);
}

static void replay_comm(pid_t pid, const char *comm, uint32_t flags, void *ctx)
{
	struct ms_tracer *t = ctx;
	struct ms_proc *p = ms_stats_proc(&t->stats, pid, true);

	if (!p)
		return;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->listed |= !!(flags & MS_PROC_LISTED);
	p->pinned |= !!(flags & MS_PROC_PINNED);
}

/* --folded FILE, at the end: 0 or -EIO */
static int write_folded(struct ms_tracer *t)
{
	const struct ms_env *env = t->env;
	double lowered_from, min_age = leak_min_age(t, true, &lowered_from);
	int err = 0, werr;

	ms_stats_for_each(&t->stats, check_stacks, t);
	werr = ms_output_folded(&t->out, t->folded, &t->stats, env->folded_what, env->folded_count,
				env->folded_lines, clock_of(t) * 1e9, min_age * 1e9);
	if (fclose(t->folded) || werr) {
		fprintf(stderr, "memscope-bpf: cannot write %s: %s\n", env->folded,
			strerror(werr ? -werr : errno));
		err = -EIO;
	}
	t->folded = NULL;
	return err;
}

/* --replay: the frames of each stack site as the recording has them, by (pid, stack id,
 * caller); a later site frame of the same key (a pid reused) replaces the earlier */
struct ms_recorded_sites {
	struct recorded_site {
		unsigned n;
		char (*frames)[MS_RECORD_FRAME_LEN];
	} * v;
	size_t n, cap;
	struct ms_keyidx index;
};

static uint64_t site_key(pid_t pid, int32_t stack_id)
{
	return (uint64_t)(uint32_t)pid << 32 | (uint32_t)stack_id;
}

static void replay_site(pid_t pid, int32_t stack_id, uint64_t caller, bool truncated,
			const char (*frames)[MS_RECORD_FRAME_LEN], unsigned n, void *ctx)
{
	struct ms_tracer *t = ctx;
	struct ms_recorded_sites *rs = t->recorded;
	struct recorded_site *r;
	struct ms_proc *p;
	struct ms_stack_site *s;
	bool room;
	long i;

	if (!rs && !(rs = t->recorded = calloc(1, sizeof(*rs))))
		return;
	room = !MS_VEC_RESERVE(rs->v, rs->cap, rs->n + 1);
	i = ms_keyidx_get(&rs->index, caller, site_key(pid, stack_id), room);
	if (i < 0)
		return;
	if ((size_t)i == rs->n)
		rs->n++;
	r = &rs->v[i];
	free(r->frames);
	r->frames = n ? malloc(n * sizeof(*r->frames)) : NULL;
	r->n = r->frames ? n : 0;
	if (r->frames)
		memcpy(r->frames, frames, n * sizeof(*r->frames));
	p = ms_stats_proc(&t->stats, pid, false);
	s = p && p->stack_sites ? ms_sites_find(p->stack_sites, stack_id, caller) : NULL;
	if (s)
		ms_sites_set_checked(p->stack_sites, s, truncated);
}

static unsigned recorded_frames(pid_t pid, const struct ms_stack_site *s, char (*frames)[128],
				unsigned max, void *ctx)
{
	struct ms_recorded_sites *rs = ((struct ms_tracer *)ctx)->recorded;
	long i = rs ? ms_keyidx_get(&rs->index, s->caller, site_key(pid, s->stack_id), false) : -1;
	unsigned n, k;

	if (i < 0)
		return 0;
	n = rs->v[i].n < max ? rs->v[i].n : max;
	for (k = 0; k < n; k++)
		snprintf(frames[k], 128, "%s", rs->v[i].frames[k]);
	return n;
}

static void recorded_free(struct ms_recorded_sites *rs)
{
	size_t i;

	if (!rs)
		return;
	for (i = 0; i < rs->n; i++)
		free(rs->v[i].frames);
	free(rs->v);
	ms_keyidx_free(&rs->index);
	free(rs);
}

static void replay_lost(const uint64_t lost_by[MS_CNT_MAX], void *ctx)
{
	struct ms_tracer *t = ctx;

	memcpy(t->lost_by, lost_by, sizeof(t->lost_by));
}

/* --replay: the recorded stream through the same statistics and output */
/* A replay that cannot go on: what it holds freed, its exit status */
static int replay_failed(struct ms_tracer *t)
{
	ms_pprofs_free(t->pprofs);
	ms_html_free(t->html);
	ms_stats_free(&t->stats);
	ms_catalog_free(t->cat);
	recorded_free(t->recorded);
	if (t->out_file)
		fclose(t->out_file);
	if (t->folded)
		fclose(t->folded);
	return 1;
}

int ms_report_replay(const struct ms_env *env, const struct ms_replay_hooks *hooks)
{
	static const struct ms_replay_fns fns = {
		.event = replay_event,
		.comm = replay_comm,
		.lost = replay_lost,
		.site = replay_site,
	};
	struct ms_tracer t = { .env = env, .replaying = true, .hooks = hooks };
	struct ms_replay_info info = { 0 };
	double t0 = ms_now_s();
	int err;

	t.cat = ms_catalog_new();
	if (!t.cat) {
		fprintf(stderr, "memscope-bpf: cannot replay %s: %s\n", env->replay,
			strerror(ENOMEM));
		return 1;
	}
	ms_stats_init(&t.stats, t.cat, ms_report_on_end, &t);
	t.stats.max_blocks = env->max_live;
	t.stats.max_procs = env->max_procs;
	if (env->output && !(t.out_file = ms_outfile_fopen(env->output, true))) {
		ms_catalog_free(t.cat);
		return 1;
	}
	t.out.f = t.out_file ? t.out_file : stdout;
	t.attached = true;
	ms_output_set_json(&t.out, env->json);
	t.out.max_rows = env->top;
	t.out.pool = env->pool;
	t.out.recorded_frames = recorded_frames;
	t.out.recorded_ctx = &t;
	t.replay_info = &info;
	if (env->folded && !(t.folded = ms_outfile_fopen(env->folded, false)))
		return replay_failed(&t);
	if (env->html && !(t.html = ms_report_html_new(env)))
		return replay_failed(&t);
	t.pprofs = ms_pprofs_new(&t, NULL);
	if (!t.pprofs && errno) {
		fprintf(stderr, "memscope-bpf: cannot replay %s: %s\n", env->replay,
			strerror(errno));
		return replay_failed(&t);
	}
	err = ms_replay(env->replay, t.cat, &fns, &t, &info);
	if (err == -EBADMSG)
		fprintf(stderr,
			"memscope-bpf: %s is corrupt or cut short (%s); the figures cover what "
			"came before\n",
			env->replay, info.damage);
	else if (err) {
		fprintf(stderr, "memscope-bpf: cannot replay %s: %s\n", env->replay,
			err == -ENOEXEC ? "not a memscope-bpf recording of this version" :
					  strerror(-err));
		return replay_failed(&t);
	}
	/* the run's end, not its last record: the final record's length and the leak report's
	 * ages are the live run's */
	if (info.end_ns / 1e9 > t.replay_now && t.stats.events)
		t.replay_now = info.end_ns / 1e9;
	ms_report(&t, MS_REC_FINAL);
	if (t.stacks)
		ms_report_leaks(&t, true);
	if (t.folded && !t.stacks)
		fprintf(stderr, "memscope-bpf: %s was recorded without --stacks: %s has no sites\n",
			env->replay, env->folded);
	if (t.folded && write_folded(&t))
		err = -EIO;
	if (ms_pprofs_end(t.pprofs))
		err = -EIO;
	ms_pprofs_free(t.pprofs);
	ms_html_recorded_on(t.html, info.host, info.kernel);
	if (ms_report_html(&t, false))
		err = -EIO;
	ms_html_free(t.html);
	if (env->verbose) {
		double secs = ms_now_s() - t0;

		fprintf(stderr,
			"memscope-bpf: replayed %" PRIu64 " records recorded on %s (%s) in %.3f s: "
			"%.0f records/s\n",
			t.stats.events, info.host, info.kernel, secs,
			secs > 0 ? t.stats.events / secs : 0);
	}
	ms_stats_free(&t.stats);
	ms_catalog_free(t.cat);
	recorded_free(t.recorded);
	if (t.out_file && fclose(t.out_file)) {
		fprintf(stderr, "memscope-bpf: cannot write %s: %s\n", env->output,
			strerror(errno));
		return 1;
	}
	return err ? 1 : 0;
}

int ms_report_end(struct ms_tracer *t)
{
	int err = 0;

	if (!t->stdout_gone && t->attached) {
		ms_report(t, MS_REC_FINAL);
		if (t->stacks)
			ms_report_leaks(t, true);
	}
	if (t->untraced_children)
		fprintf(stderr,
			"memscope-bpf: %" PRIu64 " child process%s ran untraced (-f traces them)\n",
			t->untraced_children, t->untraced_children == 1 ? "" : "es");
	if (t->folded)
		err = write_folded(t);
	if (ms_pprofs_end(t->pprofs))
		err = -EIO;
	if (ms_report_html(t, false))
		err = -EIO;
	return err;
}

struct ms_html *ms_report_html_new(const struct ms_env *env)
{
	struct ms_html_run run;

	ms_html_run_init(&run, env->argc, env->argv);
	if (env->replay) {
		run.replay = env->replay;
		run.started = 0; /* the recording's start is not known */
	}
	return ms_html_new(env->html, &run);
}

int ms_report_html(struct ms_tracer *t, bool now)
{
	struct ms_report r;

	if (!t->html)
		return 0;
	if (now) { /* the figures of this moment: a point of the timeline of its own */
		if (!t->replaying)
			read_counters(t);
		report_of(t, &r, MS_REC_INTERVAL);
		ms_stats_for_each(&t->stats, fill_comm, t);
		ms_stats_for_each(&t->stats, check_stacks, t);
		ms_html_report(t->html, &t->out, MS_REC_INTERVAL, &r, &t->stats);
	}
	return ms_html_write(t->html, &t->out, &t->stats, clock_of(t) * 1e9);
}

void ms_report_record_sites(struct ms_tracer *t, pid_t pid)
{
	static char frames[MS_RECORD_FRAMES_MAX][MS_RECORD_FRAME_LEN];
	struct ms_proc *p = ms_stats_proc(&t->stats, pid, false);
	struct ms_stack_sites *ss = p ? p->stack_sites : NULL;
	unsigned n;
	int err;

	if (!ss || ss->recorded == ss->n)
		return;
	check_stacks(p, t);
	for (; ss->recorded < ss->n; ss->recorded++) {
		const struct ms_stack_site *s = &ss->v[ss->recorded];

		n = ms_output_site_frames(&t->out, pid, s, frames, MS_RECORD_FRAMES_MAX);
		err = ms_recorder_site(t->rec, pid, s->stack_id, s->caller, s->truncated, frames,
				       n);
		if (err && !t->rec_failed) {
			t->rec_failed = true;
			fprintf(stderr,
				"memscope-bpf: cannot write %s: %s; the recording ends here, the "
				"figures go on\n",
				t->env->record, strerror(-err));
		}
	}
}
