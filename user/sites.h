/* sites.h: stack sites (user stack + caller) of a process, their live blocks and trend
 * (the size sites of the pool findings are stats.h's) */
#ifndef MS_SITES_H
#define MS_SITES_H

#include <stdbool.h>
#include <stdint.h>
#include "keyidx.h"
#include "livetab.h"

#define MS_SITE_HISTORY 16	 /* live bytes at the last reports, for the trend */
#define MS_MAX_STACK_SITES 65536 /* per process; past it, blocks are counted untracked */
#define MS_SITE_RECENT_BITS 4	 /* 16 sites found without the index: a few loops' worth */

struct ms_stack_site {
	int32_t stack_id;		  /* -1: no stack (collision, map full): the caller alone */
	uint64_t caller;		  /* return address of the allocation call */
	uint64_t size;			  /* its first block's size ... */
	uint16_t allocator;		  /* ... and allocator id (catalog.h) */
	bool sizes_vary, allocators_vary; /* a later block's was another */
	/* exact counts, or with --sample-bytes the sums of the sampled blocks' weights
	 * (sample.h): unbiased estimates; whole numbers either way without sampling */
	double allocs, alloc_bytes, frees, freed_bytes, live_allocs, live_bytes;
	double last_allocs;		 /* allocs at the previous report: the rate */
	double live_at_peak;		 /* live bytes when the process last reached its peak */
	uint64_t epoch;			 /* the peak epoch live_at_peak belongs to */
	double history[MS_SITE_HISTORY]; /* ring of live bytes at reports */
	unsigned nhistory;		 /* samples taken (the ring holds the last 16) */
	bool checked;			 /* its frames were checked (ms_sites_checked) */
	bool truncated;			 /* a frame was not code: the stack ends before it */
	uint8_t kept;			 /* frames shown: those before the first non-code one */
};

struct ms_stack_sites {
	struct ms_stack_site *v;
	size_t n, cap;
	struct ms_keyidx index;			   /* (caller, stack_id) -> index in v */
	uint32_t recent[1 << MS_SITE_RECENT_BITS]; /* sites site_get gave lately, each in
						      the slot its key hashes to: index + 1 */
	uint64_t peak_epoch;			   /* bumped each time the process' peak rises */
	uint64_t untracked;
	uint64_t sample_bytes;	   /* --sample-bytes: the mean gap of the sample, 0: exact */
	size_t checked;		   /* sites v[0..checked) had their frames checked */
	size_t recorded;	   /* --record: sites v[0..recorded) are in the recording */
	uint64_t truncated_stacks; /* of those, the stacks cut at a frame that is not code */
};

enum ms_trend { MS_TREND_UNKNOWN, MS_TREND_GROWING, MS_TREND_LEVELED, MS_TREND_SHRINKING };

/* A block of size bytes of allocator (an id) allocated from (stack_id, caller), sampled with ss->sample_bytes
 * (counted with its weight): its site's index + 1 in *site, to keep with the block (its
 * struct ms_block's site), 0 past MS_MAX_STACK_SITES or out of memory (counted untracked) */
void ms_sites_alloc(struct ms_stack_sites *ss, uint64_t size, unsigned allocator, int32_t stack_id,
		    uint64_t caller, uint32_t *site);

/* A block of size bytes of site (as ms_sites_alloc gave it; 0: none) was freed */
void ms_sites_free(struct ms_stack_sites *ss, uint32_t site, uint64_t size);

/* The process just reached a new peak of live bytes: sites' figures now are its makeup */
static inline void ms_sites_peak(struct ms_stack_sites *ss)
{
	ss->peak_epoch++;
}

/* A site's live bytes at the process' last peak */
double ms_site_peak_contribution(const struct ms_stack_sites *ss, const struct ms_stack_site *t);

/* Takes a sample of every site's live bytes (at each report) */
void ms_sites_sample(struct ms_stack_sites *ss);

/* The i-th most recent sample (0: the last), or 0 past the samples kept */
double ms_site_history(const struct ms_stack_site *t, unsigned i);

/*
 * How a site's live bytes moved over its last samples: growing (a leak: up at every
 * one of the last three samples and above where the kept history began), leveled (a
 * cache: unchanged over the last three), shrinking, or unknown (fewer than 4 samples).
 */
enum ms_trend ms_site_trend(const struct ms_stack_site *t);
const char *ms_trend_name(enum ms_trend t);

/* Blocks of each site allocated before `before` (ns): counts, bytes, the oldest time */
struct ms_leak {
	unsigned site;
	double blocks, bytes; /* estimates with --sample-bytes */
	uint64_t oldest_ts;
};

/* The live blocks of a process, for ms_sites_leaks: calls visit(b, arg) for each live block
 * that may have a site (ctx: the process) */
typedef void (*ms_block_visit)(const struct ms_block *b, void *arg);
typedef void (*ms_blocks_fn)(void *ctx, ms_block_visit visit, void *arg);

/* Fills leaks[] (one per site with old blocks, up to max, sorted by bytes, largest first)
 * from the blocks blocks(ctx) visits; returns how many sites have old blocks (more than max
 * when some did not fit). Costs one pass over the live blocks. */
unsigned ms_sites_leaks(const struct ms_stack_sites *ss, ms_blocks_fn blocks, void *ctx,
			uint64_t before, struct ms_leak *leaks, unsigned max);

/* What ms_sites_check asks of a process' frames (ctx: the caller's) */
struct ms_frame_ops {
	/* a site's frames, innermost first, into ips (at most max); their number */
	unsigned (*frames)(const struct ms_stack_site *t, uint64_t *ips, unsigned max, void *ctx);
	/* whether addr is code (1), is not (0: a frame-pointer walk that left the stack, into
	 * data or text bytes), or cannot be told (< 0: the process' mappings are gone) */
	int (*code)(uint64_t addr, void *ctx);
	/* whether addr is in a function a thread starts in (_start, __libc_start_call_main,
	 * start_thread, clone3: the walk reached the thread's beginning): 1, 0, or < 0 when
	 * it cannot be told (no symbol) */
	int (*start)(uint64_t addr, void *ctx);
};

/*
 * Checks the frames of the sites new since the last call, once each. A stack is kept up to
 * its first frame that is not code, and marked truncated; a stack whose frames are all
 * code but whose outermost frame is not where a thread starts was cut short too (a walk
 * that met code without frame pointers, or --stack-depth): kept whole, marked truncated.
 */
void ms_sites_check(struct ms_stack_sites *ss, const struct ms_frame_ops *ops, void *ctx);

/* The site of (stack_id, caller), or NULL */
struct ms_stack_site *ms_sites_find(struct ms_stack_sites *ss, int32_t stack_id, uint64_t caller);

/* --replay: t's frames were checked when they were recorded: truncated or not */
void ms_sites_set_checked(struct ms_stack_sites *ss, struct ms_stack_site *t, bool truncated);

/* The allocations (estimates under --sample-bytes) of all of ss' sites into *allocs and of
 * those whose stack is truncated into *truncated: the share of stacks that reach a thread's
 * start, by allocation */
void ms_sites_tally(const struct ms_stack_sites *ss, double *allocs, double *truncated);

void ms_sites_free_all(struct ms_stack_sites *ss);

#endif
