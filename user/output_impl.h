/* output_impl.h: what output.c hands its printers (output_json.c, output_text.c): one
 * record's processes with what was found in them, and the helpers both printers use */
#ifndef MS_OUTPUT_IMPL_H
#define MS_OUTPUT_IMPL_H

#include <stdint.h>
#include <stdio.h>
#include "findings.h"
#include "format.h"
#include "output.h"

#define MAX_FINDINGS 32
#define MAX_FRAMES (MS_MAX_STACK_DEPTH + 1)
#define MAX_LEAKS 64

/* A process in a record: its figures, and its findings when the record shows them
 * (computed once by output.c, owned by it) */
struct out_proc {
	const struct ms_catalog *cat; /* what p's allocator and function ids name */
	struct ms_proc *p;
	const struct ms_finding *find;
	unsigned nfind;
};

/* A process in a leak report: its largest leaking sites (n of total) */
struct out_leaks {
	const struct ms_proc *p;
	struct ms_leak leaks[MAX_LEAKS];
	unsigned n, total;
};

/* A printer: how each kind of record is written. Chosen once per ms_output. */
struct out_printer {
	unsigned findings; /* the record kinds that show findings: 1 << MS_REC_* */
	void (*report)(struct ms_output *o, enum ms_record_kind kind, const struct ms_report *r,
		       const struct out_proc *v, size_t n);
	void (*end)(struct ms_output *o, const struct ms_report *r, const struct out_proc *v,
		    enum ms_end_reason why);
	void (*leaks)(struct ms_output *o, const struct ms_report *r, const struct out_leaks *v,
		      size_t n, uint64_t now_ns, uint64_t min_age_ns);
};

extern const struct out_printer out_json, out_text;
extern const char *const out_record_type[];

/* (now - then) / secs, or 0 */
double out_rate(uint64_t now, uint64_t then, double secs);
/* The word for n of something: one ("block") for 1, else many ("blocks") */
const char *out_plural(uint64_t n, const char *one, const char *many);
/* The trend a record claims for site t of p (see output.c) */
enum ms_trend out_trend(const struct ms_proc *p, const struct ms_stack_site *t);
/* The patterns of all p's allocators' users, summed (peaks per class are summed too) */
void out_sum_patterns(const struct ms_proc *p, struct ms_patterns *sum);
/* A site's frames as strings: "function+0x1c", innermost first; how many */
unsigned out_site_frames(struct ms_output *o, pid_t pid, const struct ms_stack_site *t,
			 char frames[][128], unsigned max);
/* A process name for a table: control characters replaced */
void out_comm(const char *in, char *out, size_t len);

#endif
