/* output_text.c: the text printer of the records: tables, ended processes, findings */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "output_impl.h"

#define TEXT_HEAD "%7s %-16s %8s %8s %10s %10s %9s %11s %11s %7s  %s\n"
#define TEXT_ROW                                                                                   \
	"%7d %-16s %8s %8s %10" PRIu64 " %10" PRIu64 " %9" PRIu64 " %11s %11s %7" PRIu64 "  %s\n"

/* The allocators p's users called, "jemalloc" or "libc,objpool(+backing 2.0 MiB)" */
static void text_allocators(const struct ms_catalog *cat, const struct ms_proc *p, char *out,
			    size_t len)
{
	size_t n = 0;
	unsigned id;

	out[0] = '\0';
	for (id = 1; id < p->nalloc && n < len; id++) {
		const struct ms_astats *a = &p->alloc[id];
		char b[16];

		if (!a->used || !(a->user.c.allocs + a->user.c.frees + a->user.c.failed_allocs) ||
		    !ms_catalog_allocator(cat, id))
			continue;
		n += snprintf(out + n, len - n, "%s%s", n ? "," : "",
			      ms_catalog_allocator(cat, id)->name);
		if (n < len && a->backing.c.live_bytes)
			n += snprintf(out + n, len - n, "(+backing %s)",
				      ms_human_bytes(a->backing.c.live_bytes, b, sizeof(b)));
	}
}

/* p's row into buf; its comm is marked '*' when p was attached while it ran: its live
 * figures cover what it allocated since */
static void text_row(char *buf, size_t len, const struct out_proc *v, double secs)
{
	struct ms_proc *p = v->p;
	char a[16], fr[16], lb[16], pb[16], comm[MS_COMM_LEN + 2], allocs[96];

	out_comm(p->comm, comm, sizeof(comm) - 1);
	if (!p->from_start)
		strcat(comm, "*");
	text_allocators(v->cat, p, allocs, sizeof(allocs));
	snprintf(buf, len, TEXT_ROW, (int)p->pid, comm,
		 ms_human_count(out_rate(p->c.allocs, p->last.allocs, secs), a, sizeof(a)),
		 ms_human_count(out_rate(p->c.frees, p->last.frees, secs), fr, sizeof(fr)),
		 p->c.allocs, p->c.frees, p->c.live_allocs,
		 ms_human_bytes(p->c.live_bytes, lb, sizeof(lb)),
		 ms_human_bytes(p->c.peak_bytes, pb, sizeof(pb)), p->c.failed_allocs, allocs);
}

#define TEXT_ROW_MAX 256

static void text_row_out(FILE *f, const struct out_proc *v, double secs)
{
	char row[TEXT_ROW_MAX];

	text_row(row, sizeof(row), v, secs);
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

	out_sum_patterns(p, &sum);
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

	if (!o->sites || !p->stack_sites)
		return;
	for (i = 0; i < p->stack_sites->n; i++)
		if (p->stack_sites->v[i].live_bytes &&
		    (!top || p->stack_sites->v[i].live_bytes > top->live_bytes))
			top = &p->stack_sites->v[i];
	if (!top || !out_site_frames(o, p->pid, top, frames, 1))
		return;
	fprintf(o->f, "%7s   top site %s: %s live in %s%" PRIu64 " %s (%s)\n", "", frames[0],
		ms_human_bytes((uint64_t)llround(top->live_bytes), b, sizeof(b)),
		p->stack_sites->sample_bytes ? "~" : "", (uint64_t)llround(top->live_allocs),
		out_plural((uint64_t)llround(top->live_allocs), "block", "blocks"),
		ms_trend_name(out_trend(p, top)));
}

/* The final report's findings of a process, one line each: "kind name: advice", with the
 * call site of a pool candidate ("kind name at where: advice") unless the advice says it */
static void text_findings(struct ms_output *o, const struct out_proc *v)
{
	const struct ms_finding *f = v->find;
	const struct ms_proc *p = v->p;
	char comm[MS_COMM_LEN + 1];
	unsigned i;

	if (!v->nfind)
		return;
	out_comm(p->comm, comm, sizeof(comm));
	fprintf(o->f, "\nfindings for %d (%s):\n", (int)p->pid, comm);
	for (i = 0; i < v->nfind; i++) {
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
static void ended_hold(struct ms_output *o, enum ms_end_reason why, const struct out_proc *v,
		       double secs)
{
	const struct ms_proc *p = v->p;
	struct ms_ended *e = &o->ended[why == MS_END_EXEC];
	char comm[MS_COMM_LEN + 1];
	unsigned i;

	if (e->n < MS_ENDED_ROWS) {
		int k = snprintf(e->rows[e->n], sizeof(e->rows[e->n]),
				 "%s: ", why == MS_END_EXEC ? "exec" : "exit");

		text_row(e->rows[e->n] + k, sizeof(e->rows[e->n]) - k, v, secs);
	}
	e->n++;
	e->allocs += p->c.allocs;
	out_comm(p->comm, comm, sizeof(comm));
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
				out_plural(e->allocs, "allocation", "allocations"));
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

static void text_report(struct ms_output *o, enum ms_record_kind kind, const struct ms_report *r,
			const struct out_proc *v, size_t n)
{
	bool attached = false;
	size_t i, rows;

	ended_flush(o);
	text_head(o->f, out_record_type[kind], r, n);
	fprintf(o->f, TEXT_HEAD, "PID", "COMM", "ALLOC/s", "FREE/s", "ALLOCS", "FREES", "LIVE",
		"LIVE_BYTES", "PEAK_BYTES", "FAILED", "ALLOCATORS");
	rows = o->max_rows && o->max_rows < n && kind != MS_REC_FINAL ? o->max_rows : n;
	for (i = 0; i < rows; i++) {
		text_row_out(o->f, &v[i], r->interval_s);
		text_patterns(o->f, v[i].p);
		text_top_site(o, v[i].p);
		attached |= !v[i].p->from_start;
	}
	if (rows < n)
		fprintf(o->f, "%7s (%zu more %s)\n", "", n - rows,
			out_plural(n - rows, "process", "processes"));
	if (attached)
		fprintf(o->f,
			"%7s * attached while running: live figures cover the blocks "
			"allocated since\n",
			"");
	for (i = 0; i < n; i++)
		text_findings(o, &v[i]);
	fputc('\n', o->f);
}

static void text_end(struct ms_output *o, const struct ms_report *r, const struct out_proc *v,
		     enum ms_end_reason why)
{
	if (v->p->pinned) {
		fprintf(o->f, "%s: ", why == MS_END_EXEC ? "exec" : "exit");
		text_row_out(o->f, v, r->interval_s);
	} else {
		ended_hold(o, why, v, r->interval_s);
	}
}

static void text_leaks(struct ms_output *o, const struct ms_report *r, const struct out_leaks *v,
		       size_t n, uint64_t now_ns, uint64_t min_age_ns)
{
	static char frames[MAX_FRAMES][128];
	char comm[MS_COMM_LEN + 1], b[16];
	unsigned k, f, nf;
	size_t i;

	if (r->min_age_lowered_from > 0)
		fprintf(o->f,
			"leak report: the run (%.1f s) was shorter than --min-age %.1f s: every "
			"block still live, by allocation site\n",
			r->ts, r->min_age_lowered_from);
	else
		fprintf(o->f, "leak report: blocks live for more than %.1f s, by allocation site\n",
			min_age_ns / 1e9);
	for (i = 0; i < n; i++) {
		const struct ms_proc *p = v[i].p;

		if (v[i].n) {
			out_comm(p->comm, comm, sizeof(comm));
			fprintf(o->f, "\n%d (%s):\n", (int)p->pid, comm);
		}
		for (k = 0; k < v[i].n; k++) {
			const struct ms_leak *l = &v[i].leaks[k];
			const struct ms_stack_site *t = &p->stack_sites->v[l->site];
			enum ms_trend tr = out_trend(p, t);

			nf = out_site_frames(o, p->pid, t, frames, MAX_FRAMES);
			fprintf(o->f, "  %s%s in %" PRIu64 " %s, oldest %.1f s, %s%s\n",
				p->stack_sites->sample_bytes ? "~" : "",
				ms_human_bytes((uint64_t)llround(l->bytes), b, sizeof(b)),
				(uint64_t)llround(l->blocks),
				out_plural((uint64_t)llround(l->blocks), "block", "blocks"),
				(now_ns - l->oldest_ts) / 1e9, ms_trend_name(tr),
				tr == MS_TREND_GROWING ? ": a leak" :
				tr == MS_TREND_LEVELED ? ": levels off, a cache" :
							 "");
			for (f = 0; f < nf; f++)
				fprintf(o->f, "      %s\n", frames[f]);
			if (t->truncated)
				fprintf(o->f, "      ...\n");
		}
		if (v[i].total > v[i].n)
			fprintf(o->f, "  (%u more %s, smaller)\n", v[i].total - v[i].n,
				out_plural(v[i].total - v[i].n, "site", "sites"));
	}
	fputc('\n', o->f);
}

/* The text table: findings in the final record only */
const struct out_printer out_text = {
	.findings = 1u << MS_REC_FINAL,
	.report = text_report,
	.end = text_end,
	.leaks = text_leaks,
};
