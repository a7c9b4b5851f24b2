/* output.h: the text table and JSON Lines renderers, from the same data */
#ifndef MS_OUTPUT_H
#define MS_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "findings.h"
#include "format.h"
#include "report.h"
#include "stackmap.h"
#include "stats.h"

struct out_printer;

#define MS_TOP_SITES 5	  /* JSON: sites per ranking in interval records (--stacks) */
#define MS_ENDED_ROWS 4	  /* text: up to this many ended processes an interval get a row each */
#define MS_ENDED_COMMS 32 /* names the summary of more of them keeps */

/* Ended processes of one name */
struct ms_ended_comm {
	char comm[MS_COMM_LEN + 1];
	unsigned n;
	uint64_t allocs;
};

/* Text: the processes that exited (or called exec) since the last table, other than -p
 * processes and a launched COMMAND, which get their row at once */
struct ms_ended {
	unsigned n;				   /* processes */
	uint64_t allocs;			   /* their allocations */
	char rows[MS_ENDED_ROWS][256];		   /* the first ones' rows */
	struct ms_ended_comm comm[MS_ENDED_COMMS]; /* names past the last: only in n */
	unsigned ncomm;
};

/* The frames of address addr of process pid, innermost first: the calls inlined there,
 * then the function (as symcache.h's ms_symcache_frames); how many, or -errno */
typedef int (*ms_frames_of_fn)(pid_t pid, uint64_t addr, char (*frames)[128], unsigned max,
			       void *ctx);

struct ms_output {
	FILE *f;
	bool json;
	unsigned max_rows;	   /* text: processes shown per interval, 0 for all */
	struct ms_pool_opts pool;  /* thresholds of the findings */
	ms_symbolize_fn symbolize; /* call sites to function names, or NULL */
	ms_frames_of_fn frames_of; /* a stack's address to its frames (inlined calls), or NULL */
	bool sites; /* --stacks (or a replay of a recording with them): sites shown */
	/* --replay: a site's frames as the recording has them (instead of the stack map and
	 * the symbolizer), or NULL */
	unsigned (*recorded_frames)(pid_t pid, const struct ms_stack_site *t, char (*frames)[128],
				    unsigned max, void *ctx);
	void *recorded_ctx;
	ms_object_fn object;	    /* call sites to the objects that hold them, or NULL */
	bool numa_pages;	    /* --numa-pages: where the pages of live blocks are */
	struct ms_stackmap *stacks; /* --stacks: user stacks of the allocation sites, or NULL */
	void *symbolize_ctx;	    /* of symbolize and object */
	struct ms_ended ended[2];   /* text, by enum ms_end_reason: shown before the next table */
	const struct out_printer *printer; /* json's or text's, chosen at the first record */
};

/* Chooses the printer: JSON Lines or text (a zeroed ms_output takes json's value at its
 * first record) */
/* A site's addresses, innermost first, up to its first that is not code (at most max); 0
 * when its frames are known by name only (a replay's) */
unsigned ms_output_site_addrs(const struct ms_output *o, const struct ms_stack_site *t,
			      uint64_t *ips, unsigned max);

/* A site's frames as the records show them, innermost first (into frames, at most max) */
unsigned ms_output_site_frames(struct ms_output *o, pid_t pid, const struct ms_stack_site *t,
			       char (*frames)[128], unsigned max);

void ms_output_set_json(struct ms_output *o, bool json);

/* Writes one interval or final record covering every active process of s; in text, first the
 * processes that ended since the previous one (a row each when a few, else a line per reason
 * that counts them by name) */
void ms_output_report(struct ms_output *o, enum ms_record_kind kind, const struct ms_report *r,
		      struct ms_stats *s);

/* Writes the exit record of process p of s (reason: exit or exec). In text, a -p process or a
 * launched COMMAND (pinned) gets its row at once; another is held for the next table. */
void ms_output_end(struct ms_output *o, const struct ms_report *r, const struct ms_stats *s,
		   struct ms_proc *p, enum ms_end_reason why);

/* What --folded weighs */
enum ms_folded_what { MS_FOLDED_ALLOCATED, MS_FOLDED_LIVE, MS_FOLDED_LEAKED };

/*
 * The leak report: for each process, the sites with blocks allocated more than
 * min_age_ns before now_ns and still live, grouped by stack, with counts, bytes, the
 * oldest age and the trend of each site's live bytes. A "leaks" record in JSON.
 */
void ms_output_leaks(struct ms_output *o, const struct ms_report *r, struct ms_stats *s,
		     uint64_t now_ns, uint64_t min_age_ns);

/*
 * Writes the sites of every process in the folded-stack format (flamegraph.pl,
 * inferno, speedscope): "comm;outermost;...;innermost WEIGHT" per site, the weight in
 * bytes or in blocks. Frames are named by function (no offsets), with lines their
 * "_(file.c:42)" too; sites that read the same are one line, weights summed. Returns 0
 * or -errno.
 */
int ms_output_folded(struct ms_output *o, FILE *f, struct ms_stats *s, enum ms_folded_what what,
		     bool count, bool lines, uint64_t now_ns, uint64_t min_age_ns);

#endif
