/* report.h: what a record says, and what is said of the statistics: interval, exit, final and leak records on
 * stdout, the metrics, the folded stacks; and the replay of a recording through them */
#ifndef MS_REPORT_H
#define MS_REPORT_H

#include <stdint.h>
#include "memscope.h"
#include "stats.h"

struct ms_env;
struct ms_tracer;

enum ms_record_kind { MS_REC_INTERVAL, MS_REC_EXIT, MS_REC_FINAL, MS_REC_LEAKS };

/* What a record says about the tracer itself (the figures of the processes are in the
 * statistics) */
struct ms_report {
	double ts;		      /* seconds since tracing started */
	double interval_s;	      /* seconds the rates cover */
	uint64_t events;	      /* records received so far */
	double events_per_s;	      /* over the interval */
	uint64_t lost;		      /* records lost so far (all causes) */
	uint64_t lost_by[MS_CNT_MAX]; /* the BPF counters */
	uint64_t untracked;	      /* events the daemon could not track (out of memory) */
	uint64_t missed_frees;	      /* blocks allocated again with no free seen: lost frees */
	uint64_t late;		      /* records applied after newer ones (a ring held back) */
	uint64_t untraced_children;   /* children of traced processes left untraced (no -f) */
	uint64_t tracked_blocks, tracked_blocks_peak; /* entries in the live tables */
	/* the leak report at the end of a run shorter than --min-age covers every block still
	 * live: the --min-age it was asked (else 0) */
	double min_age_lowered_from;
};

/*
 * A record of kind (interval or final) of every process: the loss counters read, the
 * names refreshed, the record printed (unless -q) and the metrics updated, the rates
 * started anew. A closed stdout sets t->stop.
 */
void ms_report(struct ms_tracer *t, enum ms_record_kind kind);

/* The leak report (SIGUSR1, and at the end with --stacks): sites of blocks older than
 * --min-age; at the end of a run shorter than --min-age, of every block still live (the
 * report says so) */
void ms_report_leaks(struct ms_tracer *t, bool at_end);

/* The statistics' end callback (ctx: the tracer): an exit record of a process that exited
 * or exec'd, its series let go, its symbols forgotten */
void ms_report_on_end(struct ms_proc *p, enum ms_end_reason why, void *ctx);

/* At the end of a live run: the final record (and leak report), the untraced children,
 * the folded stacks. Returns 0, or -EIO when the folded file cannot be written. */
int ms_report_end(struct ms_tracer *t);

/* --replay: the recorded stream through the same statistics and output; the exit status */
/* What a test sees of a replay, where the fuzzer checks its invariants: each record
 * ms_replay hands on, before it is applied; the statistics before each record is
 * written. NULL members are skipped. */
struct ms_replay_hooks {
	void (*event)(const struct ms_event *e, const struct ms_catalog *cat, void *ctx);
	void (*report)(struct ms_stats *s, const struct ms_catalog *cat, void *ctx);
	void *ctx;
};

int ms_report_replay(const struct ms_env *env, const struct ms_replay_hooks *hooks);

/* --html: the page (re)written from the records so far (at the end; on SIGUSR1 with now,
 * with a point of this moment's figures added to its timeline); 0 or -errno (said). Accepts
 * t->html NULL. */
int ms_report_html(struct ms_tracer *t, bool now);

/* --html FILE created (a bad path: NULL, errno set, said), its head from env's command line */
struct ms_html *ms_report_html_new(const struct ms_env *env);

/* --record with --stacks: the frames of pid's stack sites new since the last call, into
 * the recording (after the record that made them) */
void ms_report_record_sites(struct ms_tracer *t, pid_t pid);

#endif
