/* findings.h: what a process' allocator is doing, and what to change: pools, candidates */
#ifndef MS_FINDINGS_H
#define MS_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "stats.h"

/* Thresholds, options with documented defaults */
struct ms_pool_opts {
	double min_share; /* --pool-min-share: of a process' allocations in one class (0.8) */
	uint64_t max_lifetime_ns; /* --pool-max-lifetime: median lifetime below it (1 ms) */
	uint64_t min_allocs;	  /* --pool-min-allocs: allocations before judging (1000) */
	unsigned min_chunks; /* --pool-min-chunks: same-size blocks a pool candidate keeps (4) */
};

#define MS_POOL_MIN_SHARE 0.8
#define MS_POOL_MAX_LIFETIME_NS 1000000 /* the usage text says 0.001 (seconds) */
#define MS_POOL_MIN_ALLOCS 1000
#define MS_POOL_MIN_CHUNKS 4
#define MS_POOL_OPTS_DEFAULT                                                                       \
	{                                                                                          \
		MS_POOL_MIN_SHARE, MS_POOL_MAX_LIFETIME_NS, MS_POOL_MIN_ALLOCS, MS_POOL_MIN_CHUNKS \
	}

enum ms_finding_kind { MS_FIND_POOL, MS_FIND_POOL_CANDIDATE, MS_FIND_SLAB_CANDIDATE };

#define MS_MAX_EVIDENCE 12

struct ms_finding {
	enum ms_finding_kind kind;
	char name[96];	  /* the pool, the function that owns chunks, or the size class */
	char advice[384]; /* one line a user can act on, with its figures */
	char where[96];	  /* pool candidates: the call site, "function+0x1c (file.c:42)" */
	struct {
		const char *key;
		double value;
	} ev[MS_MAX_EVIDENCE]; /* the evidence, as named numbers */
	unsigned nev;
	/* pool candidates: the call sites of one function, every size, merged into one */
	unsigned call_sites;	      /* distinct call sites (those past 8 counted as new) */
	uint64_t callers[8];	      /* the first ones */
	uint64_t size_lo, size_hi;    /* their chunk sizes */
	uint64_t chunks, live, bytes; /* chunks obtained, still live, bytes obtained */
	uint64_t live_bytes;	      /* bytes of the live chunks */
	char from[64];		      /* the allocators they come from: "libc, pymalloc" */
};

/* The name of a finding kind: "pool", "pool_candidate", "slab_candidate" */
const char *ms_finding_kind_name(enum ms_finding_kind k);

/* Resolves an address of process pid to "function+0x12 (file.c:42)": 0; to
 * "object+0x1234" when no symbol covers it: 1; -errno when it is in no object */
typedef int (*ms_symbolize_fn)(pid_t pid, uint64_t addr, char *name, size_t len, void *ctx);

/* The path of the object that holds address addr of process pid, one that can be opened
 * now: 0; -errno (-ENOENT) when no mapped object holds it */
typedef int (*ms_object_fn)(pid_t pid, uint64_t addr, char *path, size_t len, void *ctx);

/*
 * The findings for process p, each said once:
 *  - each allocator with backing (a pool, named or known: its objects per chunk, chunk
 *    size, utilisation, hit ratio, growth). Only a pool of the program's own (a custom
 *    allocator, Rust's global allocator) gets advice on its chunks: libc's, jemalloc's,
 *    tcmalloc's, mimalloc's and pymalloc's chunk policies are not the program's. For a process not traced from its exec, backing obtained before the
 *    attach is unknown: utilisation is then a bound, at most 1, and the advice says so.
 *  - each function that obtains same-size chunks of MS_SIZE_SITE_MIN bytes or more and keeps
 *    most of them (a pool nobody named); its call sites, of every size and allocator,
 *    merged into one finding. Call sites in the dynamic loader or in an object that
 *    defines a known allocator (libc, jemalloc, tcmalloc, mimalloc, pymalloc, C++'s
 *    operators; not Rust's, compiled into each program) are the runtime's, not the
 *    program's: never a candidate. obj may be NULL (then none is left out).
 *  - each size class that takes most allocations and lives briefly (a pool would serve it).
 * cat names p's allocators. sym and obj take ctx. Returns the number written to out (at most max). Cost: per
 * candidate call site, a symbol lookup and, once per object file, a look at its symbols.
 */
unsigned ms_find(const struct ms_catalog *cat, struct ms_proc *p, const struct ms_pool_opts *o,
		 ms_symbolize_fn sym, ms_object_fn obj, void *ctx, struct ms_finding *out,
		 unsigned max);

/* Whether code in the object at path belongs to the runtime rather than the program: the
 * dynamic loader, a C library, or an object that defines a known allocator (see ms_find).
 * Reads the object's symbols once per file (cached by device, inode, size and time). */
bool ms_runtime_object(const char *path);

#endif
