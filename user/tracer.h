/* tracer.h: one run's state, shared by main.c (the lifecycle), targets.c (what is traced)
 * and report.c (what is said); each owns the fields its comments name */
#ifndef MS_TRACER_H
#define MS_TRACER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "memscope.h"
#include "env.h"
#include "launch.h"
#include "numa.h"
#include "output.h"
#include "rings.h"
#include "stackmap.h"
#include "stats.h"

struct memscope;
struct ms_catalog;
struct ms_probes;
struct ms_symcache;
struct ms_recorder;
struct ms_prom;
struct ms_pprofs;
struct ms_html;
struct ms_inproc;

/* -f: a process the kernel stopped for the daemon (a FORK, EXEC or DLSTATE record) */
struct ms_held {
	pid_t pid;
	uint8_t why;  /* the record type */
	bool running; /* not stopped: a child of an in-process process (FOLLOWED) */
};

struct ms_tracer {
	const struct ms_env *env;
	bool stop; /* the run should end: stdout was closed (report.c) */

	/* main.c: the BPF object and what reads it */
	struct memscope *skel;
	struct ms_catalog *cat; /* the allocators and functions probed (or replayed) */
	struct ms_rings rings;
	struct ms_probes *probes;
	struct ms_allocspec *specs;  /* --alloc, --free, --realloc (env's, noted as said) */
	struct ms_symcache *syms;    /* call sites to names */
	struct ms_stackmap stackmap; /* --stacks */
	struct ms_inproc *inproc;    /* --in-process: the region the command writes into */
	char inproc_libs[4 * 4096];  /* --in-process: the libraries preloaded, space-separated */
	uint64_t inproc_untracked;   /* --in-process: processes or records it could not name */
	struct ms_unwind *unwind;    /* --stack-unwind dwarf|auto: what the programs unwind with */
	struct ms_numa numa;	     /* CPU to node: the fallback for a record's node */
	struct ms_recorder *rec;     /* --record */
	bool rec_failed;	     /* --record: a write failed (said once) */
	struct ms_prom *prom;	     /* --prometheus */
	struct ms_html *html;	     /* --html: the page, written at the end and on SIGUSR1 */
	struct ms_pprofs *pprofs;    /* --pprof, --pprof-dir, /debug/pprof (freed after prom) */
	int guard;		     /* the guard's handle (guard.h), or -1 */

	/* targets.c: what is traced */
	bool every;		 /* every-process mode */
	bool filtering;		 /* -p or COMMAND: only chosen processes are traced */
	struct ms_launch launch; /* COMMAND */
	bool launched;		 /* a COMMAND is running */
	int child_status;	 /* its wait status once it ended */
	bool child_done;
	int pidfds[MS_ENV_MAX_PIDS]; /* -p: readable when the process ends */
	int nalive;		     /* -p processes still running */
	pid_t *rescan;		     /* processes whose maps changed: attach to new objects */
	size_t nrescan, cap_rescan;
	struct ms_held *held; /* -f: processes the kernel stopped until the daemon attaches */
	size_t nheld, cap_held;
	uint64_t untraced_children; /* children of traced processes not traced (no -f) */
	bool attached;		    /* the "attached" line was said: tracing has begun */
	bool numa_noted;	    /* "one NUMA node" said */

	/* report.c: the statistics and what is said of them */
	struct ms_stats stats;
	struct ms_output out;
	FILE *out_file; /* -o FILE */
	FILE *folded;	/* --folded FILE, written at the end */
	bool stacks;	/* sites by stack (--stacks, or a recording with them): the leak report
			   at the end, the folded file */
	double t0, last_report;
	uint64_t last_events;
	uint64_t lost_by[MS_CNT_MAX]; /* the BPF loss counters, as last read */
	bool stdout_gone;
	bool cap_warned;
	uint64_t warned_lost;			  /* ring buffer drops said so far */
	bool replaying;				  /* --replay: the clock is the recorded events' */
	double replay_now;			  /* seconds, the last replayed event's time */
	double replay_next;			  /* when the next interval record is due */
	const struct ms_replay_hooks *hooks;	  /* --replay under a test (report.h), or NULL */
	const struct ms_replay_info *replay_info; /* --replay: the recording's header */
	struct ms_recorded_sites *recorded;	  /* --replay: its sites' frames (report.c) */
};

#endif
