/* stats.h: per-process, per-allocator allocation statistics from the event stream */
#ifndef MS_STATS_H
#define MS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "catalog.h"
#include "keyidx.h"
#include "livetab.h"
#include "patterns.h"
#include "sites.h"
#include "memscope.h"

/*
 * The counters of struct ms_counts, every one a uint64_t: X(name) for each, in the order
 * the JSON records print them (their names are the output's). The one list of them:
 * expand it rather than spell the fields out.
 */
#define MS_COUNTS_FIELDS(X)                                                                        \
	X(allocs)	   /* successful allocation calls */                                       \
	X(frees)	   /* releases of blocks allocated while tracing */                        \
	X(unmatched_frees) /* releases of blocks older than the trace */                           \
	X(dead_frees)	   /* frees of blocks already freed (tcache release, double free) */       \
	X(missed_frees)	   /* blocks allocated again with no free seen (in frees, losses too) */   \
	X(alloc_bytes)	   /* requested bytes */                                                   \
	X(freed_bytes)                                                                             \
	X(live_allocs)                                                                             \
	X(live_bytes)                                                                              \
	X(peak_bytes)                                                                              \
	X(failed_allocs)

/* Counters; field names are the output's */
struct ms_counts {
#define MS_COUNTS_DECLARE(name) uint64_t name;
	MS_COUNTS_FIELDS(MS_COUNTS_DECLARE)
#undef MS_COUNTS_DECLARE
};

/* Per NUMA node: calls made on CPUs of the node, blocks allocated there */
struct ms_node_counts {
	uint64_t allocs, alloc_bytes;		      /* allocated on the node */
	uint64_t frees, freed_bytes;		      /* freed on the node */
	uint64_t live_allocs, live_bytes, peak_bytes; /* allocated there, not yet freed */
};

struct ms_numa_counts {
	struct ms_node_counts *node; /* indexed by node id; NULL before the first block */
	size_t nnodes;
	uint64_t remote_frees, remote_free_bytes; /* freed on a node other than allocated */
};

/* A realloc between its entry and its return, per thread */
struct ms_pending {
	uint32_t tid;
	uint8_t node;	     /* where the realloc runs: where its old block is freed */
	bool tracked;	     /* the old block was live and has been taken out of the table */
	bool released;	     /* its release is already counted (another thread got its address) */
	bool echo;	     /* a nested call passing on a block its outer call already took */
	uint16_t from_alloc; /* tracked: the allocator whose table held it ... */
	bool from_user;	     /* ... on its user side (else its backing side) */
	bool indexed;	     /* in by_addr: tracked, not released, its address no other's */
	struct ms_block old;
};

/*
 * A side keeps at most this many reallocs in flight. A thread that dies inside realloc,
 * or whose return record was lost, leaves its entry behind until its thread id reallocs
 * again on the side or the process ends; past the cap the next realloc drops one of the
 * others (its block back in its table, counted in stale_reallocs and oom).
 */
#define MS_MAX_PENDING 4096

/* The reallocs of one side in flight: one per thread, found by thread id, and by the
 * address of the block it took out of the table (another thread's allocation at that
 * address means the realloc released it). O(1) each, no scan. */
struct ms_pendings {
	struct ms_pending *v; /* in no order */
	size_t n, cap;
	struct ms_livetab by_tid;  /* tid + 1 -> index in v + 1 (the entry's meta) */
	struct ms_livetab by_addr; /* old.addr of the indexed entries -> index in v + 1 */
	unsigned victim;	   /* at MS_MAX_PENDING: the entry dropped next, round robin */
};

/* A size site: where blocks of one exact size come from (the call site, the size) and
 * their fate, for the pool findings; a stack site (sites.h) is where blocks of any size
 * come from by whole stack. Kept for blocks of MS_SIZE_SITE_MIN bytes and more (chunks
 * a pool might own). */
#define MS_SIZE_SITE_MIN 1024
#define MS_MAX_SIZE_SITES 4096

struct ms_size_site {
	uint64_t caller; /* return address of the allocation call */
	uint64_t size;
	uint64_t allocs, frees;
};

struct ms_size_sites {
	struct ms_size_site *v;
	size_t n, cap;
	struct ms_keyidx index;	 /* (caller, size) -> index in v */
	struct ms_livetab owner; /* block address -> its site (meta = index + 1) */
	uint64_t untracked;	 /* blocks of sites past MS_MAX_SIZE_SITES */
};

/*
 * The blocks of one allocator in one process, seen from one side: the calls its users
 * make, or its backing (calls into other allocators made inside its own calls: a pool
 * refilling itself from malloc, jemalloc mapping memory). Each side has its own table,
 * so a pool object and the chunk it was carved from may share an address.
 */
struct ms_side {
	struct ms_counts c;
	struct ms_numa_counts numa;
	struct ms_size_sites *size_sites; /* NULL until a block of MS_SIZE_SITE_MIN bytes */
	struct ms_patterns *pat; /* size classes, lifetimes, reuse; NULL before the first block */
	struct ms_livetab live;
	struct ms_pendings *pending; /* NULL before the side's first realloc of a block */
};

struct ms_astats {
	struct ms_side user, backing;
	struct ms_counts last;	    /* user.c at the previous report, for rates */
	uint64_t last_backing_live; /* backing live bytes at the previous report: growth */
	bool used;
};

/* Where the pages of a sample of live blocks are (--numa-pages), at the last report */
struct ms_page_sample {
	uint64_t blocks, bytes; /* sampled */
	uint64_t remote_bytes;	/* of blocks whose page is on another node than allocated */
	uint64_t not_present;	/* blocks whose page is not there yet (never touched) */
	uint64_t cursor;	/* where the next sample starts: an ms_livetab_iter cursor */
	unsigned cursor_alloc;	/* ... in the table of this allocator */
};

struct ms_proc {
	pid_t pid;
	char comm[MS_COMM_LEN + 1];
	bool active; /* any allocator call seen since tracing (or the last exec) */
	bool listed; /* reported even before its first call (-p, a launched command) */
	bool pinned; /* kept after its exit, for the final record */
	bool exited;
	bool from_start; /* its image was traced from its exec: live figures cover its whole heap;
			    else since attaching to it running (-p, every-process mode's processes
			    running at start) */
	bool comm_recorded;	    /* --record: its name is in the recording */
	struct ms_counts c;	    /* all allocators' user calls together */
	struct ms_numa_counts numa; /* the same per NUMA node */
	struct ms_counts last;	    /* c at the previous report, for rates */
	uint64_t *by_func;	    /* outermost calls, indexed by function id */
	size_t nby_func;
	struct ms_astats *alloc; /* indexed by allocator id */
	size_t nalloc;
	struct ms_page_sample pages;	    /* --numa-pages */
	struct ms_stack_sites *stack_sites; /* --stacks: stack sites (sites.h) */
	uint64_t recent[2];   /* the last two user allocations: a block freed while it is
				    one of them is temporary */
	unsigned figures;     /* what a record of it shows: see ms_stats.figures */
	pid_t ppid;	      /* the parent, when its fork was seen; else 0 */
	uint64_t start_ticks; /* its start time (/proc/PID/stat), once read; else 0 */
	uint64_t echo_addr;   /* a block a call took from another allocator's table ... */
	uint32_t echo_tid;    /* ... in this thread: the same block passed on inside
					 that call is not released twice */
};

enum ms_end_reason { MS_END_EXIT, MS_END_EXEC };

typedef void (*ms_end_fn)(struct ms_proc *p, enum ms_end_reason why, void *ctx);

struct ms_stats {
	const struct ms_catalog *cat; /* the functions events name, their allocators */
	struct ms_proc **procs;	      /* open addressing by pid */
	size_t cap, nprocs;
	struct ms_proc *last;	  /* the process of the previous event */
	uint64_t events;	  /* records applied */
	uint64_t oom;		  /* events that could not be tracked: out of memory or a cap */
	uint64_t missed_frees;	  /* blocks allocated again with no free seen, all processes */
	uint64_t stale_reallocs;  /* reallocs in flight dropped past MS_MAX_PENDING (also in oom) */
	size_t figures;		  /* what a record of every process shows: a process, and each
			   allocator, function, size class and NUMA node one shows, count
			   one each (ms_stats_worth_report) */
	struct ms_proc **retired; /* pinned processes that exited and whose pid came back: */
	size_t nretired, cap_retired; /* kept, with their figures, for the final record */
	bool sites; /* keep allocation sites per process: by stack (--stacks), else by caller */
	uint64_t sample_bytes; /* --sample-bytes: sites weigh their sampled blocks */
	size_t blocks;	       /* entries in every live table (live and dead blocks) */
	size_t blocks_peak;    /* the most there were */
	size_t max_blocks;     /* --max-live: past it, new blocks are counted, not tracked */
	size_t max_procs;      /* --max-processes: past it, new processes are not tracked */
	bool capped;	       /* a cap was reached (the daemon says so once) */
	ms_end_fn on_end;      /* called before an exited or exec'd process is reset */
	void *ctx;
};

/* Empty statistics of the events of cat's functions (cat outlives s) */
void ms_stats_init(struct ms_stats *s, const struct ms_catalog *cat, ms_end_fn on_end, void *ctx);
void ms_stats_free(struct ms_stats *s);

/*
 * Applies one record. The hot path: no system call, no allocation in the steady
 * state (tables grow geometrically), O(1) expected but for a release its side does not
 * know (O(allocators the process used)). EXIT calls on_end for an active process and
 * forgets it (unless pinned: then its reallocs in flight are dropped); EXEC calls
 * on_end with MS_END_EXEC and starts the process afresh. A function id past the table
 * (the catalog's) or a node past MS_MAX_NODES grows nothing: such a call is counted, not in
 * by_func, and its node is in no per-node figure.
 */
void ms_stats_apply(struct ms_stats *s, const struct ms_event *e);

/*
 * Whether the records applied since `since` (s->events at the previous report) are at
 * least the figures a record of every process would hold now. A replay writes an
 * interval record only then: its clock is the recording's, which can step one interval
 * per record, and the output must grow with the records read, not with the recorded
 * time times the processes. O(1).
 */
static inline bool ms_stats_worth_report(const struct ms_stats *s, uint64_t since)
{
	return s->events - since >= s->figures;
}

/* The process with pid, or NULL; creates it when create is set */
struct ms_proc *ms_stats_proc(struct ms_stats *s, pid_t pid, bool create);

/* Forgets a process (its figures and live blocks) */
void ms_stats_forget(struct ms_stats *s, pid_t pid);

/* The allocator stats of p for allocator id, or NULL when it has none */
static inline struct ms_astats *ms_proc_allocator(struct ms_proc *p, unsigned id)
{
	return id < p->nalloc && p->alloc[id].used ? &p->alloc[id] : NULL;
}

/* A side's allocations per size class (the patterns' classes: the size histogram), into hist */
void ms_side_size_hist(const struct ms_side *d, uint64_t hist[MS_CLASSES]);

/* p's size histogram over all allocators' user calls, into hist */
void ms_proc_size_hist(const struct ms_proc *p, uint64_t hist[MS_CLASSES]);

/* The histogram bucket of a requested size: 0 for 0, else floor(log2(size)) + 1 */
unsigned ms_size_bucket(uint64_t size);

/* The lower bound in bytes of bucket b */
uint64_t ms_bucket_floor(unsigned b);

/* The live user blocks of process ctx that have a site, each given to visit (sites.h's
 * ms_blocks_fn, for ms_sites_leaks) */
void ms_proc_blocks(void *ctx, ms_block_visit visit, void *arg);

/* Calls fn for every process, retired ones too; fn may not add or forget processes */
void ms_stats_for_each(struct ms_stats *s, void (*fn)(struct ms_proc *p, void *ctx), void *ctx);

/* Starts the next report's rates of p (its counts, its sites' and allocators' as now):
 * call after a report */
void ms_stats_mark(struct ms_proc *p);

#endif
