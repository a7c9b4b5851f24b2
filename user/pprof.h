/* pprof.h: heap profiles in pprof's profile.proto, gzip-compressed, from the processes'
 * allocation sites: what go tool pprof, Pyroscope, Parca and speedscope read */
#ifndef MS_PPROF_H
#define MS_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "sites.h"
#include "symcache.h"

#define MS_PPROF_FRAME_LEN MS_FRAME_PATH_LEN
#define MS_PPROF_CONTENT_TYPE "application/octet-stream"

/* How the sites' frames are known: by address (a live run), or by name only (a replay) */
struct ms_pprof_frames {
	/* the site's addresses, innermost first, at most max; 0 when it has none (then
	 * names gives its frames) */
	unsigned (*addrs)(pid_t pid, const struct ms_stack_site *t, uint64_t *ips, unsigned max,
			  void *ctx);
	/* the frames at addr, the calls inlined there first, each "function (file:line)" or
	 * "function+0x1c (file:line)", "object+0x1c", "0x1c": how many, < 0 when none */
	int (*frames_of)(pid_t pid, uint64_t addr, char (*frames)[MS_PPROF_FRAME_LEN], unsigned max,
			 void *ctx);
	/* the mapped object that holds addr: 0, or < 0 when none */
	int (*mapping)(pid_t pid, uint64_t addr, struct ms_symcache_mapping *m, void *ctx);
	/* a site's frames by name, innermost first (a replay's recorded frames) */
	unsigned (*names)(pid_t pid, const struct ms_stack_site *t,
			  char (*frames)[MS_PPROF_FRAME_LEN], unsigned max, void *ctx);
	void *ctx;
};

/* One process' sites, as a snapshot takes them */
struct ms_pprof_proc {
	pid_t pid;
	const char *comm;
	const struct ms_stack_sites *sites;
	const char *(*allocator_name)(unsigned id, void *ctx); /* an allocator id's name */
	void *allocator_ctx;
};

/*
 * A snapshot of every process' sites with their stacks named: the tables a profile is
 * encoded from, immutable once built, shared by reference (the HTTP server's thread
 * encodes from the one the daemon published last while the daemon builds the next).
 */
struct ms_pprof;

/* A new snapshot at time_ns (CLOCK_REALTIME) of a run that began duration_ns before, whose
 * sites are sampled with a mean of sample_bytes (0: exact); NULL on ENOMEM. One reference. */
struct ms_pprof *ms_pprof_new(uint64_t time_ns, uint64_t duration_ns, uint64_t sample_bytes);

/* Adds p's sites with their frames (f); 0 or -ENOMEM */
int ms_pprof_add(struct ms_pprof *s, const struct ms_pprof_proc *p,
		 const struct ms_pprof_frames *f);

struct ms_pprof *ms_pprof_ref(struct ms_pprof *s);
void ms_pprof_unref(struct ms_pprof *s); /* accepts NULL */

/* Which samples an encoding keeps: pid 0 and comm NULL: every process */
struct ms_pprof_filter {
	pid_t pid;
	const char *comm;
};

/* Whether a process in s matches f */
bool ms_pprof_has(const struct ms_pprof *s, const struct ms_pprof_filter *f);

/*
 * s as a gzip-compressed profile.proto of the samples f keeps (NULL: all), with the four
 * sample types of heap profiles (alloc_objects/count, alloc_space/bytes,
 * inuse_objects/count, inuse_space/bytes), period_type space/bytes, period the sampling's
 * mean (1 when exact); default_sample_type inuse_space, or alloc_space with allocs (Go's
 * /debug/pprof/allocs). One sample per (process, stack), labeled pid, comm and allocator
 * (strings), pid (a number too: pprof's -tagfocus pid=N) and bytes (a number) when all its
 * blocks had one size; locations with addresses, mappings (with
 * build-ids), and lines of functions, inlined ones first. The bytes into *out (malloc'd),
 * their length into *len: 0 or -ENOMEM.
 */
int ms_pprof_encode(const struct ms_pprof *s, const struct ms_pprof_filter *f, bool allocs,
		    uint8_t **out, size_t *len);

#endif
