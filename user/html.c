/* html.c: the run as one self-contained HTML page (--html): each process' timeline kept,
 * bounded, from the interval records; the last record's sizes, lifetimes, pools, NUMA, sites
 * and leaks; every chart an SVG drawn here (tooltips without JavaScript, zoom with it); the
 * final record embedded as JSON. It reads the records as --json prints them: what the page
 * shows is what the JSON says. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "format.h"
#include "html.h"
#include "outfile.h"
#include "patterns.h"
#include "vec.h"

/* ---------------------------------------------------------------- what is kept */

/* One process at one point of the timeline */
struct point {
	bool set;    /* the process was in the point's records */
	bool rates;  /* allocs_s and frees_s are the interval's (not a final record's) */
	double live; /* bytes */
	double allocs_s, frees_s;
	double by_alloc[MS_HTML_ALLOCS]; /* live bytes per allocator (series' names) */
};

struct series {
	int pid; /* 0: the processes without a series of their own, summed */
	char comm[64];
	char alloc[MS_HTML_ALLOCS][48]; /* allocator names; the last slot sums the rest */
	unsigned nalloc;
	double peak;
	bool ended;
	struct point pts[MS_HTML_POINTS];
};

struct mark {
	double ts;
	int pid;
	char comm[64];
	bool exec;
};

/* An exit or exec of a process, for the processes' table */
struct end {
	int pid;
	bool exec;
	double ts;
};

struct ms_html {
	FILE *f;
	struct ms_html_run run;
	/* the timeline: points, each covering cnt[i] records (1 until it was halved) */
	double ts[MS_HTML_POINTS];
	unsigned cnt[MS_HTML_POINTS];
	unsigned npts, stride; /* stride: records per point since the last halving */
	uint64_t records;      /* interval and final records taken */
	struct series *series[MS_HTML_SERIES];
	unsigned nseries;
	struct series *others;
	struct mark marks[MS_HTML_MARKS];
	unsigned nmarks;
	uint64_t more_marks; /* exits and execs past MS_HTML_MARKS */
	json_t *last;	     /* the last interval or final record */
	json_t *leaks;	     /* the last leak report */
	json_t *ended;	     /* array: exit records' processes (the largest peaks) */
	struct end *ends;    /* every exit and exec, up to MS_HTML_ENDS */
	size_t nends, cap_ends;
	uint64_t more_ends;
	char *final; /* the final record as printed */
	size_t final_len;
};

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : 0;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static struct series *series_new(int pid, const char *comm)
{
	struct series *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->pid = pid;
	snprintf(s->comm, sizeof(s->comm), "%s", comm);
	return s;
}

struct ms_html *ms_html_new(const char *path, const struct ms_html_run *run)
{
	struct ms_html *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->run = *run;
	h->stride = 1;
	h->others = series_new(0, "others");
	h->ended = json_array();
	if (!h->others || !h->ended) {
		ms_html_free(h);
		errno = ENOMEM;
		return NULL;
	}
	h->f = ms_outfile_fopen(path, false);
	if (!h->f) {
		int err = errno;

		ms_html_free(h);
		errno = err;
		return NULL;
	}
	return h;
}

void ms_html_free(struct ms_html *h)
{
	unsigned i;

	if (!h)
		return;
	for (i = 0; i < h->nseries; i++)
		free(h->series[i]);
	free(h->others);
	json_decref(h->last);
	json_decref(h->leaks);
	json_decref(h->ended);
	free(h->ends);
	free(h->final);
	if (h->f)
		fclose(h->f);
	free(h);
}

static void quote_arg(char *out, size_t len, size_t *at, const char *a)
{
	bool plain = *a != '\0';
	const char *c;

	for (c = a; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=/.,:+@%",
			    *c))
			plain = false;
	if (*at + 1 >= len)
		return;
	if (*at)
		out[(*at)++] = ' ';
	if (plain) {
		*at += snprintf(out + *at, len - *at, "%s", a);
	} else {
		*at += snprintf(out + *at, len - *at, "'");
		for (c = a; *c && *at + 5 < len; c++)
			*at += snprintf(out + *at, len - *at, *c == '\'' ? "'\\''" : "%c", *c);
		if (*at + 1 < len)
			*at += snprintf(out + *at, len - *at, "'");
	}
	if (*at >= len)
		*at = len - 1;
}

void ms_html_run_init(struct ms_html_run *run, int argc, char **argv)
{
	struct utsname u;
	size_t at = 0;
	int i;

	memset(run, 0, sizeof(*run));
	for (i = 0; i < argc; i++)
		quote_arg(run->cmdline, sizeof(run->cmdline), &at, argv[i]);
	if (!uname(&u)) {
		snprintf(run->host, sizeof(run->host), "%s", u.nodename);
		snprintf(run->kernel, sizeof(run->kernel), "%s %s", u.release, u.machine);
	}
	run->started = time(NULL);
}

void ms_html_recorded_on(struct ms_html *h, const char *host, const char *kernel)
{
	if (!h)
		return;
	snprintf(h->run.host, sizeof(h->run.host), "%s", host);
	snprintf(h->run.kernel, sizeof(h->run.kernel), "%s", kernel);
}

/* ---------------------------------------------------------------- the timeline */

/* a and b (a earlier) as one point: the larger live bytes (peaks stay), rates averaged over
 * the records each covers */
static void merge_point(struct point *a, const struct point *b, unsigned na, unsigned nb)
{
	unsigned k;

	if (!b->set)
		return;
	if (!a->set) {
		*a = *b;
		return;
	}
	if (b->rates && a->rates) {
		a->allocs_s = (a->allocs_s * na + b->allocs_s * nb) / (na + nb);
		a->frees_s = (a->frees_s * na + b->frees_s * nb) / (na + nb);
	} else if (b->rates) {
		a->allocs_s = b->allocs_s;
		a->frees_s = b->frees_s;
		a->rates = true;
	}
	if (b->live >= a->live) {
		a->live = b->live;
		for (k = 0; k < MS_HTML_ALLOCS; k++)
			a->by_alloc[k] = b->by_alloc[k];
	}
}

static void halve_series(struct ms_html *h, struct series *s)
{
	unsigned i;

	for (i = 0; i < h->npts / 2; i++) {
		struct point p = s->pts[2 * i];

		merge_point(&p, &s->pts[2 * i + 1], h->cnt[2 * i], h->cnt[2 * i + 1]);
		s->pts[i] = p;
	}
	memset(&s->pts[i], 0, (MS_HTML_POINTS - i) * sizeof(s->pts[0]));
}

/* Every series at half the points: pairs merged */
static void halve(struct ms_html *h)
{
	unsigned i;

	for (i = 0; i < h->nseries; i++)
		halve_series(h, h->series[i]);
	halve_series(h, h->others);
	for (i = 0; i < h->npts / 2; i++) {
		h->ts[i] = h->ts[2 * i + 1];
		h->cnt[i] = h->cnt[2 * i] + h->cnt[2 * i + 1];
	}
	h->npts /= 2;
	h->stride *= 2;
}

static struct series *series_of(struct ms_html *h, int pid)
{
	unsigned i;

	for (i = 0; i < h->nseries; i++)
		if (h->series[i]->pid == pid)
			return h->series[i];
	return NULL;
}

/* p's figures added into o's (the others': their allocators as one) */
static void add_into(struct point *o, const struct point *p)
{
	unsigned k;

	if (!p->set)
		return;
	o->set = true;
	o->rates |= p->rates;
	o->live += p->live;
	o->allocs_s += p->allocs_s;
	o->frees_s += p->frees_s;
	for (k = 0; k < MS_HTML_ALLOCS; k++)
		o->by_alloc[0] += p->by_alloc[k];
}

/* s's points (up to point n) added into the others' */
static void fold_into_others(struct ms_html *h, const struct series *s, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		add_into(&h->others->pts[i], &s->pts[i]);
}

/* A series for process pid whose peak is peak bytes: a new one, or one that takes the place
 * of the series with the smallest peak (ended first) when that is smaller (its points go to
 * the others'); NULL: the process is summed in the others */
static struct series *series_for(struct ms_html *h, int pid, const char *comm, double peak)
{
	struct series *s = series_of(h, pid);
	unsigned i, victim = 0;

	if (s)
		return s;
	if (h->nseries < MS_HTML_SERIES) {
		s = series_new(pid, comm);
		if (s)
			h->series[h->nseries++] = s;
		return s;
	}
	for (i = 1; i < h->nseries; i++) {
		const struct series *a = h->series[i], *b = h->series[victim];

		if (a->ended != b->ended ? a->ended : a->peak < b->peak)
			victim = i;
	}
	if (!h->series[victim]->ended && h->series[victim]->peak >= peak)
		return NULL;
	fold_into_others(h, h->series[victim], h->npts);
	s = h->series[victim];
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	snprintf(s->comm, sizeof(s->comm), "%s", comm);
	return s;
}

static unsigned alloc_slot(struct series *s, const char *name)
{
	unsigned k;

	for (k = 0; k < s->nalloc; k++)
		if (!strcmp(s->alloc[k], name))
			return k;
	if (s->nalloc == MS_HTML_ALLOCS)
		return MS_HTML_ALLOCS - 1;
	k = s->nalloc++;
	snprintf(s->alloc[k], sizeof(s->alloc[k]), "%s",
		 k == MS_HTML_ALLOCS - 1 ? "other allocators" : name);
	return k;
}

/* q, one record's figures, into point at of s (merged when the point covers records already) */
static void put_point(struct ms_html *h, struct series *s, unsigned at, const struct point *q)
{
	if (h->cnt[at] == 0)
		s->pts[at] = *q;
	else
		merge_point(&s->pts[at], q, h->cnt[at], 1);
}

static void add_point(struct ms_html *h, const json_t *rec, bool final)
{
	const json_t *procs = json_object_get(rec, "processes"), *p;
	struct point rest = { 0 }; /* the processes summed in the others */
	unsigned at;
	size_t n;

	if (h->npts && h->cnt[h->npts - 1] < h->stride) {
		at = h->npts - 1; /* a point still taking records: merged into it */
	} else {
		if (h->npts == MS_HTML_POINTS)
			halve(h);
		at = h->npts++;
		h->cnt[at] = 0;
	}
	json_array_foreach(procs, n, p)
	{
		const json_t *allocs = json_object_get(p, "allocators"), *a;
		int pid = (int)num(p, "pid");
		double live = num(p, "live_bytes");
		struct series *s = series_for(h, pid, str(p, "comm"), num(p, "peak_bytes"));
		struct point q = { .set = true, .rates = !final, .live = live };
		size_t m;

		if (!final) {
			q.allocs_s = num(p, "allocs_per_s");
			q.frees_s = num(p, "frees_per_s");
		}
		if (!s) {
			q.by_alloc[0] = live;
			add_into(&rest, &q);
		} else {
			snprintf(s->comm, sizeof(s->comm), "%s", str(p, "comm"));
			json_array_foreach(allocs, m, a)
				q.by_alloc[alloc_slot(s, str(a, "name"))] += num(a, "live_bytes");
			if (num(p, "peak_bytes") > s->peak)
				s->peak = num(p, "peak_bytes");
		}
		if (s)
			put_point(h, s, at, &q);
	}
	if (rest.set && h->cnt[at] == 0)
		add_into(&h->others->pts[at], &rest); /* with a series folded in this record */
	else if (rest.set)
		put_point(h, h->others, at, &rest);
	h->ts[at] = num(rec, "ts");
	h->cnt[at]++;
	h->records++;
}

static void add_mark(struct ms_html *h, const json_t *rec)
{
	const json_t *procs = json_object_get(rec, "processes"), *p;
	bool exec = !strcmp(str(rec, "reason"), "exec");
	size_t n;

	json_array_foreach(procs, n, p)
	{
		struct series *s = series_of(h, (int)num(p, "pid"));

		struct end e = { .pid = (int)num(p, "pid"), .exec = exec, .ts = num(rec, "ts") };

		if (s && !exec)
			s->ended = true;
		if (!exec)
			json_array_append(h->ended, (json_t *)p);
		if (h->nends < MS_HTML_ENDS)
			MS_VEC_PUSH(h->ends, h->nends, h->cap_ends, e);
		else
			h->more_ends++;
		if (h->nmarks == MS_HTML_MARKS) {
			h->more_marks++;
			continue;
		}
		h->marks[h->nmarks++] = (struct mark){
			.ts = num(rec, "ts"),
			.pid = (int)num(p, "pid"),
			.exec = exec,
		};
		snprintf(h->marks[h->nmarks - 1].comm, sizeof(h->marks[0].comm), "%s",
			 str(p, "comm"));
	}
	/* the largest peaks kept */
	while (json_array_size(h->ended) > MS_HTML_ENDED) {
		size_t i, small = 0;

		for (i = 1; i < json_array_size(h->ended); i++)
			if (num(json_array_get(h->ended, i), "peak_bytes") <
			    num(json_array_get(h->ended, small), "peak_bytes"))
				small = i;
		json_array_remove(h->ended, small);
	}
}

int ms_html_take(struct ms_html *h, const char *text, size_t len)
{
	json_t *rec;
	const char *type;

	if (!h)
		return 0;
	rec = json_loadb(text, len, 0, NULL);
	if (!rec || !json_is_object(rec) || !json_is_array(json_object_get(rec, "processes"))) {
		json_decref(rec);
		return -EINVAL;
	}
	type = str(rec, "type");
	if (!strcmp(type, "interval") || !strcmp(type, "final")) {
		add_point(h, rec, !strcmp(type, "final"));
		json_decref(h->last);
		h->last = json_incref(rec);
		if (!strcmp(type, "final")) {
			char *copy = malloc(len);

			if (!copy) {
				json_decref(rec);
				return -ENOMEM;
			}
			memcpy(copy, text, len);
			while (len && (copy[len - 1] == '\n'))
				len--;
			free(h->final);
			h->final = copy;
			h->final_len = len;
		}
	} else if (!strcmp(type, "exit")) {
		add_mark(h, rec);
	} else if (!strcmp(type, "leaks")) {
		json_decref(h->leaks);
		h->leaks = json_incref(rec);
	} else {
		json_decref(rec);
		return -EINVAL;
	}
	json_decref(rec);
	return 0;
}

/* ---------------------------------------------------------------- taking records */

/* o's printer, JSON, into memory: the record handed to ms_html_take */
struct twin {
	struct ms_output o;
	char *buf; /* open_memstream's: valid after fclose */
	size_t len;
};

static bool twin_open(struct twin *tw, const struct ms_output *o)
{
	tw->o = *o;
	ms_output_set_json(&tw->o, true);
	tw->buf = NULL;
	tw->o.f = open_memstream(&tw->buf, &tw->len);
	return tw->o.f;
}

static void twin_take(struct ms_html *h, struct twin *tw)
{
	if (fclose(tw->o.f) == 0 && ms_html_take(h, tw->buf, tw->len) == -ENOMEM)
		fprintf(stderr, "memscope-bpf: --html: out of memory\n");
	free(tw->buf);
}

void ms_html_report(struct ms_html *h, const struct ms_output *o, enum ms_record_kind kind,
		    const struct ms_report *r, struct ms_stats *s)
{
	struct twin tw;

	if (h && twin_open(&tw, o)) {
		ms_output_report(&tw.o, kind, r, s);
		twin_take(h, &tw);
	}
}

void ms_html_end(struct ms_html *h, const struct ms_output *o, const struct ms_report *r,
		 const struct ms_stats *s, struct ms_proc *p, enum ms_end_reason why)
{
	struct twin tw;

	if (h && twin_open(&tw, o)) {
		ms_output_end(&tw.o, r, s, p, why);
		twin_take(h, &tw);
	}
}

void ms_html_leaks(struct ms_html *h, const struct ms_output *o, const struct ms_report *r,
		   struct ms_stats *s, uint64_t now_ns, uint64_t min_age_ns)
{
	struct twin tw;

	if (h && twin_open(&tw, o)) {
		ms_output_leaks(&tw.o, r, s, now_ns, min_age_ns);
		twin_take(h, &tw);
	}
}

/* ---------------------------------------------------------------- HTML and SVG text */

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static const char *bytes(double v, char *buf, size_t len)
{
	return ms_human_bytes(v > 0 ? (uint64_t)(v + 0.5) : 0, buf, len);
}

static const char *count(double v, char *buf, size_t len)
{
	if (v == floor(v) && v < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.3g", v);
	return buf;
}

/* Up to 10 colors that stay apart (Tableau's) */
static const char *const color[] = {
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};
#define NCOLORS (sizeof(color) / sizeof(color[0]))

enum unit { U_BYTES, U_COUNT, U_RATE };

static const char *fmt_unit(enum unit u, double v, char *buf, size_t len)
{
	size_t n;

	if (u == U_BYTES)
		return bytes(v, buf, len);
	ms_human_count(v, buf, len);
	n = strlen(buf);
	if (u == U_RATE && n + 3 < len)
		snprintf(buf + n, len - n, "/s");
	return buf;
}

/* A round step for about n ticks over [0, hi] (bytes: powers of two past 1 KiB) */
static double tick_step(double hi, unsigned n, enum unit u)
{
	double raw = hi / n, mag, f;

	if (raw <= 0)
		return 1;
	if (u == U_BYTES && raw >= 1024) {
		double p = 1024;

		while (p * 1024 <= raw)
			p *= 1024;
		/* 1, 2, 5, 10, 20, 50, ... of the unit */
		f = raw / p;
		mag = pow(10, floor(log10(f)));
		f /= mag;
		f = mag * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
		return p * (f >= 1000 ? 1024 : f); /* 1000 KiB reads better as 1 MiB */
	}
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	f = mag * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
	return u != U_RATE && f < 1 ? 1 : f; /* whole bytes and counts */
}

/* ---------------------------------------------------------------- charts */

#define CW 900 /* a chart's width */
#define CH 240 /* a line chart's height */
#define ML 78  /* left margin: the y axis' labels */
#define MR 16
#define MT 14
#define MB 34

struct line {
	const char *name;
	const struct series *s;
	int what;  /* 0 live, 1 allocs/s, 2 frees/s, 3+k allocator k's live */
	int color; /* index into color[] */
	bool dashed;
	char label[96];
	double sum[MS_HTML_POINTS]; /* what == -1: these values (NAN: absent) */
};

static double line_value(const struct ms_html *h, const struct line *l, unsigned i)
{
	const struct point *p;

	if (l->what == -1)
		return l->sum[i];
	p = &l->s->pts[i];
	if (!p->set)
		return NAN;
	switch (l->what) {
	case 0:
		return p->live;
	case 1:
		return p->rates ? p->allocs_s : NAN;
	case 2:
		return p->rates ? p->frees_s : NAN;
	default:
		return p->by_alloc[l->what - 3];
	}
}

/*
 * A line chart of the timeline: x the records' seconds, y in unit u; each point a dot with
 * its figure as a tooltip; exits and execs as marks. The plot is an inner <svg> whose
 * viewBox the page's script narrows to zoom (strokes keep their width).
 */
static void line_chart(FILE *f, const struct ms_html *h, const char *id, const char *title,
		       enum unit u, const struct line *lines, unsigned nlines, bool marks)
{
	const double pw = CW - ML - MR, ph = CH - MT - MB;
	double t0 = 0, t1 = h->npts ? h->ts[h->npts - 1] : 1, hi = 0, step, v, y;
	char a[64], b[64];
	unsigned i, k;

	if (t1 <= t0)
		t1 = t0 + 1;
	for (k = 0; k < nlines; k++)
		for (i = 0; i < h->npts; i++)
			if ((v = line_value(h, &lines[k], i)) > hi)
				hi = v;
	step = tick_step(hi > 0 ? hi : 1, 4, u);
	hi = ceil((hi > 0 ? hi : 1) / step) * step;
	fprintf(f, "<figure class=\"chart\" id=\"%s\"><figcaption>", id);
	esc(f, title);
	fprintf(f,
		"</figcaption>\n<svg class=\"timeline\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		"height=\"%d\" data-t0=\"%g\" data-t1=\"%g\" data-pw=\"%g\" role=\"img\">\n",
		CW, CH, CW, CH, t0, t1, pw);
	for (v = 0; v <= hi + step / 2; v += step) {
		y = MT + ph - v / hi * ph;
		fprintf(f,
			"<line class=\"grid\" x1=\"%d\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"yt\" x=\"%d\" y=\"%.1f\">%s</text>\n",
			ML, ML + pw, y, y, ML - 6, y + 4, fmt_unit(u, v, a, sizeof(a)));
	}
	fprintf(f, "<g class=\"xticks\" data-y=\"%g\">", MT + ph + 16);
	step = tick_step(t1 - t0, 8, U_COUNT);
	for (v = ceil(t0 / step) * step; v <= t1 + 1e-9; v += step)
		fprintf(f, "<text class=\"xt\" x=\"%.1f\" y=\"%g\">%g s</text>",
			ML + (v - t0) / (t1 - t0) * pw, MT + ph + 16, v);
	fprintf(f,
		"</g>\n<svg class=\"plot\" x=\"%d\" y=\"%d\" width=\"%g\" height=\"%g\" "
		"viewBox=\"0 0 %g %g\" preserveAspectRatio=\"none\">\n",
		ML, MT, pw, ph, pw, ph);
	fprintf(f, "<rect class=\"bg\" width=\"%g\" height=\"%g\"/>\n", pw, ph);
	if (marks)
		for (i = 0; i < h->nmarks; i++) {
			const struct mark *m = &h->marks[i];
			double x = (m->ts - t0) / (t1 - t0) * pw;

			fprintf(f,
				"<line class=\"mark %s\" x1=\"%.2f\" x2=\"%.2f\" y1=\"0\" y2=\"%g\">"
				"<title>",
				m->exec ? "exec" : "exit", x, x, ph);
			fprintf(f, "%s at %.3f s: %d ", m->exec ? "exec" : "exit", m->ts, m->pid);
			esc(f, m->comm);
			fputs("</title></line>\n", f);
		}
	for (k = 0; k < nlines; k++) {
		const struct line *l = &lines[k];
		bool open = false;

		fprintf(f, "<g class=\"series\" data-k=\"%u\" style=\"--c:%s\">", k,
			color[l->color % NCOLORS]);
		for (i = 0; i < h->npts; i++) {
			v = line_value(h, l, i);
			if (isnan(v)) {
				if (open)
					fputs("\"/>", f);
				open = false;
				continue;
			}
			fprintf(f, "%s%.2f,%.2f",
				open ? " " :
				       (l->dashed ? "<polyline class=\"ln dash\" points=\"" :
						    "<polyline class=\"ln\" points=\""),
				(h->ts[i] - t0) / (t1 - t0) * pw, ph - v / hi * ph);
			open = true;
		}
		if (open)
			fputs("\"/>", f);
		for (i = 0; i < h->npts; i++) {
			v = line_value(h, l, i);
			if (isnan(v))
				continue;
			fprintf(f, "<path class=\"pt\" d=\"M%.2f %.2fh0\"><title>",
				(h->ts[i] - t0) / (t1 - t0) * pw, ph - v / hi * ph);
			esc(f, l->name);
			fprintf(f, " at %.3f s: %s", h->ts[i], fmt_unit(u, v, b, sizeof(b)));
			if (h->cnt[i] > 1)
				fprintf(f, " (%u records)", h->cnt[i]);
			fputs("</title></path>", f);
		}
		fputs("</g>\n", f);
	}
	fputs("</svg>\n</svg>\n<ul class=\"legend\">", f);
	for (k = 0; k < nlines; k++) {
		fprintf(f, "<li data-k=\"%u\" style=\"--c:%s\"%s>", k,
			color[lines[k].color % NCOLORS], lines[k].dashed ? " class=\"dash\"" : "");
		esc(f, lines[k].name);
		fputs("</li>", f);
	}
	fputs("</ul></figure>\n", f);
}

/* Vertical bars: n values with their labels, each a tooltip */
static void bar_chart(FILE *f, const char *title, const char *const *labels, const double *vals,
		      const char *const *tips, unsigned n, enum unit u)
{
	const unsigned h = 200, mb = 46, mt = 12, ml = ML;
	double hi = 0, step, v, bw, y;
	unsigned i, w = n * 56 + ml + 20;
	char a[64];

	if (w < 360)
		w = 360;
	if (w > CW)
		w = CW;
	bw = (double)(w - ml - 20) / (n ? n : 1);
	for (i = 0; i < n; i++)
		if (vals[i] > hi)
			hi = vals[i];
	step = tick_step(hi > 0 ? hi : 1, 4, u);
	hi = ceil((hi > 0 ? hi : 1) / step) * step;
	fputs("<figure class=\"chart\"><figcaption>", f);
	esc(f, title);
	fprintf(f,
		"</figcaption>\n<svg class=\"bars\" viewBox=\"0 0 %u %u\" width=\"%u\" "
		"height=\"%u\" role=\"img\">\n",
		w, h, w, h);
	for (v = 0; v <= hi + step / 2; v += step) {
		y = mt + (h - mt - mb) * (1 - v / hi);
		fprintf(f,
			"<line class=\"grid\" x1=\"%u\" x2=\"%u\" y1=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"yt\" x=\"%u\" y=\"%.1f\">%s</text>\n",
			ml, w - 20, y, y, ml - 6, y + 4, fmt_unit(u, v, a, sizeof(a)));
	}
	for (i = 0; i < n; i++) {
		double bh = (h - mt - mb) * vals[i] / hi, x = ml + i * bw;

		fprintf(f,
			"<g class=\"bar\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			"height=\"%.1f\"><title>",
			x + bw * 0.1, mt + (h - mt - mb) - bh, bw * 0.8, bh);
		esc(f, labels[i]);
		fprintf(f, ": %s", fmt_unit(u, vals[i], a, sizeof(a)));
		if (tips && tips[i]) {
			fputs(", ", f);
			esc(f, tips[i]);
		}
		fprintf(f, "</title></rect><text class=\"xl\" x=\"%.1f\" y=\"%u\">", x + bw / 2,
			h - mb + 14 + (n > 12 ? (i % 2) * 13 : 0));
		esc(f, labels[i]);
		fputs("</text></g>\n", f);
	}
	fputs("</svg></figure>\n", f);
}

/* Horizontal bars for named things (processes, pools, sites): the name left of its bar, the
 * figure right of it, a tooltip each */
static void hbar_chart(FILE *f, const char *title, const char *const *labels, const double *vals,
		       const char *const *tips, unsigned n, enum unit u)
{
	const unsigned lw = 330, row = 22, vw = 90;
	double hi = 0, bw;
	unsigned i;
	char a[64];

	for (i = 0; i < n; i++)
		if (vals[i] > hi)
			hi = vals[i];
	fputs("<figure class=\"chart\"><figcaption>", f);
	esc(f, title);
	fprintf(f,
		"</figcaption>\n<svg class=\"hbars\" viewBox=\"0 0 %d %u\" width=\"%d\" "
		"height=\"%u\" role=\"img\">\n",
		CW, n * row + 4, CW, n * row + 4);
	for (i = 0; i < n; i++) {
		size_t len = strlen(labels[i]);

		bw = hi > 0 ? (CW - lw - vw) * vals[i] / hi : 0;
		fprintf(f, "<g class=\"bar\"><text class=\"yl\" x=\"%u\" y=\"%u\">", lw - 8,
			i * row + 15);
		if (len > 48) { /* the full name is in the tooltip */
			char *cut = strndup(labels[i], 46);

			if (cut)
				esc(f, cut);
			fputs("..", f);
			free(cut);
		} else {
			esc(f, labels[i]);
		}
		fprintf(f, "</text><rect x=\"%u\" y=\"%u\" width=\"%.1f\" height=\"%u\"><title>",
			lw, i * row + 3, bw, row - 6);
		esc(f, labels[i]);
		fprintf(f, ": %s", fmt_unit(u, vals[i], a, sizeof(a)));
		if (tips && tips[i]) {
			fputs(", ", f);
			esc(f, tips[i]);
		}
		fprintf(f, "</title></rect><text class=\"vl\" x=\"%.1f\" y=\"%u\">%s</text></g>\n",
			lw + bw + 6, i * row + 15, a);
	}
	fputs("</svg></figure>\n", f);
}

/* ---------------------------------------------------------------- icicles */

struct node {
	char *name;
	double w;
	struct node *kids, *next;
};

static struct node *node_kid(struct node *n, const char *name, size_t len)
{
	struct node *k;

	for (k = n->kids; k; k = k->next)
		if (strlen(k->name) == len && !memcmp(k->name, name, len))
			return k;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->name = strndup(name, len);
	if (!k->name) {
		free(k);
		return NULL;
	}
	k->next = n->kids;
	n->kids = k;
	return k;
}

static void node_free(struct node *n)
{
	struct node *k, *next;

	for (k = n->kids; k; k = next) {
		next = k->next;
		node_free(k);
		free(k);
	}
	free(n->name);
}

/* --folded's lines ("comm;outer;...;inner WEIGHT") as a tree under root; -ENOMEM */
static int fold_tree(struct node *root, const char *text)
{
	const char *line = text, *end, *sp, *c, *semi;

	for (; line && *line; line = *end ? end + 1 : end) {
		struct node *n = root;
		double w;

		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		for (sp = end; sp > line && sp[-1] != ' '; sp--)
			;
		if (sp == line)
			continue;
		w = strtod(sp, NULL);
		root->w += w;
		for (c = line; c < sp - 1; c = semi + 1) {
			semi = memchr(c, ';', sp - 1 - c);
			if (!semi)
				semi = sp - 1;
			n = node_kid(n, c, semi - c);
			if (!n)
				return -ENOMEM;
			n->w += w;
		}
	}
	return 0;
}

static int by_weight(const void *a, const void *b)
{
	const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;

	return x->w != y->w ? (x->w > y->w ? -1 : 1) : strcmp(x->name, y->name);
}

#define ICICLE_ROW 17
#define ICICLE_ROWS 80

struct icicle {
	FILE *f;
	double total;
	unsigned rows, hidden;
	enum unit u;
};

static unsigned name_hash(const char *s)
{
	unsigned v = 2166136261u;

	for (; *s; s++)
		v = (v ^ (unsigned char)*s) * 16777619u;
	return v;
}

/* n at depth d over [x0, x0 + n->w) of the total: a box, then its children by weight */
static void icicle_node(struct icicle *ic, const struct node *n, unsigned d, double x0)
{
	const double width = CW;
	double x = x0 / ic->total * width, w = n->w / ic->total * width;
	struct node *k, **v;
	unsigned nk = 0, i;
	char a[64];

	if (d >= ICICLE_ROWS || w < 1) {
		ic->hidden++;
		return;
	}
	if (d + 1 > ic->rows)
		ic->rows = d + 1;
	fprintf(ic->f,
		"<g class=\"box\" data-a=\"%.6f\" data-b=\"%.6f\" data-d=\"%u\" "
		"style=\"--h:%u\"><rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%d\"><title>",
		x0 / ic->total, (x0 + n->w) / ic->total, d, d ? 10 + name_hash(n->name) % 40 : 0, x,
		d * ICICLE_ROW, w, ICICLE_ROW - 1);
	esc(ic->f, n->name);
	fprintf(ic->f, ": %s (%.2f%%)</title></rect><text x=\"%.2f\" y=\"%u\">",
		fmt_unit(ic->u, n->w, a, sizeof(a)), 100 * n->w / ic->total, x + 3,
		d * ICICLE_ROW + 12);
	if (w > 24) {
		size_t fit = (size_t)((w - 6) / 6.5), len = strlen(n->name);

		if (len <= fit) {
			esc(ic->f, n->name);
		} else if (fit > 2) {
			char *cut = strndup(n->name, fit - 2);

			if (cut) {
				esc(ic->f, cut);
				fputs("..", ic->f);
				free(cut);
			}
		}
	}
	fputs("</text></g>\n", ic->f);
	for (k = n->kids; k; k = k->next)
		nk++;
	v = malloc((nk ? nk : 1) * sizeof(*v));
	if (!v) {
		ic->hidden += nk;
		return;
	}
	for (nk = 0, k = n->kids; k; k = k->next)
		v[nk++] = k;
	qsort(v, nk, sizeof(v[0]), by_weight);
	for (i = 0; i < nk; i++) {
		icicle_node(ic, v[i], d + 1, x0);
		x0 += v[i]->w;
	}
	free(v);
}

/* An icicle of folded text: the root at the top, callers above callees; a box a tooltip,
 * a click zooms into it (with the page's script) */
static void icicle(FILE *f, const char *id, const char *title, const char *folded, enum unit u)
{
	struct node root = { .name = (char *)"all" };
	struct icicle ic = { .u = u };
	char *body = NULL;
	size_t len;
	FILE *m;

	fprintf(f, "<figure class=\"chart\" id=\"%s\"><figcaption>", id);
	esc(f, title);
	fputs("</figcaption>\n", f);
	if (fold_tree(&root, folded ? folded : "") || root.w <= 0) {
		fputs("<p class=\"none\">no sites with bytes to show</p></figure>\n", f);
		root.name = NULL;
		node_free(&root);
		return;
	}
	m = open_memstream(&body, &len);
	if (m) {
		ic.f = m;
		ic.total = root.w;
		icicle_node(&ic, &root, 0, 0);
		fclose(m);
		fprintf(f,
			"<svg class=\"icicle\" viewBox=\"0 0 %d %u\" width=\"%d\" height=\"%u\" "
			"role=\"img\">\n",
			CW, ic.rows * ICICLE_ROW, CW, ic.rows * ICICLE_ROW);
		fwrite(body, 1, len, f);
		fputs("</svg>", f);
		if (ic.hidden)
			fprintf(f,
				"<p class=\"note\">%u boxes narrower than a pixel (or deeper than %d "
				"frames) left out</p>",
				ic.hidden, ICICLE_ROWS);
	}
	free(body);
	fputs("</figure>\n", f);
	root.name = NULL;
	node_free(&root);
}

/* ---------------------------------------------------------------- the page's parts */

/* The processes of the page: the last record's, then the ended ones (by peak) */
static json_t *page_procs(const struct ms_html *h)
{
	json_t *all = json_array(), *p;
	size_t i;

	if (!all)
		return NULL;
	json_array_extend(all, json_object_get(h->last, "processes"));
	json_array_foreach(h->ended, i, p)
	{
		const json_t *q;
		size_t j;
		bool dup = false;

		json_array_foreach(json_object_get(h->last, "processes"), j, q)
			dup |= num(q, "pid") == num(p, "pid");
		if (!dup)
			json_array_append(all, p);
	}
	return all;
}

static int by_peak(const void *a, const void *b)
{
	double x = num(*(json_t *const *)a, "peak_bytes"),
	       y = num(*(json_t *const *)b, "peak_bytes");

	return x != y ? (x > y ? -1 : 1) : 0;
}

/* The processes drawn one by one: the largest peaks, at most MS_HTML_TOP */
static unsigned top_procs(const json_t *all, const json_t **top)
{
	unsigned n = 0, k;
	size_t i;

	/* insertion into the few kept: O(processes x MS_HTML_TOP) */
	for (i = 0; i < json_array_size(all); i++) {
		const json_t *p = json_array_get(all, i);

		if (n == MS_HTML_TOP && by_peak(&p, &top[n - 1]) >= 0)
			continue;
		k = n < MS_HTML_TOP ? n++ : n - 1;
		for (; k > 0 && by_peak(&p, &top[k - 1]) < 0; k--)
			top[k] = top[k - 1];
		top[k] = p;
	}
	return n;
}

static void proc_name(FILE *f, const json_t *p)
{
	esc(f, str(p, "comm"));
	fprintf(f, " (%d)", (int)num(p, "pid"));
}

static void section(FILE *f, const char *id, const char *title)
{
	fprintf(f, "<section id=\"%s\"><h2>", id);
	esc(f, title);
	fputs("</h2>\n", f);
}

static void head(FILE *f, const struct ms_html *h)
{
	const json_t *rec = h->last, *lost = json_object_get(rec, "lost"), *v;
	char a[64], when[64];
	const char *k;

	section(f, "head", "The run");
	fputs("<table class=\"kv\">", f);
	if (h->run.replay) {
		fputs("<tr><th>replay of</th><td><code>", f);
		esc(f, h->run.replay);
		fputs("</code></td></tr>", f);
	}
	if (h->run.cmdline[0]) {
		fputs("<tr><th>command line</th><td><code>", f);
		esc(f, h->run.cmdline);
		fputs("</code></td></tr>", f);
	}
	fputs("<tr><th>host</th><td>", f);
	esc(f, h->run.host[0] ? h->run.host : "unknown");
	fputs("</td></tr><tr><th>kernel</th><td>", f);
	esc(f, h->run.kernel[0] ? h->run.kernel : "unknown");
	fputs("</td></tr>", f);
	if (h->run.started) {
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime(&h->run.started));
		fprintf(f, "<tr><th>started</th><td>%s</td></tr>", when);
	}
	fprintf(f,
		"<tr><th>duration</th><td>%.3f s%s</td></tr>"
		"<tr><th>events</th><td>%s</td></tr><tr><th>events lost</th><td>%s",
		num(rec, "ts"), strcmp(str(rec, "type"), "final") ? " so far" : "",
		count(num(rec, "events"), a, sizeof(a)),
		count(num(rec, "events_lost"), when, sizeof(when)));
	fputs("<table class=\"lost\"><tr>", f);
	json_object_foreach((json_t *)lost, k, v)
	{
		fputs("<th>", f);
		esc(f, k);
		fputs("</th>", f);
	}
	fputs("</tr><tr>", f);
	json_object_foreach((json_t *)lost, k, v)
		fprintf(f, "<td%s>%s</td>", json_number_value(v) ? " class=\"bad\"" : "",
			count(json_number_value(v), a, sizeof(a)));
	fprintf(f,
		"</tr></table></td></tr><tr><th>blocks tracked</th><td>%s (peak %s)</td></tr>"
		"<tr><th>records</th><td>%" PRIu64 " interval and final records, %u points",
		count(num(rec, "tracked_blocks"), a, sizeof(a)),
		count(num(rec, "tracked_blocks_peak"), when, sizeof(when)), h->records, h->npts);
	if (h->stride > 1)
		fprintf(f, " (up to %u records each: the timeline keeps %d points)", h->stride,
			MS_HTML_POINTS);
	fputs("</td></tr></table></section>\n", f);
}

static int by_pid(const void *a, const void *b)
{
	const struct end *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* The exits and execs by pid, then time (the caller frees them); NULL when none */
static struct end *sorted_ends(const struct ms_html *h)
{
	struct end *v = h->nends ? malloc(h->nends * sizeof(*v)) : NULL;

	if (v) {
		memcpy(v, h->ends, h->nends * sizeof(*v));
		qsort(v, h->nends, sizeof(*v), by_pid);
	}
	return v;
}

/* The first of pid's exits and execs in v (sorted), or NULL */
static const struct end *ends_of(const struct end *v, size_t n, int pid)
{
	size_t lo = 0, hi = n;

	if (!v)
		return NULL;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].pid == pid ? &v[lo] : NULL;
}

static int by_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/* The processes that exited (v, sorted) but are not in all */
static size_t not_listed(const struct end *v, size_t n, const json_t *all)
{
	size_t i, np = json_array_size(all), missing = 0;
	int *pids = malloc((np ? np : 1) * sizeof(*pids));

	if (!pids || !v) {
		free(pids);
		return 0;
	}
	for (i = 0; i < np; i++)
		pids[i] = (int)num(json_array_get(all, i), "pid");
	qsort(pids, np, sizeof(*pids), by_int);
	for (i = 0; i < n; i++)
		if (!v[i].exec && (i == 0 || v[i - 1].pid != v[i].pid || v[i - 1].exec) &&
		    !bsearch(&v[i].pid, pids, np, sizeof(*pids), by_int))
			missing++;
	free(pids);
	return missing;
}

static void processes(FILE *f, const struct ms_html *h, const json_t *all)
{
	struct end *ends;
	size_t missing;
	const json_t *top[MS_HTML_TOP], *p;
	const char *labels[MS_HTML_TOP];
	char names[MS_HTML_TOP][96], a[64], b[64], c[64], d[64];
	double vals[MS_HTML_TOP];
	unsigned n = top_procs(all, top), i;
	size_t k;

	ends = sorted_ends(h);
	section(f, "processes", "Processes");
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "%s (%d)", str(top[i], "comm"),
			 (int)num(top[i], "pid"));
		labels[i] = names[i];
		vals[i] = num(top[i], "peak_bytes");
	}
	hbar_chart(f, "peak live bytes, the largest", labels, vals, NULL, n, U_BYTES);
	fputs("<table class=\"procs\"><tr><th>pid</th><th>comm</th><th>allocs</th><th>frees</th>"
	      "<th>live blocks</th><th>live bytes</th><th>peak bytes</th><th>failed</th>"
	      "<th>allocators</th><th>state</th></tr>\n",
	      f);
	json_array_foreach(all, k, p)
	{
		const json_t *al;
		size_t j;
		bool ended = k >= json_array_size(json_object_get(h->last, "processes"));
		int pid = (int)num(p, "pid");
		const struct end *e;
		unsigned said = 0;

		fprintf(f, "<tr><td>%d</td><td>", (int)num(p, "pid"));
		esc(f, str(p, "comm"));
		fprintf(f,
			"</td><td>%s</td><td>%s</td><td>%.0f</td><td>%s</td><td>%s</td>"
			"<td>%.0f</td><td>",
			count(num(p, "allocs"), a, sizeof(a)), count(num(p, "frees"), b, sizeof(b)),
			num(p, "live_allocs"), bytes(num(p, "live_bytes"), c, sizeof(c)),
			bytes(num(p, "peak_bytes"), d, sizeof(d)), num(p, "failed_allocs"));
		json_array_foreach(json_object_get(p, "allocators"), j, al)
		{
			if (j)
				fputs(", ", f);
			esc(f, str(al, "name"));
		}
		fputs("</td><td>", f);
		for (e = ends_of(ends, h->nends, pid); e && e < ends + h->nends && e->pid == pid;
		     e++)
			fprintf(f, "%s%s at %.3f s", said++ ? ", " : "",
				e->exec ? "exec" : "exited", e->ts);
		fprintf(f, "%s</td></tr>\n", said ? "" : ended ? "exited" : "traced");
	}
	fputs("</table>", f);
	if ((missing = not_listed(ends, h->nends, all)))
		fprintf(f,
			"<p class=\"note\">%zu more ended processes (smaller peaks) are not "
			"listed</p>",
			missing);
	if (h->more_ends)
		fprintf(f, "<p class=\"note\">%" PRIu64 " more exits and execs not kept</p>",
			h->more_ends);
	free(ends);
	fputs("</section>\n", f);
}

/* The timeline's lines for what (0 live, 1 allocs/s, 2 frees/s): the largest peaks one by
 * one, the rest summed */
static unsigned timeline_lines(const struct ms_html *h, int what, struct line *lines)
{
	const struct series *v[MS_HTML_SERIES];
	unsigned n = 0, i, j;
	struct line *rest;
	bool any = false;

	for (i = 0; i < h->nseries; i++)
		v[n++] = h->series[i];
	/* by peak, largest first (insertion: at most MS_HTML_SERIES) */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j]->peak > v[j - 1]->peak; j--) {
			const struct series *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	for (i = 0; i < n && i < MS_HTML_TOP; i++) {
		struct line *l = &lines[i];

		memset(l, 0, sizeof(*l));
		snprintf(l->label, sizeof(l->label), "%s (%d)", v[i]->comm, v[i]->pid);
		l->name = l->label;
		l->s = v[i];
		l->what = what;
		l->color = i;
	}
	rest = &lines[i];
	memset(rest, 0, sizeof(*rest));
	rest->name = "others (summed)";
	rest->what = -1;
	rest->color = MS_HTML_TOP;
	for (j = 0; j < h->npts; j++) {
		struct line one = { .what = what };
		double sum = NAN, x;
		unsigned k;

		for (k = i; k <= n; k++) {
			one.s = k < n ? v[k] : h->others;
			x = line_value(h, &one, j);
			if (!isnan(x)) {
				sum = isnan(sum) ? x : sum + x;
				any = true;
			}
		}
		rest->sum[j] = sum;
	}
	return i + any;
}

static void timeline(FILE *f, const struct ms_html *h)
{
	static struct line lines[MS_HTML_TOP + 1];
	unsigned n, i, k;

	section(f, "timeline", "Timeline");
	fputs("<p class=\"help\">A point per record (its figures in a tooltip); dashed marks: "
	      "exits, dotted: execs. Drag across a chart to zoom in, double-click to zoom out, "
	      "click a name to hide its line.</p>\n",
	      f);
	n = timeline_lines(h, 0, lines);
	line_chart(f, h, "timeline-live", "live bytes", U_BYTES, lines, n, true);
	n = timeline_lines(h, 1, lines);
	line_chart(f, h, "timeline-allocs", "allocations per second", U_RATE, lines, n, true);
	n = timeline_lines(h, 2, lines);
	line_chart(f, h, "timeline-frees", "frees per second", U_RATE, lines, n, true);
	/* per allocator, for the processes drawn that have more than one */
	n = timeline_lines(h, 0, lines);
	for (i = 0; i < n; i++) {
		static struct line al[MS_HTML_ALLOCS];
		const struct series *s = lines[i].s;
		char title[160], id[48];

		if (!s || s->nalloc < 2)
			continue;
		for (k = 0; k < s->nalloc; k++) {
			memset(&al[k], 0, sizeof(al[k]));
			al[k].name = s->alloc[k];
			al[k].s = s;
			al[k].what = 3 + k;
			al[k].color = k;
		}
		snprintf(title, sizeof(title), "live bytes of %s (%d) by allocator", s->comm,
			 s->pid);
		snprintf(id, sizeof(id), "timeline-allocators-%d", s->pid);
		line_chart(f, h, id, title, U_BYTES, al, s->nalloc, true);
	}
	if (h->more_marks)
		fprintf(f, "<p class=\"note\">%" PRIu64 " more exits and execs not marked</p>",
			h->more_marks);
	fputs("</section>\n", f);
}

static void sizes_of(FILE *f, const json_t *p)
{
	const json_t *pat = json_object_get(p, "patterns"),
		     *cls = json_object_get(pat, "size_classes"), *c,
		     *reuse = json_object_get(pat, "reuse"), *v;
	const char *labels[64], *tips[64], *k;
	char names[64][32], tipbuf[64][96], a[64], b[64];
	double vals[64], life[MS_LIFE_BUCKETS] = { 0 };
	unsigned n = 0, i;
	size_t j;

	fputs("<div class=\"proc\"><h3>", f);
	proc_name(f, p);
	fprintf(f,
		"</h3><p>%.1f%% small, %.1f%% large, %.1f%% temporary (freed within its "
		"interval) of %s allocations</p>",
		100 * num(pat, "small_share"), 100 * num(pat, "large_share"),
		100 * num(pat, "temporary_share"), count(num(pat, "allocs"), a, sizeof(a)));
	fputs("<div class=\"row\">", f);
	json_array_foreach(cls, j, c)
	{
		if (n == 64)
			break;
		snprintf(names[n], sizeof(names[n]), "%s", bytes(num(c, "class"), a, sizeof(a)));
		snprintf(tipbuf[n], sizeof(tipbuf[n]), "%s live, median life %s",
			 bytes(num(c, "live_bytes"), b, sizeof(b)),
			 json_string_value(json_object_get(c, "median_lifetime")) ?: "none freed");
		labels[n] = names[n];
		tips[n] = tipbuf[n];
		vals[n++] = num(c, "allocs");
		json_object_foreach((json_t *)json_object_get(c, "lifetime"), k,
				    v) for (i = 0; i < MS_LIFE_BUCKETS;
					    i++) if (!strcmp(k, ms_life_bucket_name(i)))
			life[i] += json_number_value(v);
	}
	bar_chart(f, "allocations by size class (from the class up)", labels, vals, tips, n,
		  U_COUNT);
	for (i = 0; i < MS_LIFE_BUCKETS; i++)
		labels[i] = ms_life_bucket_name(i);
	bar_chart(f, "blocks freed, by lifetime", labels, life, NULL, MS_LIFE_BUCKETS, U_COUNT);
	n = 0;
	json_object_foreach((json_t *)json_object_get(reuse, "distance_hist"), k, v)
	{
		if (n == 64)
			break;
		snprintf(names[n], sizeof(names[n]), "%s", k);
		labels[n] = names[n];
		vals[n++] = json_number_value(v);
	}
	if (n)
		bar_chart(f, "address reuse: frees between a free and the reuse of its address",
			  labels, vals, NULL, n, U_COUNT);
	fprintf(f,
		"</div><p>address reuse: %s blocks at an address freed before, %s of the same size "
		"class, %s of another</p>",
		count(num(reuse, "reused"), a, sizeof(a)),
		count(num(reuse, "same_size"), b, sizeof(b)),
		count(num(reuse, "other_size"), names[0], sizeof(names[0])));
	fputs("<table><tr><th>class</th><th>allocs</th><th>bytes</th><th>frees</th>"
	      "<th>live blocks</th><th>live bytes</th><th>peak bytes</th><th>temporary</th>"
	      "<th>churn (recycling)</th><th>median life</th><th>reused same / other size</th>"
	      "</tr>\n",
	      f);
	json_array_foreach(cls, j, c)
	{
		fprintf(f, "<tr><td>%s</td><td>%.0f</td>", bytes(num(c, "class"), a, sizeof(a)),
			num(c, "allocs"));
		fprintf(f, "<td>%s</td><td>%.0f</td><td>%.0f</td>",
			bytes(num(c, "alloc_bytes"), a, sizeof(a)), num(c, "frees"),
			num(c, "live_allocs"));
		fprintf(f, "<td>%s</td><td>%s</td><td>%.0f</td><td>%.3g</td><td>",
			bytes(num(c, "live_bytes"), a, sizeof(a)),
			bytes(num(c, "peak_bytes"), b, sizeof(b)), num(c, "temporary"),
			num(c, "recycling_ratio"));
		esc(f, json_string_value(json_object_get(c, "median_lifetime")) ?: "-");
		fprintf(f, "</td><td>%.0f / %.0f</td></tr>\n", num(c, "reused_same_size"),
			num(c, "reused_other_size"));
	}
	fputs("</table></div>\n", f);
}

static void sizes(FILE *f, const json_t *all)
{
	const json_t *top[MS_HTML_TOP];
	unsigned n = top_procs(all, top), i;

	section(f, "sizes", "Sizes and lifetimes");
	for (i = 0; i < n; i++)
		sizes_of(f, top[i]);
	if (!n)
		fputs("<p class=\"none\">no process traced</p>", f);
	fputs("</section>\n", f);
}

static void pools(FILE *f, const json_t *all)
{
	const char *labels[64], *tips[64];
	char names[64][96], tipbuf[64][64];
	double vals[64];
	const json_t *p, *q, *v;
	unsigned n = 0;
	size_t i, j;
	const char *k;

	section(f, "pools", "Pools and pool candidates");
	json_array_foreach(all, i, p) json_array_foreach(json_object_get(p, "pools"), j, q)
	{
		if (n == 64)
			break;
		snprintf(names[n], sizeof(names[n]), "%s in %s (%d)", str(q, "name"),
			 str(p, "comm"), (int)num(p, "pid"));
		snprintf(tipbuf[n], sizeof(tipbuf[n]), "%s", str(q, "kind"));
		labels[n] = names[n];
		tips[n] = tipbuf[n];
		vals[n++] = num(json_object_get(q, "evidence"), "live_bytes");
	}
	if (!n) {
		fputs("<p class=\"none\">none found</p></section>\n", f);
		return;
	}
	hbar_chart(f, "live bytes held by each", labels, vals, tips, n, U_BYTES);
	fputs("<table class=\"text\"><tr><th>process</th><th>name</th><th>kind</th><th>evidence</th>"
	      "<th>where</th><th>advice</th></tr>\n",
	      f);
	json_array_foreach(all, i, p) json_array_foreach(json_object_get(p, "pools"), j, q)
	{
		fputs("<tr><td>", f);
		proc_name(f, p);
		fputs("</td><td>", f);
		esc(f, str(q, "name"));
		fputs("</td><td>", f);
		esc(f, str(q, "kind"));
		fputs("</td><td><ul class=\"ev\">", f);
		json_object_foreach((json_t *)json_object_get(q, "evidence"), k, v)
		{
			char a[64];

			fputs("<li>", f);
			esc(f, k);
			fprintf(f, " %s</li>",
				json_is_number(v) ? count(json_number_value(v), a, sizeof(a)) :
				json_is_string(v) ? json_string_value(v) :
						    "");
		}
		fputs("</ul></td><td><code>", f);
		esc(f, str(q, "where"));
		fputs("</code></td><td>", f);
		esc(f, str(q, "advice"));
		fputs("</td></tr>\n", f);
	}
	fputs("</table></section>\n", f);
}

static void numa(FILE *f, const json_t *all)
{
	const json_t *top[MS_HTML_TOP];
	unsigned n = top_procs(all, top), i;
	double live[64] = { 0 };
	char names[64][16];
	const char *labels[64] = { 0 };
	unsigned nodes = 0;
	const json_t *v;
	const char *k;
	char a[64], b[64];

	section(f, "numa", "NUMA");
	for (i = 0; i < n; i++)
		json_object_foreach(
			(json_t *)json_object_get(json_object_get(top[i], "numa"), "nodes"), k, v)
		{
			unsigned node = atoi(k);

			if (node < 64) {
				live[node] += num(v, "live_bytes");
				if (node + 1 > nodes)
					nodes = node + 1;
			}
		}
	for (i = 0; i < nodes; i++) {
		snprintf(names[i], sizeof(names[i]), "node %u", i);
		labels[i] = names[i];
	}
	bar_chart(f, "live bytes by the node of the CPU that allocated them", labels, live, NULL,
		  nodes, U_BYTES);
	fputs("<table><tr><th>process</th><th>node</th><th>allocs</th><th>bytes</th>"
	      "<th>frees</th><th>live blocks</th><th>live bytes</th><th>live share</th>"
	      "<th>remote frees</th></tr>\n",
	      f);
	for (i = 0; i < n; i++) {
		const json_t *nu = json_object_get(top[i], "numa");

		json_object_foreach((json_t *)json_object_get(nu, "nodes"), k, v)
		{
			fputs("<tr><td>", f);
			proc_name(f, top[i]);
			fputs("</td><td>", f);
			esc(f, k);
			fprintf(f,
				"</td><td>%.0f</td><td>%s</td><td>%.0f</td><td>%.0f</td><td>%s</td>"
				"<td>%.1f%%</td>",
				num(v, "allocs"), bytes(num(v, "alloc_bytes"), a, sizeof(a)),
				num(v, "frees"), num(v, "live_allocs"),
				bytes(num(v, "live_bytes"), b, sizeof(b)),
				100 * num(v, "live_share"));
			fprintf(f, "<td>%.0f (%s, %.1f%% of frees)</td></tr>\n",
				num(nu, "remote_frees"),
				bytes(num(nu, "remote_free_bytes"), a, sizeof(a)),
				100 * num(nu, "remote_free_share"));
		}
	}
	fputs("</table></section>\n", f);
}

static void stack_cell(FILE *f, const json_t *site)
{
	const json_t *fr;
	size_t i, n = json_array_size(json_object_get(site, "stack"));

	/* the innermost frame and its caller (the first is often a wrapper) */
	fputs("<details><summary><code>", f);
	esc(f, n ? json_string_value(json_array_get(json_object_get(site, "stack"), 0)) : "?");
	if (n > 1) {
		fputs("</code> &lt; <code>", f);
		esc(f, json_string_value(json_array_get(json_object_get(site, "stack"), 1)) ?: "");
	}
	fprintf(f, "</code>%s</summary><ol class=\"stack\">",
		json_is_true(json_object_get(site, "truncated")) ? " (truncated)" : "");
	json_array_foreach(json_object_get(site, "stack"), i, fr)
	{
		fputs("<li><code>", f);
		esc(f, json_string_value(fr) ?: "");
		fputs("</code></li>", f);
	}
	if (json_is_true(json_object_get(site, "truncated")))
		fputs("<li>...</li>", f);
	fputs("</ol></details>", f);
}

static void sites(FILE *f, const json_t *all, const char *folded_live, const char *folded_alloc)
{
	const json_t *top[MS_HTML_TOP], *s;
	unsigned n = top_procs(all, top), i;
	char a[64], b[64];
	size_t j;

	section(f, "sites", "Allocation sites");
	icicle(f, "icicle-live",
	       "live bytes by site: the stack with --stacks, else the caller (click a box to "
	       "zoom, the top one to zoom out)",
	       folded_live, U_BYTES);
	icicle(f, "icicle-alloc", "allocated bytes by site", folded_alloc, U_BYTES);
	for (i = 0; i < n; i++) {
		const json_t *st = json_object_get(top[i], "sites");

		if (!json_array_size(json_object_get(st, "by_live_bytes")))
			continue;
		fputs("<h3>", f);
		proc_name(f, top[i]);
		fprintf(f,
			": the sites with the most live bytes</h3><p>%.0f stacks (%.0f truncated)"
			"</p><table><tr><th>stack</th><th>allocs</th><th>bytes</th><th>frees</th>"
			"<th>live blocks</th><th>live bytes</th><th>allocs/s</th><th>trend</th>"
			"</tr>\n",
			num(st, "stacks"), num(st, "truncated_stacks"));
		json_array_foreach(json_object_get(st, "by_live_bytes"), j, s)
		{
			fputs("<tr><td>", f);
			stack_cell(f, s);
			fprintf(f,
				"</td><td>%.0f</td><td>%s</td><td>%.0f</td><td>%.0f</td><td>%s</td>"
				"<td>%.3g</td><td>",
				num(s, "allocs"), bytes(num(s, "alloc_bytes"), a, sizeof(a)),
				num(s, "frees"), num(s, "live_allocs"),
				bytes(num(s, "live_bytes"), b, sizeof(b)), num(s, "allocs_per_s"));
			esc(f, str(s, "trend"));
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n", f);
	}
	fputs("</section>\n", f);
}

/* A site's live bytes over its last records, as a small line */
static void sparkline(FILE *f, const json_t *hist)
{
	double hi = 0, v;
	size_t i, n = json_array_size(hist);

	for (i = 0; i < n; i++)
		if ((v = json_number_value(json_array_get(hist, i))) > hi)
			hi = v;
	fputs("<svg class=\"spark\" viewBox=\"0 0 120 24\" width=\"120\" height=\"24\">"
	      "<polyline points=\"",
	      f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", n > 1 ? 118.0 * i / (n - 1) + 1 : 60,
			22 - (hi > 0 ? json_number_value(json_array_get(hist, i)) / hi * 20 : 0));
	fputs("\"/></svg>", f);
}

/* A frame without its offset: "f+0x1c (a.c:3)" as "f (a.c:3)" */
static size_t frame_label(char *buf, size_t len, const char *frame)
{
	size_t n = 0;

	while (*frame && n + 1 < len) {
		if (frame[0] == '+' && frame[1] == '0' && frame[2] == 'x') {
			for (frame += 3;
			     (*frame >= '0' && *frame <= '9') || (*frame >= 'a' && *frame <= 'f');
			     frame++)
				;
			continue;
		}
		buf[n++] = *frame++;
	}
	buf[n] = '\0';
	return n;
}

/* A site as a bar's name: its innermost frame and that frame's caller, without offsets */
static void site_label(char *buf, size_t len, const json_t *site)
{
	const json_t *st = json_object_get(site, "stack");
	size_t n = frame_label(buf, len, json_string_value(json_array_get(st, 0)) ?: "?");

	if (json_array_size(st) > 1 && n + 4 < len) {
		memcpy(buf + n, " < ", 4);
		frame_label(buf + n + 3, len - n - 3,
			    json_string_value(json_array_get(st, 1)) ?: "");
	}
}

/* The live bytes of the sites with the most, of every process of the last record */
static void live_sites(FILE *f, const struct ms_html *h)
{
	static char names[64][256];
	const char *labels[64] = { 0 };
	const json_t *p, *s;
	double vals[64];
	unsigned n = 0;
	size_t i, j;

	json_array_foreach(json_object_get(h->last, "processes"), i, p) json_array_foreach(
		json_object_get(json_object_get(p, "sites"), "by_live_bytes"), j, s)
	{
		if (n == 64 || num(s, "live_bytes") <= 0)
			continue;
		site_label(names[n], sizeof(names[n]), s);
		labels[n] = names[n];
		vals[n++] = num(s, "live_bytes");
	}
	if (n)
		hbar_chart(f, "live bytes by site in the last record (the sites with the most)",
			   labels, vals, NULL, n, U_BYTES);
}

static void leaks(FILE *f, const struct ms_html *h)
{
	static char names[64][256];
	const json_t *p, *s;
	const char *labels[64] = { 0 };
	char a[64];
	double vals[64];
	unsigned n = 0;
	size_t i, j;

	section(f, "leaks", "Live blocks and leaks");
	live_sites(f, h);
	if (!h->leaks) {
		fputs("<p class=\"none\">no leak report (SIGUSR1, or the end of a run with sites)"
		      "</p></section>\n",
		      f);
		return;
	}
	fprintf(f, "<p>Blocks live at %.3f s that were allocated more than %g s before",
		num(h->leaks, "ts"), num(h->leaks, "min_age_s"));
	if (num(h->leaks, "min_age_lowered_from_s") > 0)
		fprintf(f, " (the run was shorter than --min-age %g s: every live block)",
			num(h->leaks, "min_age_lowered_from_s"));
	fputs(", by site.</p>\n", f);
	json_array_foreach(json_object_get(h->leaks, "processes"), i, p)
		json_array_foreach(json_object_get(p, "sites"), j, s)
	{
		if (n == 64)
			break;
		site_label(names[n], sizeof(names[n]), s);
		labels[n] = names[n];
		vals[n++] = num(s, "bytes");
	}
	if (n)
		hbar_chart(f, "bytes leaked by site", labels, vals, NULL, n, U_BYTES);
	json_array_foreach(json_object_get(h->leaks, "processes"), i, p)
	{
		if (!json_array_size(json_object_get(p, "sites")))
			continue;
		fputs("<h3>", f);
		proc_name(f, p);
		fputs("</h3><table><tr><th>stack</th><th>blocks</th><th>bytes</th><th>oldest</th>"
		      "<th>trend</th><th>live bytes, last records</th></tr>\n",
		      f);
		json_array_foreach(json_object_get(p, "sites"), j, s)
		{
			fputs("<tr><td>", f);
			stack_cell(f, s);
			fprintf(f, "</td><td>%.0f</td><td>%s</td><td>%.1f s</td><td%s>",
				num(s, "blocks"), bytes(num(s, "bytes"), a, sizeof(a)),
				num(s, "oldest_age_s"),
				json_is_true(json_object_get(s, "leak")) ? " class=\"bad\"" : "");
			esc(f, str(s, "trend"));
			fputs("</td><td>", f);
			sparkline(f, json_object_get(s, "live_bytes_history"));
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n", f);
		if (num(p, "more_sites"))
			fprintf(f, "<p class=\"note\">%.0f more sites with smaller leaks</p>",
				num(p, "more_sites"));
	}
	if (!n)
		fprintf(f,
			"<p class=\"none\">no block older than %g s (the live blocks by site are under "
			"<a href=\"#sites\">Allocation sites</a>)</p>",
			num(h->leaks, "min_age_s"));
	fputs("</section>\n", f);
}

/* JSON text inside <script>: "</" and "<!--" cannot close it or open a comment ("<" as
 * \u003c: the same JSON value) */
static void embed_json(FILE *f, const char *id, const char *text, size_t len)
{
	size_t i;

	fprintf(f, "<script type=\"application/json\" id=\"%s\">", id);
	for (i = 0; i < len; i++) {
		if (text[i] == '<')
			fputs("\\u003c", f);
		else
			fputc(text[i], f);
	}
	fputs("</script>\n", f);
}

static const char page_css[] =
#include "html/page.css.h"
	;
static const char page_js[] =
#include "html/page.js.h"
	;

/* The page's sections, in order: their ids and names in the navigation */
static const struct {
	const char *id, *nav;
} sections[] = {
	{ "head", "run" },    { "processes", "processes" }, { "timeline", "timeline" },
	{ "sizes", "sizes" }, { "pools", "pools" },	    { "numa", "NUMA" },
	{ "sites", "sites" }, { "leaks", "leaks" },
};

int ms_html_page(struct ms_html *h, FILE *f, const char *folded_live, const char *folded_alloc)
{
	json_t *all = page_procs(h);
	char *leaks_text;
	size_t i;

	if (!all)
		return -ENOMEM;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"generator\" content=\"memscope-bpf\"><title>memscope-bpf: ",
	      f);
	esc(f, json_array_size(all) ? str(json_array_get(all, 0), "comm") : "no process");
	fprintf(f, "</title><style>%s", page_css);
	/* PAGE.html#only-sizes: that section alone (to print, share or screenshot it) */
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		fprintf(f, "body:has(#only-%s:target) section:not(#%s) { display: none; }\n",
			sections[i].id, sections[i].id);
	fputs("</style></head><body>\n", f);
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		fprintf(f, "<a id=\"only-%s\"></a>", sections[i].id);
	fputs("\n<header><h1>memscope-bpf</h1><nav>", f);
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		fprintf(f, "<a href=\"#%s\">%s</a> ", sections[i].id, sections[i].nav);
	fputs("</nav></header>\n", f);
	head(f, h);
	processes(f, h, all);
	timeline(f, h);
	sizes(f, all);
	pools(f, all);
	numa(f, all);
	sites(f, all, folded_live, folded_alloc);
	leaks(f, h);
	if (h->final)
		embed_json(f, "memscope-final", h->final, h->final_len);
	if (h->leaks && (leaks_text = json_dumps(h->leaks, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		embed_json(f, "memscope-leaks", leaks_text, strlen(leaks_text));
		free(leaks_text);
	}
	fprintf(f, "<script>%s</script>\n</body></html>\n", page_js);
	json_decref(all);
	return ferror(f) ? -EIO : 0;
}

/* s's sites as --folded writes them (by function, bytes) into a string; NULL if none */
static char *folded(const struct ms_output *o, struct ms_stats *s, enum ms_folded_what what,
		    uint64_t now_ns)
{
	struct ms_output twin = *o;
	char *buf = NULL;
	size_t len;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return NULL;
	if (ms_output_folded(&twin, m, s, what, false, false, now_ns, 0)) {
		fclose(m);
		free(buf);
		return NULL;
	}
	fclose(m);
	return buf;
}

int ms_html_write(struct ms_html *h, const struct ms_output *o, struct ms_stats *s, uint64_t now_ns)
{
	char *live = NULL, *alloc = NULL;
	int err;

	if (!h)
		return 0;
	if (o && s && s->sites) {
		live = folded(o, s, MS_FOLDED_LIVE, now_ns);
		alloc = folded(o, s, MS_FOLDED_ALLOCATED, now_ns);
	}
	rewind(h->f);
	err = ftruncate(fileno(h->f), 0) ? -errno : 0;
	if (!err)
		err = ms_html_page(h, h->f, live, alloc);
	if (!err && fflush(h->f))
		err = -errno;
	free(live);
	free(alloc);
	if (err)
		fprintf(stderr, "memscope-bpf: cannot write the --html page: %s\n", strerror(-err));
	return err;
}
