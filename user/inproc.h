/* inproc.h: the in-process source's daemon side: the shared region a launched command's
 * preloaded library writes records into (include/memscope_shm.h), read into the same
 * stream as the BPF rings' records */
#ifndef MS_INPROC_H
#define MS_INPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "memscope.h"
#include "memscope_shm.h"

struct ms_inproc;

/* The catalog function at file offset file_off of the object at path (as a probe there
 * would be named: its aliases, its allocator), or 0 when there is none */
typedef unsigned (*ms_inproc_resolve_fn)(void *ctx, const char *path, uint64_t file_off);

struct ms_inproc_fns {
	ms_inproc_resolve_fn resolve;
	/* n records of ring q (0 to MS_SHM_RINGS - 1) at v, in the ring's order, each as the
	 * BPF programs would have written it: func a catalog id, ts_ns CLOCK_MONOTONIC */
	void (*push)(void *ctx, int q, const struct ms_event *v, size_t n);
	/* ring q was seen empty at ts (CLOCK_MONOTONIC, taken before looking) */
	void (*quiet)(void *ctx, int q, uint64_t ts);
	void *ctx;
};

/* A new region, in a file under dir (/dev/shm) that only its owner can open. NULL with
 * errno set. */
struct ms_inproc *ms_inproc_new(const char *dir);

/* The node of each CPU (node_of_cpu[cpu] for ncpus CPUs), for the records' node */
void ms_inproc_set_nodes(struct ms_inproc *ip, const uint8_t *node_of_cpu, unsigned ncpus);

/* A writer whose ring is full waits for the daemon to read (exact, the program stalls)
 * rather than losing the record; never while the daemon does not read */
void ms_inproc_set_block(struct ms_inproc *ip, bool block);

/* The process that records (the launched command), and whether its descendants do too;
 * before it starts */
void ms_inproc_set_root(struct ms_inproc *ip, pid_t root, bool follow);

/*
 * --stacks: a stack table of its own in the region for up to entries stacks of depth
 * frames (--stack-map-size, --stack-depth), the library's walks sampled with a mean of
 * sample_bytes (--sample-bytes; 0: every allocation): before the command starts. 0 or
 * -errno (the file cannot grow, or be mapped).
 */
int ms_inproc_set_stacks(struct ms_inproc *ip, uint32_t entries, uint32_t depth,
			 uint64_t sample_bytes);

/* The stack table, as ms_stacktab_get reads it (preload/stacktab.h): its shape, fixed by
 * the daemon (not the region's copy, which the command could change), and its slots; NULL
 * without ms_inproc_set_stacks. Mapped until ms_inproc_free. */
const void *ms_inproc_stacks(const struct ms_inproc *ip, struct ms_shm_stacks *shape);

/* The file the command's library opens (its MEMSCOPE_SHM) */
const char *ms_inproc_path(const struct ms_inproc *ip);

/*
 * Reads every ring to its end: each record translated and handed to fns->push, every ring
 * whose writer was not making a record (busy) to fns->quiet. A record whose process or function cannot be named is
 * counted (ms_inproc_lost's unnamed) and dropped. Rings of threads that ended, and of
 * processes said ended, are let go once read. O(records + rings). Returns the records
 * handed on.
 */
size_t ms_inproc_read(struct ms_inproc *ip, const struct ms_inproc_fns *fns);

/* Ring r read up to tail: stores it, and wakes the writer asleep for room once tail is
 * past what it waits for (block mode; ms_inproc_read's, and any other reader's) */
void ms_inproc_set_tail(struct ms_shm_ring *r, uint64_t tail);

/* The records one ms_inproc_read brings that make the next come at once, not a millisecond
 * later: a sixteenth of a ring (a ring holds more than a thread writes in a millisecond, so a
 * writer can wait only on a full one; a read at once for a few would only take the rings'
 * heads from their writers) */
#define MS_INPROC_AGAIN (MS_SHM_RING_RECORDS / 16)

/* Process pid exited or exec'd at ts (CLOCK_MONOTONIC): its rings and the entries it
 * registered before are let go once read */
void ms_inproc_ended(struct ms_inproc *ip, pid_t pid, uint64_t ts);

/* What was lost: records that found their ring full, records with no free ring, processes
 * with no free entry, records that could not be named, allocations without their stack
 * (the stack table full, a walk that failed) */
struct ms_inproc_lost {
	uint64_t ring_full, no_ring, no_proc, unnamed, stacks;
};
void ms_inproc_lost(const struct ms_inproc *ip, struct ms_inproc_lost *l);

/* Unmaps and removes the region; accepts NULL */
void ms_inproc_free(struct ms_inproc *ip);

/* A TSC reading as CLOCK_MONOTONIC nanoseconds, from the anchors taken at each read (for
 * tests) */
uint64_t ms_inproc_tsc_ns(struct ms_inproc *ip, uint64_t tsc);

#endif
