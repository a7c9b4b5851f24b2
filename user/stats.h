/* stats.h: per-process allocation statistics, updated from the event stream */
#ifndef MS_STATS_H
#define MS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "livetab.h"
#include "memscope.h"

#define MS_HIST_BUCKETS 65 /* size 0, then [2^k, 2^(k+1)) for k = 0..63 */

/* Counters of one process; field names are the output's */
struct ms_counts {
	uint64_t allocs;	  /* successful allocation calls */
	uint64_t frees;		  /* releases of blocks allocated while tracing */
	uint64_t unmatched_frees; /* releases of blocks older than the trace */
	uint64_t dead_frees;	  /* frees of blocks already freed (tcache release, double free) */
	uint64_t alloc_bytes;	  /* requested bytes */
	uint64_t freed_bytes;
	uint64_t failed_allocs;
	uint64_t live_allocs;
	uint64_t live_bytes;
	uint64_t peak_bytes;
};

/* A realloc between its entry and its return, per thread */
struct ms_pending {
	uint32_t tid;
	bool tracked;  /* the old block was live and has been taken out of the table */
	bool released; /* its release is already counted (another thread got its address) */
	struct ms_block old;
};

struct ms_proc {
	pid_t pid;
	char comm[MS_COMM_LEN + 1];
	bool active; /* any allocator call seen since tracing (or the last exec) */
	bool listed; /* reported even before its first call (-p, a launched command) */
	bool pinned; /* kept after its exit, for the final record (a launched command) */
	bool exited;
	bool comm_recorded; /* --record: its name is in the recording */
	struct ms_counts c;
	struct ms_counts last; /* c at the previous interval, for rates */
	uint64_t *by_func;     /* outermost calls, indexed by function id */
	unsigned nby_func;
	uint64_t size_hist[MS_HIST_BUCKETS];
	struct ms_livetab live;
	struct ms_pending *pending;
	unsigned npending, cap_pending;
};

enum ms_end_reason { MS_END_EXIT, MS_END_EXEC };

typedef void (*ms_end_fn)(struct ms_proc *p, enum ms_end_reason why, void *ctx);

struct ms_stats {
	struct ms_proc **procs; /* open addressing by pid */
	size_t cap, nprocs;
	struct ms_proc *last; /* the process of the previous event */
	uint64_t events;      /* records applied */
	uint64_t oom;	      /* events that could not be tracked: out of memory */
	ms_end_fn on_end;     /* called before an exited or exec'd process is reset */
	void *ctx;
};

void ms_stats_init(struct ms_stats *s, ms_end_fn on_end, void *ctx);
void ms_stats_free(struct ms_stats *s);

/*
 * Applies one record. The hot path: no system call, no allocation in the steady
 * state (tables grow geometrically). EXIT calls on_end for an active process and
 * forgets it; EXEC calls on_end with MS_END_EXEC and starts the process afresh.
 */
void ms_stats_apply(struct ms_stats *s, const struct ms_event *e);

/* The process with pid, or NULL; creates it when create is set */
struct ms_proc *ms_stats_proc(struct ms_stats *s, pid_t pid, bool create);

/* Forgets a process (its figures and live blocks) */
void ms_stats_forget(struct ms_stats *s, pid_t pid);

/* The histogram bucket of a requested size: 0 for 0, else floor(log2(size)) + 1 */
unsigned ms_size_bucket(uint64_t size);

/* The lower bound in bytes of bucket b */
uint64_t ms_bucket_floor(unsigned b);

/* Calls fn for every process; fn may not add or forget processes */
void ms_stats_for_each(struct ms_stats *s, void (*fn)(struct ms_proc *p, void *ctx), void *ctx);

#endif
