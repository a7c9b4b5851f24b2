/* html.h: the run as one self-contained HTML page (--html): timeline, sizes, lifetimes,
 * pools, NUMA, sites and leaks drawn as SVG, the final record embedded as JSON */
#ifndef MS_HTML_H
#define MS_HTML_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "output.h"
#include "report.h"
#include "stats.h"

#define MS_HTML_POINTS 512     /* points a timeline keeps; more halve it (pairs merged) */
#define MS_HTML_SERIES 64      /* processes with a timeline of their own; the rest summed */
#define MS_HTML_TOP 8	       /* processes drawn one by one; the rest summed as "others" */
#define MS_HTML_ALLOCS 4       /* allocators a timeline keeps apart; the rest summed */
#define MS_HTML_MARKS 256      /* exits and execs marked on the timeline */
#define MS_HTML_ENDED 256      /* ended processes kept for the tables (the largest peaks) */
#define MS_HTML_ENDS (1 << 20) /* exits and execs remembered for the table's state column */

/* What the page's head says of the run */
struct ms_html_run {
	char cmdline[1024]; /* memscope-bpf's own, shell-quoted */
	char host[65];
	char kernel[160];   /* release and machine */
	time_t started;	    /* wall clock; 0 when unknown (a replay) */
	const char *replay; /* --replay FILE, else NULL */
};

struct ms_html;

/* The page at path, created now (a bad path fails at start: NULL, errno set, said on
 * stderr) and written by ms_html_write */
struct ms_html *ms_html_new(const char *path, const struct ms_html_run *run);

/* A replay: the recording's host and kernel in the page's head (empty strings: unknown) */
void ms_html_recorded_on(struct ms_html *h, const char *host, const char *kernel);

/* The run's head from memscope-bpf's argv and this machine (uname, now) */
void ms_html_run_init(struct ms_html_run *run, int argc, char **argv);

/*
 * One JSON record, as --json prints it (interval, exit, final or leaks): the timeline
 * gets a point (interval, final) or a mark (exit: exit or exec), the page's tables the
 * record's figures. O(processes in the record); bounded memory (see the limits above).
 * 0, -EINVAL for text that is not such a record, or -ENOMEM. Accepts h NULL.
 */
int ms_html_take(struct ms_html *h, const char *json, size_t len);

/* The record of kind that o would print (ms_output_report, ms_output_end with p and why,
 * ms_output_leaks with now_ns and min_age_ns), rendered as JSON and taken. Accepts h NULL. */
void ms_html_report(struct ms_html *h, const struct ms_output *o, enum ms_record_kind kind,
		    const struct ms_report *r, struct ms_stats *s);
void ms_html_end(struct ms_html *h, const struct ms_output *o, const struct ms_report *r,
		 const struct ms_stats *s, struct ms_proc *p, enum ms_end_reason why);
void ms_html_leaks(struct ms_html *h, const struct ms_output *o, const struct ms_report *r,
		   struct ms_stats *s, uint64_t now_ns, uint64_t min_age_ns);

/*
 * (Re)writes the page from what was taken, with flame graphs (icicles) of the live and the
 * allocated bytes of s's sites (o's frames, now_ns as the records' clock). o and s may be
 * NULL (no icicles). 0 or -errno (said on stderr). Accepts h NULL.
 */
int ms_html_write(struct ms_html *h, const struct ms_output *o, struct ms_stats *s,
		  uint64_t now_ns);

/* Writes the page from the records taken to f (what ms_html_write writes, without the
 * icicles unless folded_live/folded_alloc, --folded's text by function, are given) */
int ms_html_page(struct ms_html *h, FILE *f, const char *folded_live, const char *folded_alloc);

void ms_html_free(struct ms_html *h);

#endif
